"""``curate serve``: a small read-only web gallery over an output folder (Starlette + uvicorn).

Pages are plain HTML/JS shipped in ``curate/web`` (no CDN, works offline). The JSON API runs
parameterised DuckDB queries over the shard views; column names in filters and sorting are
accepted only when :mod:`curate.columns` found them in the shards' schema, and every value
travels as a bound parameter, so no request text is ever spliced into SQL.

Media are served from ``/media/<path>`` only when ``<path>`` is the ``clip_path`` or
``thumbnail_path`` of a row **and** its real path (symlinks resolved) lies inside the output
folder, so ``../``, encoded ``%2e%2e%2f``, absolute paths and symlinks pointing outside all
get 404. Nothing is ever written. Binds to 127.0.0.1 by default.
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

    def _mtime(self) -> float | None:
        try:
            return os.path.getmtime(os.path.join(self.root, "manifest.json"))
        except OSError:
            return None

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
    def _search_expr(self) -> str:
        c = self.clip_cols
        parts = [f"coalesce(c.{quote(n)}, '')" for n in c.text_captions]
        for n, (text, _s, _e) in c.timed_captions.items():
            parts.append(f"coalesce(array_to_string({list_field('c.' + quote(n), text)}, ' '), '')")
        parts += ["c.clip_id", "coalesce(v.source, '')"]
        return " || ' ' || ".join(parts)

    def list_clips(self, params: dict[str, str]) -> dict[str, Any]:
        cur = self.cursor()  # first: it may reload the columns
        c = self.clip_cols
        where, args = [], []
        status = params.get("status", "")
        if status and status != "all":
            where.append("c.status = ?")
            args.append(status)
        if params.get("topic") and c.topic:
            where.append(f"c.{quote(c.topic)}::VARCHAR = ?")
            args.append(params["topic"])
        if params.get("licence") and self.licence:
            alias, col = self.licence
            where.append(f"{alias}.{quote(col)} = ?")
            args.append(params["licence"])
        if params.get("q"):
            where.append(f"({self._search_expr()}) ILIKE ? ESCAPE '\\'")
            args.append(_like(params["q"]))
        numeric = self.numeric()
        for key, raw in params.items():
            if not raw or not key.startswith(("min.", "max.")):
                continue
            col = key[4:]
            if col not in numeric:
                raise ValueError(f"unknown numeric column {col!r}")
            where.append(f"c.{quote(col)} {'>=' if key.startswith('min.') else '<='} ?")
            args.append(float(raw))
        sort = params.get("sort") or ""
        if sort and sort not in numeric and sort != "clip_id":
            raise ValueError(f"cannot sort by {sort!r}")
        order = "ASC" if params.get("order") == "asc" else "DESC"
        order_by = f"c.{quote(sort)} {order} NULLS LAST, c.clip_id" if sort else "c.video_id, c.clip_index, c.clip_id"
        limit = max(1, min(MAX_LIMIT, int(params.get("limit") or 60)))
        offset = max(0, int(params.get("offset") or 0))
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        select = ["c.clip_id", "c.status", "c.thumbnail_path", "c.reject_reasons"]
        select += [f"c.{quote(n)}" for n in numeric]
        if c.topic:
            select.append(f"c.{quote(c.topic)} AS _topic")
        if c.text_captions:
            select.append(f"c.{quote(c.text_captions[0])} AS _caption")
        base = "FROM clips c LEFT JOIN videos v ON v.video_id = c.video_id"
        total = cur.execute(f"SELECT count(*) {base}{cond}", args).fetchone()[0]
        rel = cur.execute(f"SELECT {', '.join(select)} {base}{cond} ORDER BY {order_by} LIMIT ? OFFSET ?",
                          args + [limit, offset])
        names = [d[0] for d in rel.description]
        rows = [dict(zip(names, r)) for r in rel.fetchall()]
        return _clean({"total": total, "offset": offset, "limit": limit, "clips": rows})

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
            "provenance": provenance, "video_id": clip.get("video_id"),
        })

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
