"""Fields of the ``videos`` table: one row per input video, whatever happened to it."""

from __future__ import annotations

import pyarrow as pa

from curate.schemas._fields import field

VIDEO_FIELDS: list[pa.Field] = [
    field("video_id", pa.string(), "Deterministic id: uuid5 of the normalised source (path or URL).", nullable=False),
    field("source", pa.string(), "The input as given: local path, file://, http(s)://, s3:// or other fsspec URL."),
    field("source_kind", pa.string(), "local | http | fsspec | sample | ytdl (downloaded with yt-dlp, see docs/download.md)."),
    field("local_path", pa.string(), "Where the media was read from on the worker (downloaded copy for remote sources)."),
    field("status", pa.string(), "ok | failed | rejected. Failed/rejected rows keep `error`."),
    field("error", pa.string(), "Machine-readable reason code when status != ok (see README 'Failure reasons')."),
    field("error_detail", pa.string(), "Human-readable detail of the error (exception text, HTTP status, ...)."),
    field("file_size", pa.int64(), "Size of the media file in bytes."),
    field("sha256", pa.string(), "SHA-256 of the media file (hex)."),
    field("container", pa.string(), "Container format name as reported by FFmpeg (e.g. 'mov,mp4,m4a,3gp,3g2,mj2')."),
    field("duration_s", pa.float64(), "Duration of the video stream in seconds (container/stream metadata)."),
    field("fps", pa.float64(), "Average frame rate of the video stream (frames per second; see `vfr`)."),
    field("num_frames", pa.int64(), "Number of video frames (decoded count when cut detection ran, else container estimate)."),
    field("width", pa.int32(), "Coded width in pixels (before rotation)."),
    field("height", pa.int32(), "Coded height in pixels (before rotation)."),
    field("rotation", pa.int32(), "Display rotation from the stream's display matrix: degrees the coded picture is turned "
          "COUNTER-clockwise for display (0, 90, 180, 270). Same sign as ffprobe's side-data `rotation` "
          "(FFmpeg's av_display_rotation_get), normalised to 0..359: ffprobe -90 is stored as 270."),
    field("codec", pa.string(), "Video codec name (e.g. h264, hevc, vp9, av1)."),
    field("pix_fmt", pa.string(), "Pixel format of the video stream (e.g. yuv420p)."),
    field("bit_rate", pa.int64(), "Container bit rate in bits/s, if known."),
    field("has_audio", pa.bool_(), "Whether the file has at least one audio stream."),
    field("vfr", pa.bool_(), "Variable frame rate: the frames' timestamps leave a constant-rate line by more than half "
          "a frame (a rate change, or gaps). Clips of such videos are resampled to a constant rate (clips.fps) and "
          "their start_s/end_s are the frames' real timestamps."),
    field("cut_detector", pa.string(), "Detector that produced `cut_frames` (content | adaptive | transnetv2)."),
    field("cut_frames", pa.list_(pa.int64()),
          "Frame indices where a new shot starts after a HARD cut (0-based, excluding frame 0). Gradual transitions "
          "are not listed here but in `transitions`."),
    field("transitions", pa.list_(pa.struct([("start", pa.int64()), ("end", pa.int64()), ("kind", pa.string())])),
          "Gradual transitions: frames start..end (inclusive, 0-based) are blended frames between two shots; kind = "
          "dissolve | fade | wipe | gradual (unsure). The previous shot ends before `start`, the next begins after "
          "`end`; clips never contain these frames."),
    field("num_clips", pa.int32(), "Number of clip rows produced for this video."),
    field("analysis_s", pa.float64(), "Wall seconds spent decoding and analysing this video."),
    field("run_id", pa.string(), "Id of the run that produced this row."),
    field("processed_at", pa.timestamp("us", tz="UTC"), "When the row was produced."),
]
