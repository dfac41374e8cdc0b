"""One live progress line for a run: videos done/total, clips kept/rejected/failed, rate, ETA.

On a terminal it is a rich live display on stderr; when stderr is not a terminal (a log file,
a CI job, ``ray job submit``), a plain line every ``every_s`` seconds and one at the end -- no
escape codes. Counts come from the rows as they reach the writer on the driver, so they are
exact whatever the shard size.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


class RunProgress:
    def __init__(self, total_videos: int, tty: bool | None = None, every_s: float = 30.0, stream: Any = None) -> None:
        self.total = total_videos
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s
        self.t0 = time.monotonic()
        self.last_print = self.t0
        self.printed = ""
        self.videos = 0
        self.video_seconds = 0.0
        self.clips: Counter[str] = Counter()
        self.failed_videos = 0
        self._live = None
        if self.tty and total_videos:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self.line(), console=Console(file=self.stream), refresh_per_second=2, transient=False)
            self._live.start()

    def add(self, batch: pa.Table) -> None:
        rec = batch.column("record") if "record" in batch.column_names else None
        if rec is None:
            return
        is_clip = pc.equal(rec, "clip")
        videos = batch.filter(pc.invert(is_clip))
        clips = batch.filter(is_clip)
        self.videos += videos.num_rows
        if videos.num_rows:
            self.failed_videos += int(pc.sum(pc.not_equal(videos.column("status"), "ok")).as_py() or 0)
            if "duration_s" in videos.column_names:
                self.video_seconds += float(pc.sum(videos.column("duration_s")).as_py() or 0.0)
        if clips.num_rows:
            self.clips.update(clips.column("status").to_pylist())
        self._show()

    def line(self) -> str:
        dt = max(1e-9, time.monotonic() - self.t0)
        rate = self.videos / dt
        eta = (self.total - self.videos) / rate if rate > 0 and self.videos < self.total else 0.0
        c = self.clips
        parts = [f"videos {self.videos}/{self.total}" + (f" ({self.failed_videos} failed/rejected)" if self.failed_videos else ""),
                 f"clips ok {c['ok']} rejected {c['rejected']} failed {c['failed']}",
                 f"{self.video_seconds / dt:.2f} video-s/s",
                 f"{(c['ok'] + c['rejected'] + c['failed']) / dt * 3600:.0f} clips/h"]
        if eta:
            parts.append(f"ETA {eta / 60:.1f} min")
        return "curate: " + " | ".join(parts)

    def _show(self) -> None:
        if self._live is not None:
            self._live.update(self.line())
            return
        now = time.monotonic()
        if now - self.last_print >= self.every_s:
            self.last_print = now
            self._print()

    def _print(self) -> None:
        line = self.line()
        counts = line.split(" | ")[:2]
        if counts != self.printed.split(" | ")[:2]:  # the same counts again say nothing new
            print(line, file=self.stream, flush=True)
            self.printed = line

    def close(self) -> None:
        if self._live is not None:
            self._live.update(self.line())
            self._live.stop()
            self._live = None
        elif self.total:
            self._print()
