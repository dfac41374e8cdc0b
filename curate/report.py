"""``curate report``: one HTML page describing a curate output, with its images as files beside it.

Reads only the committed shards (DuckDB views from :mod:`curate.query`), the manifest's
``runs`` and the clip thumbnails. Plots (matplotlib Agg PNGs) and downscaled thumbnails are
written as files under ``report_files/`` next to ``report.html`` (``<name>_files/`` for
``--out <name>.html``) and referenced relatively, so the page stays small and fast for 10,000s
of clips: open the folder, or copy report.html together with its ``_files`` folder. Files
no longer referenced are removed on each rebuild; a thumbnail already there is reused.

Sections: run summary, per-stage throughput summed over ALL runs of the output (a no-op
re-run never hides it), failures and rejects by reason, a histogram of every numeric column
(found by :mod:`curate.columns`; all-null columns are listed, not plotted) with the filter's
thresholds drawn as lines, licence / topic / camera-label / overlay-kind breakdowns, the most
frequent on-screen (OCR) texts, caption lengths, per-video clip lists (cut times), near-duplicate
pairs side by side, and contact sheets (top/bottom clips) only for the scores the filter uses
(``report.sheets`` to choose) plus the rejected clips. Every thumbnail is labelled with its
source video and time span. The numbers are also embedded as JSON
(``<script id="report-data">``) for tools and tests.

The after-run step (:mod:`curate.after_run`) rebuilds the report only when the shard set changed.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import itertools
import json
import logging
import os
from typing import Any

from curate.columns import discover, quote
from curate.query import connect
from curate.shards import read_manifest
from curate.storage import Output

log = logging.getLogger("curate")

OK, REJ = "#2f6fb0", "#d0593a"


# -- data ---------------------------------------------------------------------------------
def _rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _one(con, sql: str, params: list | None = None) -> Any:
    return con.execute(sql, params or []).fetchone()[0]


def binned(con, table: str, expr: str, where: str = "true", bins: int = 30) -> dict[str, Any]:
    """Histogram of ``expr`` over ``table`` computed in DuckDB (scales to millions of rows):
    n/min/max/mean, bin edges, and counts of kept (status ok) vs other rows per bin."""
    base = f"SELECT ({expr})::DOUBLE AS x, status = 'ok' AS ok FROM {table} WHERE {where}"
    n, lo, hi, mean = con.execute(f"SELECT count(x), min(x), max(x), avg(x) FROM ({base}) "
                                  "WHERE x IS NOT NULL AND isfinite(x)").fetchone()
    out: dict[str, Any] = {"n": n, "min": lo, "max": hi, "mean": mean, "edges": [], "ok": [], "other": []}
    if not n:
        return out
    if hi <= lo:  # one distinct value: one narrow bin around it
        w = max(abs(lo) * 0.02, 0.02)
        out.update(edges=[lo - w, lo + w], ok=[0], other=[0])
        idx = "0"
    else:
        w = (hi - lo) / bins
        out.update(edges=[lo + i * w for i in range(bins)] + [hi], ok=[0] * bins, other=[0] * bins)
        idx = f"least(floor((x - {lo!r}) / {w!r})::BIGINT, {bins - 1})"
    for b, ok, cnt in con.execute(f"SELECT {idx} AS b, coalesce(ok, false), count(*) FROM ({base}) "
                                  "WHERE x IS NOT NULL AND isfinite(x) GROUP BY 1, 2").fetchall():
        out["ok" if ok else "other"][int(b)] += cnt
    return out


def thresholds_from_filter(filter_cfg: Any) -> dict[str, list[list[Any]]]:
    """Score column -> [[op, value], ...] from a ``FilterConfig`` (``min_x`` -> ``x >=``, ``max_x`` -> ``x <=``)."""
    out: dict[str, list[list[Any]]] = {}
    if filter_cfg is None or not getattr(filter_cfg, "enabled", True):
        return out
    for name, value in filter_cfg.model_dump().items():
        if value is None or isinstance(value, (bool, list, dict)) or not isinstance(value, (int, float)):
            continue
        for prefix, op in (("min_", ">="), ("max_", "<=")):
            if name.startswith(prefix):
                out.setdefault(name[len(prefix):], []).append([op, float(value)])
    return out


def report_options(cfg: Any) -> dict[str, Any]:
    """``build_report`` keyword arguments from a full ``Config`` (report + filter sections)."""
    r = cfg.report
    return {"top_n": r.top_n, "max_rejects": r.max_rejects, "thresholds": thresholds_from_filter(cfg.filter),
            "sheet_scores": getattr(r, "sheets", None)}


def _columns(con, table: str) -> dict[str, str]:
    return {name: typ for name, typ, *_ in con.execute(f"DESCRIBE {table}").fetchall()}


def _src_expr(vcols: dict[str, str]) -> str:
    """SQL for a short source label of a video row ``v`` (title, else the file name of the source)."""
    parts = []
    if "title" in vcols:
        parts.append("v.title")
    if "source" in vcols:
        parts.append("regexp_replace(v.source, '^.*/', '')")
    return f"coalesce({', '.join(parts)})" if parts else "NULL"


def _breakdown(con, col: str, typ: str) -> list[dict[str, Any]]:
    """Clips per value of a label column (a list column counts each element), kept vs rejected."""
    q = quote(col)
    src = f"(SELECT unnest({q}) AS x, status FROM clips)" if typ.endswith("[]") else f"(SELECT {q} AS x, status FROM clips)"
    return [dict(zip(("label", "clips", "clips_ok", "clips_rejected"), r)) for r in _rows(
        con, f"SELECT coalesce(x::VARCHAR, '(none)') l, count(*), count(*) FILTER (WHERE status = 'ok'), "
             f"count(*) FILTER (WHERE status = 'rejected') FROM {src} GROUP BY l ORDER BY 2 DESC, l LIMIT 40")]


def collect(output_dir: str, top_n: int = 8, max_rejects: int = 24, thresholds: dict[str, list] | None = None,
            sheet_scores: list[str] | None = None, max_pairs: int = 24, max_videos: int = 50) -> dict[str, Any]:
    """Every number and list the report shows, from DuckDB over the shards + the manifest.

    ``thresholds``: score column -> [[op, value]] (drawn on histograms; :func:`thresholds_from_filter`).
    ``sheet_scores``: scores that get contact sheets; None = those with a threshold, or every
    score with values when no threshold is known.
    """
    cols = discover(output_dir)
    v, c = cols["videos"], cols["clips"]
    thresholds = thresholds or {}
    con = connect(output_dir)
    try:
        ccols, vcols = _columns(con, "clips"), _columns(con, "videos")
        d: dict[str, Any] = {"output_dir": os.path.abspath(output_dir) if "://" not in output_dir else output_dir}
        d["counts"] = {
            "videos": _one(con, "SELECT count(*) FROM videos"),
            "videos_ok": _one(con, "SELECT count(*) FROM videos WHERE status = 'ok'"),
            "videos_failed": _one(con, "SELECT count(*) FROM videos WHERE status = 'failed'"),
            "videos_rejected": _one(con, "SELECT count(*) FROM videos WHERE status = 'rejected'"),
            "videos_with_kept_clips": _one(con, "SELECT count(DISTINCT video_id) FROM clips WHERE status = 'ok'"),
            "clips": _one(con, "SELECT count(*) FROM clips"),
            "clips_ok": _one(con, "SELECT count(*) FROM clips WHERE status = 'ok'"),
            "clips_rejected": _one(con, "SELECT count(*) FROM clips WHERE status = 'rejected'"),
            "clips_failed": _one(con, "SELECT count(*) FROM clips WHERE status = 'failed'"),
            "seconds_kept": round(_one(con, "SELECT coalesce(sum(duration_s), 0) FROM clips WHERE status = 'ok'") or 0, 3),
            "duplicates": _one(con, "SELECT count(*) FROM duplicates"),
        }
        d["counts"]["hours_kept"] = round(d["counts"]["seconds_kept"] / 3600, 4)
        d["video_failures"] = dict(_rows(con, "SELECT coalesce(error, 'unknown') e, count(*) n FROM videos "
                                              "WHERE status <> 'ok' GROUP BY e ORDER BY n DESC, e"))
        d["clip_failures"] = dict(_rows(con, "SELECT coalesce(error, 'unknown') e, count(*) n FROM clips "
                                             "WHERE status = 'failed' GROUP BY e ORDER BY n DESC, e"))
        d["reject_reasons"] = dict(_rows(con, "SELECT r, count(*) n FROM (SELECT unnest(reject_reasons) r FROM clips "
                                              "WHERE status = 'rejected') GROUP BY r ORDER BY n DESC, r"))
        d["failed_videos"] = [dict(zip(("source", "error", "detail"), r)) for r in _rows(
            con, "SELECT source, error, error_detail FROM videos WHERE status <> 'ok' ORDER BY error, source LIMIT 50")]
        d["numeric"] = {}
        for table, tc in (("clips", c), ("videos", v)):
            for col in tc.numeric:
                h = binned(con, table, f"{quote(col)}::DOUBLE")
                h.update({"table": table, "column": col, "kind": "score" if col in tc.scores else "property",
                          "null": _one(con, f"SELECT count(*) FROM {table} WHERE {quote(col)} IS NULL"),
                          "thresholds": thresholds.get(col, []) if table == "clips" else []})
                d["numeric"][f"{table}.{col}"] = h
        d["thresholds"] = thresholds
        lic = v.licence
        if lic:
            d["licences"] = [dict(zip(("licence", "videos", "clips_ok"), r)) for r in _rows(
                con, f"SELECT coalesce(v.{quote(lic)}, '(none)') l, count(DISTINCT v.video_id), "
                     f"count(c.clip_id) FILTER (WHERE c.status = 'ok') FROM videos v LEFT JOIN clips c USING (video_id) "
                     f"GROUP BY l ORDER BY 2 DESC, l")]
        elif c.licence:
            d["licences"] = [dict(zip(("licence", "videos", "clips_ok"), r)) for r in _rows(
                con, f"SELECT coalesce({quote(c.licence)}, '(none)') l, count(DISTINCT video_id), "
                     f"count(*) FILTER (WHERE status = 'ok') FROM clips GROUP BY l ORDER BY 2 DESC, l")]
        if c.topic:
            d["topics"] = [dict(zip(("topic", "clips", "clips_ok"), r)) for r in _rows(
                con, f"SELECT coalesce({quote(c.topic)}::VARCHAR, '(unassigned)') t, count(*), "
                     f"count(*) FILTER (WHERE status = 'ok') FROM clips GROUP BY t ORDER BY 2 DESC, t")]
        d["labels"] = {}  # categorical labels of the scorers (camera motion, overlay kind) when present
        for col in ("camera_motion", "overlay_kind"):
            if col in ccols and _one(con, f"SELECT count({quote(col)}) FROM clips"):
                d["labels"][col] = _breakdown(con, col, ccols[col])
        if "ocr_texts" in ccols and ccols["ocr_texts"].endswith("[]"):
            d["ocr_texts"] = [dict(zip(("text", "clips", "clips_rejected"), r)) for r in _rows(
                con, "SELECT t, count(DISTINCT clip_id), count(DISTINCT clip_id) FILTER (WHERE status = 'rejected') "
                     "FROM (SELECT unnest(ocr_texts) t, clip_id, status FROM clips) WHERE trim(t) <> '' "
                     "GROUP BY t ORDER BY 2 DESC, t LIMIT 30")]
        d["captions"] = {}
        for col in c.text_captions:
            q = quote(col)
            h = binned(con, "clips", f"len(string_split(trim({q}), ' '))", f"status = 'ok' AND trim({q}) <> ''")
            h.update(kind="words", missing=_one(con, f"SELECT count(*) FROM clips WHERE status = 'ok' AND "
                                                     f"({q} IS NULL OR trim({q}) = '')"))
            d["captions"][col] = h
        for col in c.timed_captions:
            q = quote(col)
            h = binned(con, "clips", f"len({q})", "status = 'ok'")
            h.update(kind="segments", missing=_one(con, f"SELECT count(*) FROM clips WHERE status = 'ok' AND {q} IS NULL"))
            d["captions"][col] = h
        src = _src_expr(vcols)
        tile = (f"SELECT c.clip_id, c.thumbnail_path, c.status, {{score}}, c.reject_reasons, {src} AS src, "
                f"c.start_s, c.end_s FROM clips c LEFT JOIN videos v ON v.video_id = c.video_id")
        with_values = [col for col in c.scores if d["numeric"].get(f"clips.{col}", {}).get("n")]
        if sheet_scores is None:
            sheet_scores = [col for col in with_values if col in thresholds] or (with_values if not thresholds else [])
        d["sheet_scores"] = [col for col in sheet_scores if col in with_values]
        d["sheets"] = {}
        for col in d["sheet_scores"]:
            q = f"c.{quote(col)}"
            base = tile.format(score=f"{q}::DOUBLE") + f" WHERE {q} IS NOT NULL AND c.thumbnail_path IS NOT NULL"
            d["sheets"][col] = {
                "top": _rows(con, base + f" ORDER BY {q} DESC, c.clip_id LIMIT ?", [top_n]),
                "bottom": _rows(con, base + f" ORDER BY {q} ASC, c.clip_id LIMIT ?", [top_n]),
            }
        # rejected clips: up to max_rejects, spread over reasons (a few per first reason)
        d["rejected"] = _rows(con, tile.format(score="NULL").replace("FROM clips c", "FROM (SELECT *, row_number() OVER "
                              "(PARTITION BY reject_reasons[1] ORDER BY clip_id) k FROM clips WHERE status = 'rejected') c")
                              + " ORDER BY c.k, c.clip_id LIMIT ?", [max_rejects])
        # near-duplicate pairs (curate dedup): the duplicate next to the clip that is kept
        d["duplicate_pairs"] = [
            {"dup": r[:8], "kept": r[8:16], "distance": r[16], "matched": r[17]} for r in _rows(
                con, f"SELECT a.*, b.*, d.distance, d.matched FROM duplicates d "
                     f"JOIN ({tile.format(score='NULL')}) a ON a.clip_id = d.clip_id "
                     f"JOIN ({tile.format(score='NULL')}) b ON b.clip_id = d.duplicate_of "
                     f"ORDER BY d.distance, d.clip_id LIMIT ?", [max_pairs])]
        # per video: its clips in order (the cut list), for the videos with the most clips
        d["videos"] = [dict(zip(("video_id", "src", "duration_s", "clips", "clips_ok", "cuts_s"), r)) for r in _rows(
            con, f"SELECT v.video_id, {src}, any_value(v.duration_s), count(c.clip_id), "
                 f"count(c.clip_id) FILTER (WHERE c.status = 'ok'), "
                 f"list(round(c.start_s, 2) ORDER BY c.start_s) FILTER (WHERE c.start_s IS NOT NULL) "
                 f"FROM videos v JOIN clips c ON c.video_id = v.video_id GROUP BY ALL ORDER BY 4 DESC, 2 LIMIT ?",
            [max_videos])] if "duration_s" in vcols else []
    finally:
        con.close()
    manifest = read_manifest(Output(output_dir))
    d["runs"] = manifest.get("runs", [])
    d["stage_totals"] = stage_totals(d["runs"])
    d["schema_version"] = manifest.get("schema_version")
    d["columns"] = {t: {"scores": x.scores, "properties": x.properties, "text_captions": x.text_captions,
                        "timed_captions": list(x.timed_captions), "licence": x.licence, "topic": x.topic}
                    for t, x in cols.items()}
    return d


def stage_totals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-stage worker seconds summed over every run of the output (no-op re-runs add nothing)."""
    stages: dict[str, float] = {}
    for r in runs:
        for s, sec in (r.get("stage_seconds") or {}).items():
            stages[s] = stages.get(s, 0.0) + float(sec or 0)
    worked = [r for r in runs if r.get("videos")]
    return {"stage_seconds": stages, "runs": len(runs), "runs_with_work": len(worked),
            "videos": sum(r.get("videos") or 0 for r in runs),
            "video_seconds": sum(r.get("video_seconds") or 0 for r in runs),
            "wall_s": sum(r.get("wall_s") or 0 for r in runs)}


