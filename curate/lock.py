"""One writer per output folder.

Two runs writing into one output would race on the manifest (the last write wins) and each
would delete the other's not-yet-listed shards as leftovers of a killed run: silent data
loss. :func:`output_lock` makes the second run wait (``output.lock_wait_s``) or stop at once
with one line naming the holder.

* **Local outputs**: an exclusive ``flock`` on ``<output>/.curate.lock``. The kernel drops it
  when the holding process dies (kill -9, OOM, node reboot), so a lock is never stale; the
  file's content (pid, host, run id, start time) only serves the message.
* **Object stores** (``s3://``, ``gs://`` ...): a lock object ``.curate.lock.json`` with the
  same content and a heartbeat time the holder refreshes every minute. A lock whose heartbeat
  is older than ``output.lock_stale_s`` belongs to a dead run and is taken over.
  On S3 (and S3-compatible stores that implement conditional writes) every write of the lock
  is atomic: it is created with ``If-None-Match: *`` (only one of two racing runs can create
  it), taken over and refreshed with ``If-Match: <ETag>`` (only one run can replace a stale
  lock; a holder whose lock was taken over learns it at its next heartbeat and stops the run's
  writes with an error instead of racing). Other fsspec stores (GCS through gcsfs, ...) have no
  create-if-absent through fsspec: there two runs starting within the same second can both
  win; the writer re-reads the object after writing it and backs off when it lost (best
  effort). A store that rejects conditional headers is treated the same way.
  Break a stale lock by deleting the object (the message says which).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

from curate.config import ConfigError
from curate.storage import Output

log = logging.getLogger("curate")

LOCAL_LOCK = ".curate.lock"
HEARTBEAT_S = 60.0  # how often a remote lock's holder refreshes it (tests lower it)
REMOTE_LOCK = ".curate.lock.json"


class OutputBusy(ConfigError):
    """Another run holds the output; the message names it and how to break a stale lock."""


def _holder(run_id: str) -> dict:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return {"pid": os.getpid(), "host": socket.gethostname(), "run_id": run_id, "started": now, "heartbeat": now}


def _describe(info: dict) -> str:
    return (f"run {info.get('run_id', '?')} (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
            f"started {info.get('started', '?')})")


@contextlib.contextmanager
def output_lock(out: Output, run_id: str, wait_s: float = 0.0, stale_s: float = 600.0) -> Iterator[None]:
    """Hold the output for the whole ``with`` block; raise :class:`OutputBusy` if another run has it."""
    if out.local:
        with _local_lock(out, run_id, wait_s):
            yield
    else:
        with _remote_lock(out, run_id, wait_s, stale_s):
            yield


@contextlib.contextmanager
def _local_lock(out: Output, run_id: str, wait_s: float) -> Iterator[None]:
    import fcntl

    path = out.path(LOCAL_LOCK)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    try:
                        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
                    except ValueError:
                        info = {}
                    raise OutputBusy(
                        f"output {out.root} is in use by {_describe(info)}; wait for it to finish, or choose "
                        f"another output.dir (set output.lock_wait_s to wait). The lock is released when that "
                        f"process exits, so it is never stale.") from None
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_holder(run_id)).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


class LockLost(RuntimeError):
    """Another run took over this run's lock object (its heartbeat looked stale)."""


class _Conditional:
    """Atomic create-if-absent / replace-if-unchanged on S3 (``If-None-Match`` / ``If-Match``).

    ``ok`` is False for stores without conditional writes; callers then fall back to the
    write-and-re-read best effort.
    """

    def __init__(self, out: Output) -> None:
        self.out = out
        proto = out.fs.protocol if isinstance(out.fs.protocol, tuple) else (out.fs.protocol,)
        self.ok = any(p in ("s3", "s3a") for p in proto) and hasattr(out.fs, "_call_s3")
        if self.ok:
            self.bucket, _, self.key = out.fs._strip_protocol(out.path(REMOTE_LOCK)).partition("/")

    def _put(self, body: bytes, **cond: str) -> str | None:
        """ETag of the new object, or None when the precondition failed."""
        from botocore.exceptions import ClientError
        from fsspec.asyn import sync

        fs = self.out.fs
        try:
            client = sync(fs.loop, fs.set_session)
            r = sync(fs.loop, client.put_object, Bucket=self.bucket, Key=self.key, Body=body, **cond)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                return None
            if code in ("NotImplemented", "501"):  # an S3-compatible store without conditional writes
                self.ok = False
                raise _NoConditional from None
            raise
        finally:
            fs.invalidate_cache(self.out.path(REMOTE_LOCK))
        return r.get("ETag")

    def create(self, body: bytes) -> str | None:
        return self._put(body, IfNoneMatch="*")

    def replace(self, body: bytes, etag: str) -> str | None:
        return self._put(body, IfMatch=etag)

    def etag(self) -> str | None:
        try:
            self.out.fs.invalidate_cache(self.out.path(REMOTE_LOCK))
            return self.out.fs.info(self.out.path(REMOTE_LOCK)).get("ETag")
        except FileNotFoundError:
            return None


