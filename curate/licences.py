"""Licence strings as platforms report them -> one normalised id, and the allow-list check.

Platforms describe licences in many ways; yt-dlp passes them through in ``info["license"]``:

* YouTube: ``"Creative Commons Attribution license (reuse allowed)"`` (YouTube's CC option is
  CC BY 3.0) or ``"Standard YouTube License"``;
* Vimeo / Jamendo / Germanupa: short codes ``"by"``, ``"by-sa"``, ``"by-nc-nd"``, ``"cc0"``;
* Flickr: ``"Attribution-ShareAlike"``, ``"Public Domain Dedication (CC0)"``, ``"Public Domain Work"``;
* Wikimedia Commons: ``"Creative Commons Attribution 4.0"``, ``"CC BY-SA 3.0"``, ``"Public domain"``;
* PeerTube: ``"Attribution - Share Alike"``; archive.org: a deed URL such as
  ``http://creativecommons.org/licenses/by/4.0/`` or ``.../publicdomain/zero/1.0/``.

:func:`normalise` maps all of these to SPDX-style ids: ``CC-BY-3.0``, ``CC-BY-SA-4.0``,
``CC-BY-NC-ND`` (no version when the source gives none), ``CC0-1.0``, ``public-domain``, or
``all-rights-reserved``. Anything it cannot read returns ``None`` (= unknown).

:func:`allowed` checks an id against an allow-list of ids or families: ``CC-BY`` admits
``CC-BY``, ``CC-BY-3.0`` and ``CC-BY-4.0`` but never ``CC-BY-SA-*`` or ``CC-BY-NC-*``.
"""

from __future__ import annotations

import re

DEFAULT_ALLOW = ("CC-BY", "CC-BY-SA", "CC0", "public-domain")

# Every id :func:`normalise` can return, by family (documentation and config validation).
FAMILIES = (
    "CC-BY", "CC-BY-SA", "CC-BY-ND", "CC-BY-NC", "CC-BY-NC-SA", "CC-BY-NC-ND", "CC0",
    "public-domain", "all-rights-reserved",
)

_DEED = {"by": "CC-BY", "by-sa": "CC-BY-SA", "by-nd": "CC-BY-ND", "by-nc": "CC-BY-NC",
         "by-nc-sa": "CC-BY-NC-SA", "by-nc-nd": "CC-BY-NC-ND", "by-sa-nc": "CC-BY-NC-SA",
         "by-nd-nc": "CC-BY-NC-ND"}

_EXACT = {
    # YouTube (the only CC option YouTube offers is CC BY 3.0)
    "creative commons attribution license (reuse allowed)": "CC-BY-3.0",
    "creative commons attribution license": "CC-BY-3.0",
    "standard youtube license": "all-rights-reserved",
    # Flickr
    "no known copyright restrictions": "public-domain",
    "united states government work": "public-domain",
    "public domain work": "public-domain",
    "public domain mark": "public-domain",
    "public domain dedication (cc0)": "CC0-1.0",
    # misc platforms
    "all rights reserved": "all-rights-reserved",
    "all-rights-reserved": "all-rights-reserved",
    "copyrighted (contact publisher)": "all-rights-reserved",
    "standard license": "all-rights-reserved",
    "private": "all-rights-reserved",
    "attribution-cc": "CC-BY",
    "public domain": "public-domain",
    "publicdomain": "public-domain",
    "pd": "public-domain",
    "pdm": "public-domain",
}

_VERSION = re.compile(r"(?<![\d.])([1-4]\.0)(?![\d.])")


def _version(text: str) -> str | None:
    m = _VERSION.search(text)
    return m.group(1) if m else None


def _with_version(family: str, version: str | None) -> str:
    return f"{family}-{version}" if version else family


def _from_url(url: str) -> str | None:
    """creativecommons.org deed/legalcode URLs."""
    m = re.search(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)(?:/(\d\.\d))?", url)
    if not m:
        return None
    kind, code, version = m.groups()
    if kind == "publicdomain" or code == "publicdomain":
        return "CC0-1.0" if code == "zero" else "public-domain"
    family = _DEED.get(code)
    return _with_version(family, version) if family else None


def _from_words(text: str) -> str | None:
    """Free text: 'Creative Commons Attribution-ShareAlike 4.0 International', 'CC BY-NC 2.0',
    'Attribution - Non Commercial', 'by-sa', 'cc-by-nc-sa'..."""
    t = text.lower()
    if "cc0" in t or "cc-zero" in t or "cc zero" in t or "public domain dedication" in t:
        return "CC0-1.0"
    if "public domain" in t or "public-domain" in t:
        return "public-domain"
    words = re.sub(r"[^a-z0-9.]+", " ", t).split()
    # short codes: "by", "by-sa", "cc-by-nc", "cc by-nd 4.0"
    codes = [w for w in words if w not in ("cc", "creative", "commons", "license", "licence",
                                             "international", "unported", "generic", "reuse", "allowed")]
    code_parts = [w for w in codes if w in ("by", "sa", "nc", "nd")]
    if code_parts and code_parts[0] == "by" and len(code_parts) == len([w for w in codes if not _VERSION.fullmatch(w)]):
        family = _DEED.get("-".join(code_parts))
        if family:
            return _with_version(family, _version(t))
    if "attribution" not in t:
        return None
    nc = "noncommercial" in t.replace(" ", "").replace("-", "")
    nd = "noderiv" in t.replace(" ", "").replace("-", "")
    sa = "sharealike" in t.replace(" ", "").replace("-", "")
    family = "CC-BY" + ("-NC" if nc else "") + ("-ND" if nd else "") + ("-SA" if sa and not nd else "")
    return _with_version(family, _version(t))


def normalise(raw: str | None) -> str | None:
    """A platform's licence string or URL -> normalised id, or ``None`` when unknown."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text or text.lower() in ("none", "unknown", "null", "n/a", "-"):
        return None
    low = text.lower()
    if low in _EXACT:
        return _EXACT[low]
    if "creativecommons.org" in low:
        return _from_url(low)
    if low.startswith(("http://", "https://")):
        return None
    if "all rights reserved" in low or "all-rights-reserved" in low:
        return "all-rights-reserved"
    return _from_words(text)


def family(licence: str) -> str:
    """``CC-BY-SA-4.0`` -> ``CC-BY-SA``; ``CC0-1.0`` -> ``CC0``; ids without a version unchanged."""
    return re.sub(r"-\d\.\d$", "", licence)


def allowed(licence: str | None, allow: list[str] | tuple[str, ...]) -> bool:
    """True if ``licence`` (a normalised id) is on ``allow`` (exact ids or families)."""
    if licence is None:
        return False
    allow_set = {a.strip() for a in allow}
    return licence in allow_set or family(licence) in allow_set


_DEEDS = {"CC-BY": "by", "CC-BY-SA": "by-sa", "CC-BY-ND": "by-nd", "CC-BY-NC": "by-nc",
          "CC-BY-NC-SA": "by-nc-sa", "CC-BY-NC-ND": "by-nc-nd"}


def deed_url(licence: str | None) -> str | None:
    """The creativecommons.org deed of a normalised id (for attribution files), if any."""
    if not licence:
        return None
    fam = family(licence)
    if fam == "CC0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if fam == "public-domain":
        return "https://creativecommons.org/publicdomain/mark/1.0/"
    code = _DEEDS.get(fam)
    if not code:
        return None
    version = licence[len(fam) + 1:] or "4.0"
    return f"https://creativecommons.org/licenses/{code}/{version}/"
