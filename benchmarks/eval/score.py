"""Score the real pipeline on the evaluation set built by ``build.py``.

    python benchmarks/eval/score.py --cases /tmp/eval-cases --out /tmp/eval-out
    python benchmarks/eval/score.py --cases /tmp/eval-cases --out /tmp/eval-out --no-run   # re-score
    python benchmarks/eval/score.py --cases /tmp/eval-cases --out /tmp/eval-out --detectors adaptive,content,transnetv2

1. ``curate run`` (the CLI, a subprocess) with ``configs/local.yaml`` (or ``--config``) pointed at
   the case folder, output to ``OUT/run``; aesthetics, captions, topics and the report are off
   (``--set`` adds overrides). The shards are read with DuckDB (``curate.query.connect``: views
   ``videos``, ``clips``, ``duplicates``).
2. A cut-detector table (``--detectors``): ``curate.stages.cuts.detect_cuts(path, fps, cfg)``
   on every case with known transitions, CPU seconds (``getrusage`` user+sys) per video-minute.
3. Prints per class and writes ``OUT/metrics.json`` and ``OUT/metrics.md``:

* **cuts** -- P/R/F1 per class (hard, similar, static_jump, dark, dissolve, fade, wipe).
  Predictions = ``cut_frames`` points + ``transitions`` intervals (when the column exists).
  A truth hard cut is matched by a point within +-2 frames or an interval containing it; a
  gradual one by an overlapping interval or a point within [start-2, end+2]; each prediction
  matches at most one truth. Recall is per truth class; a false positive is charged to the
  class of the video it occurs in (its first tag). Also: false cuts in single-shot videos
  and clips that contain transition frames (overlap a gradual interval or straddle a cut).
* **overlay** -- clip-level detection: ``overlay_prob > filter.max_overlay_prob`` (and, apart,
  ``text_area_ratio > filter.max_text_area_ratio``) per kind x moving/static footage; false
  positives on clean twins, hard negatives and every other overlay-free clip; kind accuracy
  when ``overlay_kind`` exists; IoU of ``overlay_box`` (normalised) with the truth box.
* **dedup** -- at the video-pair level (a predicted pair = a clip of A marked a duplicate of a
  clip of B): designed pairs found/missed per transform, hard negatives paired, false pairs
  (videos that share no source footage); pairs that share footage incidentally are counted
  apart, never as false; kept clips that span a truth cut.
* **vfr / rotation** -- row and clip-file (ffprobe) durations vs the real timestamps;
  ``rotation`` and the clip files' displayed size.
* **static** -- ``static_ratio`` vs the truly frozen share of each clip.
* **camera** -- ``camera_pan/tilt/zoom`` error vs the exact virtual camera; label agreement.
* **tiny** -- status / reason of the too-short and too-small inputs.
* **filter defaults** -- for each threshold of the config's ``filter`` section, the share of
  CLEAN clips it rejects (no overlay, no frozen stretch, no transition frames inside).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOL = 2  # frames, hard cuts
CUT_CLASSES = ("hard", "similar", "static_jump", "dark", "dissolve", "fade", "wipe")


# ---------------------------------------------------------------------------------------------
# running the pipeline
# ---------------------------------------------------------------------------------------------
def run_curate(cases: Path, out: Path, config: Path, overrides: list[str], in_process: bool = False) -> float:
    """``curate run`` over ``cases`` into ``out/run``; returns wall seconds.

    ``in_process``: call ``curate.run.run_pipeline`` here (joins a Ray instance the caller already
    started, e.g. the tests' shared one) instead of the ``curate run`` CLI in a subprocess."""
    data = yaml.safe_load(config.read_text())
    data.setdefault("input", {})["sources"] = [str(cases)]
    data.setdefault("output", {})["dir"] = str(out / "run")
    data.setdefault("aesthetics", {})["enabled"] = False
    data.setdefault("captions", {})["enabled"] = False
    data.setdefault("report", {}).update(enabled=False, card=False)
    topics = data.setdefault("topics", {})
    topics.setdefault("collect", {})["enabled"] = False
    topics.setdefault("assign", {})["enabled"] = False
    cfg_path = out / "eval-config.yaml"
    cfg_path.write_text(yaml.safe_dump(data, sort_keys=False))
    if (out / "run").exists():
        import shutil

        shutil.rmtree(out / "run")
    t0 = time.perf_counter()
    if in_process:
        from curate.config import load_config as lc
        from curate.run import run_pipeline

        run_pipeline(lc(cfg_path, overrides))
        return time.perf_counter() - t0
    cmd = [sys.executable, "-m", "curate", "run", "--config", str(cfg_path)]
    for o in overrides:
        cmd += ["--set", o]
    env = dict(os.environ, RAY_DATA_DISABLE_PROGRESS_BARS="1", RAY_ENABLE_UV_RUN_RUNTIME_ENV="0")
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    (out / "run.log").write_text(r.stdout + "\n" + r.stderr)
    if r.returncode != 0:
        raise RuntimeError(f"curate run failed ({r.returncode}); see {out / 'run.log'}:\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0


def load_config(out: Path, overrides: list[str]):
    from curate.config import load_config as lc

    return lc(out / "eval-config.yaml", overrides)


# ---------------------------------------------------------------------------------------------
# reading the shards
# ---------------------------------------------------------------------------------------------
class Shards:
    def __init__(self, run_dir: Path) -> None:
        from curate.query import connect

        self.con = connect(str(run_dir))
        self.cols = {t: {r[0] for r in self.con.execute(f"DESCRIBE {t}").fetchall()} for t in ("videos", "clips")}

    def rows(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def select(self, table: str, want: list[str]) -> list[dict[str, Any]]:
        have = [c for c in want if c in self.cols[table]]
        rows = self.rows(f"SELECT {', '.join(have)} FROM {table}")
        for r in rows:
            for c in want:
                r.setdefault(c, None)
        return rows


def case_of(source: str | None) -> str | None:
    return Path(source).stem if source else None


# ---------------------------------------------------------------------------------------------
# cuts
# ---------------------------------------------------------------------------------------------
def _intervals(raw: Any) -> list[tuple[int, int, str]]:
    """Gradual transitions from a ``transitions`` value (list of struct/dict/tuple) as (start, end, kind)."""
    out = []
    for t in raw or []:
        if isinstance(t, dict):
            s, e, k = t.get("start"), t.get("end"), t.get("kind") or "gradual"
        else:
            s, e, k = (list(t) + ["gradual"])[:3]
        if s is not None and e is not None:
            out.append((int(s), int(e), str(k)))
    return out


def match_boundaries(truth: list[dict[str, Any]], points: list[int], intervals: list[tuple[int, int, str]],
                     tol: int = TOL) -> tuple[dict[int, tuple[str, int, int]], list[tuple[str, int, int]]]:
    """Greedy one-to-one matching; returns ({truth index: prediction}, unmatched predictions)."""
    preds = [("interval", s, e) for s, e, _ in intervals] + [("point", p, p) for p in points]
    cand = []
    for ti, t in enumerate(truth):
        ts, te = t["start"], t["end"]
        for pi, (typ, s, e) in enumerate(preds):
            if t["kind"] == "cut":
                ok = abs(s - ts) <= tol if typ == "point" else s - tol <= ts <= e + tol
                d = abs(s - ts) if typ == "point" else 0
            else:
                ok = (s <= te and e >= ts) if typ == "interval" else ts - tol <= s <= te + tol
                d = 0 if typ == "interval" else (0 if ts <= s <= te else min(abs(s - ts), abs(s - te)))
            if ok:
                cand.append((d, ti, pi))
    matched: dict[int, tuple[str, int, int]] = {}
    used: set[int] = set()
    for d, ti, pi in sorted(cand):
        if ti in matched or pi in used:
            continue
        matched[ti] = preds[pi]
        used.add(pi)
    return matched, [p for i, p in enumerate(preds) if i not in used]


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": _r(p), "recall": _r(r), "f1": _r(f)}


def _r(x: float | None, n: int = 3) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), n)


def score_cuts(truth: dict[str, Any], preds: dict[str, tuple[list[int], list[tuple[int, int, str]]]]) -> dict[str, Any]:
    """``preds[case] = (points, intervals)``; cases with unknown transitions (None) are skipped."""
    tp: dict[str, int] = defaultdict(int)
    fn: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    single_fp, single_cases, single_frames = 0, 0, 0
    per_case, misses, false = {}, [], []
    for name, case in truth["cases"].items():
        tr = case.get("transitions")
        if tr is None or name not in preds or case["group"] == "tiny":
            continue
        points, ivs = preds[name]
        m, extra = match_boundaries(tr, points, ivs)
        for i, t in enumerate(tr):
            cls = t.get("class") or ("hard" if t["kind"] == "cut" else t["kind"])
            if i in m:
                tp[cls] += 1
            else:
                fn[cls] += 1
                misses.append({"case": name, **{k: t[k] for k in ("kind", "start", "end")}, "class": cls})
        home = next((c for c in case.get("tags", []) if c in CUT_CLASSES), "hard")
        fp[home if tr else "single_shot"] += len(extra)
        false += [{"case": name, "pred": list(p)} for p in extra]
        if not tr:
            single_fp += len(extra)
            single_cases += 1
            single_frames += case["num_frames"]
        per_case[name] = {"truth": len(tr), "matched": len(m), "false": len(extra),
                          "points": list(points), "intervals": [list(x) for x in ivs]}
    classes = {c: _prf(tp[c], fp[c], fn[c]) for c in CUT_CLASSES if tp[c] + fn[c] + fp[c]}
    hard_like = [c for c in ("hard", "similar", "static_jump", "dark")]
    gradual = [c for c in ("dissolve", "fade", "wipe")]
    agg = {
        "all_hard_cuts": _prf(sum(tp[c] for c in hard_like), sum(fp[c] for c in hard_like), sum(fn[c] for c in hard_like)),
        "all_gradual": _prf(sum(tp[c] for c in gradual), sum(fp[c] for c in gradual), sum(fn[c] for c in gradual)),
        "all": _prf(sum(tp.values()), sum(fp.values()), sum(fn.values())),
    }
    return {"classes": classes, **agg,
            "single_shot": {"videos": single_cases, "false_cuts": single_fp,
                            "per_minute": _r(single_fp / (single_frames / 25 / 60)) if single_frames else None},
            "misses": misses, "false": false, "per_case": per_case}


def clips_with_transitions(truth: dict[str, Any], clips: list[dict[str, Any]]) -> dict[str, Any]:
    """Clips whose span [start_frame, end_frame) holds a blended frame or both sides of a hard cut."""
    bad, total, by_class, examples = 0, 0, defaultdict(int), []
    for c in clips:
        case = truth["cases"].get(c["case"])
        if not case or case.get("transitions") is None or c["start_frame"] is None or c.get("status") == "failed":
            continue
        total += 1
        s, e = c["start_frame"], c["end_frame"]
        hit = None
        for t in case["transitions"]:
            if t["kind"] == "cut":
                if s < t["start"] < e:
                    hit = t
            elif t["start"] <= e - 1 and t["end"] >= s:
                hit = t
            if hit:
                break
        if hit:
            bad += 1
            by_class[hit.get("class") or hit["kind"]] += 1
            examples.append({"case": c["case"], "clip": [s, e], "transition": [hit["start"], hit["end"], hit["kind"]]})
    return {"clips": total, "with_transition_frames": bad, "share": _r(bad / total) if total else None,
            "by_class": dict(by_class), "examples": examples}


def detector_table(truth: dict[str, Any], cases_dir: Path, detectors: list[str]) -> dict[str, Any]:
    """detect_cuts per detector on every case with known transitions; CPU s per video-minute."""
    from curate.config import CutsConfig
    from curate.stages.cuts import detect_cuts

    try:  # hard cuts AND gradual transitions, as the pipeline's cuts stage gets them
        from curate.stages.cuts import detect_shots
    except ImportError:  # older curate: points only
        detect_shots = None

    out = {}
    for det in detectors:
        cfg = CutsConfig(detector=det)
        preds, secs, err = {}, 0.0, None
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            for name, case in truth["cases"].items():
                if case.get("transitions") is None or case["group"] in ("tiny",):
                    continue
                if detect_shots is not None:
                    cuts, trans, _n = detect_shots(str(cases_dir / case["file"]), float(case["fps"]), cfg)
                    points = [int(c) for c in cuts]
                    ivs = [(int(t.start), int(t.end), t.kind) for t in trans]
                else:
                    points, ivs = _unpack_detect(detect_cuts(str(cases_dir / case["file"]), float(case["fps"]), cfg))
                preds[name] = (points, ivs)
                secs += case["duration_s"]
        except Exception as exc:  # noqa: BLE001 - e.g. transnetv2 weights/torch missing: reported, not fatal
            err = f"{type(exc).__name__}: {exc}"[:300]
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
               + c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
        if err and not preds:
            out[det] = {"error": err}
            continue
        sc = score_cuts(truth, preds)
        sc.pop("per_case")
        out[det] = {"videos": len(preds), "video_minutes": _r(secs / 60), "cpu_s": _r(cpu, 2),
                    "cpu_s_per_video_minute": _r(cpu / (secs / 60), 2) if secs else None, "error": err, **sc}
    return out


def _unpack_detect(res: Any) -> tuple[list[int], list[tuple[int, int, str]]]:
    """detect_cuts returns (cuts, n) today; later versions may add gradual transitions."""
    if isinstance(res, dict):
        return [int(x) for x in res.get("cuts", res.get("cut_frames", []))], _intervals(res.get("transitions"))
    if hasattr(res, "cut_frames"):
        return [int(x) for x in res.cut_frames], _intervals(getattr(res, "transitions", None))
    items = list(res)
    points = [int(x) for x in items[0]]
    ivs: list[tuple[int, int, str]] = []
    for extra in items[1:]:
        if isinstance(extra, (list, tuple)) and extra and not isinstance(extra[0], (int, float)):
            ivs = _intervals(extra)
    return points, ivs


# ---------------------------------------------------------------------------------------------
# overlays
# ---------------------------------------------------------------------------------------------
def _iou(a: dict[str, float], b: dict[str, float]) -> float:
    x0, y0 = max(a["x"], b["x"]), max(a["y"], b["y"])
    x1, y1 = min(a["x"] + a["w"], b["x"] + b["w"]), min(a["y"] + a["h"], b["y"] + b["h"])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a["w"] * a["h"] + b["w"] * b["h"] - inter
    return inter / union if union > 0 else 0.0


def score_overlays(truth: dict[str, Any], clips: list[dict[str, Any]], thr_overlay: float | None,
                   thr_text: float | None, has_kind: bool) -> dict[str, Any]:
    pos: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    neg: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ious, kinds, examples_fp, examples_fn = [], defaultdict(int), [], []
    ranked: dict[str, list[tuple[float, bool, str]]] = defaultdict(list)  # score -> (value, positive, footage)
    for c in clips:
        case = truth["cases"].get(c["case"])
        if not case or c.get("status") == "failed" or c["start_s"] is None or case["group"] == "tiny":
            continue
        p = c.get("overlay_prob")
        by_ov = p is not None and thr_overlay is not None and p > thr_overlay
        tar = c.get("text_area_ratio")
        by_text = tar is not None and thr_text is not None and tar > thr_text
        ovs = [o for o in case.get("overlays") or []
               if min(o["end_s"], c["end_s"]) - max(o["start_s"], c["start_s"]) >= min(1.0, 0.5 * (c["end_s"] - c["start_s"]))]
        for col in ("overlay_prob", "text_area_ratio"):
            if c.get(col) is not None:
                ranked[col].append((float(c[col]), bool(ovs), ovs[0]["kind"] if ovs else case["group"]))
        if ovs:
            o = ovs[0]
            key = f"{o['kind']}/{o['footage']}"
            for k in (key, o["kind"], "all"):
                d = pos[k]
                d["clips"] += 1
                d["overlay_prob"] += by_ov
                d["text_area"] += by_text
                d["either"] += by_ov or by_text
            if not by_ov:
                examples_fn.append({"case": c["case"], "clip": [c["start_frame"], c["end_frame"]], "overlay_prob": _r(p)})
            box = c.get("overlay_box")
            if box and box.get("w") is not None:
                tb = {"x": o["box"]["x"] / case["width"], "y": o["box"]["y"] / case["height"],
                      "w": o["box"]["w"] / case["width"], "h": o["box"]["h"] / case["height"]}
                ious.append({"kind": o["kind"], "iou": _iou(box, tb), "detected": by_ov})
            if has_kind and by_ov:
                kinds[(o["kind"], c.get("overlay_kind"))] += 1
        else:
            grp = {"twin": "clean_twins", "negative": "hard_negatives"}.get(case["group"], "other_clean")
            for k in (grp, "all_negatives"):
                d = neg[k]
                d["clips"] += 1
                d["overlay_prob"] += by_ov
                d["text_area"] += by_text
                d["either"] += by_ov or by_text
            if by_ov:
                examples_fp.append({"case": c["case"], "clip": [c["start_frame"], c["end_frame"]], "overlay_prob": _r(p),
                                    "overlay_kind": c.get("overlay_kind")})
            if has_kind and c.get("overlay_kind") not in (None, "none"):
                kinds[("none", c.get("overlay_kind"))] += 1

    def rates(d: dict[str, int]) -> dict[str, Any]:
        n = d["clips"]
        return {"clips": n, **{k: _r(d[k] / n) if n else None for k in ("overlay_prob", "text_area", "either")}}

    tp = pos["all"]["overlay_prob"]
    fpn = neg["all_negatives"]["overlay_prob"]
    det = _prf(tp, fpn, pos["all"]["clips"] - tp)
    kind_acc = None
    if has_kind:
        right = sum(n for (t, p), n in kinds.items() if t == p)
        total = sum(n for (t, _), n in kinds.items() if t != "none")
        kind_acc = _r(right / total) if total else None
    iou_vals = [x["iou"] for x in ious]
    ranks = {}
    for col, vals in ranked.items():
        ranks[col] = {"auc_all": _r(auc(vals))}
        for kind in ("logo", "subtitle", "ticker"):
            ranks[col][f"auc_{kind}"] = _r(auc([v for v in vals if not v[1] or v[2] == kind]))
        ranks[col]["auc_vs_twins"] = _r(auc([v for v in vals if v[1] or v[2] == "twin"]))
    return {
        "ranks": ranks,
        "threshold_overlay_prob": thr_overlay, "threshold_text_area_ratio": thr_text,
        "detection": det,
        "recall": {k: rates(v) for k, v in sorted(pos.items())},
        "false_positive_rate": {k: rates(v) for k, v in sorted(neg.items())},
        "kind_column": has_kind, "kind_accuracy": kind_acc,
        "kind_confusion": {f"{t}->{p}": n for (t, p), n in sorted(kinds.items(), key=str)},
        "box_iou": {"clips_with_box": len(iou_vals), "mean": _r(sum(iou_vals) / len(iou_vals)) if iou_vals else None,
                    "share_ge_0.5": _r(sum(v >= 0.5 for v in iou_vals) / len(iou_vals)) if iou_vals else None,
                    "mean_detected": _r(_mean([x["iou"] for x in ious if x["detected"]])),
                    "by_kind": {k: _r(_mean([x["iou"] for x in ious if x["kind"] == k]))
                                for k in sorted({x["kind"] for x in ious})}},
        "false_positives": examples_fp, "misses": examples_fn,
    }


def auc(vals: list[tuple[float, bool, str]]) -> float | None:
    """ROC AUC (Mann-Whitney): the chance a random positive clip scores above a random negative one."""
    pos = [v for v, p, _ in vals if p]
    neg = [v for v, p, _ in vals if not p]
    if not pos or not neg:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


# ---------------------------------------------------------------------------------------------
# dedup
# ---------------------------------------------------------------------------------------------
def _shares_footage(a: dict[str, Any], b: dict[str, Any], min_s: float = 0.5) -> bool:
    for x in a.get("segments") or []:
        for y in b.get("segments") or []:
            if x["source"] == y["source"] and min(x["src_end_s"], y["src_end_s"]) - max(x["src_start_s"], y["src_start_s"]) >= min_s:
                return True
    return False


def _same_source(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool({s["source"] for s in a.get("segments") or []} & {s["source"] for s in b.get("segments") or []})


def score_dedup(truth: dict[str, Any], dups: list[dict[str, Any]], clip_case: dict[str, dict[str, Any]]) -> dict[str, Any]:
    cases = truth["cases"]
    # a duplicate group = the kept clip + every clip marked a duplicate of it; two videos are a
    # predicted pair when clips of both are in one group
    groups: dict[str, set[str]] = defaultdict(set)
    intra, kept_multi = 0, set()
    for d in dups:
        groups[d["duplicate_of"]].update((d["clip_id"], d["duplicate_of"]))
    pred: dict[tuple[str, str], int] = defaultdict(int)
    for kept, members in groups.items():
        cs = [clip_case[c] for c in sorted(members) if c in clip_case]
        for i, a in enumerate(cs):
            for b in cs[i + 1:]:
                if a["case"] == b["case"]:
                    intra += 1
                elif a["case"] and b["case"]:
                    pred[tuple(sorted((a["case"], b["case"])))] += 1
        k = clip_case.get(kept)
        kc = cases.get(k["case"]) if k else None
        if kc and kc.get("transitions"):
            s, e = k["start_frame"], k["end_frame"]
            if any((s < t["start"] < e) if t["kind"] == "cut" else (t["start"] <= e - 1 and t["end"] >= s)
                   for t in kc["transitions"]):
                kept_multi.add(kept)
    designed = []
    for p in truth["dedup"]["pairs"]:
        key = tuple(sorted((p["a"], p["b"])))
        designed.append({**p, "found": key in pred, "clip_pairs": pred.get(key, 0)})
    negs = []
    for p in truth["dedup"]["hard_negatives"]:
        key = tuple(sorted((p["a"], p["b"])))
        negs.append({**p, "paired": key in pred})
    false, incidental = [], 0
    for (a, b), n in sorted(pred.items()):
        if a in cases and b in cases and _shares_footage(cases[a], cases[b]):
            incidental += 1
        else:
            false.append({"a": a, "b": b, "clip_pairs": n,
                          "same_source": a in cases and b in cases and _same_source(cases[a], cases[b])})
    by_tr = defaultdict(lambda: [0, 0])
    for p in designed:
        by_tr[p["transform"]][0] += p["found"]
        by_tr[p["transform"]][1] += 1
    found = sum(p["found"] for p in designed)
    return {
        "designed_pairs": len(designed), "designed_found": found,
        "recall": _r(found / len(designed)) if designed else None,
        "by_transform": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_tr.items())},
        "hard_negatives": len(negs), "hard_negatives_paired": sum(p["paired"] for p in negs),
        "predicted_video_pairs": len(pred), "pairs_sharing_footage": incidental,
        "false_pairs": len(false), "precision": _r(incidental / len(pred)) if pred else None,
        "groups": len(groups), "intra_video_clip_pairs": intra, "kept_clips_spanning_a_cut": len(kept_multi),
        "pairs": designed, "negatives": negs, "false": false,
    }


