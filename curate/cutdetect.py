"""Fast shot-boundary detection: a coarse pass over reference frames, exact decoding only
around candidate cuts.

PySceneDetect-style detectors (ContentDetector / AdaptiveDetector) must decode every frame, so
they sit on the full-decode floor. Here the video is read twice, cheaply:

1. **Coarse pass** (one streaming decode). The decoder skips every frame no other frame
   references (``skip_frame=NONREF``: for x264's default B-frames that is roughly 40 % of the
   frames) and, optionally (``skip_loop_filter``, off by default), the H.264/HEVC in-loop
   deblocking filter. That saves 10-30 % of the decode, but without the loop filter the
   reference frames drift from the exact ones until the next keyframe snaps them back (coarse
   scores measured up to 23 content units off on fast-moving fine texture), which makes false
   jumps at keyframes; so with it every candidate is refined (none is accepted from the coarse
   score alone), which costs more than it saves. Every *packet* is still demuxed, so
   the exact frame count, every frame's presentation timestamp (its index is its rank among
   all timestamps) and the keyframe positions are known without decoding. Each decoded frame
   is scaled by a cached swscale context straight to ``analysis_width`` BGR, converted to HSV
   and scored against the previous decoded frame exactly like ContentDetector does
   (mean absolute difference of H, S and V, averaged).

   **GOP-parallel.** With ``threads`` > 1 (``0`` = the CPUs the worker holds) the pass is split
   at keyframes into about four segments per thread (one seek per nominal split time, no index
   pass) and the segments are decoded at once by single-threaded decoders; each segment's first
   frame is scored against the previous segment's last, so the result is the sequential one.
   Closed GOPs decode independently, so this scales with cores, whereas FFmpeg's frame threads
   stall on the chain of P-frames the coarse pass is made of (they also cost ~25 % more CPU
   here). Frames a segment outputs before its keyframe (an open GOP's leading pictures, which
   reference the previous segment) are left out of the coarse pass -- the refinement decodes them
   exactly if a jump there matters. A seek that lands off the expected keyframe, or any error,
   reruns the pass as one sequential segment. Seeks need not be exact: a segment demuxes
   forward to its keyframe (MP4 seeks by dts and may land a GOP early; MPEG-TS seeks land on
   any packet, before or after), restarting once from the previous split keyframe if it
   overshot.

2. **Candidates.** Between two consecutive decoded frames ``a < b`` the score is a content
   jump over ``b - a`` frames. A gap is a candidate when its score reaches
   ``coarse_gate`` x the detector threshold (and, for ``adaptive``, its ratio to the
   neighbouring coarse scores reaches ``coarse_gate`` x ``adaptive_threshold``). A candidate
   with ``b == a + 1`` whose score clears the thresholds by a wide margin (1.5x) is a cut at
   ``b`` without further work (its coarse score is the exact content value of frame ``b``):
   x264's scenecut puts an I-frame on most hard cuts and ends the previous mini-GOP with a
   P-frame, so both sides are reference frames.

3. **Exact refinement.** Every other candidate is decoded exactly (all frames, loop filter
   on) over ``[a - w - 1, b + w]`` (``w`` = ``window_width``); the windows are split into one
   contiguous run per thread, each run read by its own single-threaded decoder, which seeks
   to the keyframe at or before the window -- or keeps going when no keyframe lies between it
   and the window -- and decodes only reference frames until the window starts. The exact
   per-frame scores then go through the detector's own rule (adaptive ratio over +-w frames,
   ``min_content_val``; or ContentDetector's threshold with its merge flash filter), and
   ``min_scene_len`` is applied as PySceneDetect does.

Codecs: ``NONREF`` only ever drops frames nothing references, so it is valid for every codec;
FFmpeg's H.264, HEVC, VP9, MPEG-4 Part 2 and MPEG-1/2 decoders honour it per packet; a decoder
that ignores it decodes everything (the pass is then simply a full decode), and libdav1d (AV1)
reads it only when it opens, which the refinement detects and handles (tested on
H.264/HEVC/MPEG-4/VP9/AV1). ``skip_loop_filter`` is honoured by H.264 and HEVC only (ignored elsewhere).
Videos whose packets lack timestamps, or whose decoded timestamps do not match their packets,
fall back to the exact full decode (:func:`detect_exact`).

4. **Gradual transitions and flashes** (``transitions``, on by default): every coarse frame
   also gives an 8x8 BGR grid (192 bytes) and the standard deviation of its V channel; after
   the pass :mod:`curate.transitions` finds dissolves, fades and wipes on them (no further
   decoding), :func:`curate.transitions.jump_cuts` adds static-camera jump cuts (a clean,
   persistent step in part of the grid that the whole-frame content score averages away) and
   :func:`drop_flashes` drops cuts whose picture comes back within 0.4 s. Cuts inside a
   transition are dropped: a transition is one interval, not two cuts (see :func:`finish`).

Memory: streaming; the only per-frame state is one int64 timestamp per frame plus one float per
decoded frame (~20 bytes/frame, ~6 MB for a 3-hour 30 fps video) plus one float per refined
frame; the refinement scores its windows streaming, holding one small HSV frame. With
``transitions`` on, each decoded frame adds 196 bytes (its grid and spread): ~120 KB per
minute of 30 fps H.264, ~22 MB for a 3-hour video.
"""

