"""A minimal custom ``train.loop``: the feed without a model.

``train.loop: curate.train.examples:feed_check_loop`` pulls ``train.steps`` batches through the
exact feed a training loop gets (Ray Data decode -> buckets -> batches on each Ray Train worker)
and reports throughput, buckets and skip counts - a loader check for a new dataset or cluster
before spending GPU hours, and the smallest example of the custom-loop contract
(docs/training.md "Your own training loop").
"""

from __future__ import annotations

import time
from typing import Any


def feed_check_loop(config: dict[str, Any]) -> None:
    import ray.train

    from curate.config import TrainConfig
    from curate.train.feed import BucketBatcher, iter_train_batches

    cfg = TrainConfig.model_validate(config["train"])
    every = int(config.get("report_every", cfg.log_every))  # a train.loop_config key
    batcher = BucketBatcher(cfg.batch_size, cfg.drop_last)
    feed = iter_train_batches(ray.train.get_dataset_shard("train"), cfg, batcher)
    t0, seen, buckets = time.perf_counter(), 0, {}
    for step in range(1, cfg.steps + 1):
        epoch, batch = next(feed)
        b = batch.frames.shape
        assert all(len(x) == b[0] for x in (batch.texts, batch.clip_ids)), "batch fields disagree"
        seen += b[0]
        buckets[batch.bucket] = buckets.get(batch.bucket, 0) + b[0]
        if step % every == 0 or step == cfg.steps:
            ray.train.report({"step": step, "start_step": 0, "epoch": epoch, "samples_seen": seen,
                              "samples_per_s": seen / (time.perf_counter() - t0), "decoded": batcher.decoded,
                              "skipped": dict(batcher.skipped), "buckets": dict(buckets), "loss": None})
