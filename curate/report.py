"""``curate report``: one self-contained HTML file describing a curate output.

Reads only the committed shards (DuckDB views from :mod:`curate.query`), the manifest's
``runs`` and the clip thumbnails. Everything is embedded (plots as base64 PNG from matplotlib's
Agg backend, thumbnails as base64 JPEG), so the file opens offline and can be mailed around.
Sections: run summary and per-stage throughput, failures and rejects by reason, a histogram
of every numeric column (found by :mod:`curate.columns`), licence / topic breakdowns and
caption lengths when those columns exist, and contact sheets (top/bottom clips per score,
rejected clips with their reasons). The numbers are also embedded as JSON
(``<script id="report-data">``) for tools and tests.
"""

from __future__ import annotations

import base64
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


def collect(output_dir: str, top_n: int = 8, max_rejects: int = 24) -> dict[str, Any]:
    """Every number and list the report shows, from DuckDB over the shards + the manifest."""
    cols = discover(output_dir)
    v, c = cols["videos"], cols["clips"]
    con = connect(output_dir)
    try:
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
                          "null": _one(con, f"SELECT count(*) FROM {table} WHERE {quote(col)} IS NULL")})
                d["numeric"][f"{table}.{col}"] = h
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
        d["sheets"] = {}
        for col in c.scores:
            q = quote(col)
            base = (f"SELECT clip_id, thumbnail_path, status, {q}::DOUBLE, reject_reasons FROM clips "
                    f"WHERE {q} IS NOT NULL AND thumbnail_path IS NOT NULL")
            d["sheets"][col] = {
                "top": _rows(con, base + f" ORDER BY {q} DESC, clip_id LIMIT ?", [top_n]),
                "bottom": _rows(con, base + f" ORDER BY {q} ASC, clip_id LIMIT ?", [top_n]),
            }
        # rejected clips: up to max_rejects, spread over reasons (a few per first reason)
        d["rejected"] = _rows(con, "SELECT clip_id, thumbnail_path, status, NULL, reject_reasons FROM ("
                                   "SELECT *, row_number() OVER (PARTITION BY reject_reasons[1] ORDER BY clip_id) k "
                                   "FROM clips WHERE status = 'rejected') ORDER BY k, clip_id LIMIT ?", [max_rejects])
    finally:
        con.close()
    manifest = read_manifest(Output(output_dir))
    d["runs"] = manifest.get("runs", [])
    d["schema_version"] = manifest.get("schema_version")
    d["columns"] = {t: {"scores": x.scores, "properties": x.properties, "text_captions": x.text_captions,
                        "timed_captions": list(x.timed_captions), "licence": x.licence, "topic": x.topic}
                    for t, x in cols.items()}
    return d


# -- plots --------------------------------------------------------------------------------
def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _fig(w: float = 4.6, h: float = 2.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    ax = fig.add_subplot(1, 1, 1)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    return fig, ax


def hist_png(title: str, h: dict[str, Any], xlabel: str = "") -> str:
    """Stacked histogram (kept / rejected+failed) from :func:`binned` output."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _fig()
    edges = h["edges"]
    lefts = edges[:-1]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    n_ok, n_other = sum(h["ok"]), sum(h["other"])
    ax.bar(lefts, h["ok"], width=widths, align="edge", color=OK, label=f"kept ({n_ok})")
    if n_other:
        ax.bar(lefts, h["other"], width=widths, bottom=h["ok"], align="edge", color=REJ, label=f"rejected/failed ({n_other})")
        ax.legend(fontsize=7, frameon=False)
    if len(lefts) == 1:  # a single value: give it some room
        c, w = (edges[0] + edges[1]) / 2, edges[1] - edges[0]
        ax.set_xlim(c - 10 * w, c + 10 * w)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("count", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(fig)


def bar_png(title: str, labels: list[str], values: list[int], color: str = OK) -> str:
    labels, values = labels[:30], values[:30]
    fig, ax = _fig(5.2, max(1.4, 0.28 * len(labels) + 0.8))
    y = list(range(len(labels)))[::-1]
    ax.barh(y, values, color=color)
    ax.set_yticks(y, [lab[:40] for lab in labels], fontsize=8)
    ax.set_title(title, fontsize=10)
    for yy, val in zip(y, values):
        ax.text(val, yy, f" {val}", va="center", fontsize=7)
    return _png(fig)


def stage_png(stages: dict[str, float]) -> str:
    return bar_png("worker seconds per stage (latest run)", list(stages), [round(s, 1) for s in stages.values()])


# -- thumbnails ---------------------------------------------------------------------------
def _thumb_b64(out: Output, rel: str | None, width: int = 176) -> str | None:
    """The thumbnail at ``rel`` (inside the output dir only), downscaled, as base64 JPEG."""
    if not rel or rel.startswith("/") or ".." in rel.replace("\\", "/").split("/"):
        return None
    try:
        data = out.read_bytes(rel)
        from PIL import Image

        im = Image.open(io.BytesIO(data)).convert("RGB")
        if im.width > width:
            im = im.resize((width, max(1, round(im.height * width / im.width))))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=78)
        return base64.b64encode(buf.getvalue()).decode()
    except Exception as exc:  # noqa: BLE001 - a missing/corrupt thumbnail must not break the report
        log.debug("thumbnail %s unreadable: %s", rel, exc)
        return None


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
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0;background:#fff;border:1px solid #e2e2e2;border-radius:8px;padding:6px}
.plots figcaption{font-size:11px;color:#555;padding:0 4px}
.sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:8px;margin:6px 0 14px}
.thumb{background:#fff;border:1px solid #e2e2e2;border-radius:6px;overflow:hidden;font-size:11px}
.thumb img{width:100%;display:block;background:#222;aspect-ratio:16/9;object-fit:contain}
.thumb .cap{padding:4px 6px;word-break:break-all}.thumb.rejected{border-color:#d0593a}.reason{color:#b13b1f;font-weight:600}
.noimg{height:96px;display:flex;align-items:center;justify-content:center;background:#eee;color:#888}
"""


def _table(headers: list[str], rows: list[list[Any]], keys: list[str] | None = None) -> str:
    numeric_col = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) for i in range(len(headers))]
    head = "".join(f'<th class="{"n" if numeric_col[i] else ""}">{E(h)}</th>' for i, h in enumerate(headers))
    body = []
    for j, r in enumerate(rows):
        cells = []
        for i, x in enumerate(r):
            attr = f' data-metric="{E(keys[j])}"' if keys and i == len(r) - 1 else ""
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