# -- plots --------------------------------------------------------------------------------
def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return buf.getvalue()


def _fig(w: float = 4.6, h: float = 2.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    ax = fig.add_subplot(1, 1, 1)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    return fig, ax


def hist_png(title: str, h: dict[str, Any], xlabel: str = "", thresholds: list | None = None) -> bytes:
    """Stacked histogram (kept / rejected+failed) from :func:`binned` output; thresholds as dashed lines."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _fig(4.2, 2.3)
    edges = h["edges"]
    lefts = edges[:-1]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    n_ok, n_other = sum(h["ok"]), sum(h["other"])
    ax.bar(lefts, h["ok"], width=widths, align="edge", color=OK, label=f"kept ({n_ok})")
    if n_other:
        ax.bar(lefts, h["other"], width=widths, bottom=h["ok"], align="edge", color=REJ, label=f"rejected/failed ({n_other})")
    if len(lefts) == 1:  # a single value: give it some room
        c, w = (edges[0] + edges[1]) / 2, edges[1] - edges[0]
        ax.set_xlim(c - 10 * w, c + 10 * w)
    for op, value in thresholds or []:
        ax.axvline(value, color="#222", linestyle="--", linewidth=1.1,
                   label=f"filter: keep {'≥' if op == '>=' else '≤'} {_fmt(value)}")
    if n_other or thresholds:
        ax.legend(fontsize=7, frameon=False)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("count", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(fig)


def bar_png(title: str, labels: list[str], values: list[float], color: str = OK) -> bytes:
    labels, values = labels[:30], values[:30]
    fig, ax = _fig(5.2, max(1.4, 0.28 * len(labels) + 0.8))
    y = list(range(len(labels)))[::-1]
    ax.barh(y, values, color=color)
    ax.set_yticks(y, [str(lab)[:40] for lab in labels], fontsize=8)
    ax.set_title(title, fontsize=10)
    for yy, val in zip(y, values):
        ax.text(val, yy, f" {val}", va="center", fontsize=7)
    return _png(fig)


def stage_png(stages: dict[str, float], title: str = "worker seconds per stage (all runs)") -> bytes:
    return bar_png(title, list(stages), [round(s, 1) for s in stages.values()])


# -- files next to the report -------------------------------------------------------------
class Assets:
    """Plots and thumbnails written as files under ``<folder>/`` beside the report, linked relatively.

    Plot files are named by content hash; thumbnails by clip id (reused when present, as a
    clip's thumbnail never changes). :meth:`prune` deletes what this build did not reference.
    """

    def __init__(self, dest: Output, folder: str) -> None:
        self.dest, self.folder = dest, folder
        self.used: set[str] = set()
        self.existing = {f"{sub}/{n}" for sub in ("plots", "thumbs") for n in dest.ls(f"{folder}/{sub}")}

    def _put(self, rel: str, data: bytes) -> str:
        if rel not in self.existing:
            self.dest.write_bytes(f"{self.folder}/{rel}", data)
            self.existing.add(rel)
        self.used.add(rel)
        return f"{self.folder}/{rel}"

    def png(self, data: bytes) -> str:
        import hashlib

        return self._put(f"plots/{hashlib.sha1(data).hexdigest()[:16]}.png", data)

    def thumb(self, src: Output, rel: str | None, clip_id: str, width: int = 240) -> str | None:
        """A downscaled JPEG copy of the clip thumbnail at ``rel`` (inside the output only), or None."""
        if not rel or rel.startswith("/") or ".." in rel.replace("\\", "/").split("/"):
            return None
        name = f"thumbs/{clip_id}.jpg"
        if name in self.existing:
            self.used.add(name)
            return f"{self.folder}/{name}"
        try:
            from PIL import Image

            im = Image.open(io.BytesIO(src.read_bytes(rel))).convert("RGB")
            if im.width > width:
                im = im.resize((width, max(1, round(im.height * width / im.width))))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=80)
        except Exception as exc:  # noqa: BLE001 - a missing/corrupt thumbnail must not break the report
            log.debug("thumbnail %s unreadable: %s", rel, exc)
            return None
        return self._put(name, buf.getvalue())

    def prune(self) -> int:
        stale = self.existing - self.used
        for rel in stale:
            self.dest.remove(f"{self.folder}/{rel}")
        return len(stale)


# -- html ---------------------------------------------------------------------------------
E = html.escape

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:18px 26px 60px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.muted{color:#666;font-size:12px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #e6e6e6;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}.card{background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{font-size:12px;color:#666}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:10px}.plots figure{margin:0;background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:6px}.plots figure img{width:100%;height:auto}
.plots figcaption{font-size:11px;color:#555;padding:0 4px}
.sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(130px,1fr));gap:6px;margin:6px 0 14px}
.thumb{background:#fff;border:1px solid #e2e2e2;border-radius:6px;overflow:hidden;font-size:11px}
.thumb img{width:100%;display:block;background:#222;aspect-ratio:16/9;object-fit:contain}
.thumb .cap{padding:4px 6px;overflow-wrap:anywhere}.thumb.rejected{border-color:#d0593a}.reason{color:#b13b1f;font-weight:600}
.pairs{display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));gap:10px}
.pair{display:grid;grid-template-columns:1fr 44px 1fr;align-items:center;background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:4px}
.vs{text-align:center;font-size:18px;color:#888}.vs small{font-size:10px}
.thumb .src{font-weight:600}.thumb .t{color:#666}
nav{margin:8px 0;font-size:13px}nav a{color:#2f6fb0}
.noimg{height:96px;display:flex;align-items:center;justify-content:center;background:#eee;color:#888}
"""


def _table(headers: list[str], rows: list[list[Any]], keys: list[str] | None = None, key_col: int = -1) -> str:
    numeric_col = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) for i in range(len(headers))]
    head = "".join(f'<th class="{"n" if numeric_col[i] else ""}">{E(h)}</th>' for i, h in enumerate(headers))
    body = []
    for j, r in enumerate(rows):
        cells = []
        for i, x in enumerate(r):
            attr = f' data-metric="{E(keys[j])}"' if keys and i == (key_col % len(r)) else ""
            cells.append(f'<td class="{"n" if numeric_col[i] else ""}"{attr}>{E(_fmt(x))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:,.3f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:,.0f}"
    if isinstance(x, int):
        return str(x)
    return "" if x is None else str(x)


def _card(label: str, value: Any, key: str) -> str:
    return f'<div class="card"><b data-metric="{E(key)}">{E(_fmt(value))}</b><span>{E(label)}</span></div>'


def _timespan(a: Any, b: Any) -> str:
    def t(x: float) -> str:
        m, s = divmod(float(x), 60)
        return f"{int(m)}:{s:05.2f}"

    return f"{t(a)}–{t(b)}" if a is not None and b is not None else ""


def _tile(a: Assets, src: Output, row: tuple, score: str | None) -> str:
    clip_id, thumb, status, value, reasons, source, start_s, end_s = row
    url = a.thumb(src, thumb, clip_id)
    img = (f'<img alt="{E(clip_id)}" loading="lazy" src="{E(url)}">' if url else '<div class="noimg">no thumbnail</div>')
    lines = [f'<span class="src" title="{E(source or "")}">{E((source or "?")[:48])}</span> '
             f'<span class="t">{E(_timespan(start_s, end_s))}</span>',
             f"<code>{E(clip_id[:12])}</code> · {E(status or '')}"]
    if score is not None and value is not None:
        lines.append(f"{E(score)} = <b>{E(_fmt(float(value)))}</b>")
    if reasons:
        lines.append('<span class="reason">' + E(", ".join(reasons)) + "</span>")
    return (f'<div class="thumb {E(status or "")}" data-clip-id="{E(clip_id)}">{img}'
            f'<div class="cap">{"<br>".join(lines)}</div></div>')


def _sheet(a: Assets, src: Output, rows: list[tuple], score: str | None) -> str:
    cells = [_tile(a, src, r, score) for r in rows]
    return f'<div class="sheet">{"".join(cells)}</div>' if cells else '<p class="muted">none</p>'


def _figure(a: Assets, png: bytes, caption: str = "", column: str | None = None) -> str:
    attr = f' data-column="{E(column)}"' if column else ""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure{attr}><img loading="lazy" src="{E(a.png(png))}">{cap}</figure>'


def _hists(a: Assets, items: dict[str, Any]) -> str:
    figs, empty = [], []
    for key, s in items.items():
        if not s["n"]:
            empty.append(f"{key} ({s['null']} null)")
            continue
        th = s.get("thresholds") or []
        cap = (f'n={s["n"]} null={s["null"]} min={_fmt(s["min"])} mean={_fmt(s["mean"])} max={_fmt(s["max"])}'
               + ("".join(f" · <b>keep {E(op)} {_fmt(val)}</b>" for op, val in th)))
        figs.append(_figure(a, hist_png(key, s, thresholds=th), cap, key))
    html_ = '<div class="plots">' + "".join(figs) + "</div>"
    if empty:
        html_ += f"<p class='muted'>No values (stage off or skipped): {E(', '.join(empty))}</p>"
    return html_


def _label_table(rows: list[dict[str, Any]], key: str) -> str:
    return _table(["label", "clips", "kept", "rejected"], [[x["label"], x["clips"], x["clips_ok"], x["clips_rejected"]]
                                                           for x in rows], keys=[f"{key}:{x['label']}" for x in rows])


def render(d: dict[str, Any], output_dir: str, assets: Assets) -> str:
    src = Output(output_dir)
    a = assets
    k = d["counts"]
    parts: list[str] = []
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<h1>curate report</h1><div class='muted'>{E(d['output_dir'])} · schema {E(str(d['schema_version']))}"
                 f" · generated {now}</div>")
    nav = ["runs", "failures", "scores", "properties", "labels", "duplicates", "videos", "sheets"]
    parts.append("<nav>" + " · ".join(f'<a href="#{n}">{n}</a>' for n in nav) + "</nav>")
    parts.append('<div class="cards">' + "".join([
        _card("videos in", k["videos"], "videos"), _card("videos ok", k["videos_ok"], "videos_ok"),
        _card("videos with kept clips", k["videos_with_kept_clips"], "videos_with_kept_clips"),
        _card("clips", k["clips"], "clips"), _card("clips kept", k["clips_ok"], "clips_ok"),
        _card("clips rejected", k["clips_rejected"], "clips_rejected"),
        _card("clips failed", k["clips_failed"], "clips_failed"),
        _card("near-duplicates", k["duplicates"], "duplicates"),
        (_card("hours kept", k["hours_kept"], "hours_kept") if k["hours_kept"] >= 1
         else _card("minutes kept", round(k["seconds_kept"] / 60, 2), "minutes_kept")),
    ]) + "</div>")

    # runs
    parts.append("<h2 id='runs'>Runs</h2>")
    runs = d["runs"]
    if runs:
        shown = runs[-15:]
        rows = []
        for r in shown:
            wall = r.get("wall_s") or 0
            rows.append([r.get("run_id"), r.get("videos", 0), r.get("videos_ok", 0), r.get("videos_failed", 0),
                         r.get("clips", 0), r.get("clips_ok", 0), wall, r.get("video_seconds", 0),
                         r.get("video_seconds_per_wall_second", 0), (r.get("clips", 0) / wall) if wall else 0.0])
        if len(runs) > len(shown):
            parts.append(f"<p class='muted'>The latest {len(shown)} of {len(runs)} runs.</p>")
        parts.append(_table(["run", "videos", "ok", "failed", "clips", "clips ok", "wall s", "video s",
                             "video s / wall s", "clips / wall s"], rows))
        tot = d["stage_totals"]
        stages = tot["stage_seconds"]
        if stages:
            total = sum(stages.values()) or 1.0
            vsec, nvid = tot["video_seconds"], tot["videos"]
            srows = [[s, sec, 100 * sec / total, (vsec / sec) if sec else None, (nvid / sec) if sec else None]
                     for s, sec in sorted(stages.items(), key=lambda x: -x[1])]
            parts.append(f"<h3>Throughput per stage (all {tot['runs']} runs, {tot['runs_with_work']} with new videos)</h3>"
                         "<p class='muted'>Worker seconds summed over all workers and all runs of this output; "
                         "video s / worker s is the stage's own speed on one worker.</p>")
            parts.append(_table(["stage", "worker s", "% of stage time", "video s / worker s", "videos / worker s"], srows,
                                keys=[f"stage:{r[0]}" for r in srows], key_col=1))
            parts.append('<div class="plots">' + _figure(a, stage_png(stages)) + "</div>")
    else:
        parts.append("<p class='muted'>The manifest records no runs.</p>")

    # failures and rejects
    parts.append("<h2 id='failures'>Failures and rejects</h2>")
    for title, key, prefix in (("Videos not ok, by reason", "video_failures", "video_failure"),
                               ("Clips failed, by reason", "clip_failures", "clip_failure"),
                               ("Clips rejected, by filter", "reject_reasons", "reject")):
        items = d[key]
        parts.append(f"<h3>{E(title)}</h3>")
        if items:
            parts.append(_table(["reason", "count"], [[r, n] for r, n in items.items()],
                                keys=[f"{prefix}:{r}" for r in items]))
        else:
            parts.append("<p class='muted'>none</p>")
    if d["failed_videos"]:
        parts.append("<h3>Failed inputs</h3>" + _table(["source", "reason", "detail"], [
            [f["source"], f["error"], (f["detail"] or "")[:200]] for f in d["failed_videos"]]))

    # distributions: scores first, then spine measurements
    for kind, title, anchor in (("score", "Score distributions", "scores"), ("property", "Clip and video properties", "properties")):
        items = {key: s for key, s in d["numeric"].items() if s["kind"] == kind}
        parts.append(f"<h2 id='{anchor}'>{title}</h2>")
        if kind == "score" and d.get("thresholds"):
            parts.append("<p class='muted'>Dashed lines: the filter's thresholds (clips beyond them are rejected).</p>")
        if not items:
            parts.append("<p class='muted'>No score columns in this output yet.</p>")
        elif kind == "property":  # measurements, not judgements: folded so the page stays short
            parts.append(f"<details><summary>{len(items)} histograms (click to open)</summary>{_hists(a, items)}</details>")
        else:
            parts.append(_hists(a, items))

    parts.append("<h2 id='labels'>Labels and breakdowns</h2>")
    if d.get("licences"):
        lic = d["licences"]
        parts.append("<h3>Licences</h3>" + _table(["licence", "videos", "kept clips"],
                                                  [[x["licence"], x["videos"], x["clips_ok"]] for x in lic],
                                                  keys=[f"licence:{x['licence']}" for x in lic]))
        parts.append('<div class="plots">' + _figure(a, bar_png("videos per licence", [x["licence"] for x in lic],
                                                                [x["videos"] for x in lic])) + "</div>")
    if d.get("topics"):
        tp = d["topics"]
        parts.append("<h3>Topics</h3>" + _table(["topic", "clips", "kept clips"],
                                                [[x["topic"], x["clips"], x["clips_ok"]] for x in tp],
                                                keys=[f"topic:{x['topic']}" for x in tp]))
        parts.append('<div class="plots">' + _figure(a, bar_png("kept clips per topic (top 30)", [x["topic"] for x in tp],
                                                                [x["clips_ok"] for x in tp])) + "</div>")
    for col, title in (("camera_motion", "Camera motion labels"), ("overlay_kind", "Overlay kinds")):
        if d["labels"].get(col):
            parts.append(f"<h3 data-breakdown='{col}'>{title} (<code>{col}</code>)</h3>" + _label_table(d["labels"][col], col))
    if d.get("ocr_texts"):
        parts.append("<h3>Most frequent on-screen text (OCR)</h3>" + _table(
            ["text", "clips", "rejected"], [[x["text"][:80], x["clips"], x["clips_rejected"]] for x in d["ocr_texts"]]))
    if d["captions"]:
        parts.append("<h3>Captions</h3>")
        figs = []
        for col, s in d["captions"].items():
            unit = "words" if s["kind"] == "words" else "segments per clip"
            if s["n"]:
                figs.append(_figure(a, hist_png(f"{col} ({unit})", s, unit),
                                    f'{s["n"]} kept clips captioned, {s["missing"]} without; mean {_fmt(s["mean"])} {unit}', col))
            else:
                figs.append(f"<figure><figcaption><b>{E(col)}</b>: no captions ({s['missing']} kept clips without)"
                            "</figcaption></figure>")
        parts.append('<div class="plots">' + "".join(figs) + "</div>")

    # near-duplicates
    parts.append(f"<h2 id='duplicates'>Near-duplicates ({k['duplicates']})</h2>")
    pairs = d["duplicate_pairs"]
    if pairs:
        parts.append(f"<p class='muted'>Clips dropped from training as near-duplicates (left) of a kept clip (right), "
                     f"closest first{'; the first ' + str(len(pairs)) if len(pairs) < k['duplicates'] else ''}. "
                     "Distance: median Hamming distance of the frame hashes (of 64 bits).</p>")
        rows = []
        for p in pairs:
            rows.append(f'<div class="pair" data-pair="{E(p["dup"][0])}|{E(p["kept"][0])}">{_tile(a, src, p["dup"], None)}'
                        f'<div class="vs">≈<br><small>d={p["distance"]}<br>{_fmt(p["matched"])}</small></div>'
                        f'{_tile(a, src, p["kept"], None)}</div>')
        parts.append('<div class="pairs">' + "".join(rows) + "</div>")
    else:
        parts.append("<p class='muted'>none (or `curate dedup` has not run)</p>")

    # per video: clips and cut times
    if d["videos"]:
        parts.append("<h2 id='videos'>Videos and their cuts</h2><p class='muted'>Start times (s) of each clip, "
                     f"for the {len(d['videos'])} videos with the most clips.</p>")
        parts.append(_table(["source", "duration s", "clips", "kept", "clip starts (s)"], [
            [x["src"], x["duration_s"], x["clips"], x["clips_ok"],
             ", ".join(_fmt(t) for t in (x["cuts_s"] or [])[:40]) + (" …" if len(x["cuts_s"] or []) > 40 else "")]
            for x in d["videos"]]))

    parts.append("<h2 id='sheets'>Contact sheets</h2>")
    if not d["sheets"]:
        parts.append("<p class='muted'>No contact sheets: no score used by the filter has values "
                     "(report.sheets chooses the scores).</p>")
    for col, sh in d["sheets"].items():
        parts.append(f"<h3>{E(col)}: highest</h3>" + _sheet(a, src, sh["top"], col))
        parts.append(f"<h3>{E(col)}: lowest</h3>" + _sheet(a, src, sh["bottom"], col))
    parts.append(f"<h3>Rejected clips ({k['clips_rejected']})</h3>" + _sheet(a, src, d["rejected"], None))

    payload = {key: val for key, val in d.items() if key not in ("sheets", "rejected", "duplicate_pairs")}
    payload["captions"] = {key: {"kind": s["kind"], "n": s["n"], "missing": s["missing"], "mean": s["mean"]}
                           for key, s in d["captions"].items()}
    payload["duplicate_pairs"] = [[p["dup"][0], p["kept"][0]] for p in pairs]
    data = json.dumps(payload, default=str).replace("</", "<\\/")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>curate report</title>"
            f"<style>{CSS}</style></head><body><main>{''.join(parts)}</main>"
            f'<script type="application/json" id="report-data">{data}</script></body></html>')


def build_report(output_dir: str, path: str | None = None, top_n: int = 8, max_rejects: int = 24,
                 thresholds: dict[str, list] | None = None, sheet_scores: list[str] | None = None) -> str:
    """Write the report (default ``<output_dir>/report.html`` + ``report_files/``); return where it went."""
    out = Output(output_dir)
    if not out.exists("manifest.json"):
        raise FileNotFoundError(f"no curate output at {output_dir} (manifest.json missing)")
    if path is None:
        dest, name = out, "report.html"
    else:
        dest, name = Output(os.path.dirname(os.path.abspath(path)) if "://" not in path else path.rsplit("/", 1)[0]), \
            os.path.basename(path)
    stem = os.path.splitext(name)[0]
    assets = Assets(dest, "report_files" if name == "report.html" else f"{stem}_files")
    text = render(collect(output_dir, top_n, max_rejects, thresholds, sheet_scores), output_dir, assets)
    dest.write_bytes(name, text.encode())  # tmp + rename
    assets.prune()
    return dest.path(name)
