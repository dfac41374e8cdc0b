"""Build the real-footage evaluation set: ground-truth case videos + ``truth.json``.

    python benchmarks/eval/build.py --out /tmp/eval-cases            # full set (~60 videos)
    python benchmarks/eval/build.py --out /tmp/eval-small --small    # 10 cases from bikes.mp4 only (offline, tests)

Every case is edited with ffmpeg out of real camera footage (:mod:`footage`: the bundled
samples and footage that ships in Debian packages; no lavfi patterns). Source stretches are
first normalised to 25 fps and the case's frame size (``fps=25,scale,crop``; sources filmed at
10/15/20 fps get duplicated frames, as when such footage is delivered at 25 fps), then cut,
joined, blended or overlaid with known frame indices, so the truth is exact by construction:

* ``cuts`` -- hard cuts between different shots; similar-looking cuts (the same scene far
  apart in time: static-camera jump cuts on vtest/ball, city_0 vs city_1, cockatoo), dark-to-
  dark cuts (both sides darkened with ``eq``); xfade dissolves (``fade``), fades through black
  (``fadeblack``) and wipes of 0.5-1.0 s; gradual-only and mixed videos. A hard cut is the
  first frame of the new shot (start = end); a gradual transition is its first and last
  blended frame, inclusive (xfade's first transition frame is still pure A).
* ``overlay`` -- semi-transparent logos (three designs: boxed bug, text on a coloured bar,
  round emblem; four corners; opacity 0.4-0.9), changing burnt-in subtitles (one line a
  second, bottom centre, with and without a box) and a scrolling news ticker, over handheld
  and over static-camera footage, each with a ``clean`` twin (same footage, no overlay).
  Logos/subtitles/tickers are PNGs with alpha drawn with PIL (DejaVu Sans Bold) and put on
  with ``overlay``, so their boxes are exact. Hard negatives (kind none): near-frozen tree
  texture, city timelapse, launch pad, a screencast (scene text, not an overlay), animation.
* ``dedup`` -- re-encode (other codec/CRF/container), 0.5x resize, start trimmed by 0.5/1 s,
  mirror; hard negatives: the same scene at another moment.
* ``vfr`` / ``rotation`` -- frame rate 25 -> 10 -> 50 fps mid-file with real timestamps;
  a 90 deg display matrix on a stream copy.
* ``static`` -- a 10 fps camera delivered at 25 fps (duplicated frames, real motion: not
  frozen); a still frame held for seconds (frozen).
* ``camera`` -- pans, tilts and zooms rendered with sub-pixel warps (OpenCV) over static-camera
  footage: exact content motion in px/frame at 256 px width and zoom per frame.
* ``tiny`` -- a 16-frame 160x90 video and a 1-frame video (0 clips; a reason is expected).

``truth.json`` lists every case (file, size, frames, the source segments it is made of, and
its class-specific truth) plus the designed duplicate pairs and hard negatives. The builder is
deterministic (fixed fonts, no randomness) and uses ``-preset veryfast``; nothing it writes is
committed. ``score.py`` runs the pipeline over the folder and scores it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from footage import SHOTS, fetch  # noqa: E402

FPS = 25
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
SHOT = {s.name: s for s in SHOTS}


def ffmpeg(args: list[str]) -> None:
    r = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)}\n{r.stderr[-2000:]}")
    if "error while decoding" in r.stderr:  # a damaged source frame would poison the truth
        raise RuntimeError(f"ffmpeg {' '.join(args)}: decode errors\n{r.stderr[-1000:]}")


def count_frames(path: Path) -> int:
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                        "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
                       capture_output=True, text=True, check=True)
    return int(r.stdout.strip().split(",")[0])


@dataclass
class Seg:
    """A normalised stretch of one source: ``n`` frames at 25 fps and the case's size."""

    path: Path
    source: str
    start_s: float
    n: int
    transform: str = ""

    @property
    def end_s(self) -> float:
        return self.start_s + self.n / FPS


@dataclass
class Case:
    name: str
    group: str
    file: str
    width: int
    height: int
    num_frames: int
    fps: float = FPS
    tags: list[str] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[dict[str, Any]] | None = field(default_factory=list)  # None = unknown
    overlays: list[dict[str, Any]] = field(default_factory=list)
    twin_of: str | None = None
    frozen: list[dict[str, int]] = field(default_factory=list)
    camera: dict[str, Any] | None = None
    vfr: dict[str, Any] | None = None
    rotation: int = 0
    display_size: list[int] | None = None
    expect: dict[str, Any] | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["duration_s"] = round(self.num_frames / self.fps, 6) if self.vfr is None else self.vfr["duration_s"]
        return d


