"""filter: thresholds on score columns -> status 'rejected' with EVERY failed threshold.

Reads: the score columns of ``schemas/scores.py``. Adds: nothing new; sets ``status`` to
``rejected`` and fills ``reject_reasons`` (e.g. ``["motion_score<0.25", "overlay_prob>0.8"]``).
Needs: nothing (pure Python, cheap). Rejected clips stay in the ``clips`` table (view
``rejects``), so thresholds can be changed later with DuckDB without recomputing scores.
A null score (analyser off, model unavailable, too few frames) never rejects.
"""

from __future__ import annotations

from typing import Any

from curate.schemas import CLIPS

from curate.config import FilterConfig
from curate.stage import RowStage

# (config field, column, kind): kind "min" rejects value < threshold, "max" rejects value > threshold.
RULES: tuple[tuple[str, str, str], ...] = (
    ("min_motion_score", "motion_score", "min"),
    ("max_motion_score", "motion_score", "max"),
    ("max_text_area_ratio", "text_area_ratio", "max"),
    ("max_ocr_boxes", "ocr_boxes", "max"),
    ("max_overlay_prob", "overlay_prob", "max"),
    ("max_watermark_prob", "watermark_prob", "max"),
    ("min_sharpness", "sharpness", "min"),
    ("min_brightness", "brightness", "min"),
    ("max_brightness", "brightness", "max"),
    ("min_contrast", "contrast", "min"),
    ("min_colorfulness", "colorfulness", "min"),
    ("max_border_frac", "border_frac", "max"),
    ("max_static_ratio", "static_ratio", "max"),
    ("min_aesthetic_score", "aesthetic_score", "min"),
)


def _fmt(x: float) -> str:
    return f"{x:g}"


def reject_reasons(row: dict[str, Any], cfg: FilterConfig) -> list[str]:
    """Every threshold of ``cfg`` that ``row`` fails, as ``column<threshold`` / ``column>threshold``."""
    reasons: list[str] = []
    for key, col, kind in RULES:
        thr = getattr(cfg, key)
        val = row.get(col)
        if thr is None or val is None:
            continue
        if kind == "min" and val < thr:
            reasons.append(f"{col}<{_fmt(thr)}")
        elif kind == "max" and val > thr:
            reasons.append(f"{col}>{_fmt(thr)}")
    cam = row.get("camera_motion")
    if cam is not None and cam in cfg.reject_camera_motion:
        reasons.append(f"camera_motion={cam}")
    kind = row.get("overlay_kind")
    if kind is not None and kind in cfg.reject_overlay_kinds:
        reasons.append(f"overlay_kind={kind}")
    return reasons


class Filter(RowStage):
    name = "filter"
    level = "clip"
    requires = ("motion_score", "sharpness", "static_ratio")
    adds = tuple(f for f in CLIPS if f.name in ("status", "reject_reasons"))

    cfg: FilterConfig

    def process(self, row: dict[str, Any]) -> dict[str, Any]:
        reasons = reject_reasons(row, self.cfg)
        if reasons:
            row["status"] = "rejected"
            row["reject_reasons"] = list(row.get("reject_reasons") or []) + reasons
        return row
