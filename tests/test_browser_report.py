"""report.html in headless Chromium: sorting works, charts and chats render, injected script never runs.

Needs Debian's ``chromium`` (apt) and the ``playwright`` Python package (no ``playwright install``:
it would download a browser).  Skipped when either is missing, except under CI=true, where a
missing browser is a failure.  Leaves screenshots in test-artifacts/: report.png (1280 px),
report-390.png (a phone) and report-1400.png (a wide screen).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import conftest_report as fx  # noqa: E402

from qa_scorer.report import load_audit_folder, write_html_report  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("QA_SCORER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TITLE = "客服质检报告"


def _require_browser():
    """Import playwright and check chromium; skip locally, fail under CI when either is missing."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright, problem = None, "the playwright package is not installed (pip install 'playwright>=1.45')"
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if problem:
        if in_ci:
            pytest.fail(f"browser test cannot run under CI: {problem}")
        pytest.skip(problem)
    return sync_playwright


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    sync_playwright = _require_browser()
    # the real audit folder (tests/conftest_report.py), read back as coach --from does
    from qa_scorer.i18n import use_language

    with use_language("zh"):
        t = load_audit_folder(fx.audit_folder(tmp_path_factory))
    path = tmp_path_factory.mktemp("browser") / "report.html"
    # a long unbroken buyer message and a long agent name must wrap, not widen the page
    messages = t["messages"].copy()
    messages.loc[messages.index[0], "text"] = "https://item.taobao.com/item.htm?id=" + "1234567890" * 12
    with use_language("zh"):
        write_html_report(path, agents=t["agents"], conversations=t["conversations"], replies=t["replies"],
                          messages=messages, run_info=t["run"], rounds=t["rounds"], worst_n=5)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, network = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        # alert(1) from an injected <script> or onerror would open a dialog: record it as an error
        page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("request", lambda r: network.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        yield page, errors, network
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()


def agent_names(page) -> list[str]:
    return page.eval_on_selector_all("#agent-table tbody tr td:first-child", "tds => tds.map(td => td.title)")


def test_agent_table_renders_and_sorts(report_page):
    page, _, _ = report_page
    by_score = agent_names(page)
    assert sorted(by_score) == sorted([fx.AQIANG, fx.XIAOMEI, fx.XIAOXIN])
    score = page.locator('#agent-table th[data-col="service_score"]')
    score.click()
    assert score.get_attribute("aria-sort") == "ascending"
    assert agent_names(page) == by_score[::-1]
    score.click()
    assert score.get_attribute("aria-sort") == "descending"
    # first response 8 s, 20 s, 57.5 s: sorted as numbers, not as text ("8.0" > "57.5")
    first = page.locator('#agent-table th[data-col="first_response_avg_s"]')
    first.click()
    assert agent_names(page) == [fx.XIAOXIN, fx.XIAOMEI, fx.AQIANG]
    assert score.get_attribute("aria-sort") is None
    first.click()
    assert agent_names(page) == [fx.AQIANG, fx.XIAOMEI, fx.XIAOXIN]


def test_charts_render(report_page):
    page, _, _ = report_page
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80
    assert page.locator("svg.chart rect").count() >= 5


def test_chat_renders_and_injected_markup_stays_text(report_page):
    page, _, _ = report_page
    first = page.locator("section.conv", has_text=fx.CID1)
    assert first.locator(".msg.customer").count() == 3
    assert first.locator(".msg.agent").count() == 3
    customer_box = first.locator(".msg.customer .bubble").first.bounding_box()
    agent_box = first.locator(".msg.agent .bubble").first.bounding_box()
    assert customer_box["x"] < agent_box["x"]  # buyer left, agent right
    assert fx.SCRIPT_ATTACK in first.inner_text()
    assert fx.IMG_ATTACK in page.locator("section.conv", has_text="QN202611210002").inner_text()
    assert page.locator("img").count() == 0
    assert page.title() == TITLE
    assert page.locator("script").count() == 1


def test_no_console_errors_and_no_network(report_page):
    page, errors, network = report_page
    page.locator('#agent-table th[data-col="agent"]').click()  # exercise the script once more
    assert errors == []
    assert network == []


@pytest.mark.parametrize("width", [390, 1400])
def test_no_horizontal_scroll_on_phone_and_desktop(report_page, width):
    page, errors, _ = report_page
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(100)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"page is {scroll} px wide at a {width} px viewport"
    # wide tables scroll inside their own box instead of widening the page
    wraps = page.eval_on_selector_all(".table-wrap", "els => els.map(e => e.getBoundingClientRect().right)")
    assert wraps and max(wraps) <= width
    # charts scale to the screen
    for box in page.eval_on_selector_all("svg.chart", "els => els.map(e => e.getBoundingClientRect().width)"):
        assert 100 < box <= width
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert errors == []


def test_page_is_chinese_and_shows_no_local_paths(report_page):
    page, _, _ = report_page
    html = page.content()
    assert "会话平均服务分" in html and "客服平均服务分" in html
    assert "/tmp/" not in html and str(Path.home()) + "/" not in html and "sample_transcripts/" not in html
