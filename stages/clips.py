"""clips: shots -> clip spans -> clip files + thumbnails; emits one row per clip.

Reads: video_id, local_path, fps, num_frames, cut_frames, transitions (optional), width, height, rotation. Adds: num_clips
on the video record, and one ``record='clip'`` row per clip (see ``schemas/clip.py``).
Needs: 1 CPU (ffmpeg encode).

Spans: the shots between hard cuts and gradual transitions (a transition's blended frames belong
to no shot), minus ``trim_frames`` on each side of a cut or transition; shots longer than
``max_s`` are split into equal windows no longer than ``max_s``; spans shorter than
``min_s`` are dropped. Clip files are cut frame-accurately (decode from the nearest earlier
keyframe, then exact ``-frames:v``) unless ``codec: copy`` (keyframe-aligned, inexact).

A video that yields no clip says why: ``status='rejected'`` with ``error`` = ``too_small``
(displayed width or height < ``min_side``), ``too_short`` (the whole video is shorter than
``min_s``), ``shots_too_short`` (every shot is) or ``no_long_take`` (``long_takes_only`` left
nothing). Odd frame sizes are cropped by one row/column to even (4:2:0 encoders need even
sizes) instead of failing.

Variable frame rate (``vfr`` from probe): spans are measured in real seconds (:meth:`Clips.spans`)
and stored in frame indices (the cuts stage's decode order), ``start_s``/``end_s`` are the frames'
real timestamps, and the clip file is resampled
to a CONSTANT rate (``media.cfr_rate``: the video's fastest steady rate, e.g. 50 for a 25/10/50
fps file) with ffmpeg's ``fps`` filter (frames repeated where the source rate is lower), so
the file plays at the right speed for players and index-based loaders alike. The clip row's
``fps``/``num_frames``/``duration_s`` describe that file (``duration_s = num_frames / fps``).
With ``codec: copy`` the file keeps the source timestamps (VFR preserved, keyframe-aligned as
always with copy): ``duration_s = end_s - start_s`` and ``fps`` is the span's mean rate.

Every clip file is verified before it counts (``media.verify_clip``: it opens, holds the
expected frames, and carries the key of the encode settings it was cut with) -- after ffmpeg
(which exits 0 after failing to write the trailer on a full disk) and before an existing file
of an interrupted run is reused; a file cut with other settings is cut again. ffmpeg output
about a full disk makes the clip ``disk_full``, and then the whole video ``failed``/``disk_full``
(a transient reason in ``output.retry_errors``: the next run retries it).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from curate.config import ClipsConfig
from curate.ids import clip_id
from curate.media import FrameTimes, cfr_rate, frame_times, run_ffmpeg, verify_clip
from curate.schemas import CLIPS, VIDEOS
from curate.stage import RowStage, RunContext, StageError
from curate.storage import Output

log = logging.getLogger("curate")

CLIP_FORMAT = 1  # bump when the way clip files are cut changes: existing files are then re-cut
# Media live apart from the tables: every table folder (videos/, clips/, dedup/, labels/) holds
# only Parquet, so pandas/pyarrow/polars/DuckDB/HF datasets read a table folder as it is.
# (Outputs written before schema 1.7 keep their clips/<..>.mp4 paths in their rows.)
CLIP_MEDIA, THUMB_MEDIA = "media/clips", "media/thumbnails"


def _low_disk(path: str, min_free: int = 64 << 20) -> bool:
    try:
        return shutil.disk_usage(os.path.dirname(path) or ".").free < min_free
    except OSError:
        return False


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


@dataclass(frozen=True)
class Timing:
    """How source frames map to the clip file: constant rate (the source's) or resampled (VFR)."""

    fps: float  # rate of the clip files
    times: FrameTimes | None = None  # VFR: real timestamps of the source frames
    rate: Fraction | None = None  # VFR: the constant rate the files are resampled to (None: copy)
    grid: Fraction | None = None  # VFR: the constant-rate grid spans are measured on

    def grid_index(self, i: int) -> int:
        """Frame of the constant-rate grid showing source frame ``i`` (VFR only)."""
        return int(round(self.seconds(i) * float(self.grid)))

    def seconds(self, i: int) -> float:
        """Time of source frame ``i`` from the first frame (``i == num_frames``: the end)."""
        return self.times.at(i) if self.times is not None else i / self.fps

    def out_frame(self, i: int) -> int:
        """Index in the (resampled) output of source frame ``i``."""
        return int(round(self.seconds(i) * float(self.rate))) if self.rate is not None else i


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
            mh = self.cfg.max_height - self.cfg.max_height % 2
            return _even(w * mh / h), mh
        return w, h

    def geometry(self, w0: int, h0: int) -> tuple[int, int, list[str]]:
        """(width, height, video filters) of the clip files for a DISPLAYED source size (w0, h0).

        Downscaled to ``max_height`` when set; otherwise an odd width/height loses its last
        column/row (4:2:0 encoders need even sizes; a crop keeps every other pixel as it is)."""
        if self.cfg.codec == "copy":
            return w0, h0, []  # copy never scales
        w, h = self._size(w0, h0)
        if (w, h) != (w0, h0):
            return w, h, [f"scale={w}:{h}"]
        if w % 2 or h % 2:
            w, h = w - w % 2, h - h % 2
            return w, h, [f"crop={w}:{h}:0:0"]
        return w, h, []

    def encode_key(self, filters: list[str], rate: Any) -> str:
        """The settings a clip file is cut with; stored in the file (``comment=curate_key=...``).

        The clip id depends only on the source span, so a resume with other clip settings
        (``max_height``, codec, crf, ...) would otherwise reuse files of the old settings."""
        c = self.cfg
        spec = [CLIP_FORMAT, c.codec, c.crf, c.preset, c.audio, filters, str(rate)]
        return hashlib.sha1(json.dumps(spec, default=str).encode()).hexdigest()[:12]

    def _metadata(self, key: str) -> list[str]:
        return ["-metadata", f"comment=curate_key={key}"]

    def _sound(self, rel: str, frames: int | None, key: str, local: str | None = None) -> str | None:
        """Why the clip file at ``rel`` (or the finished ``local`` temp file) cannot be used; None = sound."""
        if self.cfg.codec == "copy":
            frames, key = None, None  # keyframe-aligned stream copies hold more frames than the span
        if local is not None:
            return verify_clip(local, frames, key=key)
        if not self.out.exists(rel):
            return "missing"
        if self.out.local:
            return verify_clip(self.out.path(rel), frames, key=key)
        with self.out.fs.open(self.out.path(rel), "rb") as f:
            return verify_clip(f, frames, key=key)

    def _cut(self, src: str, span: Span, timing: Timing, rel: str, filters: list[str], key: str) -> None:
        frames_out = timing.out_frame(span.end) - timing.out_frame(span.start)
        why = self._sound(rel, frames_out, key)
        if why is None:
            return  # deterministic id + same settings + verified: cut by an earlier (interrupted) run
        if why != "missing":
            log.warning("clips: re-cutting %s (%s)", rel, why)
        tmp = os.path.join(self.tmp, os.path.basename(rel))
        if timing.rate is None:
            start, frames = timing.seconds(span.start), span.end - span.start
        else:  # seek half-way between the previous frame and the first one (exact whatever the rounding)
            start = (timing.seconds(max(0, span.start - 1)) + timing.seconds(span.start)) / 2
            frames = timing.out_frame(span.end) - timing.out_frame(span.start)
            filters = [f"fps={timing.rate}", *filters]
        args = ["-ss", f"{start:.6f}", "-i", src, "-frames:v", str(frames)]
        if self.cfg.codec == "copy":
            args += ["-c", "copy"]
        else:
            args += self._encode_args()
            if filters:
                args += ["-vf", ",".join(filters)]
            args += ["-c:a", "aac"] if self.cfg.audio else ["-an"]
        args += [*self._metadata(key), "-movflags", "+faststart", "-f", "mp4", tmp]
        run_ffmpeg(args)
        bad = self._sound(rel, frames_out, key, local=tmp)
        if bad is not None:  # e.g. a short write the exit code did not show
            os.remove(tmp)
            raise StageError("disk_full" if _low_disk(tmp) else "clip_unreadable", f"the new clip file is not sound: {bad}")
        self.out.put_file(tmp, rel)

    def _thumb(self, src: str, span: Span, timing: Timing, rel: str) -> None:
        if self.out.exists(rel):
            return
        tmp = os.path.join(self.tmp, os.path.basename(rel))
        mid = timing.seconds((span.start + span.end) // 2)
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
                 timing: Timing, filters: list[str], key: str) -> None:
        """Every clip (and thumbnail) of a video in ONE ffmpeg run: one decode, one encode.

        Keyframes are forced at every span boundary and the segment muxer splits there, so
        each segment is exactly one span (or a trimmed gap, which is deleted). For a VFR source
        the whole stream is resampled first (``fps`` filter) and the boundaries are the output
        frames of the span ends' timestamps.
        """
        frames = [timing.out_frame(sp.end) - timing.out_frame(sp.start) for sp in spans]
        sound = [c is None or self._sound(c, n, key) is None for (c, _), n in zip(rels, frames)]
        todo = [i for i, (ok, (_, t)) in enumerate(zip(sound, rels)) if not ok or (t and not self.out.exists(t))]
        if not todo:
            return
        bounds = sorted({timing.out_frame(b) for sp in spans for b in (sp.start, sp.end)} - {0})
        work = os.path.join(self.tmp, f"seg-{os.getpid()}-{spans[0].start}-{abs(hash(src)) % 10**8}")
        os.makedirs(work, exist_ok=True)
        try:
            chain = [f"fps={timing.rate}"] if timing.rate is not None else []
            chain += filters
            mids = [(sp.start + sp.end) // 2 for sp in spans]
            graph = f"[0:v]split=2[a0][b];[a0]{','.join(chain) or 'null'}[a];"
            graph += "[b]select='" + "+".join(f"eq(n\\,{m})" for m in mids) + f"',scale={self.cfg.thumbnail_width}:-2[t]"
            args = ["-i", src, "-filter_complex", graph, "-map", "[a]", "-an", *self._encode_args(), *self._metadata(key)]
            if bounds:
                args += ["-force_key_frames", "expr:" + "+".join(f"eq(n,{b})" for b in bounds),
                         "-f", "segment", "-segment_frames", ",".join(map(str, bounds)),
                         "-reset_timestamps", "1", "-segment_format", "mp4",
                         "-segment_format_options", "movflags=+faststart", os.path.join(work, "seg%05d.mp4")]
            else:
                args += ["-movflags", "+faststart", "-f", "mp4", os.path.join(work, "seg00000.mp4")]
            args += ["-map", "[t]", "-fps_mode", "passthrough", "-q:v", "4", "-f", "image2",
                     os.path.join(work, "th%05d.jpg")]
            run_ffmpeg(args, timeout=max(600.0, 4.0 * timing.out_frame(spans[-1].end)))
            seg_of = {b: i + 1 for i, b in enumerate(bounds)}  # segment k starts at bounds[k-1]
            for k, (sp, (clip_rel, thumb_rel)) in enumerate(zip(spans, rels)):
                seg = os.path.join(work, f"seg{seg_of.get(timing.out_frame(sp.start), 0):05d}.mp4")
                thumb = os.path.join(work, f"th{k + 1:05d}.jpg")
                if clip_rel and not sound[k] and self._sound(clip_rel, frames[k], key, local=seg) is None:
                    self.out.put_file(seg, clip_rel)  # a segment that does not verify is cut again alone
                if thumb_rel and not self.out.exists(thumb_rel) and os.path.exists(thumb):
                    self.out.put_file(thumb, thumb_rel)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def timing(self, row: dict[str, Any]) -> Timing:
        """Constant-rate mapping, or for a ``vfr`` video the frames' real timestamps and the
        constant rate its clip files get (one demux of the file, no decode)."""
        if not row.get("vfr"):
            return Timing(float(row["fps"]))
        times = frame_times(row["local_path"])
        n = int(row["num_frames"])
        if len(times.pts) > n:  # packets the decoder did not turn into frames at the end
            times = FrameTimes(times.pts[:n], times.time_base)
        if len(times.pts) < 2:
            return Timing(float(row["fps"]))
        rate = cfr_rate(times)
        if self.cfg.codec == "copy":  # a stream copy keeps the source timestamps: VFR preserved
            return Timing(float(row["fps"]), times, None, rate)
        return Timing(float(rate), times, rate, rate)

    def spans(self, row: dict[str, Any], timing: Timing) -> list[Span]:
        """Clip spans in source frames. For a VFR video lengths are real seconds: the shots are
        laid on the constant-rate grid (``min_s``, ``max_s`` and ``long_take_min_s`` apply to
        time; ``trim_frames`` source frames become as many grid frames as they last on average),
        cut there by :func:`compute_spans`, and mapped back to the first source frame of each end."""
        cuts, n = row.get("cut_frames") or [], int(row["num_frames"])
        transitions = row.get("transitions") or []
        if timing.times is None or timing.grid is None:
            return compute_spans(cuts, n, row["fps"], self.cfg, transitions)
        g = float(timing.grid)
        src_rate = n / max(timing.seconds(n), 1e-9)
        cfg = self.cfg.model_copy(update={"trim_frames": int(math.ceil(self.cfg.trim_frames * g / src_rate - 1e-9))})
        grid = [timing.grid_index(i) for i in range(n + 1)]  # non-decreasing
        out = []
        on_grid = [dict(t, start=grid[min(n, int(t["start"]))], end=grid[min(n, int(t["end"]))]) for t in transitions]
        for sp in compute_spans([grid[c] for c in cuts if 0 < c < n], grid[n], g, cfg, on_grid):
            s, e = bisect.bisect_left(grid, sp.start), bisect.bisect_left(grid, sp.end)
            if e > s:
                out.append(Span(sp.shot_index, s, min(e, n), sp.long_take))
        return out

    def why_none(self, row: dict[str, Any], timing: Timing) -> tuple[str, str]:
        """(reason, detail) for a video that yields no clip span."""
        n = int(row.get("num_frames") or 0)
        dur = timing.seconds(n) if n else 0.0
        if n < 2 or dur < self.cfg.min_s:
            return "too_short", f"{n} frames, {dur:.2f} s: shorter than clips.min_s ({self.cfg.min_s} s)"
        if self.cfg.long_takes_only:
            loose = self.cfg.model_copy(update={"long_takes_only": False})
            if compute_spans(row.get("cut_frames") or [], n, row["fps"], loose, row.get("transitions") or []):
                return "no_long_take", f"no shot is a long take (>= clips.long_take_min_s = {self.cfg.long_take_min_s} s)"
        shots = len([c for c in set(row.get("cut_frames") or []) if 0 < c < n]) + 1
        return "shots_too_short", (f"{shots} shots in {dur:.2f} s; none is at least clips.min_s ({self.cfg.min_s} s) "
                                   f"after trimming {self.cfg.trim_frames} frames at each cut")

    def process(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        vid = row["video_id"]
        # width/height are the DISPLAYED size: ffmpeg re-encodes autorotate (a 90/270-degree phone
        # video becomes portrait pixels, so `scale=` is in displayed dims too); a stream copy keeps
        # the coded pixels plus the display matrix, which players (and analyze, train) apply
        w0, h0 = row["width"], row["height"]
        if (row.get("rotation") or 0) % 180 == 90:
            w0, h0 = h0, w0
        if min(w0, h0) < self.cfg.min_side:
            row.update(status="rejected", error="too_small", num_clips=0,
                       error_detail=f"clips: {w0}x{h0} (displayed) is smaller than clips.min_side ({self.cfg.min_side} px)")
            return [row]
        timing = self.timing(row)
        spans = self.spans(row, timing)
        if not spans:
            reason, detail = self.why_none(row, timing)
            row.update(status="rejected", error=reason, error_detail=f"clips: {detail}", num_clips=0)
            return [row]
        w, h, filters = self.geometry(w0, h0)
        key = self.encode_key(filters, timing.rate)
        clips: list[dict[str, Any]] = []
        sub = f"{vid[:2]}/{vid}"
        ids = [clip_id(vid, sp.start, sp.end) for sp in spans]
        rels = [(f"{CLIP_MEDIA}/{sub}/{cid}.mp4" if self.cfg.write_files else None,
                 f"{THUMB_MEDIA}/{sub}/{cid}.jpg" if self.cfg.thumbnails else None) for cid in ids]
        if spans and self.cfg.write_files and self.cfg.codec != "copy" and not self.cfg.audio:
            try:
                self._cut_all(row["local_path"], spans, rels, timing, filters, key)
            except Exception as exc:  # noqa: BLE001 - fall back to one ffmpeg per clip below
                log.warning("clips: one-pass cut of %s failed (%s); cutting clip by clip", vid, exc)
        for i, sp in enumerate(spans):
            cid = clip_id(vid, sp.start, sp.end)
            n_out = timing.out_frame(sp.end) - timing.out_frame(sp.start)
            t0, t1 = timing.seconds(sp.start), timing.seconds(sp.end)
            # constant-rate file: n / fps; VFR stream copy: the real span, its mean rate
            copy_vfr = timing.times is not None and timing.rate is None
            dur = t1 - t0 if copy_vfr else n_out / timing.fps
            clip: dict[str, Any] = {
                "record": "clip", "clip_id": cid, "video_id": vid, "clip_index": i,
                "shot_index": sp.shot_index, "start_frame": sp.start, "end_frame": sp.end,
                "start_s": t0, "end_s": t1, "duration_s": dur, "num_frames": n_out,
                "fps": n_out / dur if copy_vfr and dur > 0 else timing.fps, "width": w, "height": h,
                "vfr": timing.times is not None,
                "is_long_take": sp.long_take, "status": "ok", "reject_reasons": [],
                "run_id": self.ctx.run_id, "local_path": row["local_path"],
                "query_topic_id": row.get("query_topic_id"),
            }
            try:
                if self.cfg.write_files:
                    rel = f"{CLIP_MEDIA}/{sub}/{cid}.mp4"
                    self._cut(row["local_path"], sp, timing, rel, filters, key)
                    clip["clip_path"], clip["clip_codec"] = rel, self.cfg.codec
                if self.cfg.thumbnails:
                    rel = f"{THUMB_MEDIA}/{sub}/{cid}.jpg"
                    self._thumb(row["local_path"], sp, timing, rel)
                    clip["thumbnail_path"] = rel
            except Exception as exc:  # noqa: BLE001 - one bad clip must not lose the others
                clip.update(status="failed", error=getattr(exc, "reason", "clip_write_error"), error_detail=str(exc))
            clips.append(clip)
        row["num_clips"] = len(clips)
        full = [c for c in clips if c.get("error") == "disk_full"]
        if full:  # not the video's fault: fail it as a whole so a re-run (after freeing space) retries it
            row.update(status="failed", error="disk_full",
                       error_detail=f"clips: {len(full)} of {len(clips)} clip files could not be written: {full[0]['error_detail']}")
        return [row, *clips]
