"""Fields of the ``topics`` tables (VideoUFO-style user-focused topics) and the topic columns
appended to ``videos`` and ``clips``.

``TOPICS`` is written by ``curate topics fit`` to ``<topics dir>/topics.parquet``;
``PROMPT_TOPICS`` to ``<topics dir>/prompt_topics.parquet`` (one row per unique prompt).
"""

from __future__ import annotations

import pyarrow as pa

from curate.schemas._fields import field

TOPIC_FIELDS: list[pa.Field] = [
    field("topic_id", pa.int32(), "Topic id, 0..n-1, ordered by size (0 = most prompts).", nullable=False),
    field("name", pa.string(), "Short topic name (c-TF-IDF keywords, or an LLM's name when naming.backend=llm)."),
    field("keywords", pa.list_(pa.string()), "Top c-TF-IDF keywords/bigrams of the topic's prompts, best first."),
    field("keyword_scores", pa.list_(pa.float32()), "c-TF-IDF score of each keyword (same order as `keywords`)."),
    field("size", pa.int64(), "Number of unique prompts assigned to the topic."),
    field("share", pa.float64(), "size / number of assigned prompts (how much users ask for this topic)."),
    field("centroid", pa.list_(pa.float32()), "L2-normalised mean embedding of the topic's prompts."),
    field("representative_prompts", pa.list_(pa.string()), "Prompts closest to the centroid, most typical first."),
    field("cohesion", pa.float32(), "Mean cosine similarity of the topic's prompts to its centroid."),
    field("merged_from", pa.list_(pa.int32()), "Ids of the k-means clusters merged into this topic."),
    field("naming_method", pa.string(), "ctfidf | llm: how `name` was produced."),
]

PROMPT_TOPIC_FIELDS: list[pa.Field] = [
    field("prompt_id", pa.string(), "Stable id of the cleaned prompt (blake2b-64 of its normalised text, hex).", nullable=False),
    field("prompt", pa.string(), "The cleaned prompt text (first occurrence of its normalised form)."),
    field("count", pa.int64(), "How many times the prompt occurred in the input before de-duplication."),
    field("cluster_id", pa.int32(), "Raw k-means cluster before merging/dropping."),
    field("topic_id", pa.int32(), "Final topic, or -1 when its cluster was dropped as too small."),
    field("similarity", pa.float32(), "Cosine similarity of the prompt to its topic's centroid (null when topic_id = -1)."),
]

# Appended to VIDEO_FIELDS: the topic whose search query found the video.
TOPIC_VIDEO_FIELDS: list[pa.Field] = [
    field("query_topic_id", pa.int32(), "Topic whose search query found this video (null for non-topic sources)."),
    field("search_query", pa.string(), "The search string that found this video (topic collection only)."),
]

# Appended to CLIP_FIELDS: the topic a clip belongs to.
TOPIC_CLIP_FIELDS: list[pa.Field] = [
    field("query_topic_id", pa.int32(), "Topic whose search query found the clip's video (copied from the video)."),
    field("topic_id", pa.int32(), "Assigned topic (see `topic_method`); null when no topic could be assigned."),
    field("topic_name", pa.string(), "Name of the assigned topic."),
    field("topic_similarity", pa.float32(), "Cosine similarity of the clip's caption embedding to the topic centroid (null for method=query)."),
    field("topic_method", pa.string(), "caption (nearest centroid to the caption embedding) | query (topic that found the video) | none."),
]

TOPICS: pa.Schema = pa.schema(TOPIC_FIELDS, metadata={"curate.table": "topics"})
PROMPT_TOPICS: pa.Schema = pa.schema(PROMPT_TOPIC_FIELDS, metadata={"curate.table": "prompt_topics"})
