"""Cluster prompt embeddings: k-means, then merge clusters with near-identical centroids and
drop tiny ones (VideoUFO: k-means 2,000 -> merge -> 1,291 topics).

Embeddings are L2-normalised, so Euclidean k-means on them is spherical k-means up to the
centroid norm; merging compares normalised centroids by cosine similarity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("curate")


def normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def kmeans(x: np.ndarray, k: int, algorithm: str = "minibatch", seed: int = 0, batch_size: int = 8192,
           n_init: int = 3, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels, centroids) of k-means on ``x`` (rows)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = max(1, min(k, len(x)))
    if algorithm == "full":
        km = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed)
        labels = km.fit_predict(x)
    else:
        km = MiniBatchKMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed,
                             batch_size=min(max(batch_size, 3 * k), max(len(x), 1)), reassignment_ratio=0.01)
        km.fit(x)
        labels = predict(x, km.cluster_centers_.astype(np.float32))
    return labels.astype(np.int32), km.cluster_centers_.astype(np.float32)


def predict(x: np.ndarray, centroids: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Nearest centroid (Euclidean) per row, in chunks so memory stays bounded."""
    c2 = (centroids**2).sum(1)
    out = np.empty(len(x), dtype=np.int32)
    for i in range(0, len(x), chunk):
        d = c2[None, :] - 2.0 * (x[i:i + chunk] @ centroids.T)
        out[i:i + chunk] = d.argmin(1)
    return out


def merge_clusters(centroids: np.ndarray, sizes: np.ndarray, threshold: float) -> np.ndarray:
    """Agglomerate clusters whose (size-weighted) centroids are at cosine >= ``threshold``.

    Repeatedly merges the most similar pair and recomputes the merged centroid as the
    size-weighted mean, so a chain of slightly-similar clusters is not merged through one
    link (unlike single linkage). Returns ``group[i]``: the merged group of cluster ``i``
    (group ids are the smallest member cluster id).
    """
    k = len(centroids)
    group = np.arange(k)
    if threshold >= 1.0 or k < 2:
        return group
    c = normalise(centroids.astype(np.float64)).astype(np.float64) * sizes[:, None].astype(np.float64)
    alive = sizes > 0
    cn = normalise(c).astype(np.float64)
    sim = cn @ cn.T
    np.fill_diagonal(sim, -np.inf)
    sim[~alive, :] = -np.inf
    sim[:, ~alive] = -np.inf
    while True:
        flat = int(np.argmax(sim))
        i, j = divmod(flat, k)
        if not np.isfinite(sim[i, j]) or sim[i, j] < threshold:
            break
        a, b = min(i, j), max(i, j)
        c[a] += c[b]  # sum of member embeddings (size-weighted)
        group[group == b] = a
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        alive[b] = False
        cn[a] = normalise(c[a][None, :])[0]
        row = cn @ cn[a]
        row[~alive] = -np.inf  # merged-away clusters stay out
        row[a] = -np.inf
        sim[a, :] = row
        sim[:, a] = row
    return group


@dataclass
class Clustering:
    """Result of :func:`cluster_embeddings`."""

    cluster_labels: np.ndarray  # raw k-means cluster per row
    topic_labels: np.ndarray  # final topic per row (-1 = dropped)
    centroids: np.ndarray  # (n_topics, d) normalised
    similarity: np.ndarray  # cosine of each row to its topic centroid (nan when dropped)
    merged_from: list[list[int]]  # raw clusters per topic
    k_used: int


def cluster_embeddings(x: np.ndarray, k: int, *, algorithm: str = "minibatch", seed: int = 0,
                       batch_size: int = 8192, n_init: int = 3, max_iter: int = 100,
                       merge_threshold: float = 0.85, min_topic_size: int = 5) -> Clustering:
    """k-means -> merge -> drop small -> topics ordered by size (ties by first raw cluster)."""
    n = len(x)
    k_max = max(1, n // max(1, min_topic_size))
    if k > k_max:
        log.warning("topics: k=%d is more than prompts/min_topic_size=%d; using k=%d", k, k_max, k_max)
        k = k_max
    labels, cents = kmeans(x, k, algorithm, seed, batch_size, n_init, max_iter)
    sizes = np.bincount(labels, minlength=len(cents))
    group = merge_clusters(cents, sizes, merge_threshold)
    merged = group[labels]
    gsize = np.bincount(merged, minlength=len(cents))
    keep = [g for g in np.unique(merged) if gsize[g] >= min_topic_size]
    keep.sort(key=lambda g: (-gsize[g], g))
    remap = np.full(len(cents), -1, dtype=np.int32)
    for t, g in enumerate(keep):
        remap[g] = t
    topic = remap[merged]
    d = x.shape[1]
    sums = np.zeros((len(keep), d), dtype=np.float64)
    ok = topic >= 0
    np.add.at(sums, topic[ok], x[ok])
    centroids = normalise(sums)
    sim = np.full(n, np.nan, dtype=np.float32)
    idx = np.nonzero(ok)[0]
    for i in range(0, len(idx), 65536):
        part = idx[i:i + 65536]
        sim[part] = np.einsum("ij,ij->i", normalise(x[part]), centroids[topic[part]])
    merged_from = [[int(c) for c in np.nonzero(group == g)[0] if sizes[c] > 0] for g in keep]
    n_dropped = int((~ok).sum())
    log.info("topics: k-means %d clusters -> %d after merge (cos >= %.2f) -> %d topics (%d prompts in dropped clusters)",
             len(cents), len(np.unique(merged)), merge_threshold, len(keep), n_dropped)
    return Clustering(labels, topic, centroids, sim, merged_from, k)
