"""Per-model caption throughput of one run, read back from the committed clip shards."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("curate")

SQL = """
SELECT caption_backend AS backend, caption_model AS model, count(*) AS clips,
       count(*) FILTER (WHERE caption_status IN ('ok', 'flagged')) AS captioned,
       count(*) FILTER (WHERE caption_status = 'flagged') AS flagged,
       count(*) FILTER (WHERE caption_status = 'failed') AS failed,
       count(*) FILTER (WHERE caption_status = 'skipped') AS skipped,
       coalesce(sum(caption_requests), 0) AS requests,
       coalesce(sum(caption_prompt_tokens), 0) AS prompt_tokens,
       coalesce(sum(caption_output_tokens), 0) AS output_tokens,
       coalesce(sum(caption_seconds), 0) AS seconds,
       any_value(caption_error_detail) FILTER (WHERE caption_status = 'skipped') AS skip_reason
FROM clips WHERE run_id = ? AND caption_status IS NOT NULL
GROUP BY ALL ORDER BY clips DESC
"""


def caption_stats(output_dir: str, run_id: str) -> list[dict[str, Any]]:
    """One dict per (backend, model): counts, tokens, captioner seconds, clips/s and tokens/s
    (per captioner-second, i.e. per actor; divide by actors for cluster throughput)."""
    from curate.query import connect

    try:
        con = connect(output_dir)
        cur = con.execute(SQL, [run_id])
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        con.close()
    except Exception as exc:  # noqa: BLE001 - the summary must never fail a finished run
        log.warning("caption summary unavailable: %s", exc)
        return []
    for r in rows:
        s = float(r["seconds"] or 0.0)
        r["clips_per_s"] = round(r["captioned"] / s, 3) if s else 0.0
        r["output_tokens_per_s"] = round(r["output_tokens"] / s, 1) if s else 0.0
        r["tokens_per_s"] = round((r["prompt_tokens"] + r["output_tokens"]) / s, 1) if s else 0.0
        r["seconds"] = round(s, 3)
    return rows
