"""Output location: a local folder or any fsspec URL (s3://, gs://, ...).

Everything is written to a temporary name first and then renamed, so a killed run never
leaves a half-written file under its final name. On an object store "rename" is a server-side
copy of the finished temporary object to its final key, then a delete of the temporary one:
a reader never sees a partial object under a final key (see docs/storage.md).

Paths of a remote output are full URLs (``s3://bucket/prefix/clips/...``): they can be handed
to another process or node (``Output(out.path(""))``), to DuckDB or to ``fsspec.open`` and
still name the same object. Endpoint and credentials come from the environment of every
process (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ...; see
docs/storage.md), never from a config file.
"""

from __future__ import annotations

import os
import uuid
from collections import deque
from dataclasses import dataclass

import fsspec


@dataclass
class Output:
    """The output root. ``local`` outputs are written in place; remote ones via fsspec."""

    url: str

    def __post_init__(self) -> None:
        proto = self.url.split("://", 1)[0] if "://" in self.url else "file"
        # no cached listings on a store: another process or node may have written since (a cached
        # listing made a just-committed shard invisible to DuckDB, and exists() say False)
        opts = {} if proto in ("file", "local") else {"use_listings_cache": False}
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **opts)
        self.local = self.fs.protocol in ("file", ("file", "local"), "local") or "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )
        if self.local:
            self.root = os.path.abspath(self.root)
        else:  # keep the protocol: a bare "bucket/key" would read as a local path elsewhere
            proto = self.fs.protocol[0] if isinstance(self.fs.protocol, tuple) else self.fs.protocol
            self.root = f"{proto}://{self.root.rstrip('/')}"

    def path(self, rel: str) -> str:
        """``rel`` under the root: an absolute local path, or a full URL for a remote output."""
        return f"{self.root.rstrip('/')}/{rel}" if rel else self.root

    def exists(self, rel: str) -> bool:
        if not self.local and "." in os.path.basename(rel) and hasattr(self.fs, "_call_s3"):
            return self._head(rel)
        return self.fs.exists(self.path(rel))

    def _head(self, rel: str) -> bool:
        """One HEAD request: s3fs' exists() follows a missing key with a LIST (is it a "folder"?),
        which would put a LIST per clip file into the per-video path (docs/storage.md)."""
        from fsspec.asyn import sync

        bucket, _, key = self.fs._strip_protocol(self.path(rel)).partition("/")
        try:
            sync(self.fs.loop, self.fs._call_s3, "head_object", Bucket=bucket, Key=key)
            return True
        except FileNotFoundError:
            return False

    def makedirs(self, rel: str) -> None:
        self.fs.makedirs(self.path(rel), exist_ok=True)

    def tmp_name(self, rel: str) -> str:
        d, b = os.path.split(rel)
        return os.path.join(d, f".{b}.{uuid.uuid4().hex[:8]}.tmp")

    @property
    def object_store(self) -> bool:
        """Keys, not folders: no makedirs, and a rename is one server-side copy + one delete."""
        proto = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        return any(p in OBJECT_STORES for p in proto)

    def _rename(self, tmp: str, rel: str) -> None:
        if self.object_store:  # CopyObject + DeleteObject; fs.mv would also LIST (isdir checks)
            self.fs.cp_file(self.path(tmp), self.path(rel))
            self.fs.rm_file(self.path(tmp))
        else:
            self.fs.mv(self.path(tmp), self.path(rel))

    def put_file(self, local_file: str, rel: str) -> None:
        """Move/upload a finished local file to ``rel`` atomically (tmp name, then rename)."""
        if self.local:
            self.makedirs(os.path.dirname(rel))
            os.replace(local_file, self.path(rel))
            return
        if not self.object_store:
            self.makedirs(os.path.dirname(rel))
        tmp = self.tmp_name(rel)
        self.fs.put_file(local_file, self.path(tmp))
        self._rename(tmp, rel)
        os.remove(local_file)

    def write_bytes(self, rel: str, data: bytes) -> None:
        if not self.object_store:
            self.makedirs(os.path.dirname(rel))
        tmp = self.tmp_name(rel)
        if self.object_store:
            self.fs.pipe_file(self.path(tmp), data)  # one PUT
        else:
            with self.fs.open(self.path(tmp), "wb") as f:
                f.write(data)
        self._rename(tmp, rel)

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open(self.path(rel), "rb") as f:
            return f.read()

    def remove(self, rel: str) -> None:
        if self.exists(rel):
            self.fs.rm(self.path(rel))

    def ls(self, rel: str) -> list[str]:
        if not self.exists(rel):
            return []
        return [os.path.basename(p.rstrip("/")) for p in self.fs.ls(self.path(rel), detail=False)]

    def local_copy(self, rel: str, scratch: str) -> str | None:
        """A local file with the content of ``rel``: the file itself for a local output, else a
        copy in ``scratch`` (this node's scratch folder). None when ``rel`` does not exist.

        For a stage that runs on another node than the one that fetched a source (nodes share
        only the store): it reads the small clip file from the store. The last few copies are
        kept (a reader may still hold the latest); older ones are deleted.
        """
        if self.local:
            p = self.path(rel)
            return p if os.path.exists(p) else None
        dest = os.path.join(scratch, "store-copies", rel.replace("/", "__"))
        if os.path.exists(dest):
            return dest
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        part = f"{dest}.{uuid.uuid4().hex[:8]}.part"
        try:
            self.fs.get_file(self.path(rel), part)
        except FileNotFoundError:
            return None
        os.replace(part, dest)
        _COPIES.append(dest)
        while len(_COPIES) > _KEEP_COPIES:
            old = _COPIES.popleft()
            if old != dest and os.path.exists(old):
                os.remove(old)
        return dest


OBJECT_STORES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oss")
_KEEP_COPIES = 4
_COPIES: deque[str] = deque()
