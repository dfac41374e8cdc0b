"""Caption guards: detect empty, truncated, repetitive, wrong-language and over-long outputs.

Each detector is a pure function of the text (plus the generation's finish reason), so they
are cheap, unit-testable and identical for every backend. ``check`` returns the names of
the guards that fired; the hierarchy retries such a generation once, then keeps the best
attempt and records the flags in ``caption_flags``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from curate.captioners.base import Result

WORD = re.compile(r"\w+", re.UNICODE)

# Expected scripts per language code (only languages listed here get a script check).
SCRIPTS: dict[str, tuple[str, ...]] = {
    **{code: ("LATIN",) for code in ("en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl",
                                      "cs", "ro", "tr", "id", "vi", "hu")},
    "ru": ("CYRILLIC",), "uk": ("CYRILLIC",), "bg": ("CYRILLIC",), "el": ("GREEK",),
    "zh": ("CJK",), "ja": ("CJK", "HIRAGANA", "KATAKANA"), "ko": ("HANGUL", "CJK"),
    "ar": ("ARABIC",), "he": ("HEBREW",), "hi": ("DEVANAGARI",), "th": ("THAI",),
}
# Function words that make up a large share of any English sentence (and of few others).
EN_FUNCTION_WORDS = frozenset(
    "a an the and or but of in on at to from with by for as into onto over under through while "
    "is are was were be being been it its this that these those his her their he she they there "
    "then than up down out off near behind front across along around".split()
)


def is_empty(text: str | None) -> bool:
    return text is None or not any(ch.isalnum() for ch in text)


def is_truncated(result: Result) -> bool:
    """The generation stopped at max_new_tokens instead of an end-of-sequence token."""
    return result.finish_reason == "length"


def is_repetitive(text: str, n: int = 3, max_repeats: int = 3, min_unique: float = 0.5) -> bool:
    """An n-gram loop: some n-gram occurs more than ``max_repeats`` times, or (>= 12 n-grams)
    fewer than ``min_unique`` of them are distinct. Texts without spaces (CJK) use characters."""
    units = [w.lower() for w in WORD.findall(text)]
    if len(units) < 4 and len(text) >= 12:
        units = [ch for ch in text if not ch.isspace()]
    if len(units) < n + 1:
        return False
    grams = [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]
    counts = Counter(grams)
    if counts.most_common(1)[0][1] > max_repeats:
        return True
    if len(grams) >= 12 and len(counts) / len(grams) < min_unique:
        return True
    run = 1  # the same word many times in a row ("very very very very very")
    for a, b in zip(units, units[1:]):
        run = run + 1 if a == b else 1
        if run >= 5:
            return True
    return False


def script_of(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "ARABIC",
                   "HEBREW", "DEVANAGARI", "THAI"):
        if name.startswith(script) or f" {script} " in f" {name} ":
            return script
    return "OTHER"


def is_wrong_language(text: str, language: str = "en", min_script: float = 0.8) -> bool:
    """Letters mostly outside the language's script, or (English, >= 8 words) almost no
    English function words. Unknown language codes are never flagged."""
    scripts = SCRIPTS.get(language.lower())
    if not scripts:
        return False
    letters = [s for s in (script_of(ch) for ch in text) if s]
    if len(letters) >= 8 and sum(s in scripts for s in letters) / len(letters) < min_script:
        return True
    if language.lower() == "en":
        words = [w.lower() for w in WORD.findall(text) if not w.isdigit()]
        if len(words) >= 8 and sum(w in EN_FUNCTION_WORDS for w in words) / len(words) < 0.08:
            return True
    return False


def word_count(text: str) -> int:
    return len(WORD.findall(text))


def check(result: Result, language: str = "en", max_words: int | None = None) -> list[str]:
    """Names of the guards that fire for this generation (empty list = clean)."""
    if result.finish_reason == "error":
        return ["error"]
    text = result.text
    if is_empty(text):
        return ["empty"]
    assert text is not None
    flags = []
    if is_truncated(result):
        flags.append("truncated")
    if is_repetitive(text):
        flags.append("repetitive")
    if is_wrong_language(text, language):
        flags.append("wrong_language")
    if max_words is not None and word_count(text) > max_words:
        flags.append("too_long")
    return flags


FATAL = frozenset({"error", "empty"})  # the text cannot be used at all