class Builder:
    def __init__(self, out: Path, work: Path, sources: dict[str, Path]) -> None:
        self.out, self.work, self.src = out, work, sources
        self.cases: dict[str, Case] = {}
        self.pairs: list[dict[str, str]] = []
        self.negatives: list[dict[str, str]] = []
        self._segs: dict[str, Seg] = {}

    # -- normalised source stretches ------------------------------------------------------
    def seg(self, shot: str, start: float, dur: float, size: tuple[int, int], vf: str = "",
            transform: str = "") -> Seg:
        """``dur`` seconds of ``shot`` from ``start`` (seconds into the shot) at 25 fps, ``size``."""
        s = SHOT[shot]
        t0 = s.start_s + start
        n = int(round(dur * FPS))
        if t0 + n / FPS > s.end_s + 1e-6:
            raise ValueError(f"{shot}: {start}+{dur} s runs past the shot ({s.end_s - s.start_s:.2f} s)")
        key = f"{shot}_{t0:.3f}_{n}_{size[0]}x{size[1]}_{zlib.crc32(vf.encode()) if vf else 0}"
        if key in self._segs:
            return self._segs[key]
        path = self.work / f"{key}.mp4"
        w, h = size
        chain = (f"fps={FPS},scale={w}:{h}:force_original_aspect_ratio=increase:flags=bicubic,"
                 f"crop={w}:{h},setsar=1" + (f",{vf}" if vf else ""))
        # output-side -ss: decode from the start and drop frames before t0. Input seeking lands on
        # keyframes some sources mislabel (cockatoo.mp4 decodes to green garbage after a seek).
        ffmpeg(["-i", str(self.src[s.source]), "-ss", f"{t0:.4f}", "-vf", chain, "-frames:v", str(n),
                "-an", *X264, "-crf", "14", "-g", "25", str(path)])
        got = count_frames(path)
        if got != n:
            raise RuntimeError(f"{path.name}: {got} frames, expected {n}")
        seg = Seg(path, s.source, t0, n, transform or (vf and "filtered") or "")
        self._segs[key] = seg
        return seg

    def whole(self, source: str, size: tuple[int, int]) -> Seg:
        """A whole source file normalised (its own cuts stay where they are at 25 fps)."""
        key = f"whole_{source}_{size[0]}x{size[1]}"
        if key in self._segs:
            return self._segs[key]
        path = self.work / f"{key}.mp4"
        w, h = size
        ffmpeg(["-i", str(self.src[source]), "-vf", f"fps={FPS},scale={w}:{h}:force_original_aspect_ratio=increase,"
                f"crop={w}:{h},setsar=1", "-an", *X264, "-crf", "14", str(path)])
        seg = Seg(path, source, 0.0, count_frames(path))
        self._segs[key] = seg
        return seg

    # -- writing cases --------------------------------------------------------------------
    def encode(self, inputs: list[Path], graph: str | None, name: str, ext: str = "mp4",
               codec: list[str] | None = None, extra_out: list[str] | None = None) -> Path:
        path = self.out / f"{name}.{ext}"
        args: list[str] = []
        for p in inputs:
            args += ["-i", str(p)]
        if graph:
            args += ["-filter_complex", graph, "-map", "[out]"]
        args += ["-an", *(codec or [*X264, "-crf", "20"]), *(extra_out or [])]
        if ext in ("mp4", "mov"):
            args += ["-movflags", "+faststart"]
        ffmpeg([*args, str(path)])
        return path

    def join(self, name: str, group: str, segs: list[Seg], joins: list[tuple[str, float, str]],
             size: tuple[int, int], ext: str = "mp4", codec: list[str] | None = None,
             tags: list[str] | None = None) -> Case:
        """Segments joined by ``joins[i] = (transition, seconds, class)`` between seg i and i+1.

        transition ``cut`` = hard cut; otherwise an xfade transition name (fade, fadeblack,
        wipeleft, ...). Truth frames come from the frame counts, not from decoding.
        """
        assert len(joins) == len(segs) - 1
        parts = [f"[{i}:v]settb=1/{FPS},setpts=N/({FPS}*TB)[s{i}]" for i in range(len(segs))]
        cur, length = "s0", segs[0].n
        trans: list[dict[str, Any]] = []
        seg_rows = [self._seg_row(segs[0], 0)]
        for i, (kind, secs, cls) in enumerate(joins, start=1):
            lab = f"j{i}"
            if kind == "cut":
                parts.append(f"[{cur}][s{i}]concat=n=2:v=1:a=0,settb=1/{FPS}[{lab}]")
                trans.append({"kind": "cut", "start": length, "end": length, "class": cls})
                seg_rows.append(self._seg_row(segs[i], length))
                length += segs[i].n
            else:
                nd = int(round(secs * FPS))
                off = length - nd
                parts.append(f"[{cur}][s{i}]xfade=transition={kind}:duration={nd / FPS}:offset={off / FPS},"
                             f"settb=1/{FPS}[{lab}]")
                gk = "fade" if kind == "fadeblack" else "wipe" if kind.startswith(("wipe", "slide")) else "dissolve"
                trans.append({"kind": gk, "start": off + 1, "end": off + nd - 1, "class": cls or gk,
                              "xfade": kind, "seconds": nd / FPS})
                seg_rows.append(self._seg_row(segs[i], off))
                length = off + segs[i].n
            cur = lab
        graph = ";".join(parts) + f";[{cur}]null[out]"
        path = self.encode([s.path for s in segs], graph, name, ext, codec)
        case = Case(name, group, path.name, size[0], size[1], length, tags=list(tags or []),
                    segments=seg_rows, transitions=trans)
        return self.add(case, path)

    def _seg_row(self, s: Seg, at: int) -> dict[str, Any]:
        return {"source": s.source, "src_start_s": round(s.start_s, 4), "src_end_s": round(s.end_s, 4),
                "start_frame": at, "end_frame": at + s.n, "transform": s.transform}

    def add(self, case: Case, path: Path) -> Case:
        if case.vfr is None and case.rotation == 0:
            got = count_frames(path)
            if got != case.num_frames:
                raise RuntimeError(f"{case.name}: {got} frames written, truth says {case.num_frames}")
        self.cases[case.name] = case
        return case

    def single(self, name: str, group: str, seg: Seg, size: tuple[int, int], ext: str = "mp4",
               codec: list[str] | None = None, tags: list[str] | None = None,
               transitions: list[dict[str, Any]] | None = None) -> Case:
        path = self.encode([seg.path], None, name, ext, codec)
        case = Case(name, group, path.name, size[0], size[1], seg.n, tags=list(tags or []),
                    segments=[self._seg_row(seg, 0)], transitions=[] if transitions is None else transitions)
        return self.add(case, path)

    # -- overlays -------------------------------------------------------------------------
    def overlay(self, name: str, seg: Seg, size: tuple[int, int], items: list[dict[str, Any]], footage: str,
                transitions: list[dict[str, Any]] | None = None, twin: bool = True) -> Case:
        """Put PNG overlays (``items``: png, x, y, opacity, kind, enable, box, ...) on ``seg``; write its clean twin."""
        inputs = [seg.path] + [it["png"] for it in items]
        parts, cur = [], "0:v"
        for i, it in enumerate(items, start=1):
            alpha = f"format=rgba,colorchannelmixer=aa={it['opacity']}" if it["opacity"] < 1 else "format=rgba"
            parts.append(f"[{i}:v]{alpha}[o{i}]")
            en = f":enable='{it['enable']}'" if it.get("enable") else ""
            parts.append(f"[{cur}][o{i}]overlay=x={it['x']}:y={it['y']}:format=auto{en}[v{i}]")
            cur = f"v{i}"
        graph = ";".join(parts) + f";[{cur}]format=yuv420p[out]"
        path = self.encode(inputs, graph, name)
        ovs = [{k: v for k, v in it.items() if k not in ("png", "x", "y", "enable")} | {"footage": footage}
               for it in items]
        tags = ["overlay", footage]
        case = Case(name, "overlay", path.name, size[0], size[1], seg.n, tags=tags,
                    segments=[self._seg_row(seg, 0)], transitions=list(transitions or []), overlays=ovs)
        self.add(case, path)
        if twin:
            t = self.single(f"{name}_clean", "twin", seg, size, tags=["clean", footage], transitions=transitions)
            t.twin_of = name
        return case


