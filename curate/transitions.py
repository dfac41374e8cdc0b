"""Gradual shot transitions (dissolves, fades through black, wipes) from tiny per-frame summaries.

Hard-cut detectors score consecutive frames, so a 0.5-2 s cross-dissolve, whose change is
spread over 12-50 frames, rarely stands out (AdaptiveDetector finds about a quarter to a half of
them on real footage). This detector looks at the frames the cut detector decodes anyway, at a
longer time scale and with no further decoding. Each analysed frame is summarised by an 8x8
grid of mean B, G, R values (192 bytes) and the standard deviation of its V channel
(contrast); that costs ~2-5 % of the coarse pass.

1. **Candidates** (per half-width ``h`` = 0.3, 0.6, 1.2 s): the grid change ``D`` between the
   frames at ``t - h`` and ``t + h`` must reach ``min_change`` and ``ratio`` x the change over
   the ``2h`` just before and just after (+ a noise floor). Steady motion, pans, timelapse
   and lighting drifts change as fast before and after as across ``t``.
2. **Extent** by a ramp fit: each frame's progress from the outgoing shot's mean grid
   (``t - 2h .. t - h``) to the incoming one's (``t + h .. t + 2h``) is projected on their
   difference and a ramp (0, linear, 1) is fitted by least squares over all (start, end);
   R^2 >= ``min_fit``. The transition is the frames after the ramp's last 0-frame up to the
   frame before its first 1-frame (frames not analysed in between -- the fast path skips
   non-reference frames -- are counted in, so the interval errs towards the shots).
3. **Shape tests**, which tell an edit from camera or subject motion:
   * no single step carries half of the change (a hard cut, left to the cut detector);
   * *dissolve*: the contrast dips (a blend of two unrelated pictures has less contrast than
     either: min V-std over the run <= ``dissolve_dip`` x the line between its ends), the
     cells progress together (median spread of the cells' progress <= ``dissolve_sync``),
     most progress values lie strictly between the two pictures (share near 0 or 1 <=
     ``dissolve_binary``; ~0.4 for an ideal dissolve, more for motion, whose cells overshoot)
     and the cells stay within [A, B] (``dissolve_between``);
   * *wipe*: every changing cell switches from A to B once (share of progress values near 0 or
     1 >= ``wipe_binary``), in spatial order (R^2 of switch time against cell position >=
     ``wipe_order``), staying within [A, B].
4. **Fades through black** separately, from the mean luma: a dip to near black
   (<= ``fade_black``, and <= ``fade_depth`` x both shots' level) that takes at least
   ``min_frames`` frames; it starts at the last frame within 10 % of the outgoing shot's level
   and ends at the first frame back within 10 % of the incoming one's. Fade-ins at the start
   and fade-outs at the end of a video are not transitions between shots and are left alone.

Overlapping detections are merged (their union). Limits (measured in docs/benchmarks.md):
wipes between similar-looking shots (same street) can be missed (few cells change enough to
order them), transitions longer than ~1.5 s between short shots may be cut short or missed,
and everything here is tuned on edited real footage (xfade), not on broadcast edits.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DEBUG: list | None = None  # set to a list to collect the shape measures of every ramp (development)
GRID = (8, 8)  # cells (w, h)
DESC_BYTES = GRID[0] * GRID[1] * 3


@dataclass(frozen=True)
class TransitionParams:
    scales_s: tuple[float, ...] = (0.3, 0.6, 1.2)  # half-widths h in seconds
    min_change: float = 20.0  # grid mean |dBGR| across the transition (0-255)
    ratio: float = 1.5  # candidates: D over the larger neighbouring change
    floor: float = 2.0  # added to the neighbouring change (noise)
    min_fit: float = 0.9  # R^2 of the ramp fit
    between_tol: float = 3.0  # grid units a cell may leave [A, B] by (noise)
    # dissolve: contrast dips, cells blend together and stay between the two pictures
    dissolve_dip: float = 0.93  # min V-std over the run / the line between its ends
    dissolve_binary: float = 0.58  # share of cell progress values < 0.2 or > 0.8 (0.4 for an ideal dissolve)
    dissolve_sync: float = 0.55  # median spread of the cells' progress
    dissolve_between: float = 0.25  # how far cells leave [A, B], over |B - A|
    # wipe: every changing cell switches from A to B once, in spatial order
    wipe_binary: float = 0.85
    wipe_order: float = 0.55  # R^2 of switch time ~ position
    wipe_between: float = 0.1
    max_step_share: float = 0.5
    min_frames: int = 3  # shorter runs are hard cuts
    min_s: float = 0.2  # and so are transitions shorter than this
    fade_black: float = 20.0  # mean luma (0-255) of the darkest frame of a fade through black
    fade_depth: float = 0.35  # ... and at most this fraction of both shots' luma
    fade_min_level: float = 35.0  # shots darker than this cannot fade "to black"
    fade_context_s: float = 0.5
    jump_window_s: float = 0.5  # static-camera jump cuts (jump_cuts)
    jump_min: float = 2.0
    jump_ratio: float = 6.0
    jump_static: float = 12.0
    flash_max_s: float = 0.4  # a cut whose picture comes back within this is a flash (cutdetect.drop_flashes)


@dataclass(frozen=True)
class Transition:
    start: int
    end: int
    kind: str

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "kind": self.kind}


def grid(bgr_small: np.ndarray) -> np.ndarray:
    """The 8x8x3 mean-colour grid of a frame (uint8, 192 values)."""
    return cv2.resize(bgr_small, GRID, interpolation=cv2.INTER_AREA).reshape(-1)


def spread(hsv_small: np.ndarray) -> float:
    """Standard deviation of the V channel of a small HSV frame (contrast: dips in a dissolve)."""
    return float(cv2.meanStdDev(np.ascontiguousarray(hsv_small[..., 2]))[1][0, 0])


def detect(idx: np.ndarray, desc: np.ndarray, spreads: np.ndarray, fps: float, n: int,
           p: TransitionParams = TransitionParams()) -> list[Transition]:
    """Gradual transitions from analysed frames ``idx`` (sorted frame indices) and their grids
    ``desc`` (len(idx) x 192); ``n`` = frame count of the video."""
    m = len(idx)
    if m < 8 or fps <= 0:
        return []
    g = desc.astype(np.float32)
    idx = np.asarray(idx, dtype=np.int64)
    found: list[tuple[int, int, str]] = []  # (last frame before, first frame after, kind): positions
    found += _fades(idx, g, fps, p)
    for s in p.scales_s:
        h = max(2, int(round(s * fps)))
        ka = _at_or_before(idx, idx - h)
        kb = _at_or_after(idx, idx + h)
        kaa = _at_or_before(idx, idx - 3 * h)
        kbb = _at_or_after(idx, idx + 3 * h)
        D = np.mean(np.abs(g[kb] - g[ka]), axis=1)
        P = np.mean(np.abs(g[ka] - g[kaa]), axis=1)
        N = np.mean(np.abs(g[kbb] - g[kb]), axis=1)
        ok = (D >= p.min_change) & (D >= p.ratio * (np.maximum(P, N) + p.floor))
        ok &= (idx - h >= 0) & (idx + h <= n - 1)
        for k, j in runs(ok):
            c = k + int(np.argmax(D[k:j + 1]))
            lo = int(_at_or_before(idx, np.array([idx[c] - 2 * h]))[0])
            hi = int(_at_or_after(idx, np.array([idx[c] + 2 * h]))[0])
            t = _ramp(idx, g, spreads, lo, int(ka[c]), int(kb[c]), hi, p)
            if t is not None:
                found.append(t)
    # overlapping detections (several scales, a fade also seen as a ramp): keep the union,
    # fade if any of them is one
    found.sort()
    merged: list[list] = []
    for a, b, kind in found:
        if merged and a < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            if kind == "fade":
                merged[-1][2] = "fade"
        else:
            merged.append([a, b, kind])
    out = []
    for a, b, kind in merged:
        start, end = int(idx[a]) + 1, int(idx[b]) - 1
        if end - start + 1 >= max(p.min_frames, int(round(p.min_s * fps))):
            out.append(Transition(start, end, kind))
    return out


def runs(mask: np.ndarray):
    """(first, last) index of every run of True in ``mask``, in order."""
    i, n = 0, len(mask)
    while i < n:
        if not mask[i]:
            i += 1
            continue
        a = i
        while i < n and mask[i]:
            i += 1
        yield a, i - 1


def _at_or_before(idx: np.ndarray, frames: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(idx, frames, side="right") - 1, 0, len(idx) - 1)


def _at_or_after(idx: np.ndarray, frames: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(idx, frames, side="left"), 0, len(idx) - 1)


def _ramp(idx: np.ndarray, g: np.ndarray, spreads: np.ndarray, lo: int, ka: int, kb: int, hi: int,
          p: TransitionParams) -> tuple[int, int, str] | None:
    """Fit a ramp (flat at the outgoing picture, linear, flat at the incoming one) to the
    progress of the frames lo..hi from the outgoing shot's mean grid (lo..ka) to the incoming
    one's (kb..hi); return (last position before, first position after, kind) when it fits."""
    if ka <= lo or hi <= kb or kb - ka < 2:
        return None
    A = g[lo:ka + 1].mean(axis=0)
    B = g[kb:hi + 1].mean(axis=0)
    span = B - A
    d2 = float(np.dot(span, span))
    if d2 <= 0 or float(np.mean(np.abs(span))) < p.min_change * 0.7:
        return None
    alpha = (g[lo:hi + 1] - A) @ span / d2
    x = idx[lo:hi + 1].astype(np.float64)
    r = len(x)
    # every (s, e): alpha ~ 0 up to x[s], linear to 1 at x[e], 1 after
    s_i, e_i = np.triu_indices(r, 1)
    pred = np.clip((x[None, :] - x[s_i, None]) / (x[e_i, None] - x[s_i, None]), 0.0, 1.0)
    sse = ((pred - alpha[None, :]) ** 2).sum(axis=1)
    best = int(np.argmin(sse))
    s, e = int(s_i[best]), int(e_i[best])
    sst = float(((alpha - alpha.mean()) ** 2).sum())
    if sst <= 0 or 1.0 - float(sse[best]) / sst < p.min_fit:
        return None
    a, b = lo + s, lo + e
    steps = np.mean(np.abs(np.diff(g[a:b + 1], axis=0)), axis=1)
    if len(steps) < 2 or float(steps.max()) > p.max_step_share * float(steps.sum()):
        return None  # one step carries the change: a hard cut (or a flash)
    seg = g[a:b + 1]
    lo_v, hi_v = np.minimum(A, B), np.maximum(A, B)
    outside = np.maximum(0.0, np.maximum(lo_v - seg, seg - hi_v) - p.between_tol)
    between = float(outside.mean(axis=1).max()) / float(np.mean(np.abs(span)))
    sync, binary, order = _shape(seg, A, B)
    sp = spreads[a:b + 1].astype(np.float64)
    lin = sp[0] + (sp[-1] - sp[0]) * (np.arange(len(sp)) / max(1, len(sp) - 1))
    dip = float(np.min(sp[1:-1] / np.maximum(lin[1:-1], 1.0))) if len(sp) > 2 else 1.0
    if DEBUG is not None:
        DEBUG.append((int(idx[a]), int(idx[b]), round(1.0 - float(sse[best]) / sst, 3), round(between, 3),
                      round(sync, 3), round(binary, 3), round(order, 3), round(dip, 3)))
    if binary >= p.wipe_binary and order >= p.wipe_order and between <= p.wipe_between:
        return a, b, "wipe"
    if dip <= p.dissolve_dip and binary <= p.dissolve_binary and sync <= p.dissolve_sync \
            and between <= p.dissolve_between:
        return a, b, "dissolve"
    return None


