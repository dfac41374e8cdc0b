"""Name topics: c-TF-IDF keywords (default) or an LLM behind the ``TextGenerator`` protocol.

c-TF-IDF (BERTopic): all prompts of a topic form one document; a term's weight in topic c is
``tf(t, c) * log(1 + A / f(t))`` where ``tf`` is its frequency in the topic normalised by
the topic's term count, ``A`` the average number of terms per topic and ``f(t)`` the term's
frequency over all topics. Words common to every topic ("cinematic", "4k") score low;
words peculiar to one topic score high.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger("curate")


@runtime_checkable
class TextGenerator(Protocol):
    """Anything that answers a batch of text prompts (an LLM/VLM wrapper, an API client)."""

    def generate(self, prompts: list[str]) -> list[str]: ...


def ctfidf(docs_by_topic: Sequence[Sequence[str]], top_n: int = 10, ngram_max: int = 2,
           extra_stop_words: Sequence[str] = ()) -> list[list[tuple[str, float]]]:
    """Top ``top_n`` (keyword, score) per topic."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stop = sorted(set(ENGLISH_STOP_WORDS) | {w.lower() for w in extra_stop_words})
    joined = [" ".join(d) for d in docs_by_topic]
    if not any(s.strip() for s in joined):
        return [[] for _ in joined]
    vec = CountVectorizer(stop_words=stop, ngram_range=(1, ngram_max), token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z'-]+\b",
                          lowercase=True, dtype=np.float64)
    try:
        counts = vec.fit_transform(joined)  # (topics, terms) sparse
    except ValueError:  # only stop words everywhere
        return [[] for _ in joined]
    terms = vec.get_feature_names_out()
    tf = counts.multiply(1.0 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    f_t = np.asarray(counts.sum(axis=0)).ravel()
    avg = counts.sum() / max(1, counts.shape[0])
    idf = np.log1p(avg / np.maximum(f_t, 1))
    scores = tf.multiply(idf[None, :]).tocsr()
    out: list[list[tuple[str, float]]] = []
    for r in range(scores.shape[0]):
        row = scores.getrow(r)
        if row.nnz == 0:
            out.append([])
            continue
        order = np.lexsort((row.indices, -row.data))  # score desc, then term order: deterministic
        out.append([(str(terms[row.indices[i]]), float(row.data[i])) for i in order[: top_n * 3]])
    return [_dedupe(k, top_n) for k in out]


def _dedupe(keywords: list[tuple[str, float]], top_n: int) -> list[tuple[str, float]]:
    """Drop a unigram already inside a better bigram and a bigram whose words are both listed."""
    chosen: list[tuple[str, float]] = []
    for term, s in keywords:
        words = term.split()
        covered = any(term in c.split() or (len(words) > 1 and all(w in c.split() for w in words)) for c, _ in chosen)
        if covered:
            continue
        chosen.append((term, s))
        if len(chosen) >= top_n:
            break
    return chosen


def _same_stem(a: str, b: str) -> bool:
    """'dancer'/'dancing', 'car'/'cars': a shared prefix of 4 letters (or the whole shorter word)."""
    k = min(4, len(a), len(b))
    return a[:k] == b[:k]


def keyword_name(keywords: list[str], n: int = 3) -> str:
    """'dragon castle fire' from the best keywords, skipping repeated words and inflections."""
    words: list[str] = []
    for k in keywords:
        parts = k.split()
        if len(parts) > 1 and len(words) + len(parts) > n:
            continue  # a bigram that does not fit whole
        for w in parts:
            if not any(_same_stem(w, c) for c in words):
                words.append(w)
        if len(words) >= n:
            break
    return " ".join(words[:n]) or "misc"


def clean_llm_name(text: str, max_words: int = 6) -> str:
    line = next((ln for ln in (text or "").splitlines() if ln.strip()), "")
    line = re.sub(r"^(topic( name)?\s*[:\-]\s*)", "", line.strip(), flags=re.I)
    line = line.strip().strip("\"'`*#.").strip()
    return " ".join(line.split()[:max_words])


def llm_names(generator: TextGenerator, keywords: list[list[str]], representatives: list[list[str]],
              template: str) -> list[str | None]:
    """One generator call for all topics; empty answers come back as None (caller falls back)."""
    prompts = [template.format(keywords=", ".join(k), prompts="\n".join(f"- {p}" for p in reps))
               for k, reps in zip(keywords, representatives)]
    answers = generator.generate(prompts) if prompts else []
    if len(answers) != len(prompts):
        raise ValueError(f"TextGenerator returned {len(answers)} answers for {len(prompts)} prompts")
    return [clean_llm_name(a) or None for a in answers]


def load_generator(factory: str) -> TextGenerator:
    """Import ``module:callable`` and call it to get a TextGenerator."""
    if ":" not in factory:
        raise ValueError(f"topics.naming.llm_factory must be 'module:callable', got {factory!r}")
    mod, attr = factory.split(":", 1)
    obj: Any = getattr(importlib.import_module(mod), attr)
    gen = obj() if callable(obj) and not isinstance(obj, TextGenerator) else obj
    if not isinstance(gen, TextGenerator):
        raise TypeError(f"{factory} did not return an object with generate(prompts) -> list[str]")
    return gen
