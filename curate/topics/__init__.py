"""User-focused topics (VideoUFO): cluster real text-to-video prompts into named topics,
collect video per topic with quotas, assign clips to topics, report coverage.

Modules: ``prompts`` (streaming read + clean + de-duplicate), ``embed`` (sentence embeddings,
batched or on Ray), ``cluster`` (k-means, merge, drop), ``naming`` (c-TF-IDF, optional LLM),
``fit`` (the whole fit, tables on disk), ``collect`` (per-topic queries, quotas, state),
``report`` (coverage Markdown/HTML), ``cli`` (the ``curate topics`` sub-commands).
Heavy imports (torch, sklearn) happen inside functions, so importing this package is cheap.
"""