def _fades(idx: np.ndarray, g: np.ndarray, fps: float, p: TransitionParams) -> list[tuple[int, int, str]]:
    """Fades through black: the mean luma dips from both neighbouring shots' level to near
    black and recovers. Extent: from the last frame still at the outgoing shot's level to the
    first frame back at the incoming shot's level."""
    luma = g.reshape(len(g), -1, 3) @ np.array([0.114, 0.587, 0.299], np.float32)  # BGR
    lm = luma.mean(axis=1)
    out = []
    w = max(3, int(round(p.fade_context_s * fps)))
    dark = lm <= p.fade_black
    m = len(lm)
    for k, j in runs(dark):
        # walk out of the dip on each side while the luma keeps rising
        a = k
        while a - 1 >= 0 and lm[a - 1] > lm[a] + 0.5:
            a -= 1
        b = j
        while b + 1 < m and lm[b + 1] > lm[b] + 0.5:
            b += 1
        if a == 0 or b == m - 1:
            continue  # fade-in at the start / fade-out at the end: no shot on one side
        before = lm[_at_or_before(idx, np.array([idx[a] - w]))[0]:a + 1]
        after = lm[b:_at_or_after(idx, np.array([idx[b] + w]))[0] + 1]
        la, lb = float(np.median(before)), float(np.median(after))
        low = float(lm[a:b + 1].min())
        if min(la, lb) < p.fade_min_level or low > p.fade_depth * min(la, lb):
            continue
        # the walk may have followed the shots' own luma drift: the fade starts at the last
        # frame still within 10 % of the outgoing level, ends at the first back within 10 %
        while a + 1 <= j and lm[a + 1] >= la - 0.1 * (la - low):
            a += 1
        while b - 1 > j and lm[b - 1] >= lb - 0.1 * (lb - low):
            b -= 1
        # the ramps must take time: a cut to black and back is two hard cuts
        if idx[b] - idx[a] < p.min_frames:
            continue
        out.append((a, b, "fade"))
    return out


