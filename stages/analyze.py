"""analyze: every CPU score of a clip from ONE streaming low-resolution decode.

Reads: local_path (source video), start_frame, end_frame, fps (clip rows); falls back to the
clip file (clip_path) when the source is gone. Adds: the score columns of
``schemas/scores.py`` (motion + camera motion, technical quality, overlays (logo / subtitle /
ticker), OCR text and boxes, optional learned watermark probability, perceptual hashes) and,
when the aesthetics stage runs, the stream-only ``aesthetic_frames`` (JPEG) it consumes. Needs: 1 CPU per actor (an
actor stage: the OCR engine and the optional watermark model load once per actor).

The decoder seeks to the keyframe before ``start_frame``, decodes the span once (frames no
analyser wants are sent with ``skip_frame=NONREF``, so unreferenced B-frames are not even
decoded), turns the frames upright (display matrix) and converts to pixels only the frames
some analyser asked for (``analyze.width`` wide; OCR frames and the aesthetics frames from the
same decoded frame at higher resolution). The analysers run in a second thread while the
decoder keeps going; PP-OCR in a third. Analysers (``curate/analysers/``) keep running sums,
so memory is bounded by a few frames whatever the clip length. Add a scorer by writing an
analyser and appending it in ``build_analysers``.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from curate.schemas.aesthetics import AESTHETIC_FRAMES
from curate.schemas.scores import SCORE_FIELDS

from curate.analysers import Analyser
from curate.analysers.frames import SpanReader, file_key
from curate.analysers.motion import MotionAnalyser
from curate.analysers.overlay import OverlayAnalyser
from curate.analysers.phash import PhashAnalyser
from curate.analysers.quality import QualityAnalyser
from curate.config import AnalyzeConfig
from curate.stage import Resources, RowStage, RunContext, StageError

log = logging.getLogger("curate")
_IN_FLIGHT = 8  # decoded frames queued for the analyser thread (bounds memory: ~25 MB at 1080p)


@functools.lru_cache(maxsize=8)
def check_watermark_model(name: str) -> str | None:
    """Try to load the model once per process; return the reason it is unusable (logged once)."""
    from curate.analysers.watermark import ModelUnavailable, load_watermark_model

    try:
        load_watermark_model(name)
    except ModelUnavailable as exc:
        log.warning("analyze: %s. watermark_prob stays null (scores_skipped says why); other scores run.", exc)
        return str(exc)
    return None


def build_analysers(cfg: AnalyzeConfig, ocr_engine: Any = None, watermark_model: Any = None) -> list[Analyser]:
    """The analysers this config asks for (the OCR engine / watermark model are passed in)."""
    out: list[Analyser] = [
        MotionAnalyser(cfg.pairs_per_s, cfg.max_pairs, static_px=cfg.static_px),
        QualityAnalyser(cfg.pairs_per_s, cfg.max_pairs, frozen_diff=cfg.frozen_diff, border_luma=cfg.border_luma,
                        frozen_lag_s=cfg.frozen_lag_s),
        PhashAnalyser(cfg.phash_per_s, cfg.phash_max),
    ]
    ocr = None
    if ocr_engine is not None:
        from curate.analysers.ocr import OcrAnalyser

        ocr = OcrAnalyser(ocr_engine, cfg.ocr_frames, cfg.ocr_width, per_s=cfg.ocr_per_s,
                          max_frames=cfg.ocr_max_frames, det_width=cfg.ocr_det_width)
        out.append(ocr)
    if cfg.overlay:  # reads the OCR boxes (subtitles, tickers) when OCR runs
        out.append(OverlayAnalyser(cfg.overlay_per_s, cfg.overlay_max_frames, min_prob=cfg.overlay_min_prob, ocr=ocr))
    if watermark_model is not None:
        from curate.analysers.watermark import WatermarkAnalyser

        out.append(WatermarkAnalyser(watermark_model, cfg.watermark_frames, cfg.ocr_width))
    if cfg.aesthetic_frames:
        from curate.analysers.shared_frames import AestheticFramesAnalyser

        out.append(AestheticFramesAnalyser(cfg.aesthetic_frames))
    return out


def analyse_span(path: str, start: int, end: int, fps: float, analysers: list[Analyser], width: int = 256,
                 threads: int = 0, overlap: bool = True, skip_unwanted: bool = True,
                 reader: SpanReader | None = None) -> dict[str, Any]:
    """Run ``analysers`` over frames [start, end) of ``path`` in one decode; merged results.

    ``overlap``: the analysers run in a second thread, in frame order, while the main thread
    keeps demuxing and feeding the decoder (OpenCV, ONNX Runtime and FFmpeg release the GIL,
    so the conversions, optical flow and OCR use the CPU time the frame-threaded decoder
    leaves idle instead of stalling it). At most ``_IN_FLIGHT`` frames wait between the two
    threads, so memory stays bounded. ``skip_unwanted``: see :class:`SpanReader`.
    ``reader``: an open :class:`SpanReader` of ``path`` to continue with (consecutive clips
    of one video share one decoder); None = open the file for this span only."""
    n = end - start
    if n <= 0:
        raise StageError("empty_span", f"clip span {start}..{end} has no frames")
    wants = {a.name: a.start(n, fps) for a in analysers}
    union = set().union(*wants.values())

    def feed(off: int, frame: Any) -> None:
        for a in analysers:
            if off in wants[a.name]:
                a.update(off, frame)

    own = reader is None
    if own:
        reader = SpanReader(path, width, threads)
    try:
        _run(reader.span(start, end, fps, union, skip_unwanted), feed, overlap)
    finally:
        if own:
            reader.close()
    out: dict[str, Any] = {}
    for a in analysers:
        out.update(a.result())
    return out


def _run(frames: Any, feed: Any, overlap: bool) -> None:
    if not overlap:
        for off, frame in frames:
            feed(off, frame)
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="curate-analyse") as pool:
            pending: deque[Future] = deque()
            try:
                for off, frame in frames:
                    pending.append(pool.submit(feed, off, frame))
                    while len(pending) > _IN_FLIGHT:
                        pending.popleft().result()  # re-raises an analyser's exception here
                while pending:
                    pending.popleft().result()
            finally:
                for fut in pending:
                    fut.cancel()


class Analyze(RowStage):
    name = "analyze"
    level = "clip"
    requires = ("local_path", "start_frame", "end_frame", "fps")
    adds = (*SCORE_FIELDS, AESTHETIC_FRAMES)  # aesthetic_frames: stream-only, for the aesthetics stage

    cfg: AnalyzeConfig

    @classmethod
    def resources(cls, cfg: AnalyzeConfig, ray_cfg: Any) -> Resources:
        if cfg.watermark_model:
            check_watermark_model(cfg.watermark_model)  # runs on the driver at plan time: says it once
        conc = cfg.concurrency or ray_cfg.video_concurrency or max(1, (ray_cfg.num_cpus or os.cpu_count() or 2) // 2)
        return Resources(num_cpus=cfg.num_cpus, batch_size=cfg.batch_size, concurrency=conc, actor=True)

    def __init__(self, cfg: AnalyzeConfig, ctx: RunContext, ocr_engine: Any = None, watermark_model: Any = None) -> None:
        super().__init__(cfg, ctx)
        self.skipped: list[str] = []
        if cfg.ocr and ocr_engine is None:
            from curate.analysers.ocr import RapidOcrEngine

            ocr_engine = RapidOcrEngine(max_side=cfg.ocr_width, threads=cfg.ocr_threads, min_score=cfg.ocr_min_score)
        if cfg.watermark_model and watermark_model is None:
            from curate.analysers.watermark import ModelUnavailable, load_watermark_model

            try:
                watermark_model = load_watermark_model(cfg.watermark_model)
            except ModelUnavailable as exc:
                log.debug("analyze: %s", exc)
                self.skipped.append(f"watermark_prob: model_unavailable: {cfg.watermark_model}")
        self.analysers = build_analysers(cfg, ocr_engine, watermark_model)
        self.reader: SpanReader | None = None  # the current video's decoder, kept across its clips

    def _reader(self, path: str, vfr: bool = False) -> SpanReader:
        """The open reader when it decodes ``path`` (the same file), else a new one."""
        r = self.reader
        if r is not None and not r.closed and r.path == path and r.vfr == vfr:
            try:
                if r.key == file_key(path):
                    return r
            except OSError:
                pass
        if r is not None:
            r.close()
        self.reader = None
        self.reader = SpanReader(path, self.cfg.width, self.cfg.threads, vfr=vfr)
        return self.reader

    def _source(self, row: dict[str, Any]) -> tuple[str, int, int, float, bool]:
        """(path, start, end, fps, vfr) of the frames to analyse: the span of the source, else the
        clip file (constant rate: ``num_frames`` frames at ``fps``)."""
        src = row.get("local_path")
        if src and os.path.exists(src):
            start, end = int(row["start_frame"]), int(row["end_frame"])
            if row.get("vfr") and (row.get("end_s") or 0) > (row.get("start_s") or 0):
                # source frames of a VFR span: their mean rate paces the samplers
                return src, start, end, (end - start) / (row["end_s"] - row["start_s"]), True
            return src, start, end, float(row["fps"]), False
        if row.get("clip_path"):  # e.g. on another node than the one that fetched the source
            from curate.storage import Output

            clip = Output(self.ctx.output_dir).local_copy(row["clip_path"], self.ctx.work_dir)
            if clip:
                n = row.get("num_frames") or int(row["end_frame"]) - int(row["start_frame"])
                return clip, 0, int(n), float(row["fps"]), False
        raise StageError("source_missing", f"neither the source {src} nor the clip file is readable")

    def process(self, row: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        path, start, end, fps, vfr = self._source(row)
        try:
            res = analyse_span(path, start, end, fps, self.analysers, self.cfg.width, self.cfg.threads,
                               reader=self._reader(path, vfr))
        except BaseException:
            if self.reader is not None:  # its position is unknown now: the next clip starts afresh
                self.reader.close()
                self.reader = None
            raise
        row.update(res)
        skipped = list(self.skipped)
        if not self.cfg.ocr:
            skipped.append("text_area_ratio: analyze.ocr is off")
        if not self.cfg.overlay:
            skipped.append("overlay_prob: analyze.overlay is off")
        row["scores_skipped"] = skipped
        row["analyze_s"] = time.perf_counter() - t0
        return row
