"""``curate serve``: a small web gallery over an output folder (Starlette + uvicorn).

Pages are plain HTML/JS shipped in ``curate/web`` (no CDN, works offline). The JSON API runs
parameterised DuckDB queries over the shard views; column names in filters and sorting are
accepted only when :mod:`curate.columns` found them in the shards' schema, and every value
travels as a bound parameter, so no request text is ever spliced into SQL. The same filter
can be exported (``/api/export``) as a DuckDB condition with the values written as quoted
literals, usable as ``curate export --where`` or ``train.select.where``, and as a clip list.

Media are served from ``/media/<path>`` only when ``<path>`` is the ``clip_path`` or
``thumbnail_path`` of a row **and** its real path (symlinks resolved) lies inside the output
folder, so ``../``, encoded ``%2e%2e%2f``, absolute paths and symlinks pointing outside all
get 404. The shards are never written: the one thing the gallery writes is the curator's
labels (``POST /api/labels`` -> ``labels/labels.parquet``, :mod:`curate.labels`), and only
for a JSON request from the gallery's own origin. Binds to 127.0.0.1 by default.
"""

from __future__ import annotations

import json
import math
import os
import threading
from importlib import resources
from typing import Any

from curate.columns import Columns, discover, list_field, quote
from curate.query import connect

WEB_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
             "style.css": "text/css; charset=utf-8"}
MEDIA_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska", ".mov": "video/quicktime",
               ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
MAX_LIMIT = 200


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf -> None, nested lists/dicts cleaned, everything else via str()."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if x is None or isinstance(x, (str, int, bool)):
        return x
    return str(x)


