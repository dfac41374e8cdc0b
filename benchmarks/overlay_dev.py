"""Overlay / on-screen-text dev set from real footage, and its scorer.

Builds 4-s 1280x720 25 fps clips from the single-shot stretches of ``benchmarks/eval/footage.py``
with ffmpeg: semi-transparent channel bugs (boxed "HX 24", text + coloured bar, an image logo)
in each corner at opacities 0.4-0.9, burnt-in subtitles that change every second, a scrolling
news ticker, the clean twin of every overlaid clip, and clean negatives (near-frozen tree,
night city, launch pad, a screencast with scene text, animation). The true overlay box of a
clip is the bounding box of every pixel the overlay filter chain changes on a flat grey source
(so it is exact, whatever the font renders).

Usage::

    python benchmarks/overlay_dev.py build  [--out /tmp/overlay_dev] [--holdout]
    python benchmarks/overlay_dev.py score  [--out /tmp/overlay_dev] [--no-ocr] [--secs 2]

``score`` runs the analyse stage's overlay + OCR analysers on every clip and prints detection
precision / recall (``overlay_kind != none``), kind accuracy, box IoU and the clean clips
flagged, plus the analysis CPU time per clip.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval"))
from footage import fetch

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
W, H, FPS, SECS = 1280, 720, 25, 4.0

# host name: (source, start_s, kind of footage)
HOSTS = {
    "bikes2": ("bikes", 3.08, "moving"), "bikes4": ("bikes", 7.52, "moving"),
    "diver_a": ("diver", 0.5, "moving"), "diver_b": ("diver", 5.0, "moving"),
    "cockatoo_a": ("cockatoo", 0.5, "moving"), "cockatoo_b": ("cockatoo", 7.0, "moving"),
    "vtest": ("vtest", 10.0, "static_camera"), "ball": ("ball", 2.0, "static_camera"),
    "coin": ("coin", 1.0, "static_camera"),
}
NEGATIVES = {  # clean only: scenes that are static, textured, animated or carry scene text
    "tree": ("tree", 2.0), "city0": ("city", 0.2), "city1": ("city", 4.9), "launch0": ("launch", 0.0),
    "launch1": ("launch", 3.3), "screencast": ("screencast", 1.0), "bunny": ("bunny", 0.0),
}
CORNERS = {"tl": ("40", "36"), "tr": ("W-w-40", "36"), "bl": ("40", "H-h-40"), "br": ("W-w-40", "H-h-40")}
SUBS = ["We took the long road home", "and nobody said a word", "until the lights came on",
        "It was later than we thought"]


def _xy_text(corner: str) -> tuple[str, str]:
    x, y = CORNERS[corner]
    return x.replace("W-w", "w-tw"), y.replace("H-h", "h-th")


def boxed_bug(corner: str, alpha: float) -> str:
    """A dark box with 'HX 24' in it (drawbox + drawtext), both at ``alpha``."""
    bw, bh = 170, 64
    x = {"tl": "40", "bl": "40", "tr": f"{W - 40 - bw}", "br": f"{W - 40 - bw}"}[corner]
    y = {"tl": "36", "tr": "36", "bl": f"{H - 40 - bh}", "br": f"{H - 40 - bh}"}[corner]
    return (f"drawbox=x={x}:y={y}:w={bw}:h={bh}:color=black@{alpha}:t=fill,"
            f"drawtext=fontfile={FONT}:text='HX 24':fontsize=42:fontcolor=white@{alpha + 0.1:.2f}:"
            f"x={x}+(170-tw)/2:y={y}+(64-th)/2")


def bar_bug(corner: str, alpha: float) -> str:
    """Text-only bug 'NEWS 9' with a coloured bar under it."""
    x, y = {"tl": (40, 36), "tr": (W - 40 - 190, 36), "bl": (40, H - 40 - 62), "br": (W - 40 - 190, H - 40 - 62)}[corner]
    return (f"drawtext=fontfile={FONT}:text='NEWS 9':fontsize=44:fontcolor=white@{alpha}:x={x}:y={y},"
            f"drawbox=x={x}:y={y + 52}:w=190:h=10:color=0xff3030@{alpha}:t=fill")


def subtitles(alpha: float = 1.0) -> str:
    """A line that changes every second, bottom centre, white with a black border."""
    parts = []
    for i, s in enumerate(SUBS):
        parts.append(f"drawtext=fontfile={FONT}:text='{s}':fontsize=40:fontcolor=white@{alpha}:borderw=3:"
                     f"bordercolor=black@{alpha}:x=(w-tw)/2:y=h-th-50:enable='gte(t,{i})*lt(t,{i + 1})'")
    return ",".join(parts)


def ticker() -> str:
    """A full-width band at the bottom with text scrolling right to left."""
    text = "MARKETS CLOSE HIGHER +++ STORM WARNING FOR THE COAST +++ LOCAL TEAM WINS FINAL +++"
    return (f"drawbox=x=0:y={H - 70}:w={W}:h=56:color=0x102060@0.75:t=fill,"
            f"drawtext=fontfile={FONT}:text='{text}':fontsize=34:fontcolor=white:x=w-mod(t*240\\,w+tw):y={H - 70 + 12}")


def image_logo_png(path: str) -> str:
    """A ring with 'TV5' in it (white on transparent), like a channel bug."""
    img = np.zeros((110, 150, 4), np.uint8)
    cv2.ellipse(img, (75, 55), (70, 50), 0, 0, 360, (255, 255, 255, 255), 6, cv2.LINE_AA)
    cv2.putText(img, "TV5", (27, 72), cv2.FONT_HERSHEY_DUPLEX, 1.5, (255, 255, 255, 255), 3, cv2.LINE_AA)
    cv2.imwrite(path, img)
    return path


def cases(out: str) -> list[dict]:
    """Every clip: name, host, overlay spec (None = clean), kind."""
    logo = image_logo_png(os.path.join(out, "logo.png"))
    corners = ["tl", "tr", "bl", "br"]
    alphas = [0.4, 0.5, 0.6, 0.65, 0.75, 0.9]
    rows = []
    for i, host in enumerate(HOSTS):
        c1, c2, c3 = corners[i % 4], corners[(i + 1) % 4], corners[(i + 2) % 4]
        a1, a2, a3 = alphas[i % 6], alphas[(i + 2) % 6], alphas[(i + 4) % 6]
        x, y = CORNERS[c3]
        rows += [
            {"name": f"{host}_boxed_{c1}", "host": host, "kind": "logo", "vf": boxed_bug(c1, min(a1, 0.8))},
            {"name": f"{host}_bar_{c2}", "host": host, "kind": "logo", "vf": bar_bug(c2, a2)},
            {"name": f"{host}_image_{c3}", "host": host, "kind": "logo", "image": logo, "alpha": a3, "xy": (x, y)},
            {"name": f"{host}_subs", "host": host, "kind": "subtitle", "vf": subtitles()},
            {"name": f"{host}_ticker", "host": host, "kind": "ticker", "vf": ticker()},
            {"name": f"{host}_clean", "host": host, "kind": "none", "vf": None},
        ]
    rows += [{"name": f"neg_{k}", "host": k, "kind": "none", "vf": None} for k in NEGATIVES]
    return rows


# A second set built AFTER the detector was tuned on the first, with styles it never saw
# (opaque top-centre logo, a text-free image logo, subtitles on a box, a top ticker, a mono bug)
# and other stretches of footage: a check of how far the dev numbers generalise.
HOLDOUT_HOSTS = {
    "bikes1": ("bikes", 1.24, "moving"), "diver_c": ("diver", 7.0, "moving"),
    "cockatoo_c": ("cockatoo", 10.0, "moving"), "vtest_b": ("vtest", 40.0, "static_camera"),
    "launch_b": ("launch", 3.3, "static_camera"),
}
HOLDOUT_NEGATIVES = {"megamind": ("megamind", 2.0), "phone": ("phone", 0.0), "bikes0": ("bikes", 0.0),
                     "vtest_c": ("vtest", 60.0), "cockatoo_d": ("cockatoo", 3.0)}
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
PLAIN = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def shape_logo_png(path: str) -> str:
    """A text-free bug: a filled triangle in a ring."""
    img = np.zeros((100, 100, 4), np.uint8)
    cv2.circle(img, (50, 50), 44, (255, 255, 255, 255), 5, cv2.LINE_AA)
    cv2.fillPoly(img, [np.array([[38, 28], [38, 72], [76, 50]], np.int32)], (255, 255, 255, 255), cv2.LINE_AA)
    cv2.imwrite(path, img)
    return path


def holdout_cases(out: str) -> list[dict]:
    shape = shape_logo_png(os.path.join(out, "shape.png"))
    subs = ",".join(f"drawtext=fontfile={PLAIN}:text='{t}':fontsize=34:fontcolor=white:box=1:boxcolor=black@0.5:"
                    f"boxborderw=8:x=(w-tw)/2:y=h-th-60:enable='gte(t,{1.5 * i})*lt(t,{1.5 * (i + 1)})'"
                    for i, t in enumerate(["Where are you going?", "Nowhere you would know", "Then take me"]))
    tick = ("drawbox=x=0:y=0:w=1280:h=50:color=0x800000@0.7:t=fill,drawtext=fontfile=/usr/share/fonts/truetype/"
            "dejavu/DejaVuSansCondensed-Bold.ttf:text='WEATHER  SUNNY 21C  TOMORROW RAIN  TRAFFIC QUIET ON THE A1':"
            "fontsize=30:fontcolor=white:x=w-mod(t*150\\,w+tw):y=10")
    rows = []
    for i, host in enumerate(HOLDOUT_HOSTS):
        rows += [
            {"name": f"h_{host}_opaque_top", "host": host, "kind": "logo",
             "vf": f"drawtext=fontfile={SERIF}:text='SPORT+':fontsize=40:fontcolor=0xffd000:x=(w-tw)/2:y=30"},
            {"name": f"h_{host}_shape_tr", "host": host, "kind": "logo", "image": shape, "alpha": 0.55,
             "xy": ("W-w-50", "40")},
            {"name": f"h_{host}_mono_bl", "host": host, "kind": "logo",
             "vf": f"drawtext=fontfile={MONO}:text='CH 5 HD':fontsize=32:fontcolor=white@0.45:box=1:"
                   f"boxcolor=black@0.45:boxborderw=10:x=50:y=h-th-50"},
            {"name": f"h_{host}_boxsubs", "host": host, "kind": "subtitle", "vf": subs},
            {"name": f"h_{host}_topticker", "host": host, "kind": "ticker", "vf": tick},
            {"name": f"h_{host}_clean", "host": host, "kind": "none", "vf": None},
        ]
    rows += [{"name": f"h_neg_{k}", "host": k, "kind": "none", "vf": None} for k in HOLDOUT_NEGATIVES]
    return rows


def _graph(case: dict, t0: float = 0.0) -> tuple[list[str], str]:
    """Extra inputs and the filter chain applied to [0:v] from ``t0`` s -> [v] (timestamps from 0;
    the source is decoded from its start: input seeking gives corrupt frames on cockatoo.mp4)."""
    base = f"[0:v]trim=start={t0}:duration={SECS},setpts=PTS-STARTPTS,scale={W}:{H},setsar=1,fps={FPS},format=yuv420p"
    if case.get("image"):
        x, y = case["xy"]
        return (["-i", case["image"]],
                f"{base}[b];[1:v]format=rgba,colorchannelmixer=aa={case['alpha']}[l];[b][l]overlay=x={x}:y={y}[v]")
    return [], base + (f",{case['vf']}" if case.get("vf") else "") + "[v]"


def truth_box(case: dict) -> list[float] | None:
    """Normalised box of every pixel the overlay chain changes on a flat grey frame."""
    if case["kind"] == "none":
        return None
    extra, graph = _graph(case)
    cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color=gray:s={W}x{H}:r={FPS}:d={SECS}", *extra,
           "-filter_complex", graph.replace("[v]", ",format=gray[v]"), "-map", "[v]", "-f", "rawvideo", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, H, W)
    ref = np.median(frames[:, ::40, ::40])
    mask = (np.abs(frames.astype(np.int16) - int(ref)) > 2).any(0)
    ys, xs = np.nonzero(mask)
    return [xs.min() / W, ys.min() / H, (xs.max() + 1 - xs.min()) / W, (ys.max() + 1 - ys.min()) / H]


def build(out: str, holdout: bool = False) -> None:
    os.makedirs(out, exist_ok=True)
    hosts, negs = (HOLDOUT_HOSTS, HOLDOUT_NEGATIVES) if holdout else (HOSTS, NEGATIVES)
    src = fetch(sorted({h[0] for h in hosts.values()} | {n[0] for n in negs.values()}))
    starts = {k: v[:2] for k, v in hosts.items()} | negs
    meta = []
    for case in (holdout_cases(out) if holdout else cases(out)):
        source, t0 = starts[case["host"]]
        path = os.path.join(out, case["name"] + ".mp4")
        extra, graph = _graph(case, t0)
        if not os.path.exists(path):
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src[source]),
                            *extra, "-filter_complex", graph, "-map", "[v]", "-an", "-c:v", "libx264",
                            "-preset", "veryfast", "-crf", "21", "-r", str(FPS), path], check=True)
        meta.append({"name": case["name"], "path": path, "kind": case["kind"], "host": case["host"],
                     "footage": hosts.get(case["host"], ("", 0, "negative"))[2], "box": truth_box(case)})
        print(case["name"], meta[-1]["box"], flush=True)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)


def iou(a: dict | None, b: list[float] | None) -> float:
    if not a or not b:
        return 0.0
    ax0, ay0, ax1, ay1 = a["x"], a["y"], a["x"] + a["w"], a["y"] + a["h"]
    bx0, by0, bx1, by1 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    iw, ih = max(0.0, min(ax1, bx1) - max(ax0, bx0)), max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    return inter / (a["w"] * a["h"] + b[2] * b[3] - inter)


def score(out: str, ocr: bool, only: str | None = None, secs: float = SECS) -> None:
    from curate.stages.analyze import analyse_span, build_analysers

    from curate.config import AnalyzeConfig

    cfg = AnalyzeConfig(ocr=ocr)
    engine = None
    if ocr:
        from curate.analysers.ocr import RapidOcrEngine

        engine = RapidOcrEngine(max_side=cfg.ocr_width, threads=cfg.ocr_threads, min_score=cfg.ocr_min_score)
    an = [a for a in build_analysers(cfg, engine) if a.name in ("overlay", "ocr")]
    with open(os.path.join(out, "cases.json")) as f:
        meta = json.load(f)
    rows = []
    for m in meta:
        if only and only not in m["name"]:
            continue
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        res = analyse_span(m["path"], 0, int(secs * FPS), FPS, an, cfg.width)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
        kind = res.get("overlay_kind") or "none"
        j = iou(res.get("overlay_box"), m["box"])
        rows.append((m, res, kind, j, cpu))
        print(f"{m['name']:24s} truth={m['kind']:8s} got={kind:8s} p={res['overlay_prob'] or 0:.2f} iou={j:.2f} "
              f"cpu={cpu:.2f}s  texts={(res.get('ocr_texts') or [])[:3]}", flush=True)
    pos = [r for r in rows if r[0]["kind"] != "none"]
    neg = [r for r in rows if r[0]["kind"] == "none"]
    det = [r for r in pos if r[2] != "none"]
    fp = [r for r in neg if r[2] != "none"]
    prec = len(det) / max(1, len(det) + len(fp))
    print(f"\noverlay clips {len(pos)}: detected {len(det)} (recall {len(det) / max(1, len(pos)):.2f}), "
          f"kind right {sum(r[2] == r[0]['kind'] for r in pos)}, IoU>=0.5 {sum(r[3] >= 0.5 for r in pos)}; "
          f"clean clips {len(neg)}: flagged {len(fp)} {[r[0]['name'] for r in fp]}; precision {prec:.2f}")
    for fk in ("moving", "static_camera"):
        sub = [r for r in pos if r[0]["footage"] == fk]
        print(f"  {fk}: {len(sub)} clips, detected {sum(r[2] != 'none' for r in sub)}, kind right "
              f"{sum(r[2] == r[0]['kind'] for r in sub)}, IoU>=0.5 {sum(r[3] >= 0.5 for r in sub)}")
    print(f"mean analysis CPU per {secs:g}-s clip (overlay+OCR analysers, decode included): "
          f"{np.mean([r[4] for r in rows]):.3f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["build", "score"])
    ap.add_argument("--out", default="/tmp/overlay_dev")
    ap.add_argument("--no-ocr", action="store_true")
    ap.add_argument("--holdout", action="store_true", help="build the second set (styles not tuned on)")
    ap.add_argument("--only")
    ap.add_argument("--secs", type=float, default=SECS, help="analyse only the first SECS seconds of each clip")
    a = ap.parse_args()
    build(a.out, a.holdout) if a.what == "build" else score(a.out, not a.no_ocr, a.only, a.secs)