from __future__ import annotations

import bisect
import logging
import os
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import pairwise

import av
import cv2
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from curate.media import decode_failure, open_video, scaled_size, worker_cpus
from curate.stage import StageError
from curate.transitions import DESC_BYTES, Transition, TransitionParams, grid, jump_cuts, spread
from curate.transitions import detect as detect_transitions

log = logging.getLogger("curate")

# a gap that clears the detector thresholds by this factor is accepted without refinement
CLEAR_MARGIN = 1.5
# GOP-parallel coarse pass: segments per decode thread (load balance) and their minimum length
SEGMENTS_PER_THREAD = 4
MIN_SEGMENT_S = 2.0
SPLIT_SEARCH_PACKETS = 2000  # packets demuxed after a split seek to find a keyframe (~1 min at 30 fps)


class Fallback(Exception):
    """The fast path cannot index this video's frames reliably: use the exact full decode."""


@dataclass
class Params:
    """The detector's rule, independent of how frames are decoded."""

    detector: str  # "adaptive" | "content"
    threshold: float = 27.0
    adaptive_threshold: float = 3.0
    min_content_val: float = 15.0
    window_width: int = 2
    min_scene_len: int = 15
    analysis_width: int = 256
    coarse_gate: float = 0.5
    skip_loop_filter: bool = False
    threads: int = 0
    transitions: bool = True  # gradual transitions from the coarse frames' 8x8 grids (curate/transitions.py)
    transition: TransitionParams = field(default_factory=TransitionParams)


@dataclass
class Stats:
    """What the fast path did (for benchmarks and logs)."""

    frames: int = 0
    decoded_coarse: int = 0
    candidates: int = 0
    accepted_clear: int = 0
    refined: int = 0
    decoded_exact: int = 0
    seeks: int = 0
    segments: int = 0
    unrefined: int = 0
    fallback: str | None = None
    regions: list[tuple[int, int]] = field(default_factory=list)


class _Scaler:
    """HSV at analysis size from any decoded frame, through one cached swscale context.

    The size comes from the first frame (decoded size, not the codec's padded coded size)."""

    def __init__(self, width: int):
        self.width = width
        self.size: tuple[int, int] | None = None
        self._r = VideoReformatter()

    def bgr(self, frame: av.VideoFrame) -> np.ndarray:
        if self.size is None:
            self.size = scaled_size(frame.width, frame.height, self.width)
        w, h = self.size
        small = self._r.reformat(frame, width=w, height=h, format="bgr24",
                                 interpolation=Interpolation.FAST_BILINEAR, threads=1)
        return small.to_ndarray()

    def hsv(self, frame: av.VideoFrame) -> np.ndarray:
        return cv2.cvtColor(self.bgr(frame), cv2.COLOR_BGR2HSV)


def content_score(prev: np.ndarray, cur: np.ndarray) -> float:
    """ContentDetector's frame score with default weights: mean |dH|, |dS|, |dV|, averaged."""
    m = cv2.mean(cv2.absdiff(prev, cur))
    return (m[0] + m[1] + m[2]) / 3.0