def _shape(seg: np.ndarray, A: np.ndarray, B: np.ndarray) -> tuple[float, float, float]:
    """(sync, binary, order) of the frames between the two pictures, on the cells that change:
    sync = median over frames of the spread (std) of the cells' progress (0 = all cells blend
    together: a dissolve); binary = share of progress values near 0 or 1 (a wipe: each cell is
    either still A or already B); order = R^2 of the cells' switch times against their
    position (a wipe sweeps in one direction)."""
    span = B - A
    big = np.abs(span) > 12
    if big.sum() < 8 or len(seg) < 3:
        return 1.0, 0.0, 0.0
    inner = seg[1:-1] if len(seg) > 3 else seg
    prog = np.clip((inner[:, big] - A[big]) / span[big], -1.0, 2.0)
    sync = float(np.median(np.std(prog, axis=1)))
    binary = float(np.mean((prog < 0.2) | (prog > 0.8)))
    # switch time per cell: frames (of the inner run) whose progress is still < 0.5
    t = (prog < 0.5).sum(axis=0).astype(np.float64)
    cells = np.nonzero(big)[0] // 3
    x, y = (cells % GRID[0]).astype(np.float64), (cells // GRID[0]).astype(np.float64)
    X = np.c_[np.ones_like(x), x, y]
    coef, *_ = np.linalg.lstsq(X, t, rcond=None)
    sst = float(((t - t.mean()) ** 2).sum())
    order = 1.0 - float(((X @ coef - t) ** 2).sum()) / sst if sst > 0 else 0.0
    return sync, binary, order


def _kind(seg: np.ndarray, A: np.ndarray, B: np.ndarray) -> str:
    luma = seg.mean(axis=1)
    lo, hi = float(luma.min()), float(luma.max())
    ends_lo, ends_hi = min(A.mean(), B.mean()), max(A.mean(), B.mean())
    if lo < 40 and lo < 0.6 * ends_lo:
        return "fade"
    if hi > 215 and hi > ends_hi + 0.4 * (255 - ends_hi):
        return "fade"
    mid = seg[len(seg) // 2]
    span = B - A
    big = np.abs(span) > 15
    if big.sum() < 6:
        return "gradual"
    prog = np.clip((mid - A)[big] / span[big], -0.5, 1.5)
    if float(np.std(prog)) < 0.25:
        return "dissolve"
    if float(np.mean((prog < 0.15) | (prog > 0.85))) > 0.5:
        return "wipe"
    return "gradual"


def jump_cuts(idx: np.ndarray, desc: np.ndarray, fps: float, p: TransitionParams = TransitionParams()) -> list[int]:
    """Hard cuts the content score misses because most of the picture stays: a static camera
    whose subjects jump (the same street, the people elsewhere).

    At each analysed frame ``t`` the mean grids of the ``jump_window_s`` before and after are
    compared cell by cell. A cell counts when it steps -- the change between the two means
    and the change between the two frames either side of ``t`` are both well above the cell's
    own frame-to-frame jitter inside the windows. The score (mean over cells of the clean step)
    must reach ``jump_min`` and ``jump_ratio`` x the largest score within three windows (other
    than the step's own window: walking people and drifting light step everywhere alike), and
    the median cell must change by at most ``jump_static`` between the two frames (most of the
    picture stays: a moving camera's changes are left to the content score). Returns the first
    analysed frame after each jump."""
    m = len(idx)
    if m < 6 or fps <= 0:
        return []
    g = desc.astype(np.float32)
    idx = np.asarray(idx, dtype=np.int64)
    w = max(2, int(round(p.jump_window_s * fps)))
    cs = np.vstack([np.zeros((1, g.shape[1]), np.float32), np.cumsum(g, axis=0)])
    step = np.zeros_like(g)
    step[1:] = np.abs(np.diff(g, axis=0))
    cst = np.vstack([np.zeros((1, g.shape[1]), np.float32), np.cumsum(step, axis=0)])
    lo = np.searchsorted(idx, idx - w, side="left")  # window before: positions lo..k-1
    hi = np.searchsorted(idx, idx + w, side="left")  # window after: positions k..hi-1
    k = np.arange(m)
    ok = (k - lo >= 2) & (hi - k >= 2)
    z = np.zeros(m, np.float32)
    med = np.full(m, np.inf, np.float32)
    for j in np.nonzero(ok)[0]:
        a, b = int(lo[j]), int(hi[j])
        m1 = (cs[j] - cs[a]) / (j - a)
        m2 = (cs[b] - cs[j]) / (b - j)
        # jitter: mean frame-to-frame change inside each window (steps a+1..j-1 and j+1..b-1)
        v1 = (cst[j] - cst[a + 1]) / max(1, j - a - 1)
        v2 = (cst[b] - cst[j + 1]) / max(1, b - j - 1)
        clean = np.minimum(np.abs(m2 - m1), step[j]) - 2.0 * (v1 + v2) - 2.0
        z[j] = float(np.maximum(clean, 0.0).mean())
        med[j] = float(np.median(step[j]))
    out = []
    for j in np.nonzero(z >= p.jump_min)[0]:
        near = (np.abs(idx - idx[j]) <= 3 * w) & (np.abs(idx - idx[j]) >= w)
        base = float(z[near].max()) if near.any() else 0.0
        if z[j] >= p.jump_ratio * (base + 0.05) and med[j] <= p.jump_static:
            out.append(int(idx[j]))
    return out
