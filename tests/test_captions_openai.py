"""openai backend against a local chat-completions server on 127.0.0.1 (canned answers)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curate.captioners import ModelUnavailable, load_captioner
from curate.captioners.base import Request
from curate.captioners.hierarchy import ClipJob, Hierarchy
from curate.captioners.prompts import load_prompts
from curate.config import CaptionsConfig

pytest.importorskip("httpx")
JPEG = b"\xff\xd8\xff\xe0fakejpeg"
CANNED = "A cyclist rides along a dirt road past green trees while the camera follows him."


class Server:
    """Chat-completions server: records requests, tracks concurrency, scripted failures."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail_first: dict[str, int] = {}  # prompt marker -> how many 500s to return first
        self.answers: dict[str, str] = {}  # prompt marker -> text
        self.delay = 0.05
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/models":
                    return self._send(200, {"data": [{"id": "tiny-vl"}]})
                self._send(404, {})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with srv.lock:
                    srv.requests.append(body)
                    srv.in_flight += 1
                    srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
                try:
                    time.sleep(srv.delay)
                    text = body["messages"][-1]["content"][-1]["text"]
                    with srv.lock:
                        for marker, n in srv.fail_first.items():
                            if marker in text and n > 0:
                                srv.fail_first[marker] = n - 1
                                return self._send(500, {"error": "overloaded"})
                    if "BADREQ" in text:
                        return self._send(400, {"error": "bad request"})
                    answer = next((a for m, a in srv.answers.items() if m in text), CANNED)
                    self._send(200, {"choices": [{"message": {"role": "assistant", "content": answer},
                                                  "finish_reason": "stop"}],
                                     "usage": {"prompt_tokens": 100, "completion_tokens": len(answer.split())}})
                finally:
                    with srv.lock:
                        srv.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


def _cfg(url: str, **kw) -> CaptionsConfig:
    oc = {"base_url": url, "max_concurrency": 3, "retries": 2, "backoff_s": 0.01, "timeout_s": 5.0}
    oc.update(kw.pop("openai", {}))
    kw.setdefault("model", "tiny-vl")
    return CaptionsConfig(enabled=True, backend="openai", num_gpus=0, openai=oc, **kw)


