"""Fields of the ``clips`` table: one row per clip span cut from a video."""

from __future__ import annotations

import pyarrow as pa

from curate.schemas._fields import field

CLIP_FIELDS: list[pa.Field] = [
    field("clip_id", pa.string(), "Deterministic id: uuid5 of video_id + start/end frame.", nullable=False),
    field("video_id", pa.string(), "Id of the source video (join key to `videos`).", nullable=False),
    field("clip_index", pa.int32(), "0-based position of the clip within its video."),
    field("shot_index", pa.int32(), "0-based index of the shot (cut-to-cut span) the clip comes from."),
    field("start_frame", pa.int64(), "First frame of the clip in the source video (inclusive)."),
    field("end_frame", pa.int64(), "Frame after the last frame of the clip (exclusive)."),
    field("start_s", pa.float64(), "Start time in the source, seconds from its first frame (start_frame / fps; for a VFR source the frame's real timestamp)."),
    field("end_s", pa.float64(), "End time in the source, seconds (end_frame / fps; for a VFR source the real timestamp of end_frame)."),
    field("duration_s", pa.float64(), "Duration of the clip file in seconds: num_frames / fps (for a VFR source within half a frame of end_s - start_s)."),
    field("num_frames", pa.int64(), "Frames in the clip file: end_frame - start_frame, except for a VFR source, whose clip is resampled to `fps`."),
    field("fps", pa.float64(), "Constant frame rate of the clip file: the source's, or for a VFR source the rate it was resampled to (its fastest steady rate; with clips.codec copy the span's mean rate, timestamps kept)."),
    field("vfr", pa.bool_(), "The source has a variable frame rate (videos.vfr): start_s/end_s are real timestamps and the clip file was resampled to a constant `fps`."),
    field("width", pa.int32(), "Displayed width of the clip file in pixels (display rotation applied)."),
    field("height", pa.int32(), "Displayed height of the clip file in pixels (display rotation applied)."),
    field("is_long_take", pa.bool_(), "True when the shot the clip comes from has no cut for >= clips.long_take_min_s."),
    field("clip_path", pa.string(), "Path of the clip file relative to the output directory (null when clip files are off)."),
    field("thumbnail_path", pa.string(), "Path of the middle-frame JPEG thumbnail relative to the output directory."),
    field("clip_codec", pa.string(), "Codec the clip file was written with (libx264, copy, ...)."),
    field("status", pa.string(), "ok | failed | rejected. Rejected clips are kept with `reject_reasons`."),
    field("error", pa.string(), "Machine-readable reason code when status == failed."),
    field("error_detail", pa.string(), "Human-readable detail of the error."),
    field("reject_reasons", pa.list_(pa.string()), "Every filter threshold the clip failed (empty when kept)."),
    field("run_id", pa.string(), "Id of the run that produced this row."),
]