# -- PNG overlays (PIL, deterministic) ----------------------------------------------------------
def _font(px: int):
    from PIL import ImageFont

    return ImageFont.truetype(FONT, px)


def logo_png(path: Path, design: str, scale: float) -> tuple[int, int]:
    """A channel-bug-like logo; returns its (w, h). ``scale`` = frame height / 360."""
    from PIL import Image, ImageDraw

    s = scale
    if design == "box":  # boxed "HX 24" bug
        f = _font(int(22 * s))
        w, h = int(96 * s), int(40 * s)
        im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        d = ImageDraw.Draw(im)
        d.rounded_rectangle([0, 0, w - 1, h - 1], radius=int(6 * s), fill=(20, 20, 20, 255),
                            outline=(255, 255, 255, 255), width=max(2, int(2 * s)))
        d.text((w / 2, h / 2), "HX 24", font=f, fill=(255, 255, 255, 255), anchor="mm")
    elif design == "bar":  # text-only bug with a coloured bar under it
        f = _font(int(20 * s))
        w, h = int(118 * s), int(34 * s)
        im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        d = ImageDraw.Draw(im)
        d.text((w / 2, int(13 * s)), "NEWS 7", font=f, fill=(255, 255, 255, 255), anchor="mm")
        d.rectangle([0, h - int(7 * s), w - 1, h - 1], fill=(220, 30, 40, 255))
    elif design == "round":  # round emblem
        f = _font(int(26 * s))
        w = h = int(60 * s)
        im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        d = ImageDraw.Draw(im)
        d.ellipse([0, 0, w - 1, h - 1], fill=(30, 90, 200, 255), outline=(255, 255, 255, 255), width=max(2, int(3 * s)))
        d.text((w / 2, h / 2), "K", font=f, fill=(255, 255, 255, 255), anchor="mm")
    else:
        raise ValueError(design)
    im.save(path)
    return w, h


def text_png(path: Path, text: str, px: int, box: bool, pad: int = 6) -> tuple[int, int]:
    """One subtitle line (white, dark outline; optional dark box)."""
    from PIL import Image, ImageDraw

    f = _font(px)
    l, t, r, b = f.getbbox(text, stroke_width=2)
    w, h = r - l + 2 * pad, b - t + 2 * pad
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if box:
        d.rectangle([0, 0, w - 1, h - 1], fill=(0, 0, 0, 170))
    d.text((pad - l, pad - t), text, font=f, fill=(255, 255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0, 255))
    im.save(path)
    return w, h