def _index_of(sorted_pts: np.ndarray, pts: int) -> int:
    i = int(np.searchsorted(sorted_pts, pts))
    if i >= len(sorted_pts) or sorted_pts[i] != pts:
        raise Fallback(f"decoded pts {pts} matches no packet")
    return i


class _SplitMismatch(Exception):
    """A segment did not start or end where the split said: decode the video in one segment."""


@dataclass
class _Segment:
    """The coarse pass over one keyframe-delimited run of packets (decode order)."""

    pts_all: array = field(default_factory=lambda: array("q"))  # every packet's pts
    keys: array = field(default_factory=lambda: array("q"))  # keyframe packets' pts
    c_pts: array = field(default_factory=lambda: array("q"))  # decoded frames' pts
    c_score: array = field(default_factory=lambda: array("d"))  # vs. the previous decoded frame
    grids: bytearray = field(default_factory=bytearray)  # 8x8 BGR grid per decoded frame (transitions)
    spread: array = field(default_factory=lambda: array("f"))  # std of V per decoded frame (transitions)
    first: np.ndarray | None = None  # HSV of the first / last decoded frame, for stitching
    last: np.ndarray | None = None


def _packets_from(c, vs, start: int, earlier: int | None):
    """The stream's packets from keyframe ``start`` on (the keyframe first, the end-of-stream
    flush packet last). A demuxer that seeks by dts (MP4) can land a GOP early, one that seeks
    by bytes (MPEG-TS) on any packet before or after the target: packets are demuxed forward
    to the keyframe, and after an overshoot (a later keyframe, or the end, first) the search
    restarts once from ``earlier`` (the previous segment's keyframe; None: the stream's start)."""
    for target in (start, earlier if earlier is not None else (vs.start_time or 0)):
        c.seek(target, backward=True, any_frame=False, stream=vs)
        packets = c.demux(vs)
        for pkt in packets:
            if not pkt.size or pkt.pts is None:
                continue
            if pkt.is_keyframe and pkt.pts == start:
                yield pkt
                yield from packets
                return
            if pkt.is_keyframe and pkt.pts > start:
                break  # overshot: retry from earlier
        # (the end of the stream without the keyframe: overshot too, past the last keyframe)
    raise _SplitMismatch(f"keyframe {start} not found by seeking")


def _coarse_segment(path: str, p: Params, start: int | None, stop: int | None,
                    earlier: int | None = None) -> _Segment:
    """Reference frames of the packets from keyframe ``start`` (None: the file's beginning) up
    to, not including, keyframe ``stop`` (None: the end), by one single-threaded decoder.
    ``earlier``: a keyframe before ``start`` to search forward from if a seek overshoots.

    Frames the segment outputs before ``start`` (an open GOP's leading pictures, whose
    references lie in the previous segment) are dropped: they are left to the refinement."""
    seg = _Segment()
    with open_video(path, 1) as (c, vs):
        cc = vs.codec_context
        scaler = _Scaler(p.analysis_width)
        if p.skip_loop_filter:
            cc.options = {"skip_loop_filter": "all"}
        cc.skip_frame = "NONREF"

        def take(frame) -> None:
            if frame.pts is None:
                raise Fallback("decoded frame without pts")
            if start is not None and frame.pts < start:
                return
            small = scaler.bgr(frame)
            cur = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
            if p.transitions:
                seg.grids += grid(small).tobytes()
                seg.spread.append(spread(cur))
            seg.c_pts.append(frame.pts)
            seg.c_score.append(0.0 if seg.last is None else content_score(seg.last, cur))
            if seg.first is None:
                seg.first = cur
            seg.last = cur

        reached = stop is None
        try:
            packets = c.demux(vs) if start is None else _packets_from(c, vs, start, earlier)
            for pkt in packets:
                if pkt.size:
                    if pkt.pts is None:
                        raise Fallback("packet without pts")
                    if stop is not None and pkt.pts == stop and pkt.is_keyframe:
                        reached = True
                        break
                    if not pkt.is_discard:
                        seg.pts_all.append(pkt.pts)
                        if pkt.is_keyframe:
                            seg.keys.append(pkt.pts)
                for frame in cc.decode(pkt):
                    take(frame)
            if stop is not None:  # stopped early: drain the frames still held for reordering
                if not reached:
                    raise _SplitMismatch(f"keyframe {stop} not found after {start}")
                for frame in cc.decode(None):
                    take(frame)
        except av.error.FFmpegError as exc:
            raise decode_failure(exc, len(seg.c_pts), f"after {len(seg.pts_all)} packets") from None
    return seg