def test_requests_carry_images_and_concurrency_is_bounded(server):
    cap = load_captioner(_cfg(server.url))
    reqs = [Request(f"describe {i}", (JPEG, JPEG), system="sys", max_new_tokens=32) for i in range(10)]
    res = cap.generate(reqs)
    assert [r.text for r in res] == [CANNED] * 10
    assert all(r.finish_reason == "stop" and r.prompt_tokens == 100 and r.output_tokens > 0 for r in res)
    assert len(server.requests) == 10
    body = server.requests[0]
    assert body["model"] == "tiny-vl" and body["max_tokens"] == 32
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    parts = body["messages"][1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 2 and all(u.startswith("data:image/jpeg;base64,") for u in urls)
    import base64

    assert base64.b64decode(urls[0].split(",", 1)[1]) == JPEG
    assert 1 < server.max_in_flight <= 3  # concurrent, but never above max_concurrency


def test_retry_on_500_then_success(server):
    server.fail_first["FLAKY"] = 2
    res = load_captioner(_cfg(server.url)).generate([Request("FLAKY please", (JPEG,))])
    assert res[0].text == CANNED
    assert len(server.requests) == 3  # two 500s, then 200


def test_gives_up_after_retries_and_does_not_retry_4xx(server):
    server.fail_first["DOWN"] = 99
    cap = load_captioner(_cfg(server.url, openai={"retries": 1}))
    res = cap.generate([Request("DOWN"), Request("BADREQ")])
    assert res[0].finish_reason == "error" and "HTTP 500" in res[0].error
    assert res[1].finish_reason == "error" and "HTTP 400" in res[1].error
    assert sum("DOWN" in r["messages"][-1]["content"][-1]["text"] for r in server.requests) == 2
    assert sum("BADREQ" in r["messages"][-1]["content"][-1]["text"] for r in server.requests) == 1


def test_unreachable_or_wrong_model_is_unavailable(server):
    with pytest.raises(ModelUnavailable, match="serves \\['tiny-vl'\\]"):
        load_captioner(_cfg(server.url, model="other-model"))
    with pytest.raises(ModelUnavailable, match="unreachable"):
        load_captioner(_cfg("http://127.0.0.1:9/v1"))


def _job(long_take: bool = False) -> ClipJob:
    frames = [{"t_s": 0.0, "jpeg": JPEG, "keyframe": True, "window": 0},
              {"t_s": 1.5, "jpeg": JPEG, "keyframe": False, "window": 0},
              {"t_s": 2.5, "jpeg": JPEG, "keyframe": True, "window": 1},
              {"t_s": 3.5, "jpeg": JPEG, "keyframe": False, "window": 1}]
    return ClipJob("c1", 4.0, frames, long_take=long_take)


def test_hierarchy_over_http(server):
    cfg = _cfg(server.url, window_s=2.0, chapter_min_s=1.0, chapter_max_s=3.0)
    h = Hierarchy(load_captioner(cfg), load_prompts(cfg.prompts), cfg)
    [out] = h.run([_job(long_take=True)])
    assert out["caption_status"] == "ok", out["caption_flags"]
    assert out["caption_windows"] == [{"start_s": 0.0, "end_s": 2.0, "text": CANNED},
                                      {"start_s": 2.0, "end_s": 4.0, "text": CANNED}]
    assert out["caption_diffs"] == [{"t_s": 0.0, "text": CANNED}, {"t_s": 2.5, "text": CANNED}]
    assert out["caption_detailed"] == CANNED and out["caption_brief"] == CANNED
    assert [(c["start_s"], c["end_s"]) for c in out["caption_chapters"]] == [(0.0, 2.5), (2.5, 4.0)]  # cut at the keyframe
    # 2 windows + 2 keyframes + detailed + 2 chapters + brief
    assert out["caption_requests"] == 8 == len(server.requests)
    assert out["caption_prompt_tokens"] == 800
    # the differential request shows the previous AND the current keyframe, with the previous text
    diff = next(r for r in server.requests if "was described as" in r["messages"][-1]["content"][-1]["text"])
    assert len([p for p in diff["messages"][-1]["content"] if p["type"] == "image_url"]) == 2
    assert CANNED in diff["messages"][-1]["content"][-1]["text"]


def test_guards_retry_once_then_flag_or_fail(server):
    server.answers["Output only the sentence"] = ""  # the brief prompt always comes back empty
    server.answers["Describe it in 2-3"] = "the dog runs " * 6  # the first-keyframe description loops
    cfg = _cfg(server.url, window_s=4.0)
    [out] = Hierarchy(load_captioner(cfg), load_prompts(cfg.prompts), cfg).run([_job()])
    assert out["caption_status"] == "failed" and out["caption_error"] == "generation_failed"
    assert out["caption_brief"] is None and "brief" in out["caption_error_detail"]
    assert "brief:empty" in out["caption_flags"] and "diff[0]:repetitive" in out["caption_flags"]
    assert out["caption_diffs"][0]["text"].startswith("the dog runs")  # kept, but flagged
    briefs = [r for r in server.requests if "Output only the sentence" in r["messages"][-1]["content"][-1]["text"]]
    assert len(briefs) == 2 and briefs[1]["temperature"] == cfg.retry_temperature  # one retry, sampled


def test_stage_marks_rows_when_the_hierarchy_breaks(server):
    import pyarrow as pa

    from curate.schemas import stream_schema
    from curate.schemas.captions import CAPTION_FRAMES
    from curate.stages.captions import Captions

    class Broken:
        backend, model = "broken", "broken"

        def generate(self, reqs):
            raise RuntimeError("CUDA error: device-side assert")

    schema = pa.schema(list(stream_schema()) + [CAPTION_FRAMES])
    job = _job()
    row = {"record": "clip", "status": "ok", "clip_id": "c1", "duration_s": 4.0, "is_long_take": False,
           "caption_frames": job.frames, "caption_keyframes_s": [0.0, 2.5]}
    out = Captions(_cfg(server.url), None, captioner=Broken())(pa.Table.from_pylist([row], schema=schema))
    [r] = out.to_pylist()
    # every generate failed (and was retried once): no caption is invented, the clip stays ok
    assert r["status"] == "ok" and r["caption_status"] == "failed" and r["caption_error"] == "generation_failed"
    assert r["caption_detailed"] is None and r["caption_brief"] is None
    assert "CUDA error" in r["caption_error_detail"]
    assert all(w["text"] is None for w in r["caption_windows"]) and "window[0]:error" in r["caption_flags"]
