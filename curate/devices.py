"""Which torch device a model may use: ``auto`` honours what Ray reserved for this worker.

Ray 2.60 no longer hides the GPUs from a worker that reserved none (``CUDA_VISIBLE_DEVICES``
is only set for workers that asked for GPUs), so ``torch.cuda.is_available()`` is True in
every worker of a GPU node. A stage that resolved ``auto`` that way would put its model on
``cuda:0`` unreserved, next to a vLLM replica that has already claimed most of that memory.
:func:`resolve_device` answers ``cuda`` inside a Ray worker only when Ray gave that worker a
GPU (then ``cuda`` is the reserved one: Ray sets ``CUDA_VISIBLE_DEVICES`` to it), and outside
Ray (a driver, a notebook, a test) when CUDA is available.
"""

from __future__ import annotations


def ray_gpu_ids() -> list | None:
    """GPU ids Ray reserved for this worker process; None when not running in a Ray worker."""
    try:
        import ray
        from ray._private import worker as ray_worker
    except ImportError:  # pragma: no cover - ray is a core dependency
        return None
    if not ray.is_initialized():
        return None
    try:
        if ray_worker.global_worker.mode != ray_worker.WORKER_MODE:
            return None  # the driver: nothing was reserved for it
        return list(ray.get_gpu_ids())
    except Exception:  # noqa: BLE001 - no usable runtime context: behave as outside Ray
        return None


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device: str) -> str:
    """``device`` unless it is ``auto``; then ``cuda`` or ``cpu`` as the module docstring says."""
    if device != "auto":
        return device
    if not cuda_available():
        return "cpu"
    ids = ray_gpu_ids()
    return "cuda" if ids is None or ids else "cpu"
