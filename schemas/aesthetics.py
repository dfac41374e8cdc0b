"""Clip fields added by the aesthetics stage (open_clip embedding + LAION-style aesthetic head)."""

from __future__ import annotations

import pyarrow as pa

from curate.schemas._fields import field

AESTHETIC_FIELDS: list[pa.Field] = [
    field("aesthetic_score", pa.float32(),
          "LAION improved-aesthetic-predictor score (about 1-10) of sampled frames, reduced by aesthetics.reduce; "
          "null when no head is configured or the model is unavailable."),
    field("clip_embedding", pa.list_(pa.float32()),
          "L2-normalised open_clip image embedding, mean of the sampled frames (for dedup, topics, retrieval)."),
    field("clip_model", pa.string(), "open_clip model and pretrained tag/checkpoint that produced the embedding."),
    field("aesthetic_status", pa.string(), "ok | skipped (model unavailable) | failed (frames could not be read)."),
    field("aesthetic_error", pa.string(), "Why aesthetic_status is not ok (what to do is in the run log)."),
]

# Stream-only (never written to shards): the few frames the analyse stage samples for the
# aesthetics stage from its own decode (analyze.aesthetic_frames); aesthetics consumes and
# drops them, and decodes the clip itself when they are absent.
AESTHETIC_FRAMES = field("aesthetic_frames", pa.list_(pa.binary()),
                         "Stream-only: JPEG frames (first..last of the clip, upright, 448 px shorter side) "
                         "sampled by the analyse stage for the aesthetics stage.")
