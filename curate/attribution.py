"""Attribution files for a dataset: who made each video that reached the shards, under which licence.

``curate attribution OUTPUT_DIR`` writes ``ATTRIBUTION.csv`` and ``ATTRIBUTION.md`` next to the
shards (or into ``--dest``). One line per video whose status is ``ok`` and that has at least one
``ok`` clip in the committed shards (read through ``curate.query.connect``, so a partial write
is never listed). Videos that did not come through yt-dlp (local files, plain http) carry no
platform metadata: they are listed with licence ``unknown`` so a human can fill them in.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from curate.licences import deed_url
from curate.query import connect
from curate.storage import Output

COLUMNS = ("video_id", "title", "author", "author_url", "source_url", "licence", "licence_url",
           "licence_raw", "platform", "upload_date", "clips")

SQL = """
SELECT v.video_id,
       coalesce(v.title, regexp_replace(v.source, '^.*/', '')) AS title,
       coalesce(v.uploader, v.channel) AS author,
       coalesce(v.uploader_url, v.channel_url) AS author_url,
       coalesce(v.webpage_url, v.source) AS source_url,
       v.licence, v.licence_raw, v.platform, v.upload_date,
       count(c.clip_id) AS clips
FROM videos v JOIN clips c ON c.video_id = v.video_id AND c.status = 'ok'
WHERE v.status = 'ok'
GROUP BY ALL
ORDER BY v.platform NULLS LAST, author NULLS LAST, title, v.video_id
"""


def attribution_rows(output_dir: str) -> list[dict[str, Any]]:
    con = connect(output_dir)
    try:
        cur = con.execute(SQL)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()
    for r in rows:
        r["licence_url"] = deed_url(r["licence"])
        r["licence"] = r["licence"] or "unknown"
        r["upload_date"] = str(r["upload_date"]) if r["upload_date"] else None
    return rows


def _md_cell(v: Any) -> str:
    return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")


def render_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def render_markdown(rows: list[dict[str, Any]], name: str = "dataset") -> str:
    lines = [f"# Attribution: {name}", "",
             f"{len(rows)} source videos. Each is used under the licence shown; clips derived from them",
             "are adaptations (trimmed, re-encoded). Licences link to their deeds.", "",
             "| Title | Author | Source | Licence | Clips |", "|---|---|---|---|---|"]
    unknown = 0
    for r in rows:
        author = _md_cell(r["author"]) or "unknown"
        if r.get("author_url"):
            author = f"[{author}]({r['author_url']})"
        lic = _md_cell(r["licence"])
        if r.get("licence_url"):
            lic = f"[{lic}]({r['licence_url']})"
        unknown += r["licence"] == "unknown"
        lines.append(f"| {_md_cell(r['title'])} | {author} | <{r['source_url']}> | {lic} | {r['clips']} |")
    if unknown:
        lines += ["", f"**{unknown} video(s) have no licence metadata** (local or plain-http sources, or "
                      "admitted with download.allow_unknown_licence): check them before publishing."]
    return "\n".join(lines) + "\n"


def write_attribution(output_dir: str, dest: str | None = None, name: str | None = None) -> tuple[str, str, int]:
    """Write ATTRIBUTION.csv and ATTRIBUTION.md; return their paths and the number of videos."""
    rows = attribution_rows(output_dir)
    out = Output(dest or output_dir)
    out.makedirs("")
    out.write_bytes("ATTRIBUTION.csv", render_csv(rows).encode())
    out.write_bytes("ATTRIBUTION.md", render_markdown(rows, name or output_dir).encode())
    return out.path("ATTRIBUTION.csv"), out.path("ATTRIBUTION.md"), len(rows)
