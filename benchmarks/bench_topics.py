"""Benchmark the topic fit: prompts/s for embedding and clustering, each against a baseline
measured in the same run.

* embedding: all-MiniLM-L6-v2 batched (``topics.embed.batch_size``) vs one prompt per call
  (the naive loop); prompts are built from the bundled sample file with varied modifiers.
* clustering: sklearn MiniBatchKMeans (what ``curate topics fit`` uses) vs full KMeans on the
  same synthetic embeddings (normalised Gaussian mixture, d=384), same k.
* merge: the centroid-merge step for k clusters.

    python benchmarks/bench_topics.py --prompts 2000 --cluster-n 100000 --k 500
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODS = ["", ", cinematic", ", at night", ", 4k", ", slow motion", ", drone shot", ", in the rain", ", anime style",
        ", golden hour", ", close up", ", time lapse", ", vintage film"]


def prompts(n: int, seed: int = 0) -> list[str]:
    base = [r["prompt"] for r in csv.DictReader(open(os.path.join(ROOT, "configs/prompts/sample_prompts.csv")))]
    rng = np.random.default_rng(seed)
    return [base[rng.integers(len(base))] + MODS[rng.integers(len(MODS))] + MODS[rng.integers(len(MODS))]
            for _ in range(n)]


def mixture(n: int, d: int, centres: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, d)).astype(np.float32)
    x = c[rng.integers(centres, size=n)] + rng.normal(scale=0.8, size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=2000)
    ap.add_argument("--single", type=int, default=300, help="prompts for the one-at-a-time baseline")
    ap.add_argument("--cluster-n", type=int, default=100_000)
    ap.add_argument("--full-n", type=int, default=None, help="rows for full KMeans (default cluster-n)")
    ap.add_argument("--k", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--merge-k", type=int, default=2000, help="clusters for the merge step (VideoUFO: 2,000)")
    args = ap.parse_args()

    import torch

    from curate.config import TopicsEmbedConfig
    from curate.topics.cluster import kmeans, merge_clusters
    from curate.topics.embed import SentenceTransformerEmbedder, embed_all

    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch threads "
          f"{torch.get_num_threads()}")
    cfg = TopicsEmbedConfig(device="cpu", batch_size=args.batch_size)
    t = time.perf_counter()
    emb = SentenceTransformerEmbedder(cfg.model, cfg.device, cfg.batch_size, cfg.max_seq_length)
    print(f"model load: {time.perf_counter() - t:.1f} s ({cfg.model})")
    texts = prompts(args.prompts)
    emb.encode(texts[:64])  # warm-up
    t, c = time.perf_counter(), time.process_time()
    embed_all(texts, emb, chunk_size=8192)
    batched, batched_cpu = len(texts) / (time.perf_counter() - t), len(texts) / (time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    for s in texts[: args.single]:
        emb.encode([s])
    single, single_cpu = args.single / (time.perf_counter() - t), args.single / (time.process_time() - c)
    print(f"embed batched (bs={args.batch_size}): {batched:,.1f} prompts/s wall, {batched_cpu:,.1f} per CPU-s | "
          f"one per call: {single:,.1f} prompts/s wall, {single_cpu:,.1f} per CPU-s | ratio {batched / single:.1f}x "
          f"wall, {batched_cpu / single_cpu:.1f}x CPU | 1.67M prompts batched: {1.67e6 / batched / 3600:.2f} h wall here")

    x = mixture(args.cluster_n, 384, max(args.k // 2, 2))
    def inertia(labels, cents, rows):
        return float(((rows - cents[labels]) ** 2).sum())

    t, c = time.perf_counter(), time.process_time()
    lab, cen = kmeans(x, args.k, "minibatch", seed=0, batch_size=8192, n_init=1, max_iter=100)
    mb, mb_cpu = time.perf_counter() - t, time.process_time() - c
    nf = args.full_n or args.cluster_n
    t, c = time.perf_counter(), time.process_time()
    lab_f, cen_f = kmeans(x[:nf], args.k, "full", seed=0, n_init=1, max_iter=100)
    full, full_cpu = time.perf_counter() - t, time.process_time() - c
    print(f"cluster n={args.cluster_n:,} k={args.k}: MiniBatchKMeans {mb:.1f} s wall / {mb_cpu:.1f} CPU-s "
          f"({args.cluster_n / mb:,.0f} prompts/s) | full KMeans n={nf:,} {full:.1f} s wall / {full_cpu:.1f} CPU-s "
          f"({nf / full:,.0f} prompts/s) | ratio {(args.cluster_n / mb) / (nf / full):.1f}x wall, "
          f"{(args.cluster_n / mb_cpu) / (nf / full_cpu):.1f}x CPU")
    if nf == args.cluster_n:
        print(f"  inertia (lower is better): minibatch {inertia(lab, cen, x):,.1f} vs full {inertia(lab_f, cen_f, x):,.1f}")
    # merge: k centroids around ~0.65k true directions, so about a third of them merge at 0.85
    rng = np.random.default_rng(0)
    base = rng.normal(size=(max(2, int(args.merge_k * 0.65)), 384))
    cents = (base[rng.integers(len(base), size=args.merge_k)] + rng.normal(scale=0.3, size=(args.merge_k, 384)))
    t = time.perf_counter()
    groups = merge_clusters(cents.astype(np.float32), np.full(args.merge_k, 10), 0.85)
    print(f"merge k={args.merge_k} centroids at cos>=0.85 -> {len(set(groups.tolist()))} topics: "
          f"{time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