def _split_points(path: str, segments: int, min_seconds: float) -> list[tuple[int, int]]:
    """(pts, byte position) of the keyframes at which segments 2..n start: one seek per nominal
    split time (no index pass). Nominal times closer than ``min_seconds`` and seeks that land on
    the same keyframe, before the first packet, or not on a keyframe are dropped."""
    with open_video(path, 1) as (c, vs):
        tb = vs.time_base
        dur = vs.duration
        if dur is None and c.duration is not None and tb:
            dur = int(c.duration / av.time_base / tb)
        if not dur or not tb or segments < 2:
            return []
        segments = min(segments, int(float(dur * tb) // min_seconds))
        if segments < 2:
            return []
        origin = vs.start_time or 0
        first = next((pk.pts for pk in c.demux(vs) if pk.size), None)
        if first is None:
            return []
        points: dict[int, int] = {}
        for j in range(1, segments):
            c.seek(origin + dur * j // segments, backward=True, any_frame=False, stream=vs)
            # the first keyframe from there (MPEG-TS seeks land on any packet)
            pkt = next((pk for _, pk in zip(range(SPLIT_SEARCH_PACKETS), c.demux(vs))
                        if pk.size and pk.is_keyframe), None)
            if pkt is not None and pkt.pts is not None and pkt.pts > first:
                points[int(pkt.pts)] = pkt.pos if pkt.pos is not None and pkt.pos >= 0 else -1
        return sorted(points.items())


def _schedule(points: list[tuple[int, int]], file_size: int) -> list[int]:
    """Segment order for the thread pool: largest first (bytes ~ decode work), so that no long
    segment starts last and leaves the other threads idle; file order if positions are unknown."""
    pos = [0, *(p for _, p in points), file_size]
    if any(p < 0 for p in pos) or any(b < a for a, b in pairwise(pos)):
        return list(range(len(points) + 1))
    return sorted(range(len(points) + 1), key=lambda i: pos[i] - pos[i + 1])


def _coarse_pass(path: str, p: Params, st: Stats):
    """Decode reference frames only; return (sorted pts, keyframe pts, coarse idx, coarse scores,
    8x8 grids and V spreads of the decoded frames (decoded x 192 uint8 and decoded float32; empty
    when ``p.transitions`` is off)).

    ``p.threads`` is already resolved (>= 1, see :func:`detect_fast`). With more than 1 the
    video is split at keyframes into about 4 segments per thread, decoded at once by
    single-threaded decoders (GOP-parallel: closed GOPs decode
    independently, so this scales where FFmpeg's frame threads stall on the P-frame chain);
    the segments' scores are stitched by scoring each segment's first frame against the
    previous segment's last. A split that does not line up (a seek landing off the keyframe
    the next segment expects) or a broken stream falls back to one sequential segment, so a
    damaged file fails exactly as it would sequentially.
    """
    workers = max(1, p.threads)
    points: list[tuple[int, int]] = []
    if workers > 1:
        try:
            points = _split_points(path, workers * SEGMENTS_PER_THREAD, MIN_SEGMENT_S)
        except Exception as exc:  # noqa: BLE001 - unseekable/odd file: the sequential pass decides
            log.debug("cuts: no GOP split for %s: %s", path, exc)
    segs: list[_Segment] | None = None
    if points:
        keys_at = [k for k, _ in points]
        # (start, stop, earlier): segment i starts at keyframe i-1 of the split, searching from keyframe i-2
        bounds = list(zip([None, *keys_at], [*keys_at, None], [None, None, *keys_at]))
        try:
            with ThreadPoolExecutor(min(workers, len(bounds))) as pool:
                futures = {i: pool.submit(_coarse_segment, path, p, *bounds[i])
                           for i in _schedule(points, os.path.getsize(path))}
                segs = [futures[i].result() for i in range(len(bounds))]
        except Exception as exc:  # noqa: BLE001 - any failure: the sequential pass gives the answer (or the error)
            log.debug("cuts: GOP-parallel pass failed for %s (%s); decoding sequentially", path, exc)
            segs = None
    if segs is None:  # one segment from the file's start to its end: never a _SplitMismatch
        segs = [_coarse_segment(path, p, None, None)]
    st.segments = len(segs)

    pts_all, keys, c_pts, c_score = array("q"), array("q"), array("q"), array("d")
    grids, spreads = bytearray(), array("f")
    prev_last = None
    for seg in segs:
        grids += seg.grids
        spreads.extend(seg.spread)
        if seg.c_pts:
            scores = array("d", seg.c_score)
            if prev_last is not None:
                scores[0] = content_score(prev_last, seg.first)
            prev_last = seg.last
            c_pts.extend(seg.c_pts)
            c_score.extend(scores)
        pts_all.extend(seg.pts_all)
        keys.extend(seg.keys)
    decoded = len(c_pts)
    if decoded == 0:
        raise StageError("decode_error", "the video stream has no decodable frames")
    sorted_pts = np.sort(np.frombuffer(pts_all, dtype=np.int64))
    if len(sorted_pts) > 1 and not np.all(np.diff(sorted_pts) > 0):
        raise Fallback("duplicate packet timestamps")
    idx = np.array([_index_of(sorted_pts, t) for t in c_pts], dtype=np.int64)
    if len(idx) > 1 and not np.all(np.diff(idx) > 0):
        raise Fallback("decoded frames out of order")
    st.frames = len(sorted_pts)
    st.decoded_coarse = decoded
    g = np.frombuffer(bytes(grids), dtype=np.uint8).reshape(-1, DESC_BYTES)
    return (sorted_pts, np.sort(np.frombuffer(keys, dtype=np.int64)), idx,
            np.frombuffer(c_score, dtype=np.float64), g, np.frombuffer(spreads, dtype=np.float32))


class _ExactDecoder:
    """Second decoder for exact frames in [lo, hi]; moves forward, seeks only when cheaper."""

    def __init__(self, path: str, p: Params, sorted_pts: np.ndarray, keys: np.ndarray, st: Stats):
        self.path = path
        self._open()
        self.scaler = _Scaler(p.analysis_width)
        self.pts = sorted_pts
        self.key_idx = [int(np.searchsorted(sorted_pts, k)) for k in keys]
        self.st = st
        self.packets = None
        self.pos = -1  # index of the last frame this decoder output
        self.skip_before = True  # NONREF before the window (off if the decoder applies it late)

    def _open(self) -> None:
        self._cm = open_video(self.path, 1)
        self.c, self.vs = self._cm.__enter__()
        self.cc = self.vs.codec_context

    def close(self) -> None:
        self._cm.__exit__(None, None, None)

    def _key_at_or_before(self, i: int) -> int:
        j = bisect.bisect_right(self.key_idx, i) - 1
        return self.key_idx[j] if j >= 0 else 0

    def _seek(self, key: int) -> None:
        self.c.seek(int(self.pts[key]), backward=True, any_frame=False, stream=self.vs)
        self.cc.flush_buffers()
        self.packets = self.c.demux(self.vs)
        self.pos = -1
        self.st.seeks += 1

    def scores(self, lo: int, hi: int) -> dict[int, float]:
        """Exact content scores of frames lo..hi (frame t scored against t - 1; frame 0 scores 0).

        Streaming: only the previous small frame is held, however long the window. Frames
        before ``lo`` are decoded only if referenced (NONREF), switched per packet. A decoder
        that applies skip_frame late (libdav1d reads it once, when it opens) would drop window
        frames: then the window is decoded again by a fresh decoder that never skips, and
        skipping stays off for the rest of the video. If the demuxer seeks past the window,
        retry from the start.
        """
        key = self._key_at_or_before(lo)
        if self.packets is None or self.pos >= lo or key > self.pos + 1:
            self._seek(key)
        out, seen = self._decode(lo, hi)
        if len(seen) < hi - lo + 1 and self.skip_before:
            self.skip_before = False
            self.close()
            self._open()
            self._seek(key)
            out, seen = self._decode(lo, hi)
        if lo not in seen and key > 0:
            self._seek(0)
            out, seen = self._decode(lo, hi)
        return out

    def _decode(self, lo: int, hi: int) -> tuple[dict[int, float], set[int]]:
        lo_pts = int(self.pts[lo])
        out: dict[int, float] = {}
        seen: set[int] = set()
        prev: tuple[int, np.ndarray] | None = None
        cc = self.cc
        try:
            for pkt in self.packets:
                if pkt.pts is not None:
                    # frames before the window are only needed as references
                    cc.skip_frame = "DEFAULT" if pkt.pts >= lo_pts or not self.skip_before else "NONREF"
                for frame in cc.decode(pkt):
                    if frame.pts is None:
                        continue
                    i = int(np.searchsorted(self.pts, frame.pts))
                    if i >= len(self.pts) or self.pts[i] != frame.pts:
                        continue
                    self.pos = max(self.pos, i)
                    self.st.decoded_exact += 1
                    if lo <= i <= hi:
                        cur = self.scaler.hsv(frame)
                        seen.add(i)
                        if i == 0:
                            out[0] = 0.0
                        elif prev is not None and prev[0] == i - 1:
                            out[i] = content_score(prev[1], cur)
                        prev = (i, cur)
                if self.pos >= hi:
                    return out, seen
        except av.error.FFmpegError:
            pass  # refinement is best effort: what is missing is judged from the coarse pass
        self.packets = iter(())
        return out, seen


def _refine(path: str, p: Params, sorted_pts: np.ndarray, keys: np.ndarray, st: Stats) -> dict[int, float]:
    """Exact scores of every frame in ``st.regions``: the regions are split into contiguous runs,
    one per decode thread, each run read forward by its own single-threaded decoder."""
    regions = st.regions
    workers = max(1, min(p.threads, len(regions)))
    size = -(-len(regions) // workers)
    runs = [regions[i:i + size] for i in range(0, len(regions), size)]

    def refine_run(run: list[tuple[int, int]]) -> tuple[dict[int, float], Stats]:
        rst = Stats()
        dec = _ExactDecoder(path, p, sorted_pts, keys, rst)
        out: dict[int, float] = {}
        try:
            for lo, hi in run:
                out.update(dec.scores(lo, hi))
        finally:
            dec.close()
        return out, rst

    if len(runs) == 1:
        results = [refine_run(runs[0])]
    else:
        with ThreadPoolExecutor(len(runs)) as pool:
            results = list(pool.map(refine_run, runs))
    scores: dict[int, float] = {}
    for out, rst in results:
        scores.update(out)
        st.decoded_exact += rst.decoded_exact
        st.seeks += rst.seeks
    return scores


def _regions(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(a, b) for a, b in merged]


def flash_merge(above: set[int] | list[int], n: int, length: int) -> list[int]:
    """PySceneDetect's FlashFilter (MERGE mode, length in frames) replayed on frames 0..n-1.

    ``above`` holds the frames whose content score reached the threshold. Same results as
    feeding ``scenedetect.detector.FlashFilter.filter`` every frame (tested against it).
    """
    above = set(above)
    if length <= 0:
        return sorted(t for t in above if 0 <= t < n)
    cuts: list[int] = []
    last_above = 0
    merge_enabled = merge_triggered = False
    merge_start = 0
    ordered = sorted(t for t in above if 0 <= t < n)
    k = 0
    t = 0
    while t < n:
        is_above = k < len(ordered) and ordered[k] == t
        if is_above:
            k += 1
        min_len_met = t - last_above >= length
        if is_above:
            last_above = t
        if merge_triggered:
            if min_len_met and not is_above and last_above - merge_start >= length:
                merge_triggered = False
                cuts.append(last_above)
        elif is_above:
            if min_len_met:
                merge_enabled = True
                cuts.append(t)
            elif merge_enabled:
                merge_triggered = True
                merge_start = t
        # frames below the threshold change nothing, except the one that can end a merge
        nxt = ordered[k] if k < len(ordered) else n
        if merge_triggered and last_above - merge_start >= length:
            nxt = min(nxt, last_above + length)
        t = max(t + 1, nxt)
    return cuts


def _adaptive_events(scores: dict[int, float], targets: list[int], n: int, p: Params) -> list[int]:
    w = p.window_width
    out = []
    for t in targets:
        if t < w or t > n - 1 - w:
            continue  # PySceneDetect never evaluates the first/last w frames
        win = [scores.get(u) for u in range(t - w, t + w + 1)]
        if any(v is None for v in win):
            continue
        target = win[w]
        avg = (sum(win) - target) / (2.0 * w)
        if abs(avg) < 1e-5:
            ratio = 255.0 if target >= p.min_content_val else 0.0
        else:
            ratio = min(target / avg, 255.0)
        if ratio >= p.adaptive_threshold and target >= p.min_content_val:
            out.append(t)
    return out


def _min_len(events: list[int], length: int) -> list[int]:
    """AdaptiveDetector's min_scene_len: a cut needs ``length`` frames since the last one (or frame 0)."""
    last, out = 0, []
    for t in sorted(set(events)):
        if t - last >= length:
            out.append(t)
            last = t
    return out


def detect_fast(path: str, p: Params, st: Stats | None = None) -> tuple[list[int], int]:
    """(cut frames, frame count) with the coarse + exact-refinement scheme (module docstring)."""
    cuts, _, n = detect_shots_fast(path, p, 0.0, st)
    return cuts, n


def detect_shots_fast(path: str, p: Params, fps: float,
                      st: Stats | None = None) -> tuple[list[int], list[Transition], int]:
    """(hard-cut frames, gradual transitions, frame count): the cut detector of
    :func:`detect_fast` plus, when ``p.transitions`` and ``fps`` > 0, gradual transitions from
    the coarse frames' grids (:mod:`curate.transitions`); cuts inside a transition (+-2 frames)
    are dropped, so a transition is one interval and never also a cut."""
    st = st if st is not None else Stats()
    p = replace(p, threads=p.threads or worker_cpus())  # 0 = the CPUs this worker holds
    sorted_pts, keys, idx, s, grids, spreads = _coarse_pass(path, p, st)
    n = len(sorted_pts)
    w = p.window_width
    adaptive = p.detector == "adaptive"
    gate = (p.min_content_val if adaptive else p.threshold) * p.coarse_gate
    clear_events: list[int] = []
    refine: list[tuple[int, int, bool]] = []  # coarse gaps (a, b] to refine, coarse verdict
    for k in range(1, len(idx)):
        sk = float(s[k])
        if sk < gate:
            continue
        a, b = int(idx[k - 1]), int(idx[k])
        if adaptive:
            nb = [float(s[j]) for j in range(max(1, k - w), min(len(s), k + w + 1)) if j != k]
            avg = sum(nb) / len(nb) if nb else 0.0
            ratio = 255.0 if avg < 1e-5 else sk / avg
            if ratio < p.adaptive_threshold * p.coarse_gate:
                continue
            clear = sk >= CLEAR_MARGIN * p.min_content_val and ratio >= CLEAR_MARGIN * p.adaptive_threshold
            verdict = sk >= p.min_content_val and ratio >= p.adaptive_threshold
        else:
            clear = sk >= CLEAR_MARGIN * p.threshold
            verdict = sk >= p.threshold
        st.candidates += 1
        # without the loop filter, reference frames drift until the next keyframe snaps them back,
        # so a coarse score is only trusted as the exact one when the loop filter ran
        if clear and b == a + 1 and not p.skip_loop_filter and (not adaptive or w <= b <= n - 1 - w):
            clear_events.append(b)
            st.accepted_clear += 1
        else:
            refine.append((a, b, verdict))
    st.refined = len(refine)
    exact_scores: dict[int, float] = {}
    if refine:
        st.regions = _regions([(max(0, a - w - 1), min(n - 1, b + w)) for a, b, _ in refine])
        exact_scores = _refine(path, p, sorted_pts, keys, st)
    events = list(clear_events)
    targets = [t for a, b, _ in refine for t in range(a + 1, b + 1)]
    # where the exact decoder could not deliver the window (broken stream), the coarse verdict stands
    unrefined = [b for a, b, verdict in refine if verdict and not any(t in exact_scores for t in range(a + 1, b + 1))]
    st.unrefined = len(unrefined)
    events += unrefined
    if adaptive:
        events += _adaptive_events(exact_scores, targets, n, p)
        cuts = _min_len(events, p.min_scene_len)
    else:
        events += [t for t in targets if exact_scores.get(t, 0.0) >= p.threshold]
        cuts = flash_merge(events, n, p.min_scene_len)
    cuts = [c for c in cuts if 0 < c < n]
    trans: list[Transition] = []
    if p.transitions and fps > 0 and len(grids) == len(idx):
        return finish(cuts, idx, grids, spreads, fps, n, p.min_scene_len, p.transition)
    return cuts, trans, n


def finish(cuts: list[int], idx: np.ndarray, grids: np.ndarray, spreads: np.ndarray, fps: float, n: int,
           min_scene_len: int, tp: TransitionParams) -> tuple[list[int], list[Transition], int]:
    """The grid-based steps after the cut detector: static-camera jump cuts added (not within
    ``min_scene_len`` of a cut), flashes dropped, gradual transitions found and the cuts inside
    them dropped."""
    jumps = [j for j in jump_cuts(idx, grids, fps, tp) if 0 < j < n]
    if jumps:
        cuts = sorted(cuts + [j for j in _min_len(jumps, min_scene_len)
                              if all(abs(j - c) >= min_scene_len for c in cuts)])
    cuts = drop_flashes(cuts, idx, grids, fps, tp.flash_max_s)
    trans = detect_transitions(idx, grids, spreads, fps, n, tp)
    return merge_cuts(cuts, trans), trans, n


def drop_flashes(cuts: list[int], idx: np.ndarray, grids: np.ndarray, fps: float, max_s: float,
                 back: float = 0.35) -> list[int]:
    """Cuts after which the picture comes back within ``max_s`` seconds: a flash, a strobe or
    something passing in front of the lens, not a new shot. The 8x8 colour grid of the frame
    before the cut is compared with the analysed frames up to ``max_s`` after it; a cut is
    dropped when one of them is within ``back`` x the jump itself."""
    if not cuts or len(idx) < 2 or max_s <= 0:
        return cuts
    g = grids.astype(np.float32)
    horizon = max(1, int(round(max_s * fps)))
    out = []
    for c in cuts:
        kb = int(np.searchsorted(idx, c, side="left"))
        ka = kb - 1
        if ka < 0 or kb >= len(idx):
            out.append(c)
            continue
        jump = float(np.mean(np.abs(g[kb] - g[ka])))
        k_end = int(np.searchsorted(idx, c + horizon, side="right"))
        later = g[kb + 1:k_end]
        if jump > 0 and len(later) and float(np.min(np.mean(np.abs(later - g[ka]), axis=1))) <= back * jump:
            continue
        out.append(c)
    return out


def merge_cuts(cuts: list[int], trans: list[Transition], tol: int = 2) -> list[int]:
    """Hard cuts that do not fall inside a gradual transition (+-``tol`` frames)."""
    return [c for c in cuts if not any(t.start - tol <= c <= t.end + tol + 1 for t in trans)]


def params_from(cfg) -> Params:
    return Params(
        detector=cfg.detector, threshold=cfg.threshold, adaptive_threshold=cfg.adaptive_threshold,
        min_content_val=cfg.min_content_val, window_width=cfg.window_width, min_scene_len=cfg.min_scene_len,
        analysis_width=cfg.analysis_width, coarse_gate=cfg.coarse_gate, skip_loop_filter=cfg.skip_loop_filter,
        threads=cfg.threads, transitions=cfg.transitions,
        transition=TransitionParams(min_change=cfg.transition_min_change, ratio=cfg.transition_ratio),
    )


