"""Parquet shards + manifest: the only place rows become files.

Rows stream in from the DAG (video and clip records mixed). A video is *complete* when its
video record and all ``num_clips`` clip records have arrived; only complete videos are
flushed, so a video's rows never straddle two commits. A commit writes
``videos/part-NNNNN-<run id>.parquet`` and ``clips/part-NNNNN-<run id>.parquet`` under temporary names,
renames them, then rewrites ``manifest.json`` (also tmp + rename). The manifest is the
ledger: shards it does not list are leftovers of a killed run and are deleted on start, and
the video ids in listed shards are skipped on re-runs. So re-running never duplicates rows
and a killed run never leaves a partial shard.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.schemas import CLIPS, SCHEMA_VERSION, TABLES, VIDEOS, from_rows
from curate.storage import Output

log = logging.getLogger("curate")

MANIFEST = "manifest.json"
# part-00003-<run id>.parquet: the run id makes names unique across runs (older outputs: part-00003.parquet)
PART_RE = re.compile(r"^part-(\d{5,})(?:-[\w-]+)?\.parquet$")


def read_manifest(out: Output) -> dict[str, Any]:
    if not out.exists(MANIFEST):
        return {"format": "curate-shards", "schema_version": SCHEMA_VERSION, "shards": [], "runs": []}
    return json.loads(out.read_bytes(MANIFEST))


def write_manifest(out: Output, manifest: dict[str, Any]) -> None:
    out.write_bytes(MANIFEST, json.dumps(manifest, indent=2, sort_keys=False).encode())


def shard_paths(out: Output, table: str) -> list[str]:
    """Absolute paths of the committed shards of ``table`` (from the manifest)."""
    m = read_manifest(out)
    return [out.path(s[table]) for s in m["shards"] if s.get(table)]


class ShardWriter:
    """Buffers streamed records and commits complete videos as Parquet shard pairs."""

    def __init__(self, out: Output, run_id: str, config_hash: str, shard_clips: int, shard_videos: int,
                 compression: str = "zstd") -> None:
        self.out = out
        self.run_id = run_id
        self.config_hash = config_hash
        self.shard_clips = shard_clips
        self.shard_videos = shard_videos
        self.compression = compression
        self.manifest = read_manifest(out)
        if self.manifest.get("schema_version") != SCHEMA_VERSION and self.manifest["shards"]:
            log.warning("output has schema %s, this curate writes %s: new shards use the new schema",
                        self.manifest.get("schema_version"), SCHEMA_VERSION)
        self._cleanup_orphans()
        self.next_index = 1 + max(
            (int(PART_RE.match(s["videos"].split("/")[-1]).group(1)) for s in self.manifest["shards"]), default=-1
        )
        self.videos: dict[str, dict[str, Any]] = {}
        self.clips: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.ready: list[str] = []
        self.ready_clips = 0
        self.stats = Counter()
        self.errors: Counter[str] = Counter()
        self.clip_errors: Counter[str] = Counter()
        self.stage_outcomes: Counter[str] = Counter()
        self.video_seconds = 0.0
        self.stage_seconds: Counter[str] = Counter()

    def part_name(self, table: str, idx: int) -> str:
        """``<table>/part-<index>-<run id>.parquet``: never the name of another run's shard."""
        return f"{table}/part-{idx:05d}-{self.run_id}.parquet"

    # -- resume -------------------------------------------------------------------------
    def _cleanup_orphans(self) -> None:
        listed = {p for s in self.manifest["shards"] for p in (s.get("videos"), s.get("clips")) if p}
        for table in TABLES:
            for name in self.out.ls(table):
                rel = f"{table}/{name}"
                if rel not in listed and (name.endswith(".tmp") or PART_RE.match(name)):
                    log.info("removing unfinished shard %s from an interrupted run", rel)
                    self.out.remove(rel)

    def failed_video_ids(self, errors: set[str]) -> set[str]:
        """Ids of committed videos that failed with one of ``errors`` (to retry them)."""
        ids: set[str] = set()
        if not errors:
            return ids
        for s in self.manifest["shards"]:
            with self.out.fs.open(self.out.path(s["videos"]), "rb") as f:
                t = pq.read_table(f, columns=["video_id", "status", "error"])
            for vid, st, err in zip(*(t.column(c).to_pylist() for c in ("video_id", "status", "error"))):
                if st == "failed" and err in errors:
                    ids.add(vid)
        return ids

    def drop_videos(self, ids: set[str]) -> int:
        """Remove these videos' rows from the committed shards (to process them again).

        Each affected shard pair is rewritten without the rows under a new index, the manifest
        entry is swapped (the commit point), then the old files are deleted; a crash at any
        step leaves either the old or the new pair listed, never both.
        """
        if not ids:
            return 0
        import pyarrow.compute as pc

        dropped = 0
        for i, s in enumerate(list(self.manifest["shards"])):
            tables = {}
            for name in ("videos", "clips"):
                with self.out.fs.open(self.out.path(s[name]), "rb") as f:
                    tables[name] = pq.read_table(f)
            keep = {n: pc.invert(pc.is_in(t.column("video_id"), value_set=pa.array(sorted(ids), pa.string())))
                    for n, t in tables.items()}
            n_drop = tables["videos"].num_rows - pc.sum(keep["videos"].cast("int64")).as_py()
            if n_drop == 0:
                continue
            dropped += n_drop
            idx = self.next_index
            self.next_index += 1
            entry = dict(s, index=idx, rows={})
            for name, t in tables.items():
                t = t.filter(keep[name])
                rel = self.part_name(name, idx)
                buf = io.BytesIO()
                pq.write_table(t, buf, compression=self.compression)
                self.out.write_bytes(rel, buf.getvalue())
                entry[name], entry["rows"][name] = rel, t.num_rows
            self.manifest["shards"][i] = entry
            self._update_rows()
            write_manifest(self.out, self.manifest)
            for name in ("videos", "clips"):
                self.out.remove(s[name])
        return dropped

    def _update_rows(self) -> None:
        self.manifest["rows"] = {
            t: sum(s["rows"][t] for s in self.manifest["shards"]) for t in ("videos", "clips")
        }

    def done_video_ids(self) -> set[str]:
        ids: set[str] = set()
        for s in self.manifest["shards"]:
            with self.out.fs.open(self.out.path(s["videos"]), "rb") as f:
                ids.update(pq.read_table(f, columns=["video_id"]).column("video_id").to_pylist())
        return ids

    # -- streaming ----------------------------------------------------------------------
    def add(self, batch: pa.Table) -> None:
        for row in batch.to_pylist():
            vid = row["video_id"]
            if row.get("record") == "clip":
                self.clips[vid].append(row)
            else:
                self.videos[vid] = row
            self._check_complete(vid)
        if len(self.ready) >= self.shard_videos or self.ready_clips >= self.shard_clips:
            self.flush()

    def _check_complete(self, vid: str) -> None:
        v = self.videos.get(vid)
        if v is None or v.get("_ready"):
            return
        expected = v.get("num_clips") or 0
        if v.get("status") != "ok" or len(self.clips[vid]) >= expected:
            v["_ready"] = True
            self.ready.append(vid)
            self.ready_clips += len(self.clips[vid])

    def flush(self, final: bool = False) -> None:
        """Commit every complete video as one shard pair."""
        if final:
            for vid in list(self.videos):
                if not self.videos[vid].get("_ready"):
                    log.error("video %s ended with %d of %s clips; writing what arrived",
                              vid, len(self.clips[vid]), self.videos[vid].get("num_clips"))
                    self.videos[vid]["_ready"] = True
                    self.ready.append(vid)
        if not self.ready:
            return
        vrows = [self.videos.pop(v) for v in self.ready]
        crows = [c for v in self.ready for c in self.clips.pop(v, [])]
        self.ready, self.ready_clips = [], 0
        now = dt.datetime.now(dt.timezone.utc)
        for r in vrows:
            if r.get("source_kind") not in ("local", "sample"):
                # a downloaded copy in a worker's scratch folder: meaningless on any other node and
                # gone after the run; the row keeps the source URL instead (docs/storage.md)
                r["local_path"] = None
            r.setdefault("run_id", self.run_id)
            r["run_id"] = r.get("run_id") or self.run_id
            r["processed_at"] = now
            self._count(r, crows)
        for c in crows:  # clip-level stages (analyze, filter, ...) time each clip row
            for k, sec in dict(c.get("stage_seconds") or {}).items():
                self.stage_seconds[k] += sec
        self.commit(from_rows(vrows, VIDEOS), from_rows(crows, CLIPS))

    def _count(self, v: dict[str, Any], crows: list[dict[str, Any]]) -> None:
        self.stats["videos"] += 1
        self.stats[f"videos_{v.get('status')}"] += 1
        if v.get("status") != "ok":
            self.errors[v.get("error") or "unknown"] += 1
        else:
            self.video_seconds += v.get("duration_s") or 0.0
        for k, s in dict(v.get("stage_seconds") or {}).items():
            self.stage_seconds[k] += s

    def commit(self, videos: pa.Table, clips: pa.Table) -> None:
        idx = self.next_index
        self.next_index += 1
        entry: dict[str, Any] = {"index": idx, "run_id": self.run_id, "config_hash": self.config_hash,
                                 "rows": {"videos": videos.num_rows, "clips": clips.num_rows}}
        for name, table in (("videos", videos), ("clips", clips)):
            rel = self.part_name(name, idx)
            buf = io.BytesIO()
            pq.write_table(table, buf, compression=self.compression)
            self.out.write_bytes(rel, buf.getvalue())  # tmp name + rename
            entry[name] = rel
        for c in clips.column("status").to_pylist():
            self.stats["clips"] += 1
            self.stats[f"clips_{c}"] += 1
        for e in clips.column("error").to_pylist():
            if e:
                self.clip_errors[e] += 1
        for name in clips.column_names:  # per-stage outcomes, e.g. aesthetic_status=skipped
            if name.endswith("_status") and name != "status":
                for v in clips.column(name).to_pylist():
                    if v and v != "ok":
                        self.stage_outcomes[f"{name}={v}"] += 1
        self.manifest["shards"].append(entry)
        self.manifest["schema_version"] = SCHEMA_VERSION
        self._update_rows()
        write_manifest(self.out, self.manifest)  # the commit point

    def record_run(self, info: dict[str, Any]) -> None:
        self.manifest.setdefault("runs", []).append(info)
        write_manifest(self.out, self.manifest)
