"""Caption throughput on CPU: batched hierarchy vs one-request-at-a-time, same model, same run.

    .venv/bin/python benchmarks/captions.py [--clips 8] [--model PATH]

Without --model a tiny random-init Qwen2-VL is built offline (its text is random, so this
measures the plumbing and batching, not a real model). Frames are decoded once by the real
caption_frames stage from bikes.mp4 shots; then the same ClipJobs are captioned
(a) batched: all clips in one Hierarchy.run, generate calls of up to 32 requests, and
(b) baseline: each clip alone, each request in its own generate call (max_batch_requests=1).
Prints clips/s and output tokens/s of both and the ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import pyarrow as pa


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()

    from curate.schemas import stream_schema
    from curate.stages.caption_frames import CaptionFrames

    from curate.captioners import load_captioner
    from curate.captioners.hierarchy import ClipJob, Hierarchy
    from curate.captioners.prompts import load_prompts
    from curate.captioners.testing import build_tiny_vlm
    from curate.config import CaptionsConfig, CaptionTokens
    from curate.samples import BIKES_CUTS, ensure_samples
    from curate.stage import RunContext

    tmp = tempfile.mkdtemp(prefix="capbench-")
    model = args.model or build_tiny_vlm(os.path.join(tmp, "tiny"))
    bikes = next(s for s in ensure_samples(os.path.join(tmp, "samples")) if s.name == "bikes").path
    tokens = CaptionTokens(window=24, diff=24, detailed=48, brief=24, chapter=16)
    cfg = CaptionsConfig(enabled=True, model=model, num_gpus=0, device="cpu", max_new_tokens=tokens,
                         window_s=1.0, image_max_side=224, max_batch_requests=32)
    bounds = [0, *BIKES_CUTS, 250]
    rows = []
    for i in range(args.clips):
        a, b = bounds[i % 6], bounds[i % 6 + 1]
        rows.append({"record": "clip", "status": "ok", "clip_id": f"c{i}", "local_path": bikes, "clip_path": None,
                     "start_s": a / 25, "end_s": b / 25, "duration_s": (b - a) / 25, "is_long_take": False})
    t0 = time.perf_counter()
    framed = CaptionFrames(cfg, RunContext("bench", tmp, tmp))(pa.Table.from_pylist(rows, schema=stream_schema()))
    decode_s = time.perf_counter() - t0
    jobs = [ClipJob(r["clip_id"], r["duration_s"], r["caption_frames"]) for r in framed.to_pylist()]
    n_frames = sum(len(j.frames) for j in jobs)
    prompts = load_prompts(cfg.prompts)

    def run(c: CaptionsConfig, batched: bool) -> tuple[float, int]:
        h = Hierarchy(load_captioner(c), prompts, c)
        h.run(jobs[:1])  # warm-up
        t = time.perf_counter()
        outs = h.run(jobs) if batched else [o for j in jobs for o in h.run([j])]
        return time.perf_counter() - t, sum(o["caption_output_tokens"] for o in outs)

    base_s, base_tok = run(cfg.model_copy(update={"max_batch_requests": 1}), batched=False)
    fast_s, fast_tok = run(cfg, batched=True)
    print(f"model: {model}")
    print(f"decode (caption_frames, CPU): {len(jobs)} clips, {n_frames} JPEG frames kept, {decode_s:.2f} s")
    print(f"baseline  (1 request per generate): {len(jobs) / base_s:.2f} clips/s, {base_tok / base_s:.0f} out tok/s")
    print(f"batched   (hierarchy across clips): {len(jobs) / fast_s:.2f} clips/s, {fast_tok / fast_s:.0f} out tok/s")
    print(f"speed-up clips/s: {base_s / fast_s:.2f}x")


if __name__ == "__main__":
    main()
