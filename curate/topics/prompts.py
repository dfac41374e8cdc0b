"""Read prompts from CSV / Parquet / JSONL / plain text, clean and de-duplicate them, streaming.

VidProM's layout (a Parquet or CSV with a ``prompt`` column) works as-is. Files are read in
batches (Parquet row groups, CSV blocks, JSONL lines) so 1.67M prompts never sit in memory as
a DataFrame; only the unique cleaned prompts and their counts are kept.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

PROMPT_COLUMNS = ("prompt", "text", "caption", "query", "prompts")

_WS = re.compile(r"\s+")
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_URL = re.compile(r"https?://\S+")
# Midjourney/Pika style parameters ("--ar 16:9", "-motion 2") carry no topic.
_PARAMS = re.compile(r"(?:^|\s)--?[a-zA-Z]+(?:\s+[\w:.]+)?(?=\s|$)")


def clean_prompt(text: str | None, max_chars: int = 1000) -> str:
    """Unicode-normalise, strip URLs, CLI-style parameters and control characters, collapse spaces."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", str(text))
    t = _CTRL.sub(" ", t)
    t = _URL.sub(" ", t)
    t = _PARAMS.sub(" ", t)
    t = _WS.sub(" ", t).strip().strip(",;.").strip()
    return t[:max_chars]


def dedup_key(text: str) -> str:
    """Prompts equal up to case, punctuation and spacing share one key."""
    t = re.sub(r"[^\w\s]", " ", text.lower())
    return _WS.sub(" ", t).strip()


def prompt_id(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def _pick_column(names: list[str], column: str | None, path: str) -> str:
    if column:
        if column not in names:
            raise ValueError(f"{path}: no column {column!r} (columns: {names})")
        return column
    for c in PROMPT_COLUMNS:
        if c in names:
            return c
    raise ValueError(f"{path}: needs a prompt column, one of {PROMPT_COLUMNS} (columns: {names}); set topics.prompt_column")


def iter_raw_prompts(path: str, column: str | None = None, batch_rows: int = 65536) -> Iterator[list[str]]:
    """Yield batches of raw prompt strings from ``path`` (format from the extension)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"prompt file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".gz":
        ext = os.path.splitext(path[:-3])[1].lower()
    if ext == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        col = _pick_column(pf.schema_arrow.names, column, path)
        for batch in pf.iter_batches(batch_size=batch_rows, columns=[col]):
            yield [v for v in batch.column(0).to_pylist() if v]
    elif ext == ".csv" or ext == ".tsv":
        import pyarrow.csv as pcsv

        with open(path, "rb") as f:
            head = f.readline().decode("utf-8", "replace")
        delim = "\t" if ext == ".tsv" else ","
        names = next(csv.reader([head], delimiter=delim))
        col = _pick_column(names, column, path)
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=16 << 20),
            parse_options=pcsv.ParseOptions(delimiter=delim, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(include_columns=[col], column_types={col: "string"}),
        )
        for batch in reader:
            yield [v for v in batch.column(0).to_pylist() if v]
    elif ext == ".json" and _is_json_array(path):  # one JSON array of strings or objects
        with open(path, encoding="utf-8") as f:
            items = json.load(f)
        col = column
        buf = []
        for obj in items:
            if isinstance(obj, dict):
                col = col or _pick_column(list(obj), None, path)
                obj = obj.get(col)
            if obj:
                buf.append(str(obj))
        for i in range(0, len(buf), batch_rows):
            yield buf[i:i + batch_rows]
    elif ext in (".jsonl", ".ndjson", ".json"):
        import gzip

        opener = gzip.open if path.endswith(".gz") else open
        col: str | None = column
        buf: list[str] = []
        with opener(path, "rt", encoding="utf-8") as f:
            for ln in f:
                if not ln.strip():
                    continue
                obj = json.loads(ln)
                if isinstance(obj, str):
                    buf.append(obj)
                else:
                    if col is None:
                        col = _pick_column(list(obj), None, path)
                    if obj.get(col):
                        buf.append(str(obj[col]))
                if len(buf) >= batch_rows:
                    yield buf
                    buf = []
        if buf:
            yield buf
    else:  # plain text: one prompt per line, '#' comments
        buf = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for ln in f:
                s = ln.strip()
                if s and not s.startswith("#"):
                    buf.append(s)
                if len(buf) >= batch_rows:
                    yield buf
                    buf = []
        if buf:
            yield buf


def _is_json_array(path: str) -> bool:
    with open(path, encoding="utf-8", errors="replace") as f:
        head = f.read(4096).lstrip()
    return head.startswith("[")


@dataclass
class PromptSet:
    """Unique cleaned prompts in first-seen order, with occurrence counts."""

    prompts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    read: int = 0  # raw rows read
    dropped_short: int = 0

    def __len__(self) -> int:
        return len(self.prompts)


def load_prompts(path: str, column: str | None = None, min_chars: int = 3, max_chars: int = 1000,
                 max_prompts: int | None = None) -> PromptSet:
    """Stream ``path`` and return the de-duplicated, cleaned prompts."""
    out = PromptSet()
    index: dict[bytes, int] = {}  # 8-byte digest -> position (compact for millions of prompts)
    for batch in iter_raw_prompts(path, column):
        for raw in batch:
            if max_prompts is not None and out.read >= max_prompts:
                return out
            out.read += 1
            text = clean_prompt(raw, max_chars)
            key = dedup_key(text)
            if len(key) < min_chars:
                out.dropped_short += 1
                continue
            digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
            pos = index.get(digest)
            if pos is not None:
                out.counts[pos] += 1
                continue
            index[digest] = len(out.prompts)
            out.prompts.append(text)
            out.ids.append(digest.hex())
            out.counts.append(1)
    return out
