"""Overlays drawn on top of the picture: channel logos (bugs), subtitles, news tickers.

Persistent structure (logos, ticker bands). A pixel of an overlay with opacity ``a`` is
``a * logo + (1 - a) * scene``: the logo's edges are weakened, never removed, and they keep
their place and their orientation while the scene under them moves. Over ``per_s`` frames a
second (at least ``min_frames``, at most ``max_frames``) the analyser keeps the luma gradient
of every sampled frame (Sobel, at the analysis width) and, per pixel, the mean gradient
vector ``m`` and how often the luma changed by more than ``change_thr`` between samples. A
pixel is *persistent* when ``|m| >= grad_min`` and its gradient points along ``m`` (projection
``>= max(15, 0.4 |m|)``) in ``>= persist`` of the frames where its neighbourhood is not flat,
and in ``>= min_seen`` of all frames: a moving scene edge fails that, a semi-transparent logo
edge passes (frames where a white logo vanishes over a white wall neither support nor
contradict it). Persistent pixels form blobs (letters joined by a small dilation); a blob's
box is the dense core of its row/column profiles (thin scene fragments that touch it are cut
off). A blob is a logo when

* it sits near the border (its centre within ``corner`` of an edge, full credit within
  2/3 of that): logos live in corners and along edges, scene objects anywhere;
* its surroundings (the box grown by its own size, at least 10 % of the width) *change*:
  mean fraction of sample intervals in which a pixel changed ramps 0 -> 1 over
  ``ctx_moving``;
* its surroundings are *not* persistent themselves: the fraction of textured surrounding
  pixels that are persistent in >= 90 % of all frames ramps 1 -> 0 over ``ctx_persist``. A
  static or near-frozen scene (a tree, a skyscraper, a launch pad) has persistent edges
  everywhere, so no blob of it is isolated; an animation's static drawn outline has
  persistent neighbours too;
* it has edges of both orientations (>= 10-20 % of the minority one: lines along a pan
  persist with one orientation), is dense (persistent pixels / box area 0.17 -> 0.25) and
  crisp (|Laplacian| of the temporal mean over the persistent gradient 0.07 -> 0.1: drawn
  edges are sharp, a smooth shading that a small jitter leaves in place is not).

``logo confidence = size * position * orientations * density * crispness *
surroundings-change * isolation``. In a still scene
nothing separates an overlay from the scene: the confidence stays low and the kind ``none``.

A *ticker band* is a full-width persistent horizontal edge in the bottom 35 % (or top 20 %)
of the frame with a band under it (4-15 % of the height) whose content keeps changing and
carries text strokes (>= 10-15 % of its pixels with a strong mean horizontal gradient).

Text (needs the OCR analyser, passed as ``ocr``): OCR boxes in the bottom 40 % (or top 25 %),
horizontally centred, at most two lines a frame, in a clip whose other text is sparse, are
subtitles when the recognised text changes over the clip (OCR variants of one line count as
one); one line held over moving footage counts when the persistent analysis also sees it, as a
subtitle at the bottom and as a logo (a title bug) at the top; boxes in such a band that reach a
side of the frame with changing text and span half the width (a quarter when they move
sideways: text scrolling in) are a ticker. Small text held at one corner place in >= 75 % of the OCR
frames, with little other text in the clip, is a logo at ``corner_text_prob`` (0.6) even when
nothing moves under it (a static camera): a sign filmed in a corner of a still shot looks
the same, hence the medium confidence. A wide, flat
persistent blob at the bottom centre (the shared baseline of changing lines) is a subtitle too.

When a ticker is found, a subtitle candidate inside its band is dropped (scrolling text
passes the centre); when OCR reads subtitles, their union box replaces a persistent blob on
them (the baseline shared by the lines, a line held for a while).

Columns: ``overlay_prob`` (heuristic confidence in [0, 1], not calibrated), ``overlay_kind``
(``logo`` | ``subtitle`` | ``ticker`` | ``none``: the most confident finding when it reaches
``min_prob``) and ``overlay_box`` (its box, normalised x, y, w, h, origin top-left; pixels =
x * width, y * height of the clip; null when the kind is ``none``).
"""

from __future__ import annotations

import difflib
from typing import Any

import cv2
import numpy as np

