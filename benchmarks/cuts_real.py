"""Real-footage cut/transition cases built by editing the Debian-package footage of
``benchmarks/eval/footage.py`` with ffmpeg (xfade transitions, hard cuts, static-camera jump
cuts, and single-shot negatives). Used by ``bench_cuts.py --real``.

Each case is a list of pieces joined by a hard cut (``None``) or an ``xfade`` transition
(``(name, seconds)``). Cases mixing sources are scaled/cropped to 640x360 25 fps; a case cut
from one source (jump cuts, negatives) keeps its native size and frame rate. Ground truth:
``cuts`` (first frame of the new shot) with their kind (cut | dark | similar | jump) and
``transitions`` [start, end] (the blended frames, inclusive) with their kind
(dissolve | fade | wipe).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval"))
from footage import fetch  # noqa: E402

XFADE_KIND = {"fade": "dissolve", "dissolve": "dissolve", "fadeblack": "fade", "fadewhite": "fade",
              "wipeleft": "wipe", "wiperight": "wipe", "slideleft": "wipe", "circleopen": "wipe"}


@dataclass
class Piece:
    source: str
    start: float
    end: float
    vf: str = ""  # extra filter (e.g. eq=brightness=-0.3)


@dataclass
class Case:
    name: str
    pieces: list[Piece]
    joins: list[tuple[str, float] | str | None] = field(default_factory=list)  # between pieces
    cut_kinds: list[str] = field(default_factory=list)  # filled by build()
    cuts: list[int] = field(default_factory=list)
    transitions: list[tuple[int, int, str]] = field(default_factory=list)
    num_frames: int = 0
    fps: float = 25.0
    path: str = ""


P = Piece
CASES: list[Case] = [
    # gradual transitions between different real shots (640x360 25 fps)
    Case("xf_dissolve", [P("bikes", 3.08, 5.44), P("diver", 1.0, 4.0), P("cockatoo", 2.0, 5.0), P("ball", 0.5, 3.5)],
         [("fade", 1.0), ("dissolve", 0.6), ("fade", 0.8)]),
    Case("xf_fadeblack", [P("cockatoo", 6.0, 9.0), P("city", 0.5, 3.5), P("launch", 0.0, 2.9), P("coin", 0.5, 3.5)],
         [("fadeblack", 1.0), ("fadeblack", 0.6), ("fadeblack", 0.8)]),
    Case("xf_wipe", [P("vtest", 20.0, 23.0), P("bikes", 5.52, 7.44), P("tree", 2.0, 5.0), P("launch", 3.3, 6.3)],
         [("wipeleft", 0.8), ("wiperight", 1.0), ("wipeleft", 0.5)]),
    Case("xf_bikes", [P("bikes", 0.0, 1.16), P("bikes", 1.24, 3.0), P("bikes", 3.08, 5.44), P("bikes", 5.52, 7.44),
                      P("bikes", 7.52, 9.64)],
         [("fade", 0.5), ("fadeblack", 0.8), ("dissolve", 0.7), ("fade", 1.0)]),
    Case("xf_mixed", [P("diver", 5.0, 8.0), P("city", 4.8, 7.6), P("ball", 4.0, 7.0), P("cockatoo", 9.0, 12.0),
                      P("screencast", 1.0, 4.0)],
         [("dissolve", 1.0), ("fadeblack", 0.5), ("wipeleft", 0.7), ("fade", 0.6)]),
    # hard cuts: different, similar-looking, dark-to-dark
    Case("hard_mixed", [P("cockatoo", 0.0, 3.0), P("ball", 1.0, 3.0), P("diver", 2.0, 4.5), P("city", 1.0, 3.0),
                        P("coin", 1.0, 3.0)], [None, None, None, None]),
    Case("hard_similar", [P("bikes", 1.24, 3.0), P("bikes", 3.08, 5.44), P("bikes", 7.52, 9.64),
                          P("bikes", 5.52, 7.44)], [None, None, None]),
    Case("hard_dark", [P("diver", 0.5, 3.0, "eq=brightness=-0.3"), P("city", 0.5, 3.0, "eq=brightness=-0.3"),
                       P("cockatoo", 3.0, 5.5, "eq=brightness=-0.3"), P("diver", 6.0, 8.5, "eq=brightness=-0.3")],
         [None, None, None]),
    # static-camera jump cuts (native size / fps)
    Case("jump_vtest", [P("vtest", 2.0, 10.0), P("vtest", 40.0, 48.0), P("vtest", 60.0, 66.0)], [None, None]),
    Case("jump_ball", [P("ball", 0.0, 3.0), P("ball", 6.0, 10.0)], [None]),
    Case("jump_coin", [P("coin", 0.0, 3.0), P("coin", 5.0, 8.0)], [None]),
    # negatives: single shots, no cut anywhere
    Case("neg_diver", [P("diver", 0.0, 14.0)]),
    Case("neg_cockatoo", [P("cockatoo", 0.0, 14.0)]),
    Case("neg_launch", [P("launch", 3.2, 8.0)]),
    Case("neg_bikes2", [P("bikes", 3.08, 5.44)]),
    Case("neg_bikes4", [P("bikes", 7.52, 9.64)]),
    Case("neg_city", [P("city", 0.0, 4.5)]),
    Case("neg_tree", [P("tree", 0.0, 29.5)]),
    # added after the detector was tuned on the cases above (a check, not tuning data)
    Case("xf_val_static", [P("vtest", 30.0, 33.0), P("coin", 1.0, 4.0), P("ball", 1.0, 4.0), P("screencast", 1.0, 4.0)],
         [("fade", 1.0), ("fadeblack", 0.7), ("wipeleft", 0.6)]),
    Case("xf_val_long", [P("city", 0.0, 3.0), P("cockatoo", 5.0, 9.0), P("diver", 4.0, 8.0), P("launch", 0.5, 2.9)],
         [("fade", 1.5), ("dissolve", 0.5), ("fade", 1.2)]),
    Case("neg_flash", [P("bikes", 3.08, 5.44, "eq=brightness=0.5:enable='between(t,0.8,0.88)+between(t,1.6,1.9)'")]),
    Case("neg_ball", [P("ball", 0.0, 10.2)]),
    Case("neg_coin", [P("coin", 0.0, 8.0)]),
    Case("neg_vtest", [P("vtest", 0.0, 30.0)]),
    Case("neg_screencast", [P("screencast", 0.0, 8.3)]),
]


def _probe(path: str) -> tuple[float, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                          "stream=r_frame_rate,nb_read_packets", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout.strip().split(",")
    num, den = out[0].split("/")
    return float(num) / float(den), int(out[1])


def build(case: Case, out_dir: str) -> Case:
    """Encode the case (libx264 veryfast, x264 defaults: B-frames, scenecut) and fill its ground truth."""
    paths = fetch(sorted({p.source for p in case.pieces}))
    native = len({p.source for p in case.pieces}) == 1 and not any(j for j in case.joins)
    path = os.path.join(out_dir, case.name + ".mp4")
    if native:
        fps, _ = _probe(str(paths[case.pieces[0].source]))
    else:
        fps = 25.0
    args: list[str] = []
    chains = ""
    lens = []
    for i, p in enumerate(case.pieces):
        args += ["-ss", f"{p.start:.3f}", "-t", f"{p.end - p.start:.3f}", "-i", str(paths[p.source])]
        f = "crop=trunc(iw/2)*2:trunc(ih/2)*2," if native else "scale=640:360:force_original_aspect_ratio=increase,crop=640:360,fps=25,"
        extra = f"{p.vf}," if p.vf else ""
        chains += f"[{i}:v]{f}{extra}format=yuv420p,setsar=1,settb=AVTB,setpts=PTS-STARTPTS[p{i}];"
        lens.append(int(round((p.end - p.start) * fps)))
    cur, length = "[p0]", lens[0]
    case.cuts, case.cut_kinds, case.transitions = [], [], []
    for i, j in enumerate(case.joins, start=1):
        nxt = f"[j{i}]"
        if j is None:
            chains += f"{cur}[p{i}]concat=n=2:v=1:a=0{nxt};"
            case.cuts.append(length)
            same = case.pieces[i].source == case.pieces[i - 1].source
            kind = "jump" if case.name.startswith("jump") else "similar" if same else "dark" if case.pieces[i].vf else "cut"
            case.cut_kinds.append(kind)
            length += lens[i]
        else:
            name, dur = j
            d = int(round(dur * fps))
            off = length - d
            chains += f"{cur}[p{i}]xfade=transition={name}:duration={d / fps:.4f}:offset={off / fps:.4f}{nxt};"
            case.transitions.append((off + 1, off + d - 1, XFADE_KIND[name]))
            length += lens[i] - d
        cur = nxt
    chains = chains.rstrip(";")
    if not case.joins:
        chains = chains.replace("[p0]", "[j0]")
        cur = "[j0]"
    if not os.path.exists(path):
        subprocess.run(["ffmpeg", "-v", "fatal", "-y", *args, "-filter_complex", chains, "-map", cur, "-an",
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-r", f"{fps:g}", path],
                       check=True)
    case.fps, case.num_frames = _probe(path)
    case.path = path
    return case


def build_all(out_dir: str, names: list[str] | None = None) -> list[Case]:
    os.makedirs(out_dir, exist_ok=True)
    return [build(c, out_dir) for c in CASES if not names or c.name in names]


if __name__ == "__main__":
    for c in build_all(sys.argv[1] if len(sys.argv) > 1 else "/tmp/cuts-real"):
        print(c.name, c.num_frames, c.fps, list(zip(c.cuts, c.cut_kinds)), c.transitions)


# ---------------------------------------------------------------------------------------------
# scoring

HARD_KINDS = ("cut", "similar", "dark", "jump")
GRADUAL_KINDS = ("dissolve", "fade", "wipe")


@dataclass
class Score:
    tp: dict = field(default_factory=dict)  # kind -> matched ground-truth events
    fn: dict = field(default_factory=dict)
    fp_cuts: int = 0  # detected cuts matching nothing (incl. a second cut inside one transition)
    fp_trans: int = 0  # detected transitions matching nothing
    fp_neg: int = 0  # detections in the negative (single-shot) cases
    bad_clips: int = 0  # clip spans that contain ground-truth transition frames or a hard cut
    clips: int = 0

    def add(self, other: Score) -> None:
        for k in set(other.tp) | set(other.fn):
            self.tp[k] = self.tp.get(k, 0) + other.tp.get(k, 0)
            self.fn[k] = self.fn.get(k, 0) + other.fn.get(k, 0)
        for a in ("fp_cuts", "fp_trans", "fp_neg", "bad_clips", "clips"):
            setattr(self, a, getattr(self, a) + getattr(other, a))

    def f1(self, kinds: tuple[str, ...], fp: int) -> float:
        tp = sum(self.tp.get(k, 0) for k in kinds)
        fn = sum(self.fn.get(k, 0) for k in kinds)
        return 2 * tp / max(1, 2 * tp + fn + fp)

    def recall(self, kind: str) -> str:
        t, f = self.tp.get(kind, 0), self.fn.get(kind, 0)
        return f"{t}/{t + f}" if t + f else "-"


def score(case: Case, cuts: list[int], trans: list[tuple[int, int]], tol: int = 2,
          spans: list[tuple[int, int]] | None = None) -> Score:
    """Match detections to ground truth. A hard cut is found by a detected cut within +-tol
    frames (or a detected transition covering it); a gradual transition by a detected
    transition overlapping it (+-tol) or a detected cut inside it (+-tol). Each detection
    matches at most one event; the rest are false positives (so a transition reported as two
    cuts costs one false positive)."""
    sc = Score()
    used_c: set[int] = set()
    used_t: set[int] = set()
    for c, kind in zip(case.cuts, case.cut_kinds):
        hit = next((i for i, d in enumerate(cuts) if i not in used_c and abs(d - c) <= tol), None)
        if hit is not None:
            used_c.add(hit)
        else:
            hit = next((i for i, (a, b) in enumerate(trans) if i not in used_t and a - tol <= c <= b + tol), None)
            if hit is not None:
                used_t.add(hit)
        (sc.tp if hit is not None else sc.fn)[kind] = (sc.tp if hit is not None else sc.fn).get(kind, 0) + 1
    for s, e, kind in case.transitions:
        hit = next((("t", i) for i, (a, b) in enumerate(trans) if i not in used_t and a <= e + tol and b >= s - tol),
                   None)
        if hit is None:
            hit = next((("c", i) for i, d in enumerate(cuts) if i not in used_c and s - tol <= d <= e + tol + 1), None)
        if hit is not None:
            (used_t if hit[0] == "t" else used_c).add(hit[1])
        (sc.tp if hit is not None else sc.fn)[kind] = (sc.tp if hit is not None else sc.fn).get(kind, 0) + 1
    sc.fp_cuts = len(cuts) - len(used_c)
    sc.fp_trans = len(trans) - len(used_t)
    if not case.cuts and not case.transitions:
        sc.fp_neg = sc.fp_cuts + sc.fp_trans
    for a, b in spans or []:  # [a, b) clip spans
        sc.clips += 1
        if any(a <= e and s < b for s, e, _ in case.transitions) or any(a < c < b for c in case.cuts):
            sc.bad_clips += 1
    return sc