def _sheet(out: Output, rows: list[tuple], score: str | None) -> str:
    cells = []
    for clip_id, thumb, status, value, reasons in rows:
        b64 = _thumb_b64(out, thumb)
        img = f'<img alt="{E(clip_id)}" src="data:image/jpeg;base64,{b64}">' if b64 else '<div class="noimg">no thumbnail</div>'
        lines = [f"<code>{E(clip_id[:12])}</code> · {E(status or '')}"]
        if score is not None and value is not None:
            lines.append(f"{E(score)} = <b>{E(_fmt(float(value)))}</b>")
        if reasons:
            lines.append('<span class="reason">' + E(", ".join(reasons)) + "</span>")
        cells.append(f'<div class="thumb {E(status or "")}" data-clip-id="{E(clip_id)}">{img}'
                     f'<div class="cap">{"<br>".join(lines)}</div></div>')
    return f'<div class="sheet">{"".join(cells)}</div>' if cells else '<p class="muted">none</p>'


def _hists(items: dict[str, Any]) -> str:
    figs = []
    for key, s in items.items():
        if not s["n"]:
            figs.append(f"<figure><figcaption><b>{E(key)}</b>: no values ({s['null']} null; stage skipped or off?)"
                        "</figcaption></figure>")
            continue
        png = hist_png(key, s)
        figs.append(f'<figure data-column="{E(key)}"><img src="data:image/png;base64,{png}"><figcaption>n={s["n"]} '
                    f'null={s["null"]} min={_fmt(s["min"])} mean={_fmt(s["mean"])} max={_fmt(s["max"])}</figcaption></figure>')
    return '<div class="plots">' + "".join(figs) + "</div>"


