"""Coverage report: ok clips per topic against quota, empty topics, over-represented topics.

``coverage(topics, counts, quotas)`` builds the rows; ``to_markdown`` / ``to_html`` render
them (the HTML embeds a matplotlib bar chart as a base64 PNG, so it is one self-contained file).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass

import pyarrow as pa


@dataclass
class TopicCoverage:
    topic_id: int
    name: str
    prompts: int  # prompt-cluster size: how much users ask for it
    share: float
    clips: int
    quota: int

    @property
    def fill(self) -> float:
        return self.clips / self.quota if self.quota else 0.0


@dataclass
class Coverage:
    rows: list[TopicCoverage]
    unassigned_clips: int = 0

    @property
    def empty(self) -> list[TopicCoverage]:
        return [r for r in self.rows if r.clips == 0]

    def over_represented(self, n: int = 10) -> list[TopicCoverage]:
        """Topics with the highest clips/quota above 1 (most over quota first)."""
        return sorted((r for r in self.rows if r.fill > 1.0), key=lambda r: (-r.fill, r.topic_id))[:n]

    @property
    def total_clips(self) -> int:
        return sum(r.clips for r in self.rows)

    @property
    def topics_at_quota(self) -> int:
        return sum(1 for r in self.rows if r.clips >= r.quota)


def coverage(topics: pa.Table, counts: dict[int, int], quotas: dict[int, int]) -> Coverage:
    rows = [TopicCoverage(int(t["topic_id"]), t["name"], int(t["size"]), float(t["share"] or 0.0),
                          int(counts.get(int(t["topic_id"]), 0)), int(quotas.get(int(t["topic_id"]), 0)))
            for t in topics.select(["topic_id", "name", "size", "share"]).to_pylist()]
    known = {r.topic_id for r in rows}
    return Coverage(rows, sum(n for t, n in counts.items() if t not in known))


def _summary_lines(cov: Coverage) -> list[str]:
    n = len(cov.rows)
    return [f"- topics: {n}; at quota: {cov.topics_at_quota}; empty: {len(cov.empty)}",
            f"- ok clips with a topic: {cov.total_clips}" + (f" (+{cov.unassigned_clips} with unknown topic ids)"
                                                           if cov.unassigned_clips else "")]


def to_markdown(cov: Coverage, title: str = "Topic coverage", max_rows: int | None = None) -> str:
    lines = [f"# {title}", "", *_summary_lines(cov), "", "| topic | name | prompts | clips | quota | fill |",
             "|---:|---|---:|---:|---:|---:|"]
    rows = sorted(cov.rows, key=lambda r: (r.fill, -r.prompts, r.topic_id))
    for r in rows[:max_rows] if max_rows else rows:
        lines.append(f"| {r.topic_id} | {r.name} | {r.prompts} | {r.clips} | {r.quota} | {r.fill:.0%} |")
    lines += ["", f"## Empty topics ({len(cov.empty)})", ""]
    lines += [f"- {r.topic_id}: {r.name} ({r.prompts} prompts)" for r in cov.empty] or ["- none"]
    over = cov.over_represented()
    lines += ["", f"## Most over-represented ({len(over)})", ""]
    lines += [f"- {r.topic_id}: {r.name}: {r.clips} clips for quota {r.quota} ({r.fill:.0%})" for r in over] or ["- none"]
    return "\n".join(lines) + "\n"


def bar_chart_png(cov: Coverage, max_topics: int = 60) -> bytes:
    """Horizontal bars: clips per topic (most-asked-for topics first) with the quota marked."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    rows = sorted(cov.rows, key=lambda r: (-r.prompts, r.topic_id))[:max_topics]
    h = max(2.5, 0.28 * len(rows) + 1.2)
    fig, ax = plt.subplots(figsize=(8, h), dpi=100)
    y = list(range(len(rows)))
    colors = ["#c0392b" if r.clips == 0 else "#27ae60" if r.clips >= r.quota else "#f39c12" for r in rows]
    ax.barh(y, [r.clips for r in rows], color=colors)
    ax.scatter([r.quota for r in rows], y, marker="|", s=200, color="black", label="quota", zorder=3)
    ax.set_yticks(y, [f"{r.topic_id}: {r.name[:32]}" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ok clips")
    ax.set_title(f"Clips per topic vs quota ({len(rows)} of {len(cov.rows)} topics, by prompt count)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def to_html(cov: Coverage, title: str = "Topic coverage") -> str:
    png = base64.b64encode(bar_chart_png(cov)).decode()
    esc = html.escape
    rows = sorted(cov.rows, key=lambda r: (r.fill, -r.prompts, r.topic_id))
    trs = "\n".join(f"<tr><td>{r.topic_id}</td><td>{esc(r.name)}</td><td>{r.prompts}</td><td>{r.clips}</td>"
                    f"<td>{r.quota}</td><td>{r.fill:.0%}</td></tr>" for r in rows)
    empty = "".join(f"<li>{r.topic_id}: {esc(r.name)} ({r.prompts} prompts)</li>" for r in cov.empty) or "<li>none</li>"
    over = "".join(f"<li>{r.topic_id}: {esc(r.name)}: {r.clips} / {r.quota}</li>" for r in cov.over_represented()) \
        or "<li>none</li>"
    summary = "".join(f"<li>{esc(s[2:])}</li>" for s in _summary_lines(cov))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:nth-child(2){{text-align:left}}</style></head>
<body><h1>{esc(title)}</h1><ul>{summary}</ul>
<img alt="clips per topic vs quota" src="data:image/png;base64,{png}">
<h2>Empty topics ({len(cov.empty)})</h2><ul>{empty}</ul>
<h2>Most over-represented</h2><ul>{over}</ul>
<h2>All topics (least filled first)</h2>
<table><tr><th>topic</th><th>name</th><th>prompts</th><th>clips</th><th>quota</th><th>fill</th></tr>
{trs}</table></body></html>
"""
