"""clips: shots -> clip spans -> clip files + thumbnails; emits one row per clip.

Reads: video_id, local_path, fps, num_frames, cut_frames, transitions (optional), width, height, rotation. Adds: num_clips
on the video record, and one ``record='clip'`` row per clip (see ``schemas/clip.py``).
Needs: 1 CPU (ffmpeg encode).

Spans: the shots between hard cuts and gradual transitions (a transition's blended frames belong
to no shot), minus ``trim_frames`` on each side of a cut or transition; shots longer than
``max_s`` are split into equal windows no longer than ``max_s``; spans shorter than
``min_s`` are dropped. Clip files are cut frame-accurately (decode from the nearest earlier
keyframe, then exact ``-frames:v``) unless ``codec: copy`` (keyframe-aligned, inexact).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass
from typing import Any

from curate.config import ClipsConfig
from curate.ids import clip_id
from curate.media import run_ffmpeg
from curate.schemas import CLIPS, VIDEOS
from curate.stage import RowStage, RunContext
from curate.storage import Output

log = logging.getLogger("curate")


@dataclass(frozen=True)
class Span:
    shot_index: int
    start: int  # inclusive frame
    end: int  # exclusive frame
    long_take: bool


def compute_spans(cut_frames: list[int], num_frames: int, fps: float, cfg: ClipsConfig,
                  transitions: list[dict] | None = None) -> list[Span]:
    """Clip spans for a video with shots starting at ``cut_frames`` and gradual
    ``transitions`` ({start, end} inclusive blended frames) between shots (see module docstring)."""
    # shots as [a, b): a hard cut c ends one shot at c and starts the next at c; a transition
    # [s, e] ends one at s and starts the next at e + 1, so its frames are in no shot
    gaps = [(c, c) for c in cut_frames if 0 < c < num_frames]
    gaps += [(max(0, int(t["start"])), min(num_frames, int(t["end"]) + 1)) for t in transitions or []
             if int(t["end"]) >= int(t["start"]) and int(t["end"]) >= 0 and int(t["start"]) < num_frames]
    shots: list[tuple[int, int]] = []
    pos = 0
    for s, e in sorted(set(gaps)):
        if s < pos:  # overlapping gaps: the later one only extends the gap
            pos = max(pos, e)
            continue
        if s > pos:
            shots.append((pos, s))
        pos = max(pos, e)
    if num_frames > pos:
        shots.append((pos, num_frames))
    spans: list[Span] = []
    min_len = int(math.ceil(cfg.min_s * fps - 1e-9))
    max_len = max(1, int(math.floor(cfg.max_s * fps + 1e-9)))
    for shot, (a, b) in enumerate(shots):
        long_take = (b - a) / fps >= cfg.long_take_min_s
        if a > 0:
            a += cfg.trim_frames
        if b < num_frames:
            b -= cfg.trim_frames
        length = b - a
        if length < max(min_len, 1):
            continue
        if cfg.long_takes_only and not long_take:
            continue
        pieces = max(1, math.ceil(length / max_len))
        step = length / pieces
        for k in range(pieces):
            s = a + int(round(k * step))
            e = a + int(round((k + 1) * step))
            if e - s >= max(min_len, 1):
                spans.append(Span(shot, s, e, long_take))
    return spans


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


class Clips(RowStage):
    name = "clips"
    requires = ("video_id", "local_path", "fps", "num_frames", "cut_frames", "width", "height", "rotation")
    adds = tuple(f for f in VIDEOS if f.name == "num_clips") + tuple(CLIPS)

    cfg: ClipsConfig

    def __init__(self, cfg: ClipsConfig, ctx: RunContext) -> None:
        super().__init__(cfg, ctx)
        self.out = Output(ctx.output_dir)
        self.tmp = os.path.join(ctx.work_dir, "tmp")
        os.makedirs(self.tmp, exist_ok=True)

    def _size(self, w: int, h: int) -> tuple[int, int]:
        if self.cfg.max_height and h > self.cfg.max_height:
            return _even(w * self.cfg.max_height / h), self.cfg.max_height
        return w, h

    def _cut(self, src: str, span: Span, fps: float, rel: str, size: tuple[int, int], scaled: bool) -> None:
        if self.out.exists(rel):
            return  # deterministic id: the same span was cut by an earlier (interrupted) run
        tmp = os.path.join(self.tmp, os.path.basename(rel))
        start = span.start / fps
        args = ["-ss", f"{start:.6f}", "-i", src, "-frames:v", str(span.end - span.start)]
        if self.cfg.codec == "copy":
            args += ["-c", "copy"]
        else:
            args += self._encode_args()
            if scaled:
                args += ["-vf", f"scale={size[0]}:{size[1]}"]
            args += ["-c:a", "aac"] if self.cfg.audio else ["-an"]
        args += ["-movflags", "+faststart", "-f", "mp4", tmp]
        run_ffmpeg(args)
        self.out.put_file(tmp, rel)

    def _thumb(self, src: str, span: Span, fps: float, rel: str) -> None:
        if self.out.exists(rel):
            return
        tmp = os.path.join(self.tmp, os.path.basename(rel))
        mid = (span.start + span.end) / 2 / fps
        run_ffmpeg(["-ss", f"{mid:.6f}", "-i", src, "-frames:v", "1",
                    "-vf", f"scale={self.cfg.thumbnail_width}:-2", "-q:v", "4", "-f", "image2", tmp])
        self.out.put_file(tmp, rel)

    def _encode_args(self) -> list[str]:
        args = ["-c:v", self.cfg.codec]
        if self.cfg.codec in ("libx264", "libx265", "libvpx-vp9"):
            args += ["-crf", str(self.cfg.crf)]
        if self.cfg.codec == "libvpx-vp9":
            args += ["-b:v", "0", "-row-mt", "1"]
        elif self.cfg.preset:
            args += ["-preset", self.cfg.preset]
        return args + ["-pix_fmt", "yuv420p"]

    def _cut_all(self, src: str, spans: list[Span], rels: list[tuple[str | None, str | None]],
                 size: tuple[int, int], scaled: bool) -> None:
        """Every clip (and thumbnail) of a video in ONE ffmpeg run: one decode, one encode.

        Keyframes are forced at every span boundary and the segment muxer splits there, so
        each segment is exactly one span (or a trimmed gap, which is deleted).
        """
        todo = [i for i, (c, t) in enumerate(rels) if (c and not self.out.exists(c)) or (t and not self.out.exists(t))]
        if not todo:
            return
        bounds = sorted({b for sp in spans for b in (sp.start, sp.end)} - {0})
        work = os.path.join(self.tmp, f"seg-{os.getpid()}-{spans[0].start}-{abs(hash(src)) % 10**8}")
        os.makedirs(work, exist_ok=True)
        try:
            scale = f",scale={size[0]}:{size[1]}" if scaled else ""
            mids = [(sp.start + sp.end) // 2 for sp in spans]
            graph = f"[0:v]split=2[a0][b];[a0]null{scale}[a];"
            graph += "[b]select='" + "+".join(f"eq(n\\,{m})" for m in mids) + f"',scale={self.cfg.thumbnail_width}:-2[t]"
            args = ["-i", src, "-filter_complex", graph, "-map", "[a]", "-an", *self._encode_args()]
            if bounds:
                args += ["-force_key_frames", "expr:" + "+".join(f"eq(n,{b})" for b in bounds),
                         "-f", "segment", "-segment_frames", ",".join(map(str, bounds)),
                         "-reset_timestamps", "1", "-segment_format", "mp4",
                         "-segment_format_options", "movflags=+faststart", os.path.join(work, "seg%05d.mp4")]
            else:
                args += ["-movflags", "+faststart", "-f", "mp4", os.path.join(work, "seg00000.mp4")]
            args += ["-map", "[t]", "-fps_mode", "passthrough", "-q:v", "4", "-f", "image2",
                     os.path.join(work, "th%05d.jpg")]
            run_ffmpeg(args, timeout=max(600.0, 4.0 * spans[-1].end))
            seg_of = {b: i + 1 for i, b in enumerate(bounds)}  # segment k starts at bounds[k-1]
            for k, (sp, (clip_rel, thumb_rel)) in enumerate(zip(spans, rels)):
                seg = os.path.join(work, f"seg{seg_of.get(sp.start, 0):05d}.mp4")
                thumb = os.path.join(work, f"th{k + 1:05d}.jpg")
                if clip_rel and not self.out.exists(clip_rel):
                    self.out.put_file(seg, clip_rel)
                if thumb_rel and not self.out.exists(thumb_rel) and os.path.exists(thumb):
                    self.out.put_file(thumb, thumb_rel)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def process(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        fps = row["fps"]
        spans = compute_spans(row.get("cut_frames") or [], row["num_frames"], fps, self.cfg,
                              row.get("transitions") or [])
        vid = row["video_id"]
        # width/height are the DISPLAYED size: ffmpeg re-encodes autorotate (a 90/270-degree phone
        # video becomes portrait pixels, so `scale=` is in displayed dims too); a stream copy keeps
        # the coded pixels plus the display matrix, which players (and analyze, train) apply
        w0, h0 = row["width"], row["height"]
        if (row.get("rotation") or 0) % 180 == 90:
            w0, h0 = h0, w0
        w, h = self._size(w0, h0) if self.cfg.codec != "copy" else (w0, h0)  # copy never scales
        scaled = (w, h) != (w0, h0)
        clips: list[dict[str, Any]] = []
        sub = f"{vid[:2]}/{vid}"
        ids = [clip_id(vid, sp.start, sp.end) for sp in spans]
        rels = [(f"clips/{sub}/{cid}.mp4" if self.cfg.write_files else None,
                 f"thumbnails/{sub}/{cid}.jpg" if self.cfg.thumbnails else None) for cid in ids]
        if spans and self.cfg.write_files and self.cfg.codec != "copy" and not self.cfg.audio:
            try:
                self._cut_all(row["local_path"], spans, rels, (w, h), scaled)
            except Exception as exc:  # noqa: BLE001 - fall back to one ffmpeg per clip below
                log.warning("clips: one-pass cut of %s failed (%s); cutting clip by clip", vid, exc)
        for i, sp in enumerate(spans):
            cid = clip_id(vid, sp.start, sp.end)
            clip: dict[str, Any] = {
                "record": "clip", "clip_id": cid, "video_id": vid, "clip_index": i,
                "shot_index": sp.shot_index, "start_frame": sp.start, "end_frame": sp.end,
                "start_s": sp.start / fps, "end_s": sp.end / fps, "duration_s": (sp.end - sp.start) / fps,
                "num_frames": sp.end - sp.start, "fps": fps, "width": w, "height": h,
                "is_long_take": sp.long_take, "status": "ok", "reject_reasons": [],
                "run_id": self.ctx.run_id, "local_path": row["local_path"],
                "query_topic_id": row.get("query_topic_id"),
            }
            try:
                if self.cfg.write_files:
                    rel = f"clips/{sub}/{cid}.mp4"
                    self._cut(row["local_path"], sp, fps, rel, (w, h), scaled)
                    clip["clip_path"], clip["clip_codec"] = rel, self.cfg.codec
                if self.cfg.thumbnails:
                    rel = f"thumbnails/{sub}/{cid}.jpg"
                    self._thumb(row["local_path"], sp, fps, rel)
                    clip["thumbnail_path"] = rel
            except Exception as exc:  # noqa: BLE001 - one bad clip must not lose the others
                clip.update(status="failed", error=getattr(exc, "reason", "clip_write_error"), error_detail=str(exc))
            clips.append(clip)
        row["num_clips"] = len(clips)
        return [row, *clips]
