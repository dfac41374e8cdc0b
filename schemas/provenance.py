"""Fields of the ``videos`` table filled by the download stage: where a video came from, who made
it and under which licence (enough to write an attribution file), as yt-dlp reported it.

Null for sources that did not go through yt-dlp (local files, plain http/fsspec fetches).
"""

from __future__ import annotations

import pyarrow as pa

from curate.schemas._fields import field

CHAPTER = pa.struct([
    pa.field("start", pa.float64()),
    pa.field("end", pa.float64()),
    pa.field("title", pa.string()),
])

PROVENANCE_FIELDS: list[pa.Field] = [
    field("platform", pa.string(), "yt-dlp extractor that read the video, lower case (youtube, vimeo, wikimediacommons, generic, ...)."),
    field("platform_id", pa.string(), "The video's id on its platform (e.g. the YouTube video id)."),
    field("webpage_url", pa.string(), "Canonical page of the video on its platform (the URL to cite)."),
    field("title", pa.string(), "Title as published."),
    field("uploader", pa.string(), "Uploader / author name as published."),
    field("uploader_url", pa.string(), "Uploader's page."),
    field("channel", pa.string(), "Channel name (platforms with channels), else null."),
    field("channel_url", pa.string(), "Channel page."),
    field("upload_date", pa.date32(), "Date the video was published (UTC)."),
    field("licence_raw", pa.string(), "Licence exactly as the platform reports it (yt-dlp `license`)."),
    field("licence", pa.string(), "Normalised licence id (CC-BY-3.0, CC-BY-SA-4.0, CC0-1.0, public-domain, ...); null = unknown."),
    field("licence_gate", pa.string(), "Why the row passed the licence gate: allow_list | allow_unknown (explicit config); null if it did not."),
    field("description", pa.string(), "Description as published."),
    field("tags", pa.list_(pa.string()), "Tags / keywords as published."),
    field("chapters", pa.list_(CHAPTER), "Chapters (start/end seconds, title) as published."),
    field("subtitle_langs", pa.list_(pa.string()), "Languages of uploaded subtitles."),
    field("auto_caption_langs", pa.list_(pa.string()), "Languages of automatic captions."),
    field("source_duration_s", pa.float64(), "Duration the platform reports, seconds (checked before download)."),
    field("format_id", pa.string(), "yt-dlp format id(s) downloaded (e.g. '136' or '136+140')."),
    field("ytdlp_version", pa.string(), "yt-dlp version that extracted the metadata and downloaded the media."),
]
