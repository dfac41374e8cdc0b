"""The gallery in a real headless Chromium (Debian `chromium` + Playwright's Python client, no downloads).

Skips cleanly when /usr/bin/chromium or the playwright package is missing
(CI: `apt-get install chromium chromium-driver`; never `playwright install`).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest

CHROMIUM = os.environ.get("CURATE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium not installed (apt-get install chromium)"),
    pytest.mark.browser,
]


@pytest.fixture(scope="module")
def server(enriched_out):
    uvicorn = pytest.importorskip("uvicorn")
    from curate.serve import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(enriched_out, allowed_hosts=["127.0.0.1"]), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(5)


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        violations: list[str] = []
        pg.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        pg.on("pageerror", lambda e: violations.append(str(e)))
        pg.violations = violations
        pg.goto(server + "/")
        yield pg
        browser.close()


def _total(page) -> int:
    page.wait_for_selector("#count[data-total]", state="attached")  # selectors, not eval: the page has a strict CSP
    return int(page.get_attribute("#count", "data-total"))


def _apply(page) -> None:
    page.evaluate("document.querySelector('#count').removeAttribute('data-total')")
    page.click("[data-testid=apply]")


def test_filter_and_open_a_clip(page, enriched_out, tmp_path_factory):
    from curate.query import connect

    con = connect(enriched_out)
    n_ok = con.execute("SELECT count(*) FROM clips WHERE status='ok'").fetchone()[0]
    n_cycling = con.execute("SELECT count(*) FROM clips WHERE topic_name='cycling'").fetchone()[0]
    row = con.execute("SELECT clip_id, caption_brief, luma_mean, status, reject_reasons, caption_windows FROM clips "
                      "WHERE topic_name='cycling' ORDER BY luma_mean ASC, clip_id LIMIT 1").fetchone()
    con.close()

    assert _total(page) == n_ok  # status defaults to ok
    assert page.locator("[data-testid=tile]").count() == n_ok

    page.select_option("[data-testid=status]", "all")
    page.select_option("[data-testid=topic]", "cycling")
    page.select_option("[data-testid=sort]", "luma_mean")
    page.select_option("select[name=order]", "asc")
    _apply(page)
    assert _total(page) == n_cycling
    tiles = page.locator("[data-testid=tile]")
    assert tiles.count() == n_cycling
    assert tiles.first.get_attribute("data-clip-id") == row[0]

    tiles.first.click()
    detail = page.locator("[data-testid=detail]")
    page.wait_for_selector(f"#detail[data-clip-id='{row[0]}']")
    assert detail.locator("[data-testid=caption-caption_brief]").inner_text() == row[1]
    shown = float(detail.locator("[data-testid=scores] td[data-field=luma_mean]").inner_text())
    assert shown == pytest.approx(row[2], abs=1e-4)
    assert detail.locator("[data-testid=status]").inner_text() == row[3]
    if row[4]:
        assert ", ".join(row[4]) in detail.locator("[data-testid=reasons]").inner_text()
    windows = detail.locator("[data-testid=timed-caption_windows] .seg")
    assert windows.count() == len(row[5]) and row[5][0]["text"] in windows.first.inner_text()
    assert detail.locator("[data-testid=provenance] td[data-field=licence]").inner_text() == "CC-BY-4.0"
    # the clip plays from the served file
    for _ in range(100):  # the clip plays from the served file: metadata loads
        if page.evaluate("document.querySelector('[data-testid=video]').readyState") >= 1:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("document.querySelector('[data-testid=video]').duration") > 0.3
    assert page.violations == []  # no script errors, nothing blocked by the CSP
    shots = tmp_path_factory.mktemp("shots")
    page.screenshot(path=str(shots / "gallery.png"), full_page=True)
    print("gallery screenshot:", shots / "gallery.png")


def test_range_and_text_filters(page, enriched_out):
    from curate.query import connect

    con = connect(enriched_out)
    n = con.execute("SELECT count(*) FROM clips WHERE luma_mean >= 0.4 AND caption_brief ILIKE '%synthetic%'").fetchone()[0]
    con.close()
    page.click("[data-testid=reset]")
    page.wait_for_timeout(200)
    page.select_option("[data-testid=status]", "all")
    page.fill("[data-testid='min.luma_mean']", "0.4")
    page.fill("[data-testid=q]", "SYNTHETIC")
    _apply(page)
    assert _total(page) == n > 0
    assert page.locator("[data-testid=tile]").count() == n


def test_url_state_keyboard_labels_and_export(page, server, enriched_out, tmp_path_factory):
    """A shared link restores the view; keys move and label; labels land in the table; the filter exports."""
    import urllib.request

    from curate.query import connect

    con = connect(enriched_out)
    ids = [r[0] for r in con.execute("SELECT clip_id FROM clips WHERE topic_name='cycling' "
                                     "ORDER BY luma_mean ASC, clip_id").fetchall()]
    con.close()
    try:
        page.goto(f"{server}/?status=all&topic=cycling&sort=luma_mean&order=asc&clip={ids[1]}&badges=luma_mean")
        assert _total(page) == len(ids)
        page.wait_for_selector(f"#detail[data-clip-id='{ids[1]}']")
        assert page.input_value("[data-testid=topic]") == "cycling" and page.input_value("[data-testid=sort]") == "luma_mean"
        assert page.is_checked("[data-testid='badge.luma_mean']")
        badges = page.locator("[data-testid=tile]").first.locator("[data-badge]")
        assert badges.count() == 1 and badges.first.get_attribute("data-badge") == "luma_mean"
        assert page.locator("#grid .tile.sel").get_attribute("data-clip-id") == ids[1]
        # the grid takes the full width when no clip is open
        page.keyboard.press("Escape")
        page.wait_for_selector("#detail", state="hidden")
        assert "clip=" not in page.url
        grid_w = page.evaluate("document.querySelector('#grid').getBoundingClientRect().width")
        assert grid_w > 0.7 * 1280
        # keyboard: next clip, label it, tag it
        page.keyboard.press("ArrowRight")
        page.wait_for_selector(f"#detail[data-clip-id='{ids[0]}']")
        assert page.locator("#grid .tile.sel").get_attribute("data-clip-id") == ids[0] and f"clip={ids[0]}" in page.url
        page.keyboard.press("ArrowRight")
        page.wait_for_selector(f"#detail[data-clip-id='{ids[1]}']")
        page.keyboard.press("r")
        page.wait_for_selector("#labelbox[data-label=reject]")
        page.keyboard.press("t")
        page.keyboard.type("Hero shot")
        page.keyboard.press("Enter")
        page.wait_for_selector("#tags [data-tag=hero-shot]")
        page.keyboard.press("Escape")  # leaves the tag input
        page.keyboard.press("ArrowRight")
        page.wait_for_selector(f"#detail[data-clip-id='{ids[2]}']")
        page.keyboard.press("a")
        page.wait_for_selector("#labelbox[data-label=accept]")
        assert page.locator(f"[data-clip-id='{ids[1]}'] [data-testid=label-badge]").inner_text().endswith("reject")
        con = connect(enriched_out)
        got = {r[0]: (r[1], r[2]) for r in con.execute("SELECT clip_id, label, tags FROM labels").fetchall()}
        con.close()
        assert got == {ids[1]: ("reject", ["hero-shot"]), ids[2]: ("accept", [])}
        # filter by label, then export that filter: the condition selects the same clips in DuckDB
        page.select_option("[data-testid=label]", "reject")
        _apply(page)
        assert _total(page) == 1
        page.click("[data-testid=export]")
        page.wait_for_selector("#export-box:not([hidden])")
        where = page.input_value("[data-testid=export-where]")
        con = connect(enriched_out)
        sel = [r[0] for r in con.execute(f"SELECT clip_id FROM (SELECT c.*, v.licence FROM clips c LEFT JOIN videos v "
                                         f"USING (video_id)) WHERE {where}").fetchall()]
        con.close()
        assert sel == [ids[1]]
        href = page.get_attribute("[data-testid=export-list]", "href")
        with urllib.request.urlopen(server + href) as r:
            assert r.read().decode().split() == [ids[1]]
        # the back button restores the previous filter (label any)
        page.go_back()
        page.wait_for_function("!location.search.includes('label=reject')")
        # the listing is re-fetched after the URL changes: wait for its count, not the old one
        page.wait_for_selector(f"#count[data-total='{len(ids)}']", state="attached", timeout=30000)
        assert _total(page) == len(ids)
        assert page.violations == []
        shots = tmp_path_factory.mktemp("shots")
        page.screenshot(path=str(shots / "gallery-labels.png"), full_page=False)
        print("gallery screenshot:", shots / "gallery-labels.png")
    finally:
        shutil.rmtree(os.path.join(enriched_out, "labels"), ignore_errors=True)
