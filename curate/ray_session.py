"""The Ray session of a run: join a cluster or start a private local instance, quietly.

Shared by the pipeline (:mod:`curate.pipeline`), training (:mod:`curate.train.launch`),
``curate doctor`` and the benchmarks.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from curate.config import Config, ConfigError

log = logging.getLogger("curate")


def check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """A ``host:port`` / ``ray://host:port`` address must accept a TCP connection within ``timeout_s``.

    Ray itself retries an unreachable head for many minutes before raising; this says it in seconds.
    ``auto``/``local`` and addresses without a port are left to Ray.
    """
    import socket

    hostport = address.split("://", 1)[-1].rstrip("/")
    if hostport in ("auto", "local") or ":" not in hostport:
        return
    host, _, port = hostport.rpartition(":")
    if not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray head at {address} ({exc.strerror or exc}); start it with "
                          "`ray start --head`, fix ray.address / RAY_ADDRESS, or unset them to run locally") from None


def init_ray(cfg: Config) -> int:
    """Start or join Ray; return the CPU count used as default stage concurrency.

    ``ray.address`` (or ``$RAY_ADDRESS``, which ``ray job submit`` sets) joins that cluster;
    otherwise a private local instance is started.
    """
    import ray

    if not sys.stderr.isatty():  # worker lines forwarded to the driver: no colour codes in logs and CI
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "ignore_reinit_error": True,
                                  "log_to_driver": True, "configure_logging": False}
        address = cfg.ray.address or os.environ.get("RAY_ADDRESS")
        if address:
            check_reachable(address)
            kwargs["address"] = address
        else:
            kwargs["address"] = "local"  # a private instance; never silently join a `ray start` head
            if cfg.ray.num_cpus:
                kwargs["num_cpus"] = cfg.ray.num_cpus
            if cfg.ray.object_store_memory:
                kwargs["object_store_memory"] = cfg.ray.object_store_memory
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:  # e.g. 'auto' with no running cluster
            raise ConfigError(f"cannot join the Ray cluster at {kwargs['address']}: {str(exc).splitlines()[0]} "
                              "(start one with `ray start --head`, or unset ray.address / RAY_ADDRESS to run "
                              "on a private local instance)") from None
    ctx = ray.data.DataContext.get_current()
    if not log.isEnabledFor(logging.DEBUG):  # curate prints its own progress line; Ray's with -v
        ctx.enable_progress_bars = False
        ctx.enable_operator_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
    if cfg.ray.disable_resource_reservation:
        ctx.op_resource_reservation_enabled = False
    ctx.print_on_execution_start = False
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, cpus)


def node_gpus() -> list[float]:
    import ray

    return [float(n.get("Resources", {}).get("GPU", 0.0)) for n in ray.nodes() if n.get("Alive")]
