"""The fast cut path (cuts.decode: fast): coarse reference-frame pass + exact refinement.

Videos are tiny (160x90, ~7 s) and encoded so that cuts fall on B-frames that the coarse pass
skips and away from keyframes (fixed GOP of 50 or one 250-frame GOP, scenecut off): the cut must
still be found on the exact frame, and agree with decoding every frame. Other codecs (MPEG-4
Part 2, HEVC, VP9, AV1, intra-only H.264 and MJPEG), variable frame durations and an A -> B -> A
flash inside one GOP must give the same cuts as the full decode.
"""

from __future__ import annotations

import os
import random
import subprocess

import av
import pytest

from curate import cutdetect
from curate.config import CutsConfig
from curate.cutdetect import Params, Stats, flash_merge
from curate.media import ffmpeg_exe, run_ffmpeg
from curate.stage import StageError
from curate.stages.cuts import Cuts, detect_cuts

FPS = 25
# (lavfi source, frames): every boundary is a hard cut at a known frame
SEGMENTS = [("testsrc2", 37), ("mandelbrot", 49), ("smptebars", 57), ("testsrc", 40)]
TRUTH = [37, 86, 143]
N = sum(f for _, f in SEGMENTS)

ENCODERS = {
    # fixed GOP of 50, no scenecut keyframes, 3 B-frames with a reference pyramid
    "h264_fixed_gop": (["-c:v", "libx264", "-preset", "veryfast", "-x264-params",
                        "keyint=50:min-keyint=50:scenecut=0:bframes=3:b-pyramid=normal:threads=1"], "mp4"),
    # one GOP for the whole video (keyint 250 > N): every cut is inside a single P/B run
    "h264_long_gop": (["-c:v", "libx264", "-preset", "veryfast", "-x264-params",
                       "keyint=250:min-keyint=250:scenecut=0:bframes=3:b-pyramid=normal:threads=1"], "mp4"),
    # intra-only: every frame is a keyframe (NONREF skips nothing)
    "h264_intra": (["-c:v", "libx264", "-preset", "veryfast", "-x264-params", "keyint=1:threads=1"], "mp4"),
    "mjpeg": (["-c:v", "mjpeg", "-q:v", "5"], "avi"),
    "mpeg4_bframes": (["-c:v", "mpeg4", "-bf", "2", "-g", "50", "-q:v", "4"], "avi"),
    "hevc_fixed_gop": (["-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                        "keyint=50:min-keyint=50:scenecut=0:bframes=3:log-level=error"], "mp4"),
    "vp9": (["-c:v", "libvpx-vp9", "-g", "50", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"], "webm"),
    "av1": (["-c:v", "libsvtav1", "-g", "50", "-preset", "12"], "mp4"),
    # open GOPs (x265's hevc_fixed_gop above is one too: open-gop is x265's default): the B-frames
    # before each non-first I-frame (display order) reference the previous GOP
    "h264_open_gop": (["-c:v", "libx264", "-preset", "veryfast", "-x264-params",
                       "keyint=50:min-keyint=50:scenecut=0:bframes=3:b-pyramid=normal:open-gop=1:threads=1"], "mp4"),
}


def _has_encoder(name: str) -> bool:
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


@pytest.fixture(scope="module")
def fast_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("cuts_fast"))


def _make(fast_dir: str, kind: str, vfr: bool = False) -> str:
    """The SEGMENTS video encoded as ``kind``; ``vfr``: irregular frame durations (1, 1.4, 1.8 x 1/25 s)."""
    args, enc_ext = ENCODERS[kind]
    if not _has_encoder(args[1]):
        pytest.skip(f"ffmpeg has no {args[1]} encoder")
    path = os.path.join(fast_dir, f"{kind}{'_vfr' if vfr else ''}.{enc_ext}")
    if os.path.exists(path):
        return path
    inputs, chains = [], ""
    for i, (src, frames) in enumerate(SEGMENTS):
        sep = ":" if "=" in src else "="
        inputs += ["-f", "lavfi", "-i", f"{src}{sep}size=160x90:rate={FPS}"]
        chains += f"[{i}:v]trim=end_frame={frames},setpts=PTS-STARTPTS,format=yuv420p,setsar=1[v{i}];"
    concat = "".join(f"[v{i}]" for i in range(len(SEGMENTS))) + f"concat=n={len(SEGMENTS)}:v=1:a=0"
    # 1/1000 s time base; frame k at (k + 0.4 * (k mod 3)) / 25 s: strictly increasing, three durations
    concat += f",settb=1/1000,setpts='(N+0.4*mod(N\\,3))/{FPS}/TB'[o]" if vfr else "[o]"
    extra = ["-fps_mode", "passthrough", "-enc_time_base", "1/1000", "-video_track_timescale", "1000"] if vfr else []
    run_ffmpeg([*inputs, "-filter_complex", chains + concat, "-map", "[o]", *args, "-pix_fmt", "yuv420p",
                *extra, path])
    return path


def _make_flash(fast_dir: str) -> str:
    """testsrc2 with a 20-frame mandelbrot flash at 60..79, fixed GOP 50 (keyframes 0, 50, 100, ...).

    A -> B -> A inside one GOP: the keyframes either side (50, 100) both show A, the flash starts
    on a B-frame the coarse pass skips."""
    path = os.path.join(fast_dir, "flash.mp4")
    if not os.path.exists(path):
        run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={FPS}", "-f", "lavfi", "-i",
                    f"mandelbrot=size=160x90:rate={FPS}", "-filter_complex",
                    "[0:v]trim=end_frame=250,setpts=PTS-STARTPTS,format=yuv420p,split[a][b];"
                    "[a]trim=end_frame=60,setpts=PTS-STARTPTS[a1];[b]trim=start_frame=80,setpts=PTS-STARTPTS[a2];"
                    "[1:v]trim=end_frame=20,setpts=PTS-STARTPTS,format=yuv420p[m];[a1][m][a2]concat=n=3:v=1:a=0[o]",
                    "-map", "[o]", *ENCODERS["h264_fixed_gop"][0], "-pix_fmt", "yuv420p", path])
    return path


def _coarse_indices(path: str) -> tuple[set[int], set[int]]:
    """(frame indices a NONREF decode outputs, keyframe indices) by timestamp rank."""
    with av.open(path) as c:
        vs = c.streams.video[0]
        pkts = sorted((p.pts, p.is_keyframe) for p in c.demux(vs) if p.size)
    rank = {pts: i for i, (pts, _) in enumerate(pkts)}
    with av.open(path) as c:
        vs = c.streams.video[0]
        vs.codec_context.skip_frame = "NONREF"
        decoded = {rank[f.pts] for f in c.decode(vs)}
    return decoded, {rank[pts] for pts, key in pkts if key}


@pytest.mark.parametrize("kind", ["h264_fixed_gop", "h264_long_gop"])
def test_cut_on_skipped_b_frame_found_exactly(fast_dir, kind):
    path = _make(fast_dir, kind)
    decoded, keys = _coarse_indices(path)
    # the video is what the test claims: cuts off keyframes, some on frames the coarse pass skips
    assert not keys & set(TRUTH)
    assert keys == ({0} if kind == "h264_long_gop" else {0, 50, 100, 150})
    assert set(TRUTH) - decoded
    assert len(decoded) < 0.75 * N
    for detector in ("adaptive", "content"):
        st = Stats()
        cuts, n = detect_cuts(path, FPS, CutsConfig(detector=detector), st)
        assert (cuts, n) == (TRUTH, N), (detector, cuts, n)
        assert st.decoded_coarse == len(decoded) and st.refined >= 1 and st.fallback is None
        assert detect_cuts(path, FPS, CutsConfig(detector=detector, decode="exact")) == (cuts, n)


@pytest.mark.parametrize("kind", ["mpeg4_bframes", "hevc_fixed_gop", "vp9", "av1", "h264_intra", "mjpeg"])
def test_other_codecs_match_full_decode(fast_dir, kind):
    path = _make(fast_dir, kind)
    for detector in ("adaptive", "content"):
        fast = detect_cuts(path, FPS, CutsConfig(detector=detector))
        exact = detect_cuts(path, FPS, CutsConfig(detector=detector, decode="exact"))
        assert fast == exact, (kind, detector, fast, exact)
        assert fast[1] == N


def test_intra_only_decodes_every_frame_once_in_the_coarse_pass(fast_dir):
    path = _make(fast_dir, "h264_intra")
    decoded, keys = _coarse_indices(path)
    assert len(keys) == len(decoded) == N  # the video is intra-only
    st = Stats()
    assert detect_cuts(path, FPS, CutsConfig(), st) == (TRUTH, N)
    # every coarse gap is one frame: the coarse scores are exact, nothing needs refining
    assert st.decoded_coarse == N and st.decoded_exact == 0 and st.fallback is None


def test_variable_frame_rate(fast_dir):
    path = _make(fast_dir, "h264_fixed_gop", vfr=True)
    with av.open(path) as c:
        pts = sorted(p.pts for p in c.demux(video=0) if p.size)
    assert len(set(b - a for a, b in zip(pts, pts[1:]))) >= 3  # really variable
    for detector in ("adaptive", "content"):
        st = Stats()
        got = detect_cuts(path, FPS, CutsConfig(detector=detector), st)
        assert got == (TRUTH, N), (detector, got)
        assert st.fallback is None
        assert detect_cuts(path, FPS, CutsConfig(detector=detector, decode="exact")) == got


def test_flash_inside_one_gop(fast_dir):
    """A -> B -> A between two keyframes that both show A (why keyframe-only screening is unsafe)."""
    path = _make_flash(fast_dir)
    decoded, keys = _coarse_indices(path)
    assert keys == {0, 50, 100, 150, 200} and 60 not in decoded
    for detector in ("adaptive", "content"):
        got = detect_cuts(path, FPS, CutsConfig(detector=detector))
        assert got == ([60, 80], 250), (detector, got)
        assert detect_cuts(path, FPS, CutsConfig(detector=detector, decode="exact")) == got


def test_loop_filter_setting_does_not_change_cuts(fast_dir):
    path = _make(fast_dir, "h264_fixed_gop")
    for lf in (True, False):
        assert detect_cuts(path, FPS, CutsConfig(skip_loop_filter=lf)) == (TRUTH, N)


def test_fast_path_skips_frames_on_real_footage(samples):
    st = Stats()
    cuts, n = detect_cuts(samples["bikes"].path, 25.0, CutsConfig(), st)
    assert n == 250 and len(cuts) == 5
    assert st.decoded_coarse < 0.7 * n  # the coarse pass really decodes less
    assert st.decoded_coarse + st.decoded_exact < n


def test_flash_merge_equals_pyscenedetect_flashfilter():
    from scenedetect import FrameTimecode
    from scenedetect.detector import FlashFilter

    rng = random.Random(4)
    for trial in range(300):
        n = rng.randint(1, 120)
        length = rng.choice([0, 1, 3, 15])
        p = rng.choice([0.02, 0.1, 0.4])
        above = {t for t in range(1, n) if rng.random() < p}
        ff = FlashFilter(FlashFilter.Mode.MERGE, length)
        want = []
        for t in range(n):
            want += [c.frame_num for c in ff.filter(FrameTimecode(t, fps=25.0), t in above)]
        assert flash_merge(above, n, length) == want, (trial, n, length, sorted(above))


@pytest.mark.parametrize("decode", ["fast", "exact"])
def test_truncated_file_is_an_error(bad_inputs, decode):
    stage = Cuts(CutsConfig(decode=decode), None)
    row = {"local_path": bad_inputs["truncated_faststart"], "fps": 25.0, "num_frames": 100}
    with pytest.raises(StageError) as e:
        stage.process(row)
    assert e.value.reason == "truncated"


def test_frame_count_matches_full_decode(samples):
    for s in samples.values():
        with av.open(s.path) as c:
            full = sum(1 for _ in c.decode(video=0))
        assert detect_cuts(s.path, 25.0, CutsConfig())[1] == full, s.name


CLOSED_GOP = ["h264_fixed_gop", "mpeg4_bframes", "vp9", "av1", "h264_intra", "mjpeg"]


def _coarse(path: str, threads: int) -> tuple[Stats, tuple]:
    st = Stats()
    return st, cutdetect._coarse_pass(path, Params(detector="adaptive", threads=threads), st)


def _remux(fast_dir: str, kind: str, ext: str) -> str:
    src = _make(fast_dir, kind)
    path = os.path.join(fast_dir, f"{kind}_remux.{ext}")
    if not os.path.exists(path):
        run_ffmpeg(["-i", src, "-c", "copy", path])
    return path


@pytest.mark.parametrize("kind", [*CLOSED_GOP, "h264_fixed_gop_vfr", "h264_fixed_gop.ts", "h264_fixed_gop.mkv"])
def test_gop_parallel_coarse_pass_equals_sequential(fast_dir, kind):
    """Segments decoded at once and stitched give the sequential pass, value for value. Seeks
    are not exact: the VFR MP4 seeks by dts (a GOP before the keyframe asked for), MPEG-TS by
    bytes (any packet, before or after); each segment demuxes forward to its keyframe."""
    if "." in kind:
        path = _remux(fast_dir, *kind.split("."))
    else:
        path = _make(fast_dir, kind.removesuffix("_vfr"), vfr=kind.endswith("_vfr"))
    seq_st, seq = _coarse(path, 1)
    par_st, par = _coarse(path, 4)
    assert seq_st.segments == 1 and par_st.segments >= 3  # ~7 s video: 2 s minimum per segment
    for a, b in zip(seq, par):  # sorted pts, keyframe pts, decoded indices, scores
        assert a.tolist() == b.tolist()
    assert par_st.frames == N and par_st.decoded_coarse == seq_st.decoded_coarse


@pytest.mark.parametrize("kind", ["h264_open_gop", "hevc_fixed_gop"])
def test_gop_parallel_open_gop(fast_dir, kind):
    """Leading pictures of an open GOP need the previous segment: left out of the coarse pass,
    every frame still counted, and the cuts equal the sequential and the full decode."""
    path = _make(fast_dir, kind)
    _, seq = _coarse(path, 1)
    par_st, par = _coarse(path, 4)
    assert par_st.segments >= 3
    assert seq[0].tolist() == par[0].tolist() and seq[1].tolist() == par[1].tolist()
    assert set(par[2].tolist()) <= set(seq[2].tolist())
    for detector in ("adaptive", "content"):
        want = detect_cuts(path, FPS, CutsConfig(detector=detector, decode="exact"))
        assert want == (TRUTH, N)
        for threads in (1, 4):
            assert detect_cuts(path, FPS, CutsConfig(detector=detector, threads=threads)) == want, (detector, threads)


def test_parallel_refinement_equals_sequential(fast_dir):
    """content on a fixed-GOP video refines many windows: split over decoders, same scores."""
    path = _make(fast_dir, "h264_fixed_gop")
    runs = {}
    for threads in (1, 3):
        st = Stats()
        runs[threads] = detect_cuts(path, FPS, CutsConfig(detector="content", threads=threads), st), st
    (one, st1), (three, st3) = runs[1], runs[3]
    assert one == three == (TRUTH, N)
    assert len(st1.regions) >= 3 and st1.regions == st3.regions
    assert st3.seeks >= 3  # each of the 3 runs opened (and seeked) its own decoder


def test_split_that_does_not_line_up_falls_back_to_one_segment(fast_dir, monkeypatch):
    """A split point that is no keyframe (as an imprecise seek would give): one sequential pass."""
    path = _make(fast_dir, "h264_fixed_gop")
    _, seq = _coarse(path, 1)
    key_pts = seq[1].tolist()
    off_key = int(seq[0][60])  # frame 60: not a keyframe (keyframes 0, 50, 100, 150)
    assert off_key not in key_pts
    monkeypatch.setattr(cutdetect, "_split_points", lambda *a: [(off_key, -1), (key_pts[2], -1)])
    st, par = _coarse(path, 2)
    assert st.segments == 1
    assert [x.tolist() for x in par] == [x.tolist() for x in seq]


def test_truncated_file_is_the_same_error_in_parallel(bad_inputs):
    stage = Cuts(CutsConfig(threads=4), None)
    row = {"local_path": bad_inputs["truncated_faststart"], "fps": 25.0, "num_frames": 100}
    with pytest.raises(StageError) as e:
        stage.process(row)
    assert e.value.reason == "truncated"


def test_threads_zero_follows_the_ray_reservation(ray_local):
    """In the pipeline a cuts task holds 1 CPU: threads: 0 must mean one decoder, not every core."""
    import ray

    from curate.media import worker_cpus

    @ray.remote(num_cpus=1)
    def one():
        return worker_cpus()

    assert ray.get(one.remote()) == 1
    assert worker_cpus() >= 1  # the driver: its CPU affinity


def test_segment_error_falls_back_to_one_segment(fast_dir, monkeypatch):
    """A seek or decode error in a split segment (unseekable input, demuxer quirk) never fails
    the video: the sequential pass decides."""
    path = _make(fast_dir, "h264_fixed_gop")
    _, seq = _coarse(path, 1)
    real = cutdetect._coarse_segment

    def flaky(path, p, start, stop):
        if start is not None:
            raise av.error.ValueError(22, "seek failed")
        return real(path, p, start, stop)

    monkeypatch.setattr(cutdetect, "_coarse_segment", flaky)
    st, par = _coarse(path, 3)
    assert st.segments == 1
    assert [x.tolist() for x in par] == [x.tolist() for x in seq]
