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
  is older than ``output.lock_stale_s`` belongs to a dead run and is taken over. Generic
  fsspec stores have no atomic create-if-absent, so two runs starting within the same second
  can both win; the writer re-reads the object after writing it and backs off when it lost.
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


@contextlib.contextmanager
def _remote_lock(out: Output, run_id: str, wait_s: float, stale_s: float) -> Iterator[None]:
    me = _holder(run_id)
    deadline = time.monotonic() + wait_s
    while True:
        info = _read_remote(out)
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
        out.write_bytes(REMOTE_LOCK, json.dumps(me).encode())
        time.sleep(0.5)  # a concurrent writer's object would land in this window
        if (_read_remote(out) or {}).get("run_id") == run_id:
            break
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(60.0):
            me["heartbeat"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            with contextlib.suppress(Exception):
                out.write_bytes(REMOTE_LOCK, json.dumps(me).encode())

    t = threading.Thread(target=beat, name="curate-lock-heartbeat", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            if (_read_remote(out) or {}).get("run_id") == run_id:
                out.remove(REMOTE_LOCK)


def _read_remote(out: Output) -> dict | None:
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