class _NoConditional(Exception):
    pass


@contextlib.contextmanager
def _remote_lock(out: Output, run_id: str, wait_s: float, stale_s: float) -> Iterator[None]:
    me = _holder(run_id)
    cond = _Conditional(out)
    deadline = time.monotonic() + wait_s
    etag: str | None = None
    while True:
        info, seen_etag = _read_remote_tagged(out, cond)
        if info and info.get("run_id") != run_id and not _is_stale(info, stale_s):
            if time.monotonic() >= deadline:
                raise OutputBusy(
                    f"output {out.url} is in use by {_describe(info)} (last heartbeat {info.get('heartbeat')}); "
                    f"wait for it, or if that run is dead delete {out.path(REMOTE_LOCK)} (it is taken over "
                    f"automatically after output.lock_stale_s = {stale_s:g} s without a heartbeat).")
            time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))
            continue
        if info and _is_stale(info, stale_s):
            log.warning("taking over the stale lock of %s (no heartbeat for over %g s)", _describe(info), stale_s)
        body = json.dumps(me).encode()
        if cond.ok:
            try:
                if info is None:
                    etag = cond.create(body)
                elif seen_etag:
                    etag = cond.replace(body, seen_etag)
                else:  # unreadable lock object without an ETag: treat as a lost race, look again
                    etag = None
                if etag is not None:
                    break
                time.sleep(0.2)  # another run won the race: re-read and report it (or wait)
                continue
            except _NoConditional:
                log.info("the store rejects conditional writes: the output lock is best effort")
        out.write_bytes(REMOTE_LOCK, body)
        time.sleep(0.5)  # a concurrent writer's object would land in this window
        if (_read_remote(out) or {}).get("run_id") == run_id:
            break
    stop = threading.Event()
    lost: list[str] = []

    def beat() -> None:
        nonlocal etag
        while not stop.wait(HEARTBEAT_S):
            me["heartbeat"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            try:
                if cond.ok and etag:
                    new = cond.replace(json.dumps(me).encode(), etag)
                    if new is None:  # someone replaced our lock: they believe we are dead
                        holder = _read_remote(out) or {}
                        lost.append(_describe(holder))
                        log.error("output lock of %s was taken over by %s; this run must stop writing",
                                  out.url, _describe(holder))
                        return
                    etag = new
                else:
                    out.write_bytes(REMOTE_LOCK, json.dumps(me).encode())
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried a minute later
                log.warning("output lock heartbeat failed: %s", exc)

    t = threading.Thread(target=beat, name="curate-lock-heartbeat", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            if not lost and (_read_remote(out) or {}).get("run_id") == run_id:
                out.remove(REMOTE_LOCK)
    if lost:
        raise LockLost(f"the output lock of {out.url} was taken over by {lost[0]} while this run held it "
                       f"(a heartbeat older than output.lock_stale_s = {stale_s:g} s); check the output")


def _read_remote_tagged(out: Output, cond: _Conditional) -> tuple[dict | None, str | None]:
    """The lock's content and the ETag it was read at (None when the store has no conditional writes)."""
    if not cond.ok:
        return _read_remote(out), None
    for _ in range(3):  # ETag and body must belong to the same version of the object
        etag = cond.etag()
        if etag is None:
            return None, None
        info = _read_remote(out)
        if info is None:
            continue
        if cond.etag() == etag:
            return info, etag
    return _read_remote(out), None


def _read_remote(out: Output) -> dict | None:
    out.fs.invalidate_cache(out.path(REMOTE_LOCK))  # never a cached listing: another run may have written it
    try:
        return json.loads(out.read_bytes(REMOTE_LOCK))
    except FileNotFoundError:
        return None
    except ValueError:
        return {}


def _is_stale(info: dict, stale_s: float) -> bool:
    try:
        beat = dt.datetime.fromisoformat(info["heartbeat"])
    except (KeyError, TypeError, ValueError):
        return True
    return (dt.datetime.now(dt.timezone.utc) - beat).total_seconds() > stale_s
