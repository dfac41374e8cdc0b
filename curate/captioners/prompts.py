"""Prompt templates for the caption hierarchy, loaded from a YAML file (not code).

``captions.prompts`` names the file: an absolute path, a path relative to the working
directory, or relative to the repository root (the default ``configs/prompts/captions.yaml``).
Templates use ``{name}`` placeholders; unknown placeholders are rejected at load time so a
typo fails at start-up, not after hours of GPU time.
"""

from __future__ import annotations

import hashlib
import os
import string
from dataclasses import dataclass

import yaml

FIELDS: dict[str, frozenset[str]] = {
    "system": frozenset(),
    "window": frozenset({"start_s", "end_s", "n_frames", "times", "duration_s"}),
    "keyframe": frozenset({"t_s", "duration_s"}),
    "diff": frozenset({"prev_t_s", "t_s", "prev_text"}),
    "detailed": frozenset({"duration_s", "windows", "diffs", "hints"}),
    "brief": frozenset({"detailed", "max_words"}),
    "chapter": frozenset({"start_s", "end_s", "windows", "diffs"}),
}

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PromptError(ValueError):
    """The prompt file is missing or invalid; the message names the file and the template."""


@dataclass(frozen=True)
class Prompts:
    templates: dict[str, str]
    path: str
    sha: str

    def render(self, name: str, **values: object) -> str:
        return self.templates[name].format(**{k: str(v) for k, v in values.items()}).strip()

    @property
    def system(self) -> str | None:
        return self.templates["system"].strip() or None


def resolve(path: str) -> str:
    for cand in (path, os.path.join(REPO_ROOT, path)):
        if os.path.isfile(cand):
            return os.path.abspath(cand)
    raise PromptError(f"prompt file not found: {path} (looked in the working directory and {REPO_ROOT})")


def load_prompts(path: str) -> Prompts:
    full = resolve(path)
    raw = open(full, "rb").read()
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise PromptError(f"prompt file {full} is not valid YAML: {exc}") from None
    templates: dict[str, str] = {}
    for name, allowed in FIELDS.items():
        text = data.get(name)
        if not isinstance(text, str):
            raise PromptError(f"prompt file {full}: template '{name}' is missing (placeholders: {sorted(allowed)})")
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            raise PromptError(f"prompt file {full}: template '{name}': {exc}") from None
        unknown = used - allowed
        if unknown:
            raise PromptError(f"prompt file {full}: template '{name}' uses unknown placeholders {sorted(unknown)}; "
                              f"allowed: {sorted(allowed)}")
        templates[name] = text
    return Prompts(templates, full, hashlib.sha256(raw).hexdigest()[:12])
