"""Deterministic ids: the same source always gets the same video_id, the same span the same clip_id."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

NAMESPACE = uuid.UUID("6f1f5e0e-5c1b-4a55-9c2e-6375726174e1")


def normalise_source(source: str) -> str:
    """Canonical form of a source: absolute path for local files, tidy URL for remote ones."""
    s = source.strip()
    if "://" not in s or s.startswith("file://"):
        path = s[7:] if s.startswith("file://") else s
        return "file://" + os.path.abspath(os.path.expanduser(path))
    parts = urlsplit(s)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, ""))


def video_id(source: str) -> str:
    return uuid.uuid5(NAMESPACE, normalise_source(source)).hex


def clip_id(vid: str, start_frame: int, end_frame: int) -> str:
    return uuid.uuid5(NAMESPACE, f"{vid}:{int(start_frame)}:{int(end_frame)}").hex