from curate.analysers.frames import Frame, evenly_spaced


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def _union(boxes: list[dict[str, Any]]) -> dict[str, float]:
    x0 = min(b["x"] for b in boxes)
    y0 = min(b["y"] for b in boxes)
    x1 = max(b["x"] + b["w"] for b in boxes)
    y1 = max(b["y"] + b["h"] for b in boxes)
    return {"x": float(x0), "y": float(y0), "w": float(x1 - x0), "h": float(y1 - y0)}


class OverlayAnalyser:
    name = "overlay"

    def __init__(self, per_s: float = 4.0, max_frames: int = 24, min_frames: int = 8, grad_min: float = 30.0,
                 persist: float = 0.9, min_seen: float = 0.8, change_thr: int = 4,
                 ctx_moving: tuple[float, float] = (0.15, 0.4), ctx_persist: tuple[float, float] = (0.2, 0.5),
                 min_px: int = 12, full_px: int = 40,
                 corner: float = 0.3, max_box: tuple[float, float] = (0.45, 0.35), min_prob: float = 0.5,
                 corner_text_prob: float = 0.6, ocr: Any = None) -> None:
        self.per_s, self.max_frames, self.min_frames = per_s, max_frames, min_frames
        self.grad_min, self.persist, self.change_thr = grad_min, persist, change_thr
        self.scene_persist, self.min_seen = max(persist, 0.9), min_seen
        self.ctx_moving, self.ctx_persist = ctx_moving, ctx_persist
        self.min_px, self.full_px, self.corner, self.max_box = min_px, full_px, corner, max_box
        self.min_prob, self.ocr, self.corner_text_prob = min_prob, ocr, corner_text_prob

    def start(self, n: int, fps: float) -> set[int]:
        k = int(min(n, self.max_frames, max(self.min_frames, round(n / (fps or 25.0) * self.per_s))))
        self.frames = set(evenly_spaced(n, k))
        self.gx: list[np.ndarray] = []
        self.gy: list[np.ndarray] = []
        self.churn: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.prev: np.ndarray | None = None
        return self.frames

    def update(self, i: int, frame: Frame) -> None:
        if i not in self.frames:
            return
        g = frame.gray
        b = cv2.GaussianBlur(g, (3, 3), 0)
        self.gx.append(cv2.Sobel(b, cv2.CV_16S, 1, 0))
        self.gy.append(cv2.Sobel(b, cv2.CV_16S, 0, 1))
        if self.churn is None:
            self.churn = np.zeros(g.shape, np.uint16)
            self.mean = np.zeros(g.shape, np.float32)
        if self.mean.shape == g.shape:
            self.mean += g
        if self.prev is not None and self.prev.shape == g.shape:
            self.churn += cv2.absdiff(g, self.prev) > self.change_thr
        self.prev = g

    # -- persistent structure ---------------------------------------------------------------------
    def _maps(self) -> tuple[np.ndarray, ...]:
        gx = np.stack(self.gx).astype(np.float32)
        gy = np.stack(self.gy).astype(np.float32)
        mx, my = gx.mean(0), gy.mean(0)
        p = np.hypot(mx, my)
        ux, uy = mx / (p + 1e-6), my / (p + 1e-6)
        proj = gx * ux + gy * uy
        mag = np.hypot(gx, gy)
        support = (proj > np.maximum(15.0, 0.4 * p)).sum(0)
        # frames where the neighbourhood is flat neither support nor contradict an edge: a white
        # semi-transparent logo vanishes over a white wall and comes back
        seen = (mag >= np.maximum(10.0, 0.3 * p)).sum(0)
        persist = support / np.maximum(1, seen)
        textured = mag.mean(0) > 20.0
        strokes = np.abs(gx).mean(0) > 40.0  # vertical strokes (text) present on average
        change = self.churn.astype(np.float32) / max(1, len(self.gx) - 1)
        steady = (persist >= self.persist) & (support >= self.min_seen * len(self.gx))
        fixed = (support >= self.scene_persist * len(self.gx))
        mean = cv2.GaussianBlur(self.mean / len(self.gx), (3, 3), 0)
        sharp = np.abs(cv2.Laplacian(mean, cv2.CV_32F)) / (p + 1e-6)
        return mx, my, steady & (p >= self.grad_min), fixed & textured, textured, change, sharp, strokes

    def _logos(self, mx: np.ndarray, my: np.ndarray, pers: np.ndarray, scene_pers: np.ndarray, textured: np.ndarray,
               change: np.ndarray, sharp: np.ndarray) -> list[dict[str, Any]]:
        h, w = pers.shape
        cand = pers.astype(np.uint8)
        grown = cv2.dilate(cand, np.ones((5, 5), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        out = []
        for k in range(1, count):
            x, y, bw, bh, _ = stats[k]
            sel = (labels[y:y + bh, x:x + bw] == k) & (cand[y:y + bh, x:x + bw] > 0)
            if int(sel.sum()) < self.min_px:
                continue
            (r0, r1), (c0, c1) = _core(sel.sum(1)), _core(sel.sum(0))  # drop thin scene fragments attached
            x, y, bw, bh = x + c0, y + r0, c1 - c0 + 1, r1 - r0 + 1
            sel = sel[r0:r1 + 1, c0:c1 + 1]
            npx = int(sel.sum())
            if npx < self.min_px or bw > self.max_box[0] * w or bh > self.max_box[1] * h:
                continue
            vert = float((np.abs(mx[y:y + bh, x:x + bw]) > np.abs(my[y:y + bh, x:x + bw]))[sel].mean())
            density = npx / float((bw + 4) * (bh + 4))  # the box of the dilated blob
            crisp = float(sharp[y:y + bh, x:x + bw][sel].mean())
            x0, x1 = max(0, x - 1), min(w, x + bw + 1)  # edges respond +-1 px around a boundary
            y0, y1 = max(0, y - 1), min(h, y + bh + 1)
            cx, cy = (x0 + x1) / 2 / w, (y0 + y1) / 2 / h
            edge = min(cx, 1 - cx, cy, 1 - cy)
            pos = 1.0 - _ramp(edge, 2 * self.corner / 3, self.corner)
            if pos <= 0:
                continue
            m = max(bw, bh, int(0.1 * w))
            cx0, cy0, cx1, cy1 = max(0, x - m), max(0, y - m), min(w, x + bw + m), min(h, y + bh + m)
            ctx = labels[cy0:cy1, cx0:cx1] != k
            tex = textured[cy0:cy1, cx0:cx1] & ctx
            iso_px = float(scene_pers[cy0:cy1, cx0:cx1][tex].sum()) / max(1, int(tex.sum()))
            moving = float(change[cy0:cy1, cx0:cx1][ctx].mean())
            box = {"x": x0 / w, "y": y0 / h, "w": (x1 - x0) / w, "h": (y1 - y0) / h}
            flat = box["w"] > 3 * box["h"] and abs(cx - 0.5) < 0.15 and cy > 0.7  # text baseline at the bottom centre
            mixed = 1.0 if flat else _ramp(min(vert, 1.0 - vert), 0.1, 0.2)  # lines along a pan have one orientation
            prob = (_ramp(npx, self.min_px, self.full_px) * pos * mixed * _ramp(density, 0.17, 0.25)
                    * _ramp(crisp, 0.07, 0.1)
                    * _ramp(moving, *self.ctx_moving) * (1.0 - _ramp(iso_px, *self.ctx_persist)))
            out.append({"prob": prob, "kind": "subtitle" if flat else "logo",
                        "box": {k2: float(v) for k2, v in box.items()}})
        return out

    @staticmethod
    def _merge(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Join the best logo blob with confident logo blobs right next to it (a bug split in parts)."""
        logos = sorted((f for f in found if f["kind"] == "logo"), key=lambda f: -f["prob"])
        if len(logos) < 2 or logos[0]["prob"] <= 0:
            return found
        best = dict(logos[0])
        for f in logos[1:]:
            b, o = best["box"], f["box"]
            gap = 0.5 * max(b["h"], o["h"])
            near = (o["x"] <= b["x"] + b["w"] + gap and b["x"] <= o["x"] + o["w"] + gap
                    and o["y"] <= b["y"] + b["h"] + gap and b["y"] <= o["y"] + o["h"] + gap)
            if near and f["prob"] >= 0.5 * best["prob"]:
                best["box"] = _union([b, o])
        return [best if f is logos[0] else f for f in found]

    def _band(self, mx: np.ndarray, my: np.ndarray, pers: np.ndarray, change: np.ndarray,
              strokes: np.ndarray) -> dict[str, Any] | None:
        """A full-width persistent horizontal edge near the bottom/top with changing content beside it."""
        h = pers.shape[0]
        horiz = pers & (np.abs(my) > np.abs(mx))
        rowfrac = horiz.mean(1)
        best = None
        for y in np.nonzero(rowfrac >= 0.6)[0]:
            if y >= 0.65 * h:
                y0, y1 = int(y), min(h, int(y) + int(0.15 * h))
                below = np.nonzero(rowfrac[y0 + 3:y1] >= 0.6)[0]
                y1 = y0 + 3 + int(below[0]) + 1 if len(below) else (h if h - y0 <= 0.15 * h else -1)
            elif y <= 0.2 * h:
                y1 = int(y) + 1
                above = np.nonzero(rowfrac[max(0, y1 - 1 - int(0.15 * h)):y1 - 3] >= 0.6)[0]
                y0 = max(0, y1 - 1 - int(0.15 * h)) + int(above[0]) if len(above) else (0 if y1 <= 0.15 * h else -1)
            else:
                continue
            if y0 < 0 or y1 < 0 or y1 - y0 < 0.04 * h:
                continue
            inside = float(change[y0 + 1:y1 - 1].mean()) if y1 - y0 > 2 else 0.0
            text = float(strokes[y0 + 1:y1 - 1].mean()) if y1 - y0 > 2 else 0.0
            prob = _ramp(inside, 0.1, 0.25) * _ramp(text, 0.1, 0.15)  # changing, and text strokes in it
            if prob > 0 and (best is None or prob > best["prob"]):
                best = {"prob": prob, "kind": "ticker", "box": {"x": 0.0, "y": y0 / h, "w": 1.0, "h": (y1 - y0) / h}}
        return best

    # -- text -------------------------------------------------------------------------------------
    def _text(self, regions: list[dict[str, Any]], logos: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not regions:
            return []
        frames = sorted({r["frame"] for r in regions})
        n_frames = max(1, len(self.ocr.frames)) if self.ocr is not None else max(1, len(frames))
        band = [r for r in regions if r["h"] <= 0.2 and (r["y"] + r["h"] / 2 >= 0.6 or r["y"] + r["h"] / 2 <= 0.25)]
        other = len(regions) - len(band)
        out = []
        subs = [r for r in band if abs(r["x"] + r["w"] / 2 - 0.5) <= 0.1 and r["w"] < 0.9]
        per_frame = max((sum(r["frame"] == f for r in subs) for f in frames), default=0)
        if subs and per_frame <= 2 and other / n_frames <= 2:
            texts = {r["text"] for r in subs}
            box = _union(subs)
            if _distinct(texts) >= 2:
                prob = 0.95 if len({r["frame"] for r in subs}) >= 2 else 0.7
                out.append({"prob": prob, "kind": "subtitle", "box": box, "ocr": True})
            else:  # one line held: a caption (bottom) or a title bug (top) when the persistent analysis sees it
                seen = [lg["prob"] for lg in logos if _overlap(lg["box"], box) > 0.3]
                top = box["y"] + box["h"] / 2 < 0.5
                out.append({"prob": 0.8 * max(seen, default=0.0), "kind": "logo" if top else "subtitle", "box": box})
        tick = [r for r in band if r["w"] >= 0.05]
        if tick:
            rows: dict[int, list[dict[str, Any]]] = {}
            for r in tick:
                rows.setdefault(int((r["y"] + r["h"] / 2) * 20), []).append(r)
            for row in rows.values():
                u = _union(row)
                touches = u["x"] <= 0.03 or u["x"] + u["w"] >= 0.97
                moving = max(r["x"] for r in row) - min(r["x"] for r in row) >= 0.05
                centred = all(abs(r["x"] + r["w"] / 2 - 0.5) <= 0.1 for r in row)
                changing = len({r["text"] for r in row}) >= 2 and len({r["frame"] for r in row}) >= 2
                if touches and changing and not centred and (u["w"] >= 0.5 or (moving and u["w"] >= 0.25)):
                    out.append({"prob": 0.9, "kind": "ticker", "box": {"x": 0.0, "y": u["y"], "w": 1.0, "h": u["h"]}})
        out += self._corner_text(regions, logos, n_frames)
        return out

    def _corner_text(self, regions: list[dict[str, Any]], blobs: list[dict[str, Any]],
                     n_frames: int) -> list[dict[str, Any]]:
        """Small text held in the same corner place through the clip, in a clip with little other
        text: a channel bug even when nothing moves under it (a static camera), at a medium
        confidence (``corner_text_prob``): a sign filmed in a corner of a still shot looks the same."""
        corner = [r for r in regions if r["w"] <= 0.3 and r["h"] <= 0.15
                  and min(r["x"] + r["w"] / 2, 1 - r["x"] - r["w"] / 2) <= 0.2
                  and min(r["y"] + r["h"] / 2, 1 - r["y"] - r["h"] / 2) <= 0.2]
        out = []
        for r in corner:
            same = [q for q in corner if _overlap(q, r) >= 0.5]
            held = len({q["frame"] for q in same})
            others = sum(1 for q in regions if _overlap(q, r) < 0.5)
            if held < max(3, 0.75 * n_frames) or others / n_frames > 1:
                continue
            box = _union(same)
            for b in blobs:  # the drawn box / ring around the letters, when its edges persist
                small = b["box"]["w"] * b["box"]["h"] <= 4 * box["w"] * box["h"]
                if b["kind"] == "logo" and small and _overlap(b["box"], box) >= 0.8:
                    box = _union([box, b["box"]])
            out.append({"prob": self.corner_text_prob, "kind": "logo", "box": box})
            break
        return out

    def result(self) -> dict[str, Any]:
        if len(self.gx) < 4 or self.churn is None or len({g.shape for g in self.gx}) != 1:
            return {"overlay_prob": None, "overlay_kind": None, "overlay_box": None}
        mx, my, pers, scene_pers, textured, change, sharp, strokes = self._maps()
        found = self._logos(mx, my, pers, scene_pers, textured, change, sharp)
        found = self._merge(found)
        band = self._band(mx, my, pers, change, strokes)
        if band is not None:
            found.append(band)
        if self.ocr is not None:
            found += self._text(self.ocr.finish().get("ocr_regions") or [], found)
        self.gx, self.gy = [], []
        if not found:
            return {"overlay_prob": 0.0, "overlay_kind": "none", "overlay_box": None}
        tickers = [f for f in found if f["kind"] == "ticker" and f["prob"] >= self.min_prob]
        for f in found:  # text scrolling through the centre of a ticker band is not a subtitle
            if f["kind"] == "subtitle" and any(_overlap(f["box"], t["box"]) > 0.3 for t in tickers):
                f["prob"] = 0.0
        read = [f for f in found if f.get("ocr") and f["prob"] >= self.min_prob]
        for f in found:  # the OCR lines' union box is the whole subtitle area; a blob on it is a part of it
            if f["kind"] in ("subtitle", "logo") and not f.get("ocr") and any(_overlap(f["box"], r["box"]) > 0.3
                                                                              for r in read):
                f["prob"] = 0.0
        best = max(found, key=lambda f: f["prob"])
        if best["prob"] < self.min_prob:
            return {"overlay_prob": float(best["prob"]), "overlay_kind": "none", "overlay_box": None}
        return {"overlay_prob": float(best["prob"]), "overlay_kind": best["kind"], "overlay_box": best["box"]}


def _distinct(texts: set[str]) -> int:
    """Number of different lines among OCR strings, reading variants of one line as one
    ('SPORT+' / 'SPORT', 'CH5HD' / 'CH 5 HD': similarity >= 0.6 ignoring spaces and case)."""
    groups: list[str] = []
    for t in sorted(texts, key=len, reverse=True):
        k = "".join(t.lower().split())
        if k and not any(k in g or difflib.SequenceMatcher(None, k, g).ratio() >= 0.6 for g in groups):
            groups.append(k)
    return len(groups)


def _core(profile: np.ndarray, frac: float = 0.2) -> tuple[int, int]:
    """First and last index of the run around the profile's peak that stays >= frac * peak
    (gaps of up to 2 bins allowed: the spaces between letters)."""
    peak = int(np.argmax(profile))
    keep = profile >= frac * profile[peak]
    lo = hi = peak
    while lo > 0 and keep[max(0, lo - 3):lo].any():
        lo -= 1
    while hi < len(profile) - 1 and keep[hi + 1:hi + 4].any():
        hi += 1
    return lo, hi


def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    """Intersection over the smaller box."""
    ix = max(0.0, min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]))
    iy = max(0.0, min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]))
    return ix * iy / max(1e-9, min(a["w"] * a["h"], b["w"] * b["h"]))
