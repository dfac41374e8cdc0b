"""Licence normalisation and the allow-list check (curate/licences.py)."""

from __future__ import annotations

import pytest

from curate.licences import DEFAULT_ALLOW, allowed, deed_url, family, normalise

CASES = [
    # YouTube
    ("Creative Commons Attribution license (reuse allowed)", "CC-BY-3.0", True),
    ("Standard YouTube License", "all-rights-reserved", False),
    # Vimeo / Jamendo short codes
    ("by", "CC-BY", True),
    ("by-sa", "CC-BY-SA", True),
    ("by-nc", "CC-BY-NC", False),
    ("by-nc-nd", "CC-BY-NC-ND", False),
    ("by-nd", "CC-BY-ND", False),
    ("cc0", "CC0-1.0", True),
    ("cc-by-nc-sa", "CC-BY-NC-SA", False),
    # Flickr
    ("Attribution", "CC-BY", True),
    ("Attribution-ShareAlike", "CC-BY-SA", True),
    ("Attribution-NonCommercial-NoDerivs", "CC-BY-NC-ND", False),
    ("Public Domain Dedication (CC0)", "CC0-1.0", True),
    ("Public Domain Work", "public-domain", True),
    ("No known copyright restrictions", "public-domain", True),
    ("All Rights Reserved", "all-rights-reserved", False),
    # Wikimedia Commons
    ("Creative Commons Attribution 4.0", "CC-BY-4.0", True),
    ("Creative Commons Attribution-ShareAlike 3.0 Unported", "CC-BY-SA-3.0", True),
    ("CC BY-SA 4.0", "CC-BY-SA-4.0", True),
    ("CC BY-NC 2.0", "CC-BY-NC-2.0", False),
    ("Public domain", "public-domain", True),
    # PeerTube
    ("Attribution - Share Alike", "CC-BY-SA", True),
    ("Attribution - Non Commercial", "CC-BY-NC", False),
    # deed URLs (archive.org, Vimeo <link rel=license>)
    ("http://creativecommons.org/licenses/by/4.0/", "CC-BY-4.0", True),
    ("https://creativecommons.org/licenses/by-sa/2.0/legalcode", "CC-BY-SA-2.0", True),
    ("https://creativecommons.org/licenses/by-nc/3.0/", "CC-BY-NC-3.0", False),
    ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0", True),
    ("http://creativecommons.org/licenses/publicdomain/", "public-domain", True),
    ("https://creativecommons.org/publicdomain/mark/1.0/", "public-domain", True),
    # already normalised ids round-trip
    ("CC-BY-4.0", "CC-BY-4.0", True),
    ("CC0-1.0", "CC0-1.0", True),
    # unknown
    (None, None, False),
    ("", None, False),
    ("Unknown", None, False),
    ("None", None, False),
    ("GPL-3.0", None, False),
    ("https://example.com/terms", None, False),
]


@pytest.mark.parametrize("raw,expected,ok", CASES)
def test_normalise_and_default_allow(raw, expected, ok):
    assert normalise(raw) == expected
    assert allowed(normalise(raw), DEFAULT_ALLOW) is ok


def test_family_matching_is_exact_per_family():
    assert family("CC-BY-SA-4.0") == "CC-BY-SA"
    assert family("CC0-1.0") == "CC0"
    assert allowed("CC-BY-4.0", ["CC-BY"])
    assert not allowed("CC-BY-SA-4.0", ["CC-BY"])  # the family CC-BY does not admit SA
    assert not allowed("CC-BY-NC-4.0", ["CC-BY"])
    assert allowed("CC-BY-4.0", ["CC-BY-4.0"]) and not allowed("CC-BY-3.0", ["CC-BY-4.0"])
    assert not allowed(None, ["CC-BY"])


def test_deed_urls():
    assert deed_url("CC-BY-3.0") == "https://creativecommons.org/licenses/by/3.0/"
    assert deed_url("CC-BY-SA") == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert deed_url("CC0-1.0") == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert deed_url(None) is None and deed_url("all-rights-reserved") is None
