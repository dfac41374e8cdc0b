"""vLLM captioner logic on CPU: engine settings, one bad request, stale queued requests (fake engine)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from curate.captioners.base import Request
from curate.captioners.vllm_engine import VLLMCaptioner, engine_kwargs
from curate.config import CaptionsConfig


def test_engine_kwargs_share_the_gpu_and_reserve_no_video_memory():
    kw = engine_kwargs(CaptionsConfig(backend="vllm", num_gpus=0.5, max_frames_per_window=6))
    assert kw["gpu_memory_utilization"] == pytest.approx(0.45)  # two replicas at 0.85 could never fit
    assert kw["limit_mm_per_prompt"] == {"image": 6, "video": 0}
    assert engine_kwargs(CaptionsConfig(backend="vllm", num_gpus=1))["gpu_memory_utilization"] == 0.85
    local = engine_kwargs(CaptionsConfig(backend="vllm", revision="abc"), model_path="/snap/qwen")
    assert local["model"] == "/snap/qwen" and local["revision"] is None


def test_tensor_parallel_must_match_the_reserved_gpus():
    with pytest.raises(ValueError, match="set captions.num_gpus=2"):
        CaptionsConfig(backend="vllm", num_gpus=1, vllm={"tensor_parallel_size": 2})
    CaptionsConfig(backend="vllm", num_gpus=2, vllm={"tensor_parallel_size": 2})


class FakeEngine:
    """Queues requests like vLLM V1's output processor; abort_request removes them."""

    def __init__(self) -> None:
        self.output_processor = SimpleNamespace(request_states={})
        self.next_id = 0

    def abort_request(self, ids):
        for i in ids:
            self.output_processor.request_states.pop(i, None)


class FakeLLM:
    """LLM.chat: a prompt containing 'LONG' is rejected after the earlier ones were queued.

    Stale queued requests finish inside the next call and come back first (what shifts outputs).
    """

    def __init__(self) -> None:
        self.llm_engine = FakeEngine()
        self.calls = 0

    def chat(self, convs, sampling_params, use_tqdm=False):
        self.calls += 1
        eng = self.llm_engine
        stale = [eng.output_processor.request_states.pop(k) for k in list(eng.output_processor.request_states)]
        for conv in convs:
            text = conv[-1]["content"][-1]["text"]
            if "LONG" in text:
                raise ValueError("The decoder prompt (length 99999) is longer than the maximum model length of 2048")
            eng.output_processor.request_states[str(eng.next_id)] = text
            eng.next_id += 1
        mine = [eng.output_processor.request_states.pop(k) for k in list(eng.output_processor.request_states)]
        return [SimpleNamespace(prompt_token_ids=[1, 2, 3], outputs=[SimpleNamespace(
            text=f"caption of {t}", finish_reason="stop", token_ids=[7, 8])]) for t in stale + mine]


def test_one_bad_request_fails_only_itself_and_leaves_nothing_queued():
    fake_vllm = SimpleNamespace(SamplingParams=lambda **kw: kw)
    llm = FakeLLM()
    cap = VLLMCaptioner(CaptionsConfig(backend="vllm"), llm=llm, vllm_module=fake_vllm)
    res = cap.generate([Request("a"), Request("b"), Request("LONG c"), Request("d")])
    assert [r.finish_reason for r in res] == ["stop", "stop", "error", "stop"]
    assert [r.text for r in res if r.text] == ["caption of a", "caption of b", "caption of d"]
    assert "maximum model length" in res[2].error
    assert llm.llm_engine.output_processor.request_states == {}
    nxt = cap.generate([Request("e"), Request("f")])  # the next round is not polluted
    assert [r.text for r in nxt] == ["caption of e", "caption of f"]


def test_offline_node_loads_the_local_snapshot(tmp_path, monkeypatch):
    from curate.captioners.vllm_engine import local_snapshot

    assert local_snapshot(str(tmp_path), None) == str(tmp_path)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert local_snapshot("curate-tests/never-cached-model", None) is None  # no network touched
