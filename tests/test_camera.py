"""Camera motion against EXACT known moves on real footage, and label stability.

A real street frame of bikes.mp4 (a still picture: no camera of its own) is filmed by a virtual
camera with an exact per-frame zoom or pan (cv2.warpAffine), encoded with x264; the analysis
must read the zoom within 10 % and the pan within 10 %, and give the same label after a crf 35
re-encode and a 0.5x resize. A flat picture (no texture to track) gives no camera estimate.
"""

from __future__ import annotations

import subprocess

import av
import cv2
import numpy as np
import pytest
from curate.stages.analyze import analyse_span

from curate.analysers.motion import MotionAnalyser
from curate.media import ffmpeg_exe, run_ffmpeg
from curate.samples import ensure_samples

W, H, FPS, N = 480, 270, 25, 40
MOVES = {  # name: (zoom factor per frame, window pan px/frame), label
    "zoom_in": ((1.01, 0.0), "zoom_in"),
    "zoom_out": ((1 / 1.015, 0.0), "zoom_out"),
    "pan": ((1.0, 2.0), "pan_right"),  # window moves right: content moves left = camera pans right
    "static": ((1.0, 0.0), "static"),
}


def encode(frames: list[np.ndarray], path: str, crf: int = 18) -> str:
    p = subprocess.Popen([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
                          "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
                          "-crf", str(crf), "-pix_fmt", "yuv420p", path], stdin=subprocess.PIPE)
    p.communicate(b"".join(f.tobytes() for f in frames))
    assert p.returncode == 0
    return path


def film(still: np.ndarray, zoom: float, pan: float) -> list[np.ndarray]:
    """Frame k: the view of ``still`` at scale zoom**k about the centre, window moved pan*k px."""
    h, w = still.shape[:2]
    base = min(w * 0.6 / W, h * 0.6 / H)  # still px per output px at the widest view
    zs = zoom ** np.arange(N)
    zs = zs / zs.min()
    out = []
    for k, z in enumerate(zs):
        s = base / z
        cx = w / 2 + (k - N / 2) * pan * base
        m = np.array([[s, 0, cx - s * W / 2], [0, s, h / 2 - s * H / 2]], np.float32)
        out.append(cv2.warpAffine(still, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REFLECT))
    return out


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, dict[str, str]]:
    d = tmp_path_factory.mktemp("camera")
    bikes = next(s.path for s in ensure_samples(str(d)) if s.name == "bikes")
    with av.open(bikes) as c:  # a 640x272 street frame, upscaled 2x so zooms do not run out of pixels
        still = [f.to_ndarray(format="bgr24") for _, f in zip(range(101), c.decode(video=0))][-1]
    still = cv2.resize(still, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    out = {}
    for name, ((zoom, pan), _) in MOVES.items():
        orig = encode(film(still, zoom, pan), str(d / f"{name}.mp4"))
        crf35, half = str(d / f"{name}-crf35.mp4"), str(d / f"{name}-half.mp4")
        run_ffmpeg(["-i", orig, "-c:v", "libx264", "-crf", "35", "-preset", "veryfast", crf35])
        run_ffmpeg(["-i", orig, "-vf", "scale=240:136", "-c:v", "libx264", "-crf", "18", "-preset", "veryfast", half])
        out[name] = {"orig": orig, "crf35": crf35, "half": half}
    flat = np.full((H * 2, W * 2, 3), 128, np.uint8)
    cv2.circle(flat, (W, H), 30, (40, 40, 200), -1)  # one small object on a flat wall
    out["flat"] = {"orig": encode(film(flat, 1.01, 0.0), str(d / "flat.mp4"))}
    return out


def camera(path: str) -> dict:
    return analyse_span(path, 0, N, FPS, [MotionAnalyser()], overlap=False)


@pytest.mark.parametrize("name", ["zoom_in", "zoom_out"])
def test_zoom_magnitude_within_10_percent(cases, name):
    (zoom, _), _ = MOVES[name]
    got = camera(cases[name]["orig"])["camera_zoom"]
    assert got == pytest.approx(zoom - 1, rel=0.10), (got, zoom - 1)


def test_pan_magnitude_within_10_percent(cases):
    r = camera(cases["pan"]["orig"])
    assert r["camera_pan"] == pytest.approx(-2.0 * 256 / W, rel=0.10)  # content moves left
    assert abs(r["camera_tilt"]) < 0.1 and abs(r["camera_zoom"]) < 0.002


@pytest.mark.parametrize("name", list(MOVES))
def test_label_stable_across_reencode_and_resize(cases, name):
    labels = {v: camera(p)["camera_motion"] for v, p in cases[name].items()}
    assert set(labels.values()) == {MOVES[name][1]}, labels


def test_flat_picture_has_no_camera_estimate(cases):
    r = camera(cases["flat"]["orig"])
    assert r["camera_motion"] is None and r["camera_zoom"] is None
    assert r["motion_score"] is not None  # the flow magnitude is still measured


def test_low_frame_rate_still_measured(cases, tmp_path):
    """At 4 fps one pair step is one frame: the textured points are tracked over that one frame."""
    low = str(tmp_path / "pan4.mp4")
    run_ffmpeg(["-i", cases["pan"]["orig"], "-vf", "fps=5", "-c:v", "libx264", "-crf", "18", low])
    r = analyse_span(low, 0, 8, 5.0, [MotionAnalyser()], overlap=False)
    assert r["camera_motion"] == "pan_right"
    assert r["camera_pan"] == pytest.approx(-2.0 * 5 * 256 / W, rel=0.15)  # 5 source frames per frame
