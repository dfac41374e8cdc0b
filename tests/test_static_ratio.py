"""static_ratio on real footage (bikes.mp4): frame-rate-conversion repeats are not frozen, stills are."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest
from curate.stages.analyze import analyse_span

from curate.analysers.quality import QualityAnalyser
from curate.media import run_ffmpeg
from curate.samples import ensure_samples


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("static")
    bikes = next(s.path for s in ensure_samples(str(d)) if s.name == "bikes")
    enc = ["-r", "25", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
    out = {"bikes": bikes}
    specs = {
        "ten_in_25": "fps=10,fps=25",  # a 10 fps camera in a 25 fps file: each picture 2-3 times
        "still": "trim=start_frame=100:end_frame=101,loop=loop=75:size=1,setpts=N/25/TB",  # one frame held 3 s
        "half_still": "select='lt(n\\,40)+eq(n\\,100)',setpts=N/25/TB,loop=loop=50:size=1:start=40",  # 1.6 s + 2 s
    }
    for name, vf in specs.items():
        out[name] = str(d / f"{name}.mp4")
        run_ffmpeg(["-i", bikes, "-vf", vf, *enc, out[name]])
    return out


def static_ratio(path: str, start: int, end: int) -> float:
    return analyse_span(path, start, end, 25.0, [QualityAnalyser()], overlap=False)["static_ratio"]


def test_conversion_repeats_are_not_frozen(cases):
    with av.open(cases["ten_in_25"]) as c:  # the repeats are really there: most consecutive pairs are identical
        g = [f.to_ndarray(format="gray").astype(np.int16) for f in c.decode(video=0)][78:135]
    repeats = np.mean([np.abs(a - b).mean() < 0.5 for a, b in itertools.pairwise(g)])
    assert repeats > 0.5
    for a, b in ((78, 135), (139, 185)):  # two handheld shots of bikes.mp4
        assert static_ratio(cases["ten_in_25"], a, b) <= 0.1
        assert static_ratio(cases["bikes"], a, b) <= 0.1


def test_held_stills_are_frozen(cases):
    assert static_ratio(cases["still"], 0, 75) >= 0.95
    assert static_ratio(cases["half_still"], 0, 90) == pytest.approx(50 / 90, abs=0.12)