def ticker_png(path: Path, width: int, text: str, px: int) -> tuple[int, int, int]:
    """A full-width ticker bar PNG and a long text strip; returns (bar_h, strip_w, strip_h)."""
    from PIL import Image, ImageDraw

    f = _font(px)
    bar_h = int(px * 1.8)
    bar = Image.new("RGBA", (width, bar_h), (25, 35, 110, 235))
    ImageDraw.Draw(bar).rectangle([0, 0, width - 1, max(1, bar_h // 10)], fill=(230, 180, 20, 255))
    bar.save(path)
    l, t, r, b = f.getbbox(text)
    strip = Image.new("RGBA", (r - l + 8, b - t + 8), (0, 0, 0, 0))
    ImageDraw.Draw(strip).text((4 - l, 4 - t), text, font=f, fill=(255, 255, 255, 255))
    strip.save(path.with_name(path.stem + "_text.png"))
    return bar_h, strip.width, strip.height


SUBTITLES = [
    "Where are you going?", "Down to the river.", "Wait for me!", "It is getting late",
    "We should head back now.", "Not yet, look over there", "What is that?", "I have no idea.",
    "Come on, quickly!", "All right, all right.", "Did you hear that?", "Just the wind.",
]


def corner_xy(corner: str, w: int, h: int, fw: int, fh: int, margin: int) -> tuple[int, int]:
    x = margin if corner[1] == "l" else fw - w - margin
    y = margin if corner[0] == "t" else fh - h - margin
    return x, y


def add_logo(b: Builder, name: str, seg: Seg, size: tuple[int, int], design: str, corner: str, opacity: float,
             footage: str, transitions: list[dict[str, Any]] | None = None) -> Case:
    fw, fh = size
    png = b.work / f"{name}_logo.png"
    w, h = logo_png(png, design, fh / 360)
    x, y = corner_xy(corner, w, h, fw, fh, int(round(fh * 0.04)))
    item = {"png": png, "x": x, "y": y, "opacity": opacity, "kind": "logo", "design": design, "corner": corner,
            "box": {"x": x, "y": y, "w": w, "h": h}, "start_s": 0.0, "end_s": seg.n / FPS}
    return b.overlay(name, seg, size, [item], footage, transitions)


def add_subtitles(b: Builder, name: str, seg: Seg, size: tuple[int, int], boxed: bool, footage: str,
                  first: int = 0, transitions: list[dict[str, Any]] | None = None) -> Case:
    fw, fh = size
    dur = seg.n / FPS
    px = int(round(fh * 0.055))
    items, x0, y0, x1, y1 = [], fw, fh, 0, 0
    t, k = 0.3, first  # lines change every ~1 s (1.0-1.3 s), short gaps between them
    while t < dur - 0.5:
        text = SUBTITLES[k % len(SUBTITLES)]
        length = 1.0 + 0.1 * (k % 4)
        a, e = t, min(dur, t + length)
        png = b.work / f"{name}_sub{k}.png"
        w, h = text_png(png, text, px, boxed)
        x, y = (fw - w) // 2, fh - h - int(round(fh * 0.06))
        items.append({"png": png, "x": x, "y": y, "opacity": 1.0, "enable": f"between(t,{a:.2f},{e - 0.001:.3f})"})
        x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x + w), max(y1, y + h)
        t = e + 0.12
        k += 1
    start, end = float(items[0]["enable"].split(",")[1]), t - 0.12
    ov = [{"png": it["png"], "x": it["x"], "y": it["y"], "opacity": 1.0, "enable": it["enable"]} for it in items]
    case = b.overlay(name, seg, size, ov, footage, transitions)
    case.overlays = [{"kind": "subtitle", "design": "boxed" if boxed else "outline", "corner": "bc", "opacity": 1.0,
                      "box": {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0}, "start_s": round(start, 3),
                      "end_s": round(end, 3), "footage": footage, "lines": len(items)}]
    return case


def add_ticker(b: Builder, name: str, seg: Seg, size: tuple[int, int], footage: str,
               transitions: list[dict[str, Any]] | None = None) -> Case:
    fw, fh = size
    px = int(round(fh * 0.045))
    png = b.work / f"{name}_bar.png"
    text = ("BREAKING: river levels rise across the region  +++  markets close higher  +++  "
            "weather: storms expected tonight  +++  sport: late goal decides the derby  +++")
    bar_h, sw, sh = ticker_png(png, fw, text, px)
    by = fh - bar_h
    speed = fw / 4.0  # px per second (crosses the frame in 4 s)
    items = [
        {"png": png, "x": 0, "y": by, "opacity": 1.0},
        {"png": png.with_name(png.stem + "_text.png"), "x": f"{fw}-t*{speed:.1f}",
         "y": by + (bar_h - sh) // 2 + max(1, bar_h // 20), "opacity": 1.0},
    ]
    case = b.overlay(name, seg, size, items, footage, transitions)
    case.overlays = [{"kind": "ticker", "design": "scroll", "corner": "bottom", "opacity": 0.92,
                      "box": {"x": 0, "y": by, "w": fw, "h": bar_h}, "start_s": 0.0, "end_s": seg.n / FPS,
                      "footage": footage, "speed_px_s": speed}]
    return case


# -- camera moves (sub-pixel warps of static-camera footage) --------------------------------------
def camera_case(b: Builder, name: str, shot: str, start: float, n: int, out_size: tuple[int, int],
                win_w: float, vx: float, vy: float, zoom: float, label: str, still: bool = False) -> Case:
    """A virtual camera over ``shot``: a window ``win_w`` source px wide (16:9) whose centre moves
    (vx, vy) source px/frame and whose width shrinks by ``zoom`` per frame (zoom > 1 = zoom in).
    The content moves by -(vx, vy) * 256 / win_w px/frame at 256 px (pan/tilt truth) and scales by
    ``zoom`` per frame; the frame centre stays the zoom centre. ``still``: the first frame only
    (no scene or handheld motion at all, for handheld sources)."""
    import cv2

    s = SHOT[shot]
    src = b.src[s.source]
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", str(src)], capture_output=True, text=True, check=True)
    sw, sh = (int(v) for v in probe.stdout.strip().split(",")[:2])
    t0 = s.start_s + start
    dec = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(src), "-ss", f"{t0:.4f}",
                          "-vf", f"fps={FPS}", "-frames:v", str(1 if still else n), "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                         capture_output=True, check=True)
    frames = np.frombuffer(dec.stdout, np.uint8).reshape(-1, sh, sw, 3)
    if still:
        frames = np.repeat(frames[:1], n, axis=0)
    if len(frames) != n:
        raise RuntimeError(f"{name}: decoded {len(frames)} of {n} frames")
    ow, oh = out_size
    path = b.out / f"{name}.mp4"
    enc = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "rawvideo",
                            "-pix_fmt", "bgr24", "-s", f"{ow}x{oh}", "-r", str(FPS), "-i", "-", "-an", *X264,
                            "-crf", "18", "-movflags", "+faststart", str(path)], stdin=subprocess.PIPE)
    # start so that the whole path stays inside the source frame
    cx0 = sw / 2 - vx * (n - 1) / 2
    cy0 = sh / 2 - vy * (n - 1) / 2
    for i, fr in enumerate(frames):
        w = win_w / zoom**i
        k = ow / w
        cx, cy = cx0 + vx * i, cy0 + vy * i
        x0, y0 = cx - w / 2, cy - w * oh / ow / 2
        if x0 < -0.5 or y0 < -0.5 or x0 + w > sw + 0.5 or y0 + w * oh / ow > sh + 0.5:
            raise ValueError(f"{name}: window leaves the source at frame {i}")
        m = np.array([[k, 0, -cx * k + ow / 2], [0, k, -cy * k + oh / 2]], np.float64)
        enc.stdin.write(cv2.warpAffine(fr, m, (ow, oh), flags=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_REFLECT).tobytes())
    enc.stdin.close()
    if enc.wait() != 0:
        raise RuntimeError(f"{name}: encoder failed")
    truth = {"pan": round(-vx * 256 / win_w, 4), "tilt": round(-vy * 256 / win_w, 4), "zoom": round(zoom - 1, 5),
             "label": label, "window_src_px": win_w, "note": "content motion at 256 px width; pan>0 = content moves right"}
    if zoom != 1:  # content motion at the frame centre is 0; the mean flow at 256 px grows over the clip
        truth["zoom_total"] = round(zoom ** (n - 1), 4)
    case = Case(name, "camera", path.name, ow, oh, n, tags=["camera", label] + (["still"] if still else []),
                segments=[{"source": s.source, "src_start_s": round(t0, 4), "src_end_s": round(t0 + n / FPS, 4),
                           "start_frame": 0, "end_frame": n, "transform": f"camera:{label}"}],
                camera=truth)
    return b.add(case, path)


# -- VFR, rotation, frozen, tiny -------------------------------------------------------------------
def vfr_case(b: Builder, name: str, shot: str, start: float, plan: list[tuple[float, int]], size: tuple[int, int]) -> Case:
    """Segments of ``shot`` at different frame rates, concatenated with real timestamps (mp4, 1/1000 tb)."""
    s = SHOT[shot]
    t0 = s.start_s + start
    w, h = size
    parts, labs, pts, t = [], [], [], 0.0
    for i, (secs, rate) in enumerate(plan):
        a = t
        parts.append(f"[0:v]trim=start={t0 + a:.3f}:duration={secs:.3f},setpts=PTS-STARTPTS,fps={rate},"
                     f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1,"
                     f"settb=1/1000[p{i}]")
        labs.append(f"[p{i}]")
        pts += [round(a + k / rate, 6) for k in range(int(round(secs * rate)))]
        t = round(t + secs, 6)
    graph = ";".join(parts) + ";" + "".join(labs) + f"concat=n={len(plan)}:v=1:a=0,settb=1/1000[out]"
    path = b.out / f"{name}.mp4"
    ffmpeg(["-i", str(b.src[s.source]), "-filter_complex", graph,
            "-map", "[out]", "-an", "-fps_mode", "passthrough", *X264, "-crf", "20", "-video_track_timescale", "1000",
            "-movflags", "+faststart", str(path)])
    got = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    real = sorted(float(x.strip(",")) for x in got.stdout.split() if x.strip(","))
    if len(real) != len(pts) or max(abs(x - y) for x, y in zip(real, pts)) > 0.002:
        raise RuntimeError(f"{name}: timestamps differ from the plan ({len(real)} vs {len(pts)} frames)")
    duration = t
    case = Case(name, "vfr", path.name, w, h, len(pts), fps=len(pts) / duration, tags=["vfr"],
                segments=[{"source": s.source, "src_start_s": round(t0, 4), "src_end_s": round(t0 + t, 4),
                           "start_frame": 0, "end_frame": len(pts), "transform": "vfr"}],
                vfr={"duration_s": round(duration, 6), "plan": [{"seconds": a, "fps": r} for a, r in plan], "pts": pts})
    return b.add(case, path)


def rotated_case(b: Builder, name: str, seg: Seg, size: tuple[int, int], rotate: int) -> Case:
    """A stream copy of ``seg`` with a display matrix (``-metadata:s:v:0 rotate=...``).

    The truth is measured, not assumed: FFmpeg 5.1's muxer turns ``rotate=90`` into a matrix that
    players show turned 90 deg counter-clockwise (ffprobe ``rotation: 90``). The truth is in the
    convention of the ``videos.rotation`` column (schema 1.6+): degrees COUNTER-clockwise, ffprobe's
    sign, 0..359. The builder checks that ffmpeg's autorotated frame equals the coded frame turned
    that way."""
    tmp = b.work / f"{name}_flat.mp4"
    ffmpeg(["-i", str(seg.path), "-an", *X264, "-crf", "20", str(tmp)])
    path = b.out / f"{name}.mp4"
    ffmpeg(["-i", str(tmp), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path)])
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation",
                        "-of", "json", str(path)], capture_output=True, text=True, check=True)
    sd = [d for d in json.loads(r.stdout)["streams"][0].get("side_data_list", []) if "rotation" in d]
    cw = (-int(sd[0]["rotation"])) % 360 if sd else 0  # clockwise degrees players turn the coded picture

    def grab(extra: list[str], vf: str) -> np.ndarray:
        out = subprocess.run(["ffmpeg", "-v", "error", *extra, "-i", str(path), "-frames:v", "1", "-vf", vf,
                              "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
        return np.frombuffer(out, np.uint8).astype(float)

    turn = {90: "transpose=1", 180: "hflip,vflip", 270: "transpose=2"}.get(cw)
    if turn is None or np.abs(grab([], "scale=64:64") - grab(["-noautorotate"], f"{turn},scale=64:64")).mean() > 1:
        raise RuntimeError(f"{name}: display rotation {cw} does not match what ffmpeg shows")
    w, h = size
    case = Case(name, "rotation", path.name, w, h, seg.n, tags=["rotation"], segments=[b._seg_row(seg, 0)],
                rotation=(-cw) % 360, display_size=[h, w] if cw % 180 else [w, h],
                note=f"written with -metadata:s:v:0 rotate={rotate}; players turn it {cw} deg clockwise")
    return b.add(case, path)


def frozen_case(b: Builder, name: str, seg: Seg, size: tuple[int, int], hold_s: float, tail: Seg | None = None) -> Case:
    """``seg``, then its last frame held ``hold_s`` seconds (tpad clone), then ``tail`` (if any)."""
    nh = int(round(hold_s * FPS))
    inputs = [seg.path] + ([tail.path] if tail else [])
    graph = f"[0:v]tpad=stop_mode=clone:stop_duration={nh / FPS},settb=1/{FPS},setpts=N/({FPS}*TB)[a]"
    if tail:
        graph += f";[1:v]settb=1/{FPS},setpts=N/({FPS}*TB)[b];[a][b]concat=n=2:v=1:a=0[out]"
    else:
        graph += ";[a]null[out]"
    path = b.encode(inputs, graph, name)
    n = seg.n + nh + (tail.n if tail else 0)
    segs = [b._seg_row(seg, 0)] + ([b._seg_row(tail, seg.n + nh)] if tail else [])
    case = Case(name, "static", path.name, size[0], size[1], n, tags=["frozen"], segments=segs,
                frozen=[{"start": seg.n, "end": seg.n + nh}])  # frames start..end-1 repeat frame start-1
    return b.add(case, path)


def lowfps_case(b: Builder, name: str, shot: str, start: float, dur: float, size: tuple[int, int], camera_fps: float) -> Case:
    seg = b.seg(shot, start, dur, size)
    case = b.single(name, "static", seg, size, tags=["low_fps_camera"])
    dup = 1 - camera_fps / FPS
    case.note = f"{camera_fps:g} fps camera delivered at {FPS} fps: {dup:.0%} of consecutive pairs are repeats, real motion"
    return case


def tiny_case(b: Builder, name: str, shot: str, frames: int, size: tuple[int, int]) -> Case:
    seg = b.seg(shot, 0.4, frames / FPS, size)
    case = b.single(name, "tiny", seg, size, tags=["tiny"])
    case.expect = {"num_clips": 0, "reason_required": True}
    return case


# -- the sets -------------------------------------------------------------------------------------
HD, QHD, SD, WIDE = (1280, 720), (960, 540), (640, 360), (854, 480)


def build_full(b: Builder) -> None:
    seg = b.seg
    # ---- cuts: hard --------------------------------------------------------------------------
    b.join("cut_hard_mixed", "cuts", [seg("bikes_2", 0.1, 2.2, QHD), seg("city_0", 0.2, 2.4, QHD),
                                      seg("cockatoo_0", 0.5, 2.4, QHD), seg("launch_1", 0.3, 2.4, QHD),
                                      seg("diver_0", 1.0, 2.4, QHD)],
           [("cut", 0, "hard")] * 4, QHD, tags=["hard"])
    b.join("cut_hard_static", "cuts", [seg("coin_0", 0.5, 2.6, SD), seg("ball_0", 0.5, 2.6, SD),
                                       seg("tree_0", 2.0, 2.6, SD), seg("screencast_0", 1.0, 2.6, SD)],
           [("cut", 0, "hard")] * 3, SD, ext="mkv", tags=["hard"])
    # ---- cuts: similar-looking / static-camera jump cuts -------------------------------------
    b.join("cut_jump_vtest", "cuts", [seg("vtest_0", 10, 3.2, QHD), seg("vtest_0", 50, 3.2, QHD),
                                      seg("vtest_0", 30, 3.2, QHD)],
           [("cut", 0, "static_jump")] * 2, QHD, tags=["static_jump"])
    b.join("cut_jump_ball", "cuts", [seg("ball_0", 0.2, 3.0, WIDE), seg("ball_0", 6.0, 3.0, WIDE)],
           [("cut", 0, "static_jump")], WIDE, tags=["static_jump"])
    b.join("cut_similar_city", "cuts", [seg("city_0", 0.5, 3.0, HD), seg("city_1", 0.2, 2.4, HD),
                                        seg("city_0", 3.6, 0.8, HD)],
           [("cut", 0, "similar")] * 2, HD, tags=["similar"])
    b.join("cut_similar_cockatoo", "cuts", [seg("cockatoo_0", 0.0, 3.0, QHD), seg("cockatoo_0", 8.0, 3.0, QHD)],
           [("cut", 0, "similar")], QHD, tags=["similar"])
    b.join("cut_similar_launch", "cuts", [seg("launch_1", 0.0, 2.4, SD), seg("launch_1", 3.0, 1.8, SD)],
           [("cut", 0, "similar")], SD, tags=["similar"])
    # ---- cuts: dark to dark ------------------------------------------------------------------
    dark = "eq=brightness=-0.12:gamma=0.6"
    b.join("cut_dark_diver", "cuts", [seg("diver_0", 0.0, 3.0, WIDE, dark), seg("diver_0", 5.0, 3.0, WIDE, dark),
                                      seg("city_1", 0.0, 2.4, WIDE, dark)],
           [("cut", 0, "dark")] * 2, WIDE, tags=["dark"])
    b.join("cut_dark_mixed", "cuts", [seg("vtest_0", 60, 2.6, QHD, dark), seg("launch_0", 0.2, 2.6, QHD, dark),
                                      seg("coin_0", 3.0, 2.6, QHD, dark), seg("diver_0", 8.0, 2.0, QHD, dark)],
           [("cut", 0, "dark")] * 3, QHD, tags=["dark"])
    # ---- gradual -----------------------------------------------------------------------------
    b.join("trans_dissolve", "cuts", [seg("cockatoo_0", 3.5, 3.0, QHD), seg("launch_1", 0.5, 3.0, QHD),
                                      seg("ball_0", 2.0, 3.0, QHD)],
           [("fade", 0.8, "dissolve"), ("fade", 0.5, "dissolve")], QHD, tags=["dissolve"])
    b.join("trans_fadeblack", "cuts", [seg("diver_0", 3.0, 3.0, SD), seg("coin_0", 1.0, 3.0, SD),
                                       seg("city_0", 1.0, 2.8, SD)],
           [("fadeblack", 1.0, "fade"), ("fadeblack", 0.6, "fade")], SD, tags=["fade"])
    b.join("trans_wipe", "cuts", [seg("ball_0", 4.0, 3.0, WIDE), seg("bikes_2", 0.0, 2.3, WIDE),
                                  seg("tree_0", 10.0, 3.0, WIDE)],
           [("wipeleft", 0.6, "wipe"), ("wipeup", 1.0, "wipe")], WIDE, ext="webm",
           codec=["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1500k", "-row-mt", "1"],
           tags=["wipe"])
    b.join("trans_dissolve_similar", "cuts", [seg("vtest_0", 12, 3.0, QHD), seg("vtest_0", 40, 3.0, QHD)],
           [("fade", 1.0, "dissolve")], QHD, tags=["dissolve", "static_jump"])
    b.join("trans_gradual_only", "cuts", [seg("screencast_0", 4.0, 3.0, HD), seg("tree_0", 15.0, 3.0, HD),
                                          seg("cockatoo_0", 11.0, 3.0, HD)],
           [("fade", 1.0, "dissolve"), ("fadeblack", 0.8, "fade")], HD, tags=["dissolve", "fade"])
    b.join("trans_mixed", "cuts", [seg("bikes_3", 0.0, 1.9, SD), seg("vtest_0", 70, 2.4, SD),
                                   seg("cockatoo_0", 5.0, 2.4, SD), seg("launch_1", 2.0, 2.4, SD),
                                   seg("coin_0", 5.0, 2.4, SD)],
           [("cut", 0, "hard"), ("fade", 0.6, "dissolve"), ("wipeleft", 0.8, "wipe"), ("cut", 0, "hard")],
           SD, ext="mov", codec=["-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p"], tags=["mixed"])
    # ---- overlays: logos (moving = handheld, static = static camera) -------------------------
    bikes_cuts = [{"kind": "cut", "start": f, "end": f, "class": "hard"} for f in (30, 76, 137, 187, 242)]
    add_logo(b, "ov_logo_box_cockatoo", seg("cockatoo_0", 0.0, 6.0, HD), HD, "box", "tr", 0.6, "moving")
    add_logo(b, "ov_logo_bar_diver", seg("diver_0", 0.0, 6.0, WIDE), WIDE, "bar", "bl", 0.8, "moving")
    # the bikes sample as shipped (five hard cuts at 30/76/137/187/242)
    add_logo(b, "ov_logo_round_bikes", b.whole("bikes", SD), SD, "round", "tl", 0.5, "moving", transitions=bikes_cuts)
    add_logo(b, "ov_logo_box_vtest", seg("vtest_0", 20, 6.0, QHD), QHD, "box", "br", 0.9, "static")
    add_logo(b, "ov_logo_round_ball", seg("ball_0", 1.0, 6.0, SD), SD, "round", "tr", 0.4, "static")
    add_logo(b, "ov_logo_bar_coin", seg("coin_0", 0.5, 6.0, WIDE), WIDE, "bar", "tl", 0.65, "static")
    add_logo(b, "ov_logo_box_launch", seg("launch_1", 0.0, 4.6, SD), SD, "box", "bl", 0.5, "static")
    # ---- overlays: subtitles and tickers ------------------------------------------------------
    add_subtitles(b, "ov_sub_box_cockatoo", seg("cockatoo_0", 6.0, 6.0, QHD), QHD, True, "moving")
    add_subtitles(b, "ov_sub_plain_diver", seg("diver_0", 3.0, 6.0, SD), SD, False, "moving", first=3)
    add_subtitles(b, "ov_sub_plain_vtest", seg("vtest_0", 36, 7.0, HD), HD, False, "static", first=6)
    add_subtitles(b, "ov_sub_box_ball", seg("ball_0", 3.0, 6.0, WIDE), WIDE, True, "static", first=9)
    add_ticker(b, "ov_ticker_cockatoo", seg("cockatoo_0", 2.0, 6.0, SD), SD, "moving")
    add_ticker(b, "ov_ticker_vtest", seg("vtest_0", 45, 6.0, QHD), QHD, "static")
    # ---- hard negatives (no overlay; scene text, texture, timelapse, animation) ---------------
    for name, shot, start, dur, size in [("neg_tree", "tree_0", 20.0, 6.0, SD), ("neg_city", "city_0", 0.0, 4.4, HD),
                                         ("neg_launch", "launch_0", 0.0, 2.9, SD),
                                         ("neg_screencast", "screencast_0", 0.0, 6.0, HD)]:
        b.single(name, "negative", seg(shot, start, dur, size), size, tags=["hard_negative"])
    bunny = b.whole("bunny", QHD)
    b.single("neg_bunny", "negative", bunny, QHD, tags=["hard_negative", "animation"], transitions=None)
    # ---- dedup ----------------------------------------------------------------------------------
    base = seg("cockatoo_0", 0.0, 8.0, QHD)
    b.single("dd_base", "dedup", base, QHD, tags=["dedup"])
    b.single("dd_reencode", "dedup", base, QHD, ext="mkv",
             codec=["-c:v", "mpeg4", "-q:v", "8", "-pix_fmt", "yuv420p"], tags=["dedup"])
    half = seg("cockatoo_0", 0.0, 8.0, (480, 270), transform="resize0.5")
    b.single("dd_resize", "dedup", half, (480, 270), tags=["dedup"])
    b.single("dd_trim05", "dedup", seg("cockatoo_0", 0.5, 7.5, QHD), QHD, tags=["dedup"])
    b.single("dd_trim1", "dedup", seg("cockatoo_0", 1.0, 7.0, QHD), QHD, tags=["dedup"])
    b.single("dd_mirror", "dedup", seg("cockatoo_0", 0.0, 8.0, QHD, "hflip", transform="hflip"), QHD, tags=["dedup"])
    for other, tr in [("dd_reencode", "reencode_mpeg4_q8_mkv"), ("dd_resize", "resize0.5"), ("dd_trim05", "trim0.5s"),
                      ("dd_trim1", "trim1s"), ("dd_mirror", "hflip")]:
        b.pairs.append({"a": "dd_base", "b": other, "transform": tr})
    b.single("dd_ball", "dedup", seg("ball_0", 0.0, 6.0, WIDE), WIDE, tags=["dedup"])
    b.single("dd_ball_crf", "dedup", seg("ball_0", 0.0, 6.0, WIDE), WIDE, codec=[*X264, "-crf", "34"], tags=["dedup"])
    b.pairs.append({"a": "dd_ball", "b": "dd_ball_crf", "transform": "reencode_crf34"})
    b.single("dd_vtest_a", "dedup", seg("vtest_0", 2.0, 6.0, QHD), QHD, tags=["dedup"])
    b.single("dd_vtest_b", "dedup", seg("vtest_0", 22.0, 6.0, QHD), QHD, tags=["dedup"])
    b.negatives.append({"a": "dd_vtest_a", "b": "dd_vtest_b", "note": "static camera, same scene 20 s later"})
    b.single("dd_cockatoo_a", "dedup", seg("cockatoo_0", 0.0, 4.0, SD), SD, tags=["dedup"])
    b.single("dd_cockatoo_b", "dedup", seg("cockatoo_0", 8.0, 4.0, SD), SD, tags=["dedup"])
    b.negatives.append({"a": "dd_cockatoo_a", "b": "dd_cockatoo_b", "note": "handheld, same bird 8 s later"})
    # ---- VFR / rotation ----------------------------------------------------------------------
    vfr_case(b, "vfr_ball", "ball_0", 0.5, [(3.0, 25), (3.0, 10), (3.0, 50)], SD)
    rotated_case(b, "rot_coin", seg("coin_0", 1.0, 5.0, SD), SD, 90)
    # ---- static_ratio --------------------------------------------------------------------------
    lowfps_case(b, "sr_lowfps_vtest", "vtest_0", 62.0, 6.0, QHD, 10)
    lowfps_case(b, "sr_lowfps_cockatoo", "cockatoo_0", 7.0, 5.0, SD, 20)
    frozen_case(b, "sr_frozen_ball", seg("ball_0", 6.5, 1.5, SD), SD, 4.5)
    frozen_case(b, "sr_frozen_mid_diver", seg("diver_0", 4.0, 2.0, WIDE), WIDE, 3.0,
                tail=seg("diver_0", 6.0, 1.0, WIDE))
    # ---- camera moves --------------------------------------------------------------------------
    camera_case(b, "cam_pan_left", "ball_0", 1.0, 100, SD, 400, -1.5, 0, 1.0, "pan_left")
    camera_case(b, "cam_pan_right", "vtest_0", 5.0, 100, SD, 480, 2.0, 0, 1.0, "pan_right")
    camera_case(b, "cam_tilt_up", "vtest_0", 25.0, 100, SD, 480, 0, -1.5, 1.0, "tilt_up")
    camera_case(b, "cam_tilt_down", "ball_0", 4.0, 100, SD, 420, 0, 1.2, 1.0, "tilt_down")
    camera_case(b, "cam_zoom_in", "vtest_0", 55.0, 100, SD, 700, 0, 0, 1.006, "zoom_in")
    camera_case(b, "cam_zoom_out", "ball_0", 2.0, 100, SD, 380, 0, 0, 1 / 1.006, "zoom_out")
    camera_case(b, "cam_static", "coin_0", 1.0, 100, SD, 400, 0, 0, 1.0, "static")
    # a high-res still (one cockatoo frame): the camera is the only motion
    camera_case(b, "cam_pan_right_still", "cockatoo_0", 2.0, 100, SD, 800, 2.5, 0, 1.0, "pan_right", still=True)
    camera_case(b, "cam_zoom_in_still", "cockatoo_0", 9.0, 100, SD, 1000, 0, 0, 1.005, "zoom_in", still=True)
    # ---- too short / too small -----------------------------------------------------------------
    tiny_case(b, "tiny_16f", "ball_0", 16, (160, 90))
    tiny_case(b, "tiny_1f", "coin_0", 1, SD)


def build_small(b: Builder) -> None:
    """10 short cases from bikes.mp4 only (works offline; the scorer test uses it)."""
    size = (640, 272)
    full = b.whole("bikes", size)
    bikes_cuts = [{"kind": "cut", "start": f, "end": f, "class": "hard"} for f in (30, 76, 137, 187, 242)]
    b.single("s_cuts", "cuts", full, size, tags=["hard"], transitions=bikes_cuts)
    b.join("s_dissolve", "cuts", [b.seg("bikes_2", 0.1, 2.0, size), b.seg("bikes_4", 0.0, 2.0, size)],
           [("fade", 0.6, "dissolve")], size, tags=["dissolve"])
    add_logo(b, "s_logo", b.seg("bikes_2", 0.0, 2.3, size), size, "box", "tr", 0.7, "moving")
    b.single("s_dup_half", "dedup", b.seg("bikes_2", 0.0, 2.3, (320, 136), transform="resize0.5"), (320, 136),
             tags=["dedup"])
    b.pairs.append({"a": "s_logo_clean", "b": "s_dup_half", "transform": "resize0.5"})
    b.single("s_other", "dedup", b.seg("bikes_4", 0.0, 2.1, size), size, tags=["dedup"])
    frozen_case(b, "s_frozen", b.seg("bikes_3", 0.0, 0.6, size), size, 2.0)
    vfr_case(b, "s_vfr", "bikes_3", 0.0, [(0.8, 25), (0.6, 10), (0.4, 50)], size)
    camera_case(b, "s_pan", "bikes_2", 0.4, 50, (320, 180), 400, 1.2, 0, 1.0, "pan_right", still=True)
    tiny_case(b, "s_tiny", "bikes_4", 16, (160, 90))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the case videos and truth.json (emptied first)")
    ap.add_argument("--small", action="store_true", help="10 short cases from bikes.mp4 only (offline)")
    ap.add_argument("--keep-work", action="store_true", help="keep the normalised intermediates (DIR/../_eval_work)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    sources = fetch(["bikes"] if args.small else None)
    with tempfile.TemporaryDirectory(prefix="curate-eval-") as tmp:
        b = Builder(out, Path(tmp), sources)
        (build_small if args.small else build_full)(b)
        if args.keep_work:
            shutil.copytree(tmp, out.parent / "_eval_work", dirs_exist_ok=True)
    truth = {
        "version": 1,
        "set": "small" if args.small else "full",
        "fps": FPS,
        "cases": {n: c.as_dict() for n, c in sorted(b.cases.items())},
        "dedup": {"pairs": b.pairs, "hard_negatives": b.negatives},
        "sources": {n: str(p) for n, p in sources.items()},
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    print(f"{len(b.cases)} cases in {out} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
