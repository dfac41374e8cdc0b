"""The last stage: train a text-to-video generator on the shards with Ray Train.

* :mod:`curate.train.feed` - clip selection (DuckDB) -> Ray Data decode -> shape buckets
* :mod:`curate.train.model` - the reference generator (tiny text-conditioned video DiT, flow matching)
* :mod:`curate.train.loop` - the reference ``train_loop_per_worker``
* :mod:`curate.train.launch` - builds the ``TorchTrainer``, runs it, links the checkpoint to the shards
"""

from __future__ import annotations

__all__ = ["train"]


def train(*args, **kwargs):  # lazy: importing curate.train must not import torch/ray
    from curate.train.launch import train as _train

    return _train(*args, **kwargs)