# ---------------------------------------------------------------------------------------------
# VFR, rotation, static, camera, tiny
# ---------------------------------------------------------------------------------------------
def ffprobe(path: Path) -> dict[str, Any]:
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                        "stream=width,height,nb_read_packets:stream_tags=rotate:stream_side_data=rotation:format=duration",
                        "-of", "json", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        return {}
    d = json.loads(r.stdout)
    s = (d.get("streams") or [{}])[0]
    rot = s.get("tags", {}).get("rotate")
    for sd in s.get("side_data_list") or []:
        if "rotation" in sd:
            rot = -int(sd["rotation"]) % 360
    return {"width": s.get("width"), "height": s.get("height"), "frames": int(s.get("nb_read_packets") or 0),
            "duration": float(d.get("format", {}).get("duration") or 0), "rotation": int(rot or 0)}


def score_vfr_rotation(truth: dict[str, Any], videos: dict[str, dict[str, Any]], clips: list[dict[str, Any]],
                       run_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, case in truth["cases"].items():
        v = videos.get(name)
        if case["group"] == "vfr" and case.get("vfr"):
            pts, dur = case["vfr"]["pts"], case["vfr"]["duration_s"]
            rows = []
            for c in (c for c in clips if c["case"] == name and c["start_frame"] is not None):
                s, e = c["start_frame"], c["end_frame"]
                real = (pts[e] if e < len(pts) else dur) - pts[min(s, len(pts) - 1)]
                f = ffprobe(run_dir / c["clip_path"]) if c.get("clip_path") else {}
                rows.append({"frames": [s, e], "real_s": _r(real), "row_s": _r(c["duration_s"]),
                             "file_s": _r(f.get("duration")), "file_frames": f.get("frames"),
                             "row_err_s": _r(abs((c["duration_s"] or 0) - real)),
                             "file_err_s": _r(abs(f["duration"] - real)) if f.get("duration") else None})
            out[name] = {"truth_duration_s": dur, "truth_frames": len(pts),
                         "row_duration_s": _r(v and v.get("duration_s")), "row_frames": v and v.get("num_frames"),
                         "row_fps": _r(v and v.get("fps")), "clips": rows,
                         "max_row_err_s": _r(max((r["row_err_s"] for r in rows), default=None)),
                         "max_file_err_s": _r(max((r["file_err_s"] or 0 for r in rows), default=None))}
        if case["group"] == "rotation":
            rows = []
            for c in (c for c in clips if c["case"] == name):
                f = ffprobe(run_dir / c["clip_path"]) if c.get("clip_path") else {}
                shown = [f.get("width"), f.get("height")]
                if f.get("rotation", 0) % 180:
                    shown = shown[::-1]
                rows.append({"row_size": [c.get("width"), c.get("height")], "file_displayed_size": shown,
                             "ok": shown == case["display_size"] and [c.get("width"), c.get("height")] == case["display_size"]})
            out[name] = {"truth_rotation": case["rotation"], "row_rotation": v and v.get("rotation"),
                         "display_size": case["display_size"], "clips": rows,
                         "ok": bool(v) and v.get("rotation") == case["rotation"] and bool(rows) and all(r["ok"] for r in rows)}
    return out


def frozen_share(case: dict[str, Any], s: int, e: int) -> float:
    n = 0
    for fz in case.get("frozen") or []:
        # frames fz.start..fz.end-1 repeat the frame before: pairs (k-1, k) frozen for k in that range
        n += max(0, min(e, fz["end"]) - max(s + 1, fz["start"]))
    return n / max(1, e - s - 1)


def score_static(truth: dict[str, Any], clips: list[dict[str, Any]], thr: float | None) -> dict[str, Any]:
    out = {}
    for name, case in truth["cases"].items():
        if case["group"] != "static":
            continue
        rows = []
        for c in (c for c in clips if c["case"] == name and c["start_frame"] is not None):
            exp = frozen_share(case, c["start_frame"], c["end_frame"])
            sr = c.get("static_ratio")
            rows.append({"frames": [c["start_frame"], c["end_frame"]], "static_ratio": _r(sr), "frozen_share": _r(exp),
                         "abs_err": _r(abs(sr - exp)) if sr is not None else None,
                         "rejected_by_static": sr is not None and thr is not None and sr > thr,
                         "should_reject": thr is not None and exp > thr, "motion_score": _r(c.get("motion_score"))})
        out[name] = {"tags": case["tags"], "note": case.get("note", ""), "clips": rows,
                     "agree": all(r["rejected_by_static"] == r["should_reject"] for r in rows) if rows else None}
    return out


def score_camera(truth: dict[str, Any], clips: list[dict[str, Any]]) -> dict[str, Any]:
    out, agree, n = {}, 0, 0
    errs = defaultdict(list)
    for name, case in truth["cases"].items():
        cam = case.get("camera")
        if not cam:
            continue
        rows = []
        for c in (c for c in clips if c["case"] == name):
            r = {"label": c.get("camera_motion"), "pan": _r(c.get("camera_pan")), "tilt": _r(c.get("camera_tilt")),
                 "zoom": _r(c.get("camera_zoom"), 5)}
            for k in ("pan", "tilt", "zoom"):
                if r[k] is not None:
                    errs[k].append(abs(r[k] - cam[k]))
                    r[f"{k}_err"] = _r(abs(r[k] - cam[k]), 5 if k == "zoom" else 3)
            rows.append(r)
            n += 1
            agree += c.get("camera_motion") == cam["label"]
        out[name] = {"truth": {k: cam[k] for k in ("pan", "tilt", "zoom", "label")}, "clips": rows}
    return {"cases": out, "label_agreement": _r(agree / n) if n else None, "clips": n,
            "mean_abs_err": {k: _r(_mean(v), 5 if k == "zoom" else 3) for k, v in errs.items()},
            "max_abs_err": {k: _r(max(v), 5 if k == "zoom" else 3) for k, v in errs.items() if v}}


def score_tiny(truth: dict[str, Any], videos: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for name, case in truth["cases"].items():
        if case["group"] != "tiny":
            continue
        v = videos.get(name) or {}
        n = v.get("num_clips") or 0
        reason = v.get("error") or v.get("no_clip_reason")
        out[name] = {"status": v.get("status"), "error": v.get("error"), "num_clips": n,
                     "ok": n == 0 and bool(reason), "row_present": bool(v)}
    return out


# ---------------------------------------------------------------------------------------------
# filter defaults on clean clips (issue item 6)
# ---------------------------------------------------------------------------------------------
def clean_clip(case: dict[str, Any], c: dict[str, Any]) -> bool:
    if case["group"] in ("overlay", "tiny") or case.get("overlays") or case.get("frozen"):
        return False
    if c.get("status") == "failed" or c["start_frame"] is None:
        return False
    tr = case.get("transitions")
    if tr is None:
        return case["group"] == "negative"  # unknown cuts (animation): single-shot not guaranteed, still overlay-free
    s, e = c["start_frame"], c["end_frame"]
    return not any((s < t["start"] < e) if t["kind"] == "cut" else (t["start"] <= e - 1 and t["end"] >= s) for t in tr)


def score_filter(truth: dict[str, Any], clips: list[dict[str, Any]], fcfg: Any) -> dict[str, Any]:
    from curate.stages.filter import RULES

    clean = [c for c in clips if c["case"] in truth["cases"] and clean_clip(truth["cases"][c["case"]], c)]
    rows = []
    any_rej = set()
    for key, col, kind in RULES:
        thr = getattr(fcfg, key, None)
        if thr is None:
            continue
        scored = [c for c in clean if c.get(col) is not None]
        rej = [c for c in scored if (c[col] < thr if kind == "min" else c[col] > thr)]
        any_rej.update(id(c) for c in rej)
        rows.append({"key": key, "threshold": thr, "column": col, "clean_clips": len(clean), "scored": len(scored),
                     "rejected": len(rej), "share": _r(len(rej) / len(scored)) if scored else None,
                     "cases": sorted({c["case"] for c in rej})})
    cams = list(getattr(fcfg, "reject_camera_motion", []) or [])
    if cams:
        rej = [c for c in clean if c.get("camera_motion") in cams]
        any_rej.update(id(c) for c in rej)
        rows.append({"key": "reject_camera_motion", "threshold": cams, "column": "camera_motion",
                     "clean_clips": len(clean), "scored": len(clean), "rejected": len(rej),
                     "share": _r(len(rej) / len(clean)) if clean else None, "cases": sorted({c["case"] for c in rej})})
    status = defaultdict(int)
    for c in clean:
        status[c.get("status")] += 1
    return {"clean_clips": len(clean), "any_threshold": len(any_rej),
            "any_share": _r(len(any_rej) / len(clean)) if clean else None,
            "status": dict(status), "rules": rows}


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def render(m: dict[str, Any]) -> str:
    out = [f"## Evaluation set `{m['set']}`: {m['cases']} videos, {m['video_minutes']:.2f} video-minutes", ""]
    cu = m["cuts"]
    rows = [[c, d["tp"] + d["fn"], d["tp"], d["fp"], d["precision"], d["recall"], d["f1"]] for c, d in cu["classes"].items()]
    for k in ("all_hard_cuts", "all_gradual", "all"):
        d = cu[k]
        rows.append([f"**{k}**", d["tp"] + d["fn"], d["tp"], d["fp"], d["precision"], d["recall"], d["f1"]])
    out += ["### Cuts (pipeline: `videos.cut_frames`" + (" + `transitions`" if m["has_transitions"] else "") + ")", "",
            _table(["class", "truth", "found", "false", "P", "R", "F1"], rows), "",
            f"False cuts in {cu['single_shot']['videos']} single-shot videos: {cu['single_shot']['false_cuts']} "
            f"({_fmt(cu['single_shot']['per_minute'])} per minute).", ""]
    ct = m["clips_with_transitions"]
    out += [f"Clips containing transition frames: {ct['with_transition_frames']} of {ct['clips']} "
            f"({_fmt(ct['share'])}); by class: {json.dumps(ct['by_class'])}.", ""]
    if m.get("detectors"):
        rows = []
        for det, d in m["detectors"].items():
            if "classes" not in d:
                rows.append([det, d.get("error"), *["-"] * 9])
                continue
            cl = d["classes"]
            rows.append([det, d["cpu_s_per_video_minute"], d["all_hard_cuts"]["recall"], d["all_hard_cuts"]["precision"],
                         *[cl.get(c, {}).get("recall") for c in ("similar", "static_jump", "dark", "dissolve", "fade", "wipe")],
                         d["single_shot"]["false_cuts"]])
        out += ["### Cut detectors (`detect_shots`: hard cuts + gradual transitions; `detect_cuts` on older versions)", "",
                _table(["detector", "CPU s / video-min", "all hard-cut R", "all hard-cut P", "similar R", "static jump R", "dark R",
                        "dissolve R", "fade R", "wipe R", "false cuts, single-shot"], rows), ""]
    ov = m["overlay"]
    rows = [[k, v["clips"], v["overlay_prob"], v["text_area"], v["either"]] for k, v in ov["recall"].items()]
    out += [f"### Overlays (clip level; overlay_prob > {ov['threshold_overlay_prob']}, "
            f"text_area_ratio > {ov['threshold_text_area_ratio']})", "",
            "Recall on clips with an overlay:", "", _table(["kind/footage", "clips", "overlay_prob", "text_area", "either"], rows), "",
            "False-positive rate on clips without one:", "",
            _table(["group", "clips", "overlay_prob", "text_area", "either"],
                   [[k, v["clips"], v["overlay_prob"], v["text_area"], v["either"]] for k, v in ov["false_positive_rate"].items()]),
            "", f"overlay_prob detection: P {_fmt(ov['detection']['precision'])}, R {_fmt(ov['detection']['recall'])}, "
            f"F1 {_fmt(ov['detection']['f1'])}. Kind accuracy: "
            f"{_fmt(ov['kind_accuracy']) if ov['kind_column'] else 'no overlay_kind column'}. Box IoU: mean "
            f"{_fmt(ov['box_iou']['mean'])} over {ov['box_iou']['clips_with_box']} clips with a box "
            f"(detected: {_fmt(ov['box_iou']['mean_detected'])}; share >= 0.5: {_fmt(ov['box_iou']['share_ge_0.5'])}; "
            f"by kind {json.dumps(ov['box_iou']['by_kind'])}).", "",
            "Ranking (ROC AUC, overlay clips vs overlay-free clips; threshold-free):", "",
            _table(["score", "all", "logo", "subtitle", "ticker", "vs clean twins only"],
                   [[k, v["auc_all"], v["auc_logo"], v["auc_subtitle"], v["auc_ticker"], v["auc_vs_twins"]]
                    for k, v in ov["ranks"].items()]), ""]
    dd = m["dedup"]
    out += ["### Near-duplicates (video pairs)", "",
            f"Designed pairs found: {dd['designed_found']}/{dd['designed_pairs']} ({json.dumps(dd['by_transform'])}); "
            f"hard negatives paired: {dd['hard_negatives_paired']}/{dd['hard_negatives']}; predicted pairs "
            f"{dd['predicted_video_pairs']}, of which share footage {dd['pairs_sharing_footage']}, false "
            f"{dd['false_pairs']} (precision {_fmt(dd['precision'])}); kept clips spanning a cut: "
            f"{dd['kept_clips_spanning_a_cut']}.", ""]
    rows = []
    for name, d in m["vfr_rotation"].items():
        if "truth_duration_s" in d:
            rows.append([name, f"{d['truth_duration_s']} s / {d['truth_frames']} fr",
                         f"{_fmt(d['row_duration_s'])} s / {d['row_frames']} fr", len(d["clips"]),
                         d["max_row_err_s"], d["max_file_err_s"]])
    if rows:
        out += ["### VFR", "", _table(["case", "truth", "videos row", "clips", "max clip row err s", "max clip file err s"], rows), ""]
    for name, d in m["vfr_rotation"].items():
        if "truth_rotation" in d:
            out += [f"Rotation `{name}`: truth {d['truth_rotation']}, row {d['row_rotation']}, clip sizes "
                    f"{[c['file_displayed_size'] for c in d['clips']]} vs {d['display_size']}: {'ok' if d['ok'] else 'WRONG'}.", ""]
    rows = [[n, c["frames"], c["static_ratio"], c["frozen_share"], c["rejected_by_static"], c["should_reject"]]
            for n, d in m["static"].items() for c in d["clips"]]
    out += ["### static_ratio", "", _table(["case", "clip frames", "static_ratio", "truly frozen", "rejected", "should be"], rows), ""]
    cam = m["camera"]
    rows = [[n, d["truth"]["label"], d["truth"]["pan"], d["truth"]["tilt"], d["truth"]["zoom"],
             *(([c["label"], c["pan"], c["tilt"], c["zoom"]]) if (c := (d["clips"] or [{}])[0]) else ["-"] * 4)]
            for n, d in cam["cases"].items()]
    out += ["### Camera motion (first clip of each case)", "",
            _table(["case", "truth label", "pan", "tilt", "zoom", "label", "pan", "tilt", "zoom"], rows), "",
            f"Label agreement {_fmt(cam['label_agreement'])} over {cam['clips']} clips; mean abs error "
            f"{json.dumps(cam['mean_abs_err'])}.", ""]
    rows = [[n, d["status"], d["error"], d["num_clips"], "ok" if d["ok"] else "no reason"] for n, d in m["tiny"].items()]
    out += ["### Too short / too small", "", _table(["case", "status", "error", "clips", "verdict"], rows), ""]
    fl = m["filter"]
    rows = [[r["key"], r["threshold"], f"{r['rejected']}/{r['scored']}", r["share"], ", ".join(r["cases"]) or "-"]
            for r in fl["rules"]]
    out += [f"### What each default filter threshold rejects on clean clips ({fl['clean_clips']} clips)", "",
            _table(["threshold", "value", "rejected", "share", "cases"], rows), "",
            f"Any threshold: {fl['any_threshold']}/{fl['clean_clips']} ({_fmt(fl['any_share'])}).", ""]
    return "\n".join(out)


def score(cases_dir: Path, out: Path, overrides: list[str], detectors: list[str],
          reuse_detectors: bool = False) -> dict[str, Any]:
    truth = json.loads((cases_dir / "truth.json").read_text())
    cfg = load_config(out, overrides)
    db = Shards(out / "run")
    vids = db.select("videos", ["video_id", "source", "status", "error", "error_detail", "num_clips", "num_frames",
                                "duration_s", "fps", "rotation", "cut_frames", "transitions", "width", "height",
                                "no_clip_reason"])
    videos = {case_of(v["source"]): v for v in vids}
    by_id = {v["video_id"]: case_of(v["source"]) for v in vids}
    clips = db.select("clips", ["clip_id", "video_id", "start_frame", "end_frame", "start_s", "end_s", "duration_s",
                                "num_frames", "width", "height", "clip_path", "status", "reject_reasons",
                                "motion_score", "camera_motion", "camera_pan", "camera_tilt", "camera_zoom",
                                "static_ratio", "overlay_prob", "overlay_box", "overlay_kind", "text_area_ratio",
                                "ocr_boxes", "sharpness", "brightness", "border_frac", "watermark_prob", "aesthetic_score"])
    for c in clips:
        c["case"] = by_id.get(c["video_id"])
    clips.sort(key=lambda c: (c["case"] or "", c["start_frame"] or 0))
    preds = {}
    for name, v in videos.items():
        if v["status"] == "ok" or v.get("cut_frames") is not None:
            preds[name] = ([int(x) for x in v.get("cut_frames") or []], _intervals(v.get("transitions")))
    dups = db.rows("SELECT clip_id, duplicate_of FROM duplicates")
    clip_case = {c["clip_id"]: c for c in clips}
    minutes = sum(c["duration_s"] for c in truth["cases"].values()) / 60
    m: dict[str, Any] = {
        "set": truth["set"], "cases": len(truth["cases"]), "video_minutes": minutes,
        "videos_in_shards": len(vids), "clips_in_shards": len(clips),
        "missing_cases": sorted(set(truth["cases"]) - set(videos)),
        "has_transitions": "transitions" in db.cols["videos"], "has_overlay_kind": "overlay_kind" in db.cols["clips"],
        "config": {"filter": cfg.filter.model_dump(), "cuts_detector": cfg.cuts.detector},
    }
    m["cuts"] = score_cuts(truth, preds)
    m["clips_with_transitions"] = clips_with_transitions(truth, clips)
    m["overlay"] = score_overlays(truth, clips, cfg.filter.max_overlay_prob, cfg.filter.max_text_area_ratio,
                                  m["has_overlay_kind"])
    m["dedup"] = score_dedup(truth, dups, clip_case)
    m["vfr_rotation"] = score_vfr_rotation(truth, videos, clips, out / "run")
    m["static"] = score_static(truth, clips, cfg.filter.max_static_ratio)
    m["camera"] = score_camera(truth, clips)
    m["tiny"] = score_tiny(truth, videos)
    m["filter"] = score_filter(truth, clips, cfg.filter)
    if detectors:
        m["detectors"] = detector_table(truth, cases_dir, detectors)
    elif reuse_detectors and (out / "metrics.json").is_file():  # re-scoring: keep the (slow) detector table
        m["detectors"] = json.loads((out / "metrics.json").read_text()).get("detectors") or {}
    return m


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", required=True, help="folder written by build.py (videos + truth.json)")
    ap.add_argument("--out", default=None, help="output folder (default: CASES/../eval-out)")
    ap.add_argument("--config", default=str(ROOT / "configs" / "local.yaml"), help="base config (default configs/local.yaml)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra config override section.key=value")
    ap.add_argument("--detectors", default="adaptive,content",
                    help="cut detectors for the detector table (comma list; '' = none; transnetv2 needs its wheel)")
    ap.add_argument("--no-run", action="store_true", help="score the existing OUT/run shards")
    ap.add_argument("--reuse-detectors", action="store_true",
                    help="with --detectors '': keep the detector table of the existing OUT/metrics.json")
    ap.add_argument("--in-process", action="store_true", help="run the pipeline in this process (curate.run.run_pipeline)")
    args = ap.parse_args(argv)
    cases = Path(args.cases).resolve()
    out = Path(args.out).resolve() if args.out else cases.parent / "eval-out"
    out.mkdir(parents=True, exist_ok=True)
    wall = None
    if not args.no_run:
        wall = run_curate(cases, out, Path(args.config), args.overrides, args.in_process)
    dets = [d.strip() for d in args.detectors.split(",") if d.strip()]
    m = score(cases, out, args.overrides, dets, args.reuse_detectors)
    m["pipeline_wall_s"] = _r(wall, 1) if wall else None
    (out / "metrics.json").write_text(json.dumps(m, indent=1, default=str))
    md = render(m)
    (out / "metrics.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
