"""Fields of the ``clips`` table added by the caption stages (hierarchical dense captions).

All timestamps are seconds from the start of the clip (clip-local time), so they line up
with the clip file a generator trains on; add ``start_s`` for source-video time.
Clips whose ``status`` is not ``ok`` are not captioned and keep these columns null.
"""

from __future__ import annotations

import pyarrow as pa
from curate.schemas._fields import field

SPAN = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string())])
POINT = pa.struct([("t_s", pa.float64()), ("text", pa.string())])

CAPTION_FIELDS: list[pa.Field] = [
    field("caption_status", pa.string(),
          "ok | flagged (captions present, some guard fired: see caption_flags) | failed (a level could not be "
          "generated) | skipped (stage could not run, e.g. model unavailable; caption columns null)."),
    field("caption_error", pa.string(),
          "Reason code when caption_status is failed/skipped: model_unavailable, generation_failed, no_frames, "
          "no_media, decode_error, captions_error."),
    field("caption_error_detail", pa.string(), "Human-readable detail of caption_error (what to do about it)."),
    field("caption_flags", pa.list_(pa.string()),
          "Guards that fired, as 'level:guard' (e.g. 'window[2]:repetitive', 'brief:too_long'); guards: empty, "
          "truncated (hit max_new_tokens without EOS), repetitive (n-gram loop), wrong_language, too_long, error."),
    field("caption_backend", pa.string(), "Captioner backend: vllm | transformers | openai."),
    field("caption_model", pa.string(), "Model id or local path that wrote the captions."),
    field("caption_keyframes_s", pa.list_(pa.float64()),
          "Keyframe times (s): one every captions.keyframe_interval_s plus one whenever visual similarity to the "
          "previous keyframe drops below captions.keyframe_threshold."),
    field("caption_windows", pa.list_(SPAN),
          "Level 1: one caption per window of captions.window_s seconds (frames sampled at captions.frames_fps)."),
    field("caption_diffs", pa.list_(POINT),
          "Level 2: differential captions at each keyframe time: the first entry describes the first keyframe, "
          "every later entry what changed since the previous keyframe (given the previous description)."),
    field("caption_detailed", pa.string(),
          "Level 3: detailed caption merged from windows + diffs (+ camera_motion/motion_score/ocr_texts hints) "
          "by a text-only summarisation pass: subject, action, scene, lighting, camera movement."),
    field("caption_brief", pa.string(), "Level 4: one sentence (<= captions.brief_max_words words) in the style of a user's prompt."),
    field("caption_chapters", pa.list_(SPAN),
          "Long takes only (is_long_take): dense chapter-style segments with timestamps; null for other clips."),
    field("caption_prompt_tokens", pa.int64(), "Prompt tokens (text + image) of every request made for this clip."),
    field("caption_output_tokens", pa.int64(), "Generated tokens of every request made for this clip."),
    field("caption_requests", pa.int32(), "Generation requests made for this clip (retries included)."),
    field("caption_seconds", pa.float64(),
          "Captioner seconds attributed to this clip: each batched generate call's wall time split over its "
          "requests by token share."),
]

# Stream-only (never written to shards): decoded frames handed from the CPU decode stage to
# the GPU actor. One struct per frame; a frame can be a keyframe and/or belong to a window.
FRAME = pa.struct([
    ("t_s", pa.float64()),
    ("jpeg", pa.binary()),
    ("keyframe", pa.bool_()),
    ("window", pa.int32()),
])
CAPTION_FRAMES = field("caption_frames", pa.list_(FRAME),
                       "Stream-only: JPEG frames for the caption actor (keyframes + window samples).")
