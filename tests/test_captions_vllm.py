"""vllm backend on a real GPU with the tiny random-init Qwen2-VL (skipped without vllm + CUDA)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gpu


def test_vllm_batched_chat_with_images(tmp_path):
    pytest.importorskip("vllm")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    import cv2
    import numpy as np

    from curate.captioners import load_captioner
    from curate.captioners.base import Request
    from curate.captioners.testing import build_tiny_vlm
    from curate.config import CaptionsConfig

    # head_dim 64: an attention head size every vLLM backend supports
    model = build_tiny_vlm(str(tmp_path / "tiny"), hidden_size=256, heads=4)
    cfg = CaptionsConfig(enabled=True, backend="vllm", model=model, dtype="bfloat16",
                         vllm={"gpu_memory_utilization": 0.2, "max_model_len": 2048, "enforce_eager": True})
    cap = load_captioner(cfg)
    jpeg = cv2.imencode(".jpg", np.full((64, 96, 3), 128, np.uint8))[1].tobytes()
    reqs = [Request("describe", (jpeg,), max_new_tokens=8), Request("compare", (jpeg, jpeg), max_new_tokens=8),
            Request("text only", (), max_new_tokens=8)]
    res = cap.generate(reqs)
    assert len(res) == 3
    assert all(r.finish_reason in ("stop", "length") and r.output_tokens > 0 and r.prompt_tokens > 0 for r in res)
    assert res[1].prompt_tokens > res[0].prompt_tokens > res[2].prompt_tokens
