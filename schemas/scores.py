"""Fields of the ``clips`` table added by the analyse stage (scores) and the filter.

All scores come from one low-resolution decode per clip (``stages/analyze.py``); pixel
measures refer to a frame ``analyze.width`` pixels wide unless they say "256-px normalised".
"""

from __future__ import annotations

import pyarrow as pa
from curate.schemas._fields import field

BOX = pa.struct([("x", pa.float32()), ("y", pa.float32()), ("w", pa.float32()), ("h", pa.float32())])
OCR_REGION_LIST = pa.list_(pa.struct([("x", pa.float32()), ("y", pa.float32()), ("w", pa.float32()), ("h", pa.float32()),
                                      ("text", pa.string()), ("score", pa.float32()), ("frame", pa.int32()),
                                      ("t", pa.float32())]))

SCORE_FIELDS: list[pa.Field] = [
    field("motion_score", pa.float32(), "Mean optical-flow magnitude (DIS) in px/frame, normalised to a 256-px-wide frame."),
    field("motion_px_per_frame", pa.float32(), "Mean optical-flow magnitude in px/frame at the analysis width."),
    field("camera_motion", pa.string(), "static | pan_left | pan_right | tilt_up | tilt_down | zoom_in | zoom_out | shaky | complex; null when the picture has too little texture to track (flat walls, sky) in most sampled pairs."),
    field("camera_pan", pa.float32(), "Mean global horizontal content motion, px/frame (256-px normalised), from similarity fits over 1/analyze.pairs_per_s s; > 0 = content moves right = camera pans left. Null with camera_motion."),
    field("camera_tilt", pa.float32(), "Mean global vertical content motion, px/frame (256-px normalised); > 0 = content moves down = camera tilts up. Null with camera_motion."),
    field("camera_zoom", pa.float32(), "Mean per-frame content scale factor minus 1 (0.01 = the picture grows 1 % a frame); > 0 = zoom in. Null with camera_motion."),
    field("sharpness", pa.float32(), "Variance of the Laplacian of luma at the analysis width (higher = sharper)."),
    field("brightness", pa.float32(), "Mean luma in [0, 1] (black borders excluded)."),
    field("contrast", pa.float32(), "Standard deviation of luma in [0, 1] (black borders excluded)."),
    field("colorfulness", pa.float32(), "Hasler-Suesstrunk colourfulness (0 = grey; > 100 very colourful)."),
    field("clipped_highlights", pa.float32(), "Fraction of pixels with luma >= 250."),
    field("clipped_shadows", pa.float32(), "Fraction of pixels with luma <= 5 (black borders excluded)."),
    field("border_frac", pa.float32(), "Fraction of the frame area covered by persistent black bars (letterbox/pillarbox)."),
    field("static_ratio", pa.float32(), "Fraction of sampled frames whose picture does not change over analyze.frozen_lag_s (default 1/3 s): mean |luma diff| to that later frame < analyze.frozen_diff. Frame-rate-conversion repeats (shorter holds) do not count."),
    field("overlay_prob", pa.float32(), "Overlay (logo / subtitle / ticker drawn over the picture) confidence in [0, 1]; heuristic, not calibrated."),
    field("overlay_kind", pa.string(), "logo | subtitle | ticker | none: the most confident overlay (none below analyze.overlay_min_prob). Scene text is not an overlay (see ocr_regions)."),
    field("overlay_box", BOX, "Box of that overlay, normalised to [0, 1] (x, y = top-left; pixels = x * width, y * height); null when overlay_kind is none."),
    field("text_area_ratio", pa.float32(), "Mean fraction of the frame covered by OCR text boxes (PP-OCR, analyze.ocr_frames frames)."),
    field("ocr_boxes", pa.int32(), "Most text boxes found in one OCR frame."),
    field("ocr_texts", pa.list_(pa.string()), "Distinct recognised on-screen strings."),
    field("ocr_regions", OCR_REGION_LIST, "Every recognised text box: x, y, w, h normalised (origin top-left), text, score, frame (offset in the clip), t (s from the clip start)."),
    field("watermark_prob", pa.float32(), "Learned watermark classifier probability (null when no model is configured or loadable)."),
    field("phash", pa.list_(pa.int64()), "64-bit DCT perceptual hashes (signed int64; signs of the 64 lowest AC coefficients) of frames sampled every 1/analyze.phash_per_s s."),
    field("phash_t", pa.list_(pa.float32()), "Time (s from the clip's first frame) of each phash sample."),
    field("phash_motion", pa.list_(pa.int64()), "Per phash sample, 8x8 mask (bit 8*row+col) of the cells that differ from the clip's temporal median: where things move."),
    field("scores_skipped", pa.list_(pa.string()), "Scores not computed for this clip and why ('column: reason')."),
    field("analyze_s", pa.float32(), "Wall seconds spent decoding and analysing this clip."),
]
