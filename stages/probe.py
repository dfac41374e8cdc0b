"""probe: container and stream facts for each video, without a full decode.

Reads: local_path. Adds: file_size, sha256, container, duration_s, fps, num_frames, width,
height, rotation, codec, pix_fmt, bit_rate, has_audio, vfr. Needs: 1 CPU.

Decodes only the first frame (proves the stream decodes; gives the display rotation), and
demuxes the video packets once (no decode) to tell variable-frame-rate streams (``vfr``).
Failures: empty_file, not_a_video, corrupt_container, no_video_stream, decode_error.
"""

from __future__ import annotations

import os
from typing import Any

from curate.config import ProbeConfig
from curate.media import probe, sha256_file
from curate.schemas import VIDEOS
from curate.stage import RowStage

PROBE_COLUMNS = (
    "file_size", "sha256", "container", "duration_s", "fps", "num_frames", "width", "height",
    "rotation", "codec", "pix_fmt", "bit_rate", "has_audio", "vfr",
)


class Probe(RowStage):
    name = "probe"
    requires = ("local_path",)
    adds = tuple(f for f in VIDEOS if f.name in PROBE_COLUMNS)

    cfg: ProbeConfig

    def process(self, row: dict[str, Any]) -> dict[str, Any]:
        path = row["local_path"]
        row["file_size"] = os.path.getsize(path) if os.path.exists(path) else None
        if self.cfg.sha256 and row["file_size"]:
            row["sha256"] = sha256_file(path)
        row.update(probe(path).as_row())
        return row