def _like(text: str) -> str:
    """A substring pattern for ``ILIKE ? ESCAPE '\\'`` with the user's % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Gallery:
    """State of one served output: a DuckDB connection and the classified columns."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = output_dir
        self.root = os.path.realpath(output_dir)
        self._lock = threading.Lock()
        self._manifest_mtime = None
        self._load()

    def _load(self) -> None:
        self.cols: dict[str, Columns] = discover(self.output_dir)
        self.con = connect(self.output_dir)
        self._manifest_mtime = self._mtime()

    def _mtime(self) -> tuple[float | None, float | None]:
        """(manifest, labels table) modification times: a change of either reloads the views."""
        from curate.labels import LABELS_PATH

        def mt(rel: str) -> float | None:
            try:
                return os.path.getmtime(os.path.join(self.root, rel))
            except OSError:
                return None

        return mt("manifest.json"), mt(LABELS_PATH)

    def cursor(self):
        """A per-request cursor; reloads the views when a run committed new shards meanwhile."""
        with self._lock:
            if self._mtime() != self._manifest_mtime:
                old = self.con
                self._load()
                old.close()
            return self.con.cursor()

    # -- metadata ----------------------------------------------------------------------
    @property
    def clip_cols(self) -> Columns:
        return self.cols["clips"]

    @property
    def licence(self) -> tuple[str, str] | None:
        """(table alias, column) of the licence column, videos first."""
        if self.cols["videos"].licence:
            return "v", self.cols["videos"].licence
        if self.clip_cols.licence:
            return "c", self.clip_cols.licence
        return None

    def numeric(self) -> list[str]:
        return self.clip_cols.scores + self.clip_cols.properties

    def meta(self) -> dict[str, Any]:
        cur = self.cursor()
        c = self.clip_cols
        ranges = {}
        for col in self.numeric():
            lo, hi = cur.execute(f"SELECT min({quote(col)})::DOUBLE, max({quote(col)})::DOUBLE FROM clips").fetchone()
            ranges[col] = {"min": lo, "max": hi, "score": col in c.scores}
        out: dict[str, Any] = {
            "output_dir": self.root, "numeric": ranges,
            "statuses": [r[0] for r in cur.execute("SELECT DISTINCT status FROM clips WHERE status IS NOT NULL ORDER BY 1").fetchall()],
            "text_captions": c.text_captions, "timed_captions": list(c.timed_captions),
            "total": cur.execute("SELECT count(*) FROM clips").fetchone()[0],
        }
        if c.topic:
            out["topics"] = [r[0] for r in cur.execute(
                f"SELECT DISTINCT {quote(c.topic)}::VARCHAR FROM clips WHERE {quote(c.topic)} IS NOT NULL ORDER BY 1").fetchall()]
        if self.licence:
            alias, col = self.licence
            table = "videos" if alias == "v" else "clips"
            out["licences"] = [r[0] for r in cur.execute(
                f"SELECT DISTINCT {quote(col)} FROM {table} WHERE {quote(col)} IS NOT NULL ORDER BY 1").fetchall()]
        return _clean(out)

    # -- listing -----------------------------------------------------------------------
    def _base(self) -> str:
        """The relation filters run on: clip columns, plus ``licence`` when it lives on videos.

        The same names the training selection's ``where`` sees, so an exported filter means
        the same thing there."""
        lic = self.licence
        extra = ""
        if lic and lic[0] == "v" and lic[1] not in self.clip_cols.names:
            extra = f", v.{quote(lic[1])} AS {quote(lic[1])}"
        return f"(SELECT c.*{extra} FROM clips c LEFT JOIN videos v ON v.video_id = c.video_id) c"

    def _conditions(self, params: dict[str, str], bind: bool = True) -> tuple[list[str], list[Any]]:
        """Filter conditions over :meth:`_base` columns: with ``?`` + args, or (``bind=False``)
        with the values as quoted literals (for the exported SQL; never executed by the API)."""
        c = self.clip_cols
        where: list[str] = []
        args: list[Any] = []

        def val(v: Any) -> str:
            if bind:
                args.append(v)
                return "?"
            if isinstance(v, float):
                return repr(v)
            return "'" + str(v).replace("'", "''") + "'"

        status = params.get("status", "")
        if status and status != "all":
            where.append(f"status = {val(status)}")
        if params.get("topic") and c.topic:
            where.append(f"{quote(c.topic)}::VARCHAR = {val(params['topic'])}")
        if params.get("licence") and self.licence:
            where.append(f"{quote(self.licence[1])} = {val(params['licence'])}")
        if params.get("q"):
            like = _like(params["q"])
            fields = [quote(n) for n in c.text_captions]
            fields += [f"array_to_string({list_field(quote(n), text)}, ' ')" for n, (text, _s, _e) in c.timed_captions.items()]
            fields.append("clip_id")
            ors = [f"{f} ILIKE {val(like)} ESCAPE '\\'" for f in fields]
            ors.append(f"video_id IN (SELECT video_id FROM videos WHERE source ILIKE {val(like)} ESCAPE '\\')")
            where.append("(" + " OR ".join(ors) + ")")
        label = params.get("label", "")
        if label in ("accept", "reject"):
            where.append(f"clip_id IN (SELECT clip_id FROM labels WHERE label = {val(label)})")
        elif label == "unlabelled":
            where.append("clip_id NOT IN (SELECT clip_id FROM labels WHERE label IS NOT NULL)")
        elif label:
            raise ValueError(f"label filter must be accept, reject or unlabelled, not {label!r}")
        if params.get("tag"):
            from curate.labels import normalise_tags

            tags = normalise_tags(params["tag"])
            if tags:
                where.append(f"clip_id IN (SELECT clip_id FROM labels WHERE list_has_all(tags, [{', '.join(val(t) for t in tags)}]))")
        numeric = self.numeric()
        for key, raw in params.items():
            if not raw or not key.startswith(("min.", "max.")):
                continue
            col = key[4:]
            if col not in numeric:
                raise ValueError(f"unknown numeric column {col!r}")
            where.append(f"{quote(col)} {'>=' if key.startswith('min.') else '<='} {val(float(raw))}")
        return where, args

    def list_clips(self, params: dict[str, str]) -> dict[str, Any]:
        cur = self.cursor()  # first: it may reload the columns
        c = self.clip_cols
        where, args = self._conditions(params)
        numeric = self.numeric()
        sort = params.get("sort") or ""
        if sort and sort not in numeric and sort != "clip_id":
            raise ValueError(f"cannot sort by {sort!r}")
        order = "ASC" if params.get("order") == "asc" else "DESC"
        order_by = f"c.{quote(sort)} {order} NULLS LAST, c.clip_id" if sort else "c.video_id, c.clip_index, c.clip_id"
        limit = max(1, min(MAX_LIMIT, int(params.get("limit") or 60)))
        offset = max(0, int(params.get("offset") or 0))
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        select = ["c.clip_id", "c.status", "c.thumbnail_path", "c.reject_reasons", "c.start_s", "c.end_s",
                  "l.label AS _label", "l.tags AS _tags"]
        select += [f"c.{quote(n)}" for n in numeric if n not in ("start_s", "end_s")]
        if c.topic:
            select.append(f"c.{quote(c.topic)} AS _topic")
        if c.text_captions:
            select.append(f"c.{quote(c.text_captions[0])} AS _caption")
        total = cur.execute(f"SELECT count(*) FROM {self._base()}{cond}", args).fetchone()[0]
        rel = cur.execute(f"SELECT {', '.join(select)}, regexp_replace(v.source, '^.*/', '') AS _source "
                          f"FROM (SELECT * FROM {self._base()}{cond}) c LEFT JOIN videos v ON v.video_id = c.video_id "
                          f"LEFT JOIN labels l ON l.clip_id = c.clip_id ORDER BY {order_by} LIMIT ? OFFSET ?",
                          args + [limit, offset])
        names = [d[0] for d in rel.description]
        rows = [dict(zip(names, r)) for r in rel.fetchall()]
        return _clean({"total": total, "offset": offset, "limit": limit, "clips": rows})

    def export_filter(self, params: dict[str, str]) -> dict[str, Any]:
        """The current filter as a DuckDB condition (``--where``), a full query, and its clip count."""
        cur = self.cursor()
        where, args = self._conditions(params)
        total = cur.execute(f"SELECT count(*) FROM {self._base()}" + (" WHERE " + " AND ".join(where) if where else ""),
                            args).fetchone()[0]
        lit, _ = self._conditions(params, bind=False)
        cond = " AND ".join(lit) if lit else "true"
        sql = f"SELECT * FROM {self._base()} WHERE {cond} ORDER BY clip_id"
        esc = cond.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
        return {"where": cond, "sql": sql, "total": total,
                "command": f'curate export {self.root} EXPORT_DIR --where "{esc}"'}

    def clip_ids(self, params: dict[str, str]) -> list[str]:
        cur = self.cursor()
        where, args = self._conditions(params)
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        return [r[0] for r in cur.execute(f"SELECT clip_id FROM {self._base()}{cond} ORDER BY clip_id", args).fetchall()]

    def set_labels(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        from curate.labels import set_labels

        ids = body.get("clip_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) or len(ids) > 10_000:
            raise ValueError("clip_ids must be a non-empty list of clip ids")
        cur = self.cursor()
        known = {r[0] for r in cur.execute("SELECT clip_id FROM clips WHERE list_contains(?, clip_id)", [ids]).fetchall()}
        missing = [i for i in ids if i not in known]
        if missing:
            raise ValueError(f"unknown clip ids: {missing[:5]}")
        label = body["label"] if "label" in body else ""
        rows = set_labels(self.output_dir, ids, label, body.get("tags_add"), body.get("tags_remove"), body.get("note"))
        return _clean(rows)

    # -- one clip ----------------------------------------------------------------------
    def clip(self, clip_id: str) -> dict[str, Any] | None:
        cur = self.cursor()
        rel = cur.execute("SELECT * FROM clips WHERE clip_id = ?", [clip_id])
        names = [d[0] for d in rel.description]
        row = rel.fetchone()
        if row is None:
            return None
        clip = dict(zip(names, row))
        vrel = cur.execute("SELECT * FROM videos WHERE video_id = ?", [clip["video_id"]])
        vnames = [d[0] for d in vrel.description]
        vrow = vrel.fetchone()
        video = dict(zip(vnames, vrow)) if vrow else {}
        c, v = self.clip_cols, self.cols["videos"]
        timed = {}
        for n, (text, s, e) in c.timed_captions.items():
            timed[n] = [{"start": (seg or {}).get(s) if s else None, "end": (seg or {}).get(e) if e else None,
                         "text": (seg or {}).get(text)} for seg in (clip.get(n) or [])]
        prov_names = ["source"] + [n for n in v.provenance if n != "source"]
        provenance = {n: video.get(n) for n in prov_names if n in video}
        if v.licence:
            provenance.setdefault(v.licence, video.get(v.licence))
        provenance.update({n: clip.get(n) for n in c.provenance if n not in provenance and n not in ("clip_path", "thumbnail_path")})
        return _clean({
            "clip_id": clip_id, "status": clip.get("status"), "reject_reasons": clip.get("reject_reasons") or [],
            "error": clip.get("error"), "clip_path": clip.get("clip_path"), "thumbnail_path": clip.get("thumbnail_path"),
            "scores": {n: clip.get(n) for n in c.scores}, "properties": {n: clip.get(n) for n in c.properties},
            "span": {k: clip.get(k) for k in ("start_s", "end_s", "start_frame", "end_frame")},
            "topic": clip.get(c.topic) if c.topic else None,
            "captions": {n: clip.get(n) for n in c.text_captions}, "timed_captions": timed,
            "provenance": provenance, "video_id": clip.get("video_id"), "label": self._label(cur, clip_id),
        })

    @staticmethod
    def _label(cur, clip_id: str) -> dict[str, Any] | None:
        rel = cur.execute("SELECT label, tags, note FROM labels WHERE clip_id = ?", [clip_id]).fetchone()
        return {"label": rel[0], "tags": rel[1] or [], "note": rel[2]} if rel else None

    # -- media -------------------------------------------------------------------------
    def media_path(self, rel: str) -> str | None:
        """Absolute path of ``rel`` if it may be served, else None (see module docstring)."""
        if not rel or "\x00" in rel or "\\" in rel or rel.startswith("/") or os.path.splitext(rel)[1].lower() not in MEDIA_TYPES:
            return None
        if ".." in rel.split("/"):
            return None
        cur = self.cursor()
        known = cur.execute("SELECT 1 FROM clips WHERE clip_path = ? OR thumbnail_path = ? LIMIT 1", [rel, rel]).fetchone()
        if not known:
            return None
        real = os.path.realpath(os.path.join(self.root, rel))
        if os.path.commonpath([self.root, real]) != self.root or not os.path.isfile(real):
            return None
        return real


CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def create_app(output_dir: str, allowed_hosts: list[str] | None = None):
    """The Starlette app serving ``output_dir`` read-only.

    ``allowed_hosts``: accepted ``Host`` headers (``serve`` passes the loopback names when bound
    to loopback, which stops DNS-rebinding pages from reading the gallery)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, Response
    from starlette.routing import Route

    gallery = Gallery(output_dir)
    web = resources.files("curate") / "web"

    def page(request: Request) -> Response:
        name = request.path_params.get("name", "index.html")
        if name not in WEB_FILES:
            return Response("not found", status_code=404)
        return Response((web / name).read_bytes(), media_type=WEB_FILES[name],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"})

    def _json(obj: Any, status: int = 200) -> Response:
        return Response(json.dumps(obj, default=str), status_code=status, media_type="application/json")

    def meta(request: Request) -> Response:
        return _json(gallery.meta())

    def clips(request: Request) -> Response:
        try:
            return _json(gallery.list_clips(dict(request.query_params)))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)

    def export(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            if params.get("format") == "txt":
                ids = gallery.clip_ids(params)
                return Response("\n".join(ids) + ("\n" if ids else ""), media_type="text/plain; charset=utf-8",
                                headers={"Content-Disposition": 'attachment; filename="clips.txt"'})
            return _json(gallery.export_filter(params))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)

    async def labels(request: Request) -> Response:
        # only the gallery's own page may write: a JSON body (cross-site forms cannot send one without
        # a CORS preflight, which this app never answers) and, when the browser says, the same origin
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _json({"error": "send application/json"}, 415)
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            return _json({"error": "cross-origin request refused"}, 403)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            return _json({"labels": gallery.set_labels(body)})
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)

    def clip(request: Request) -> Response:
        row = gallery.clip(request.path_params["clip_id"])
        return _json(row) if row else _json({"error": "no such clip"}, 404)

    def media(request: Request) -> Response:
        path = gallery.media_path(request.path_params["path"])
        if path is None:
            return Response("not found", status_code=404)
        return FileResponse(path, media_type=MEDIA_TYPES[os.path.splitext(path)[1].lower()])

    routes = [
        Route("/", page), Route("/static/{name}", page),
        Route("/api/meta", meta), Route("/api/clips", clips), Route("/api/clip/{clip_id}", clip),
        Route("/api/export", export), Route("/api/labels", labels, methods=["POST"]),
        Route("/media/{path:path}", media),
    ]
    middleware = []
    if allowed_hosts:
        from starlette.middleware import Middleware
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.gallery = gallery
    return app


def serve(output_dir: str, host: str = "127.0.0.1", port: int = 8765) -> None:
    import uvicorn

    print(f"curate gallery for {os.path.realpath(output_dir)} at http://{host}:{port}/  (Ctrl-C stops)")
    hosts = list(LOOPBACK) if host in LOOPBACK else None
    uvicorn.run(create_app(output_dir, allowed_hosts=hosts), host=host, port=port, log_level="warning")
