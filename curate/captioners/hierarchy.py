"""Hierarchical dense captions for a batch of clips, batched across clips level by level.

Rounds (each is ONE batched ``captioner.generate`` call over every clip of the batch):

1. window captions for every window of every clip + a description of each clip's first keyframe;
2. differential captions, keyframe k given keyframe k-1's image and description (round k);
3. a text-only summarisation: the detailed caption (+ one chapter caption per chapter of long takes);
4. the brief caption, rewritten from the detailed one.

Every generation goes through the guards (``guards.py``); one that fires is retried once
with sampling (``retry_temperature``) and the better attempt is kept. Unusable outputs
(error/empty) become null text and a flag; a clip whose detailed or brief caption is
unusable gets caption_status='failed' — nothing is ever filled in.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from curate.captioners import guards
from curate.captioners.base import Captioner, Request, Result
from curate.captioners.prompts import Prompts
from curate.config import CaptionsConfig

log = logging.getLogger("curate")


@dataclass
class ClipJob:
    """What the hierarchy needs about one clip: its decoded frames and optional hints."""

    key: str
    duration_s: float
    frames: list[dict[str, Any]]  # {t_s, jpeg, keyframe, window}
    long_take: bool = False
    hints: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Acc:
    windows: list[dict[str, Any]] = field(default_factory=list)
    diffs: list[dict[str, Any]] = field(default_factory=list)
    detailed: str | None = None
    brief: str | None = None
    chapters: list[dict[str, Any]] | None = None
    flags: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    seconds: float = 0.0


@dataclass
class _Slot:
    job: int
    level: str
    request: Request
    max_words: int | None = None


def _s(x: float) -> str:
    return f"{x:.1f}"


def window_spans(duration_s: float, window_s: float) -> list[tuple[float, float]]:
    from curate.stages.caption_frames import window_spans as spans

    return spans(duration_s, window_s)


def chapter_spans(duration_s: float, keyframes: Sequence[float], min_s: float, max_s: float) -> list[tuple[float, float]]:
    """Chapters of a long take: cut at keyframe times (visual change or periodic), each
    chapter at least ``min_s`` (the tail merges into the last) and at most ``max_s`` long."""
    bounds = [0.0]
    for t in sorted(keyframes):
        if t - bounds[-1] >= min_s and duration_s - t >= min_s:
            bounds.append(t)
    bounds.append(duration_s)
    out: list[tuple[float, float]] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        n = max(1, -int(-(b - a) // max_s))
        out += [(a + (b - a) * i / n, a + (b - a) * (i + 1) / n) for i in range(n)]
    return out


def hints_text(hints: dict[str, Any]) -> str:
    """Measured facts about the clip (from other stages), when present."""
    parts = []
    cam = hints.get("camera_motion")
    if cam:
        parts.append(f"camera motion: {cam}")
    ms = hints.get("motion_score")
    if ms is not None:
        parts.append(f"motion score: {float(ms):.2f} (0 = static)")
    ocr = [t for t in (hints.get("ocr_texts") or []) if t and str(t).strip()]
    if ocr:
        parts.append("on-screen text: " + "; ".join(f'"{str(t).strip()}"' for t in ocr[:8]))
    return ("Measured by sensors (reliable): " + ", ".join(parts) + ".") if parts else ""


class Hierarchy:
    """Runs the caption hierarchy over batches of :class:`ClipJob` with one captioner."""

    def __init__(self, captioner: Captioner, prompts: Prompts, cfg: CaptionsConfig) -> None:
        self.captioner = captioner
        self.prompts = prompts
        self.cfg = cfg

    # -- generation with guards and one retry ------------------------------------------
    def _generate(self, reqs: list[Request]) -> tuple[list[Result], float]:
        t0 = time.perf_counter()
        try:
            res = list(self.captioner.generate(reqs))
            if len(res) != len(reqs):
                raise RuntimeError(f"captioner returned {len(res)} results for {len(reqs)} requests")
        except Exception as exc:  # noqa: BLE001 - a failed batch is retried, then marked
            log.warning("captions: generate failed for %d requests: %s: %s", len(reqs), type(exc).__name__, exc)
            res = [Result(None, "error", error=f"{type(exc).__name__}: {exc}") for _ in reqs]
        return res, time.perf_counter() - t0

    def _account(self, accs: list[_Acc], slots: list[_Slot], res: list[Result], secs: float) -> None:
        weights = [r.prompt_tokens + r.output_tokens for r in res]
        total = sum(weights)
        for s, r, w in zip(slots, res, weights):
            a = accs[s.job]
            a.prompt_tokens += r.prompt_tokens
            a.output_tokens += r.output_tokens
            a.requests += 1
            a.seconds += secs * (w / total if total else 1 / len(slots))

    def _round(self, accs: list[_Acc], slots: list[_Slot]) -> list[str | None]:
        if not slots:
            return []
        lang, cfg = self.cfg.language, self.cfg
        res, secs = self._generate([s.request for s in slots])
        self._account(accs, slots, res, secs)
        flags = [guards.check(r, lang, s.max_words) for s, r in zip(slots, res)]
        redo = [i for i, f in enumerate(flags) if f]
        if redo:
            retry = [dataclasses.replace(slots[i].request, temperature=cfg.retry_temperature, seed=cfg.seed + 1)
                     for i in redo]
            res2, secs2 = self._generate(retry)
            self._account(accs, [slots[i] for i in redo], res2, secs2)
            for i, r2 in zip(redo, res2):
                f2 = guards.check(r2, lang, slots[i].max_words)
                if _badness(f2) < _badness(flags[i]):
                    res[i], flags[i] = r2, f2
        out: list[str | None] = []
        for s, r, f in zip(slots, res, flags):
            accs[s.job].flags += [f"{s.level}:{g}" for g in f]
            if guards.FATAL.intersection(f):
                if r.error:
                    accs[s.job].errors.append(f"{s.level}: {r.error}")
                out.append(None)
            else:
                out.append((r.text or "").strip())
        return out

    def _req(self, prompt: str, images: Sequence[bytes], max_new: int) -> Request:
        return Request(prompt=prompt, images=tuple(images), system=self.prompts.system, max_new_tokens=max_new,
                       temperature=self.cfg.temperature, seed=self.cfg.seed)

    # -- the hierarchy ------------------------------------------------------------------
    def run(self, jobs: list[ClipJob]) -> list[dict[str, Any]]:
        cfg, P, tok = self.cfg, self.prompts, self.cfg.max_new_tokens
        accs = [_Acc() for _ in jobs]
        keyframes = [sorted((f for f in j.frames if f["keyframe"]), key=lambda f: f["t_s"]) for j in jobs]

        # round 1: every window of every clip + the first keyframe of every clip
        slots: list[_Slot] = []
        spans: list[list[tuple[float, float]]] = []
        for ji, job in enumerate(jobs):
            spans.append(window_spans(job.duration_s, cfg.window_s))
            for w, (a, b) in enumerate(spans[ji]):
                fr = sorted((f for f in job.frames if f["window"] == w), key=lambda f: f["t_s"])
                if not fr:
                    continue
                prompt = P.render("window", start_s=_s(a), end_s=_s(b), n_frames=len(fr), duration_s=_s(job.duration_s),
                                  times=", ".join(f"{_s(f['t_s'])}s" for f in fr))
                slots.append(_Slot(ji, f"window[{w}]", self._req(prompt, [f["jpeg"] for f in fr], tok.window)))
            if keyframes[ji]:
                k0 = keyframes[ji][0]
                prompt = P.render("keyframe", t_s=_s(k0["t_s"]), duration_s=_s(job.duration_s))
                slots.append(_Slot(ji, "diff[0]", self._req(prompt, [k0["jpeg"]], tok.diff)))
        for s, text in zip(slots, self._round(accs, slots)):
            if s.level.startswith("window"):
                w = int(s.level[7:-1])
                a, b = spans[s.job][w]
                accs[s.job].windows.append({"start_s": round(a, 3), "end_s": round(b, 3), "text": text})
            else:
                accs[s.job].diffs.append({"t_s": keyframes[s.job][0]["t_s"], "text": text})

        # rounds 2..K: differential captions, batched across clips
        for k in range(1, max((len(k) for k in keyframes), default=0)):
            slots = []
            for ji, kf in enumerate(keyframes):
                if len(kf) <= k:
                    continue
                prev = next((d["text"] for d in reversed(accs[ji].diffs) if d["text"]), None)
                prompt = P.render("diff", prev_t_s=_s(kf[k - 1]["t_s"]), t_s=_s(kf[k]["t_s"]),
                                  prev_text=prev or "(no description available)")
                slots.append(_Slot(ji, f"diff[{k}]", self._req(prompt, [kf[k - 1]["jpeg"], kf[k]["jpeg"]], tok.diff)))
            for s, text in zip(slots, self._round(accs, slots)):
                accs[s.job].diffs.append({"t_s": keyframes[s.job][k]["t_s"], "text": text})

        # round K+1 (text only): detailed caption + chapters of long takes
        slots = []
        chapters: dict[int, list[tuple[float, float]]] = {}
        for ji, job in enumerate(jobs):
            a = accs[ji]
            prompt = P.render("detailed", duration_s=_s(job.duration_s), windows=_notes_windows(a.windows),
                              diffs=_notes_diffs(a.diffs), hints=hints_text(job.hints) if cfg.use_hints else "")
            slots.append(_Slot(ji, "detailed", self._req(prompt, [], tok.detailed)))
            if job.long_take:
                chapters[ji] = chapter_spans(job.duration_s, [f["t_s"] for f in keyframes[ji]],
                                             cfg.chapter_min_s, cfg.chapter_max_s)
                for c, (ca, cb) in enumerate(chapters[ji]):
                    ws = [w for w in a.windows if w["start_s"] < cb and w["end_s"] > ca]
                    ds = [d for d in a.diffs if ca <= d["t_s"] < cb]
                    prompt = P.render("chapter", start_s=_s(ca), end_s=_s(cb), windows=_notes_windows(ws),
                                      diffs=_notes_diffs(ds))
                    slots.append(_Slot(ji, f"chapter[{c}]", self._req(prompt, [], tok.chapter)))
        for ji in chapters:
            accs[ji].chapters = []
        for s, text in zip(slots, self._round(accs, slots)):
            if s.level == "detailed":
                accs[s.job].detailed = text
            else:
                ca, cb = chapters[s.job][int(s.level[8:-1])]
                accs[s.job].chapters.append({"start_s": round(ca, 3), "end_s": round(cb, 3), "text": text})

        # last round (text only): brief caption from the detailed one
        slots = []
        for ji, a in enumerate(accs):
            source = a.detailed or " ".join(w["text"] for w in a.windows if w["text"])
            if not source:
                a.flags.append("brief:no_source")
                continue
            prompt = P.render("brief", detailed=source, max_words=cfg.brief_max_words)
            slots.append(_Slot(ji, "brief", self._req(prompt, [], tok.brief), max_words=cfg.brief_max_words))
        for s, text in zip(slots, self._round(accs, slots)):
            accs[s.job].brief = text
        return [self._columns(a) for a in accs]

    def _columns(self, a: _Acc) -> dict[str, Any]:
        failed = [lvl for lvl, v in (("detailed", a.detailed), ("brief", a.brief)) if not v]
        if failed:
            status, err = "failed", "generation_failed"
            detail = f"no usable {' and '.join(failed)} caption after one retry"
            if a.errors:
                detail += f" (last error: {a.errors[-1][:300]})"
        else:
            status, err, detail = ("flagged" if a.flags else "ok"), None, None
        return {
            "caption_status": status, "caption_error": err, "caption_error_detail": detail,
            "caption_flags": a.flags, "caption_backend": self.captioner.backend, "caption_model": self.captioner.model,
            "caption_windows": a.windows, "caption_diffs": a.diffs, "caption_detailed": a.detailed,
            "caption_brief": a.brief, "caption_chapters": a.chapters,
            "caption_prompt_tokens": a.prompt_tokens, "caption_output_tokens": a.output_tokens,
            "caption_requests": a.requests, "caption_seconds": round(a.seconds, 6),
        }


def _badness(flags: list[str]) -> tuple[bool, int]:
    return bool(guards.FATAL.intersection(flags)), len(flags)


def _notes_windows(windows: list[dict[str, Any]]) -> str:
    lines = [f"[{_s(w['start_s'])}s-{_s(w['end_s'])}s] {w['text']}" for w in windows if w["text"]]
    return "\n".join(lines) or "(none)"


def _notes_diffs(diffs: list[dict[str, Any]]) -> str:
    lines = [f"[{_s(d['t_s'])}s] {d['text']}" for d in diffs if d["text"]]
    return "\n".join(lines) or "(none)"
