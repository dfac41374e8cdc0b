"""``curate card``: a Hugging Face dataset card (README.md) for an output folder.

The shard folder can then be pushed as-is (``huggingface-cli upload <repo> <output_dir>
--repo-type dataset``): the YAML front matter names the licences found in the data, the
size category, the task, and two configs (``clips``, the default, and ``videos``) that point
at the Parquet shard globs, so ``datasets.load_dataset(<dir or repo>, "clips")`` works. The
body lists every feature from the shards' Arrow schema with its description, how the data was
made (the resolved config and the runs from the manifest) and where attribution lives.
A README.md not written by curate is never overwritten unless ``force``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import yaml

from curate.columns import discover, quote
from curate.query import connect
from curate.schemas import schema_table
from curate.shards import read_manifest
from curate.storage import Output

log = logging.getLogger("curate")

MARKER = "<!-- written by `curate card`; edit freely, `curate card --force` regenerates it -->"
HF_LICENCES = {"cc-by-4.0", "cc-by-3.0", "cc-by-2.0", "cc-by-sa-4.0", "cc-by-sa-3.0", "cc0-1.0", "cc-by-nc-4.0",
               "cc-by-nc-sa-4.0", "mit", "apache-2.0", "odc-by", "pddl", "other", "unknown"}
SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
         (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]


def hf_licence(value: str | None) -> str:
    """Map a licence string as stored (``CC-BY-4.0``, ``Creative Commons Attribution license
    (reuse allowed)``, ``cc0``, ``public domain`` ...) to a Hugging Face licence id."""
    if not value:
        return "unknown"
    s = re.sub(r"[\s_/]+", "-", value.strip().lower())
    if s in HF_LICENCES:
        return s
    ver = re.search(r"(\d)\.(\d)", value)
    if "cc0" in s or "zero" in s:
        return "cc0-1.0"
    if "public-domain" in s or s in ("pd", "publicdomain", "pdm"):
        return "other"  # Public Domain Mark has no HF id
    attribution = "attribution" in s or s.startswith(("cc-by", "ccby"))
    if attribution and ("non-commercial" in s or "noncommercial" in s or "-nc" in s):
        return "other"
    if attribution:
        sa = "-sa" in s or "sharealike" in s or "share-alike" in s
        version = f"{ver.group(1)}.{ver.group(2)}" if ver else ("3.0" if "reuse-allowed" in s else "4.0")
        cand = f"cc-by{'-sa' if sa else ''}-{version}"
        return cand if cand in HF_LICENCES else "other"
    return "other"


def size_category(n: int) -> str:
    return next((label for limit, label in SIZES if n < limit), "n>1B")


def _md(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def type_name(t) -> str:
    """Arrow type as text, without Parquet's list-item naming (``list<element: string>`` -> ``list<string>``)."""
    import pyarrow as pa

    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{type_name(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ", ".join(f"{t.field(i).name}: {type_name(t.field(i).type)}" for i in range(t.num_fields)) + ">"
    return str(t)


def features(schema) -> list[tuple[str, str, str]]:
    """(name, type, description) per field: :func:`curate.schemas.schema_table` with normalised types."""
    return [(n, type_name(f.type), d) for (n, _t, d), f in zip(schema_table(schema), schema)]


def features_table(schema) -> str:
    rows = ["| feature | type | description |", "|---|---|---|"]
    rows += [f"| `{n}` | `{_md(t)}` | {_md(d)} |" for n, t, d in features(schema)]
    return "\n".join(rows)


def build_card(output_dir: str) -> str:
    out = Output(output_dir)
    cols = discover(output_dir)
    manifest = read_manifest(out)
    con = connect(output_dir)
    try:
        n_clips = con.execute("SELECT count(*) FROM clips").fetchone()[0]
        n_ok = con.execute("SELECT count(*) FROM clips WHERE status = 'ok'").fetchone()[0]
        n_videos = con.execute("SELECT count(*) FROM videos").fetchone()[0]
        hours = (con.execute("SELECT coalesce(sum(duration_s), 0) FROM clips WHERE status = 'ok'").fetchone()[0] or 0) / 3600
        lic_col = cols["videos"].licence
        licences: list[tuple[str, int]] = []
        if lic_col:
            licences = con.execute(f"SELECT {quote(lic_col)}, count(*) n FROM videos WHERE status = 'ok' "
                                   f"GROUP BY 1 ORDER BY n DESC, 1").fetchall()
        rejects = con.execute("SELECT r, count(*) n FROM (SELECT unnest(reject_reasons) r FROM clips "
                              "WHERE status = 'rejected') GROUP BY r ORDER BY n DESC, r").fetchall()
    finally:
        con.close()
    hf_ids = sorted({hf_licence(name) for name, _ in licences}) or ["unknown"]
    cfg_text = out.read_bytes("config.resolved.yaml").decode() if out.exists("config.resolved.yaml") else ""
    cfg = yaml.safe_load(cfg_text) if cfg_text else {}
    name = (cfg or {}).get("name") or "curate dataset"
    front = {
        "license": hf_ids,
        "pretty_name": name,
        "size_categories": [size_category(n_clips)],
        "task_categories": ["text-to-video"],
        "tags": ["video", "curate"],
        "configs": [
            {"config_name": "clips", "default": True, "data_files": [{"split": "train", "path": "clips/*.parquet"}]},
            {"config_name": "videos", "data_files": [{"split": "train", "path": "videos/*.parquet"}]},
        ],
    }
    L: list[str] = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", MARKER, "", f"# {name}", ""]
    L.append(f"{n_ok} training clips ({hours:.2f} h) cut from {n_videos} source videos "
             f"({n_clips} clip rows including rejected/failed ones, which are kept with their reasons), "
             f"made with `curate` (schema {manifest.get('schema_version')}).")
    L += ["", "## Using it", "", "```python", "from datasets import load_dataset",
          'clips = load_dataset("<this repo or folder>", "clips", split="train")',
          'clips = clips.filter(lambda r: r["status"] == "ok")   # drop rejected / failed clips', "```", "",
          ("Or with DuckDB: `curate query \"SELECT * FROM clips WHERE status = 'ok'\" -o <folder>`. Clip files are "
           "at `clip_path` and thumbnails at `thumbnail_path`, relative to this folder; `report.html` shows "
           "score histograms and contact sheets."), ""]
    L += ["## Dataset structure", "", "### `clips` (one row per clip)", "", features_table(cols["clips"].schema), "",
          "### `videos` (one row per input video, whatever happened to it)", "", features_table(cols["videos"].schema), ""]
    L += ["## How it was made", ""]
    runs = manifest.get("runs", [])
    if runs:
        L += ["| run | videos | ok | failed | clips | wall s |", "|---|---|---|---|---|---|"]
        L += [f"| {r.get('run_id')} | {r.get('videos')} | {r.get('videos_ok')} | {r.get('videos_failed')} | "
              f"{r.get('clips')} | {r.get('wall_s')} |" for r in runs]
        L.append("")
    if rejects:
        L += ["Clips rejected by the filters (a clip can fail several):", ""]
        L += [f"- `{_md(r)}`: {n}" for r, n in rejects] + [""]
    if cfg_text:
        L += ["The pipeline configuration (`config.resolved.yaml`):", "", "<details><summary>config</summary>", "",
              "```yaml", cfg_text.rstrip(), "```", "", "</details>", ""]
    L += ["## Licences and attribution", ""]
    if licences:
        L += ["| licence (as found at the source) | videos | Hugging Face id |", "|---|---|---|"]
        L += [f"| {_md(lname or '(none)')} | {n} | `{hf_licence(lname)}` |" for lname, n in licences] + [""]
    else:
        L += ["The videos table has no licence column: check each source's licence before redistributing.", ""]
    attribution = [f for f in out.ls("") if f.lower().startswith("attribution")]
    prov = [c for c in cols["videos"].provenance]
    if attribution:
        L.append(f"Attribution for every source video is in {', '.join(f'`{a}`' for a in attribution)}.")
    L.append("Every `videos` row keeps its provenance (" + ", ".join(f"`{c}`" for c in prov) + "); every clip "
             "joins to its video by `video_id`. Credit the original creators when you use or republish clips.")
    return "\n".join(L) + "\n"


def write_card(output_dir: str, force: bool = False) -> str:
    """Write ``<output_dir>/README.md``; return its path."""
    out = Output(output_dir)
    if not out.exists("manifest.json"):
        raise FileNotFoundError(f"no curate output at {output_dir} (manifest.json missing)")
    if out.exists("README.md") and not force and MARKER not in out.read_bytes("README.md").decode(errors="replace"):
        raise FileExistsError(f"{out.path('README.md')} exists and was not written by curate; use --force")
    out.write_bytes("README.md", build_card(output_dir).encode())
    return out.path("README.md")