def render(d: dict[str, Any], output_dir: str) -> str:
    out = Output(output_dir)
    k = d["counts"]
    parts: list[str] = []
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<h1>curate report</h1><div class='muted'>{E(d['output_dir'])} · schema {E(str(d['schema_version']))}"
                 f" · generated {now}</div>")
    parts.append('<div class="cards">' + "".join([
        _card("videos in", k["videos"], "videos"), _card("videos ok", k["videos_ok"], "videos_ok"),
        _card("videos with kept clips", k["videos_with_kept_clips"], "videos_with_kept_clips"),
        _card("clips", k["clips"], "clips"), _card("clips kept", k["clips_ok"], "clips_ok"),
        _card("clips rejected", k["clips_rejected"], "clips_rejected"),
        _card("clips failed", k["clips_failed"], "clips_failed"), (_card("hours kept", k["hours_kept"], "hours_kept") if k["hours_kept"] >= 1
         else _card("minutes kept", round(k["seconds_kept"] / 60, 2), "minutes_kept")),
    ]) + "</div>")

    # runs
    parts.append("<h2>Runs</h2>")
    runs = d["runs"]
    if runs:
        rows = []
        for r in runs:
            wall = r.get("wall_s") or 0
            rows.append([r.get("run_id"), r.get("videos", 0), r.get("videos_ok", 0), r.get("videos_failed", 0),
                         r.get("clips", 0), r.get("clips_ok", 0), wall, r.get("video_seconds", 0),
                         r.get("video_seconds_per_wall_second", 0), (r.get("clips", 0) / wall) if wall else 0.0])
        parts.append(_table(["run", "videos", "ok", "failed", "clips", "clips ok", "wall s", "video s",
                             "video s / wall s", "clips / wall s"], rows))
        last = runs[-1]
        stages = last.get("stage_seconds") or {}
        if stages:
            total = sum(stages.values()) or 1.0
            vsec = last.get("video_seconds") or 0.0
            nvid = last.get("videos") or 0
            srows = [[s, sec, 100 * sec / total, (vsec / sec) if sec else None, (nvid / sec) if sec else None]
                     for s, sec in stages.items()]
            parts.append("<h3>Throughput per stage (latest run)</h3><p class='muted'>Worker seconds are summed over "
                         "all workers; video s / worker s is the stage's own speed on one worker.</p>")
            parts.append(_table(["stage", "worker s", "% of stage time", "video s / worker s", "videos / worker s"], srows))
            parts.append(f'<div class="plots"><figure><img src="data:image/png;base64,{stage_png(stages)}"></figure></div>')
    else:
        parts.append("<p class='muted'>The manifest records no runs.</p>")

    # failures and rejects
    parts.append("<h2>Failures and rejects</h2>")
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
    for kind, title in (("score", "Score distributions"), ("property", "Clip and video properties")):
        items = {key: s for key, s in d["numeric"].items() if s["kind"] == kind}
        parts.append(f"<h2>{title}</h2>")
        parts.append(_hists(items) if items else "<p class='muted'>No score columns in this output yet.</p>")
    if d.get("licences"):
        lic = d["licences"]
        parts.append("<h2>Licences</h2>" + _table(["licence", "videos", "kept clips"],
                                                  [[x["licence"], x["videos"], x["clips_ok"]] for x in lic],
                                                  keys=[f"licence:{x['licence']}" for x in lic]))
        parts.append(f'<div class="plots"><figure><img src="data:image/png;base64,'
                     f'{bar_png("videos per licence", [x["licence"] for x in lic], [x["videos"] for x in lic])}"></figure></div>')
    if d.get("topics"):
        tp = d["topics"]
        parts.append("<h2>Topics</h2>" + _table(["topic", "clips", "kept clips"],
                                                [[x["topic"], x["clips"], x["clips_ok"]] for x in tp],
                                                keys=[f"topic:{x['topic']}" for x in tp]))
        parts.append(f'<div class="plots"><figure><img src="data:image/png;base64,'
                     f'{bar_png("kept clips per topic (top 30)", [x["topic"] for x in tp], [x["clips_ok"] for x in tp])}"></figure></div>')
    if d["captions"]:
        parts.append("<h2>Captions</h2>")
        figs = []
        for col, s in d["captions"].items():
            unit = "words" if s["kind"] == "words" else "segments per clip"
            if s["n"]:
                png = hist_png(f"{col} ({unit})", s, unit)
                figs.append(f'<figure data-column="{E(col)}"><img src="data:image/png;base64,{png}"><figcaption>'
                            f'{s["n"]} kept clips captioned, {s["missing"]} without; mean '
                            f'{_fmt(s["mean"])} {unit}</figcaption></figure>')
            else:
                figs.append(f"<figure><figcaption><b>{E(col)}</b>: no captions ({s['missing']} kept clips without)"
                            "</figcaption></figure>")
        parts.append('<div class="plots">' + "".join(figs) + "</div>")

    parts.append("<h2>Contact sheets</h2>")
    if not d["sheets"]:
        parts.append("<p class='muted'>No score columns in this output yet.</p>")
    for col, sh in d["sheets"].items():
        parts.append(f"<h3>{E(col)}: highest</h3>" + _sheet(out, sh["top"], col))
        parts.append(f"<h3>{E(col)}: lowest</h3>" + _sheet(out, sh["bottom"], col))
    parts.append(f"<h3>Rejected clips ({k['clips_rejected']})</h3>" + _sheet(out, d["rejected"], None))

    payload = {key: val for key, val in d.items() if key not in ("sheets", "rejected")}
    payload["captions"] = {key: {"kind": s["kind"], "n": s["n"], "missing": s["missing"], "mean": s["mean"]}
                           for key, s in d["captions"].items()}
    data = json.dumps(payload, default=str).replace("</", "<\\/")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>curate report</title>"
            f"<style>{CSS}</style></head><body><main>{''.join(parts)}</main>"
            f'<script type="application/json" id="report-data">{data}</script></body></html>')


def build_report(output_dir: str, path: str | None = None, top_n: int = 8, max_rejects: int = 24) -> str:
    """Write the report (default ``<output_dir>/report.html``); return where it went."""
    out = Output(output_dir)
    if not out.exists("manifest.json"):
        raise FileNotFoundError(f"no curate output at {output_dir} (manifest.json missing)")
    text = render(collect(output_dir, top_n, max_rejects), output_dir)
    if path is None:
        out.write_bytes("report.html", text.encode())
        return out.path("report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
