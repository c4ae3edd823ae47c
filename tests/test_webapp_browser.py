"""The web app in headless Chromium: each role's main path, end to end, with the keyboard.

A reviewer logs in, opens the next queue item with ``n``, confirms one finding and rejects another
with ``j``/``c``/``r`` (reason typed, Enter saves) and sees the score change (C20261120-018:
75.7 -> 75.7 -> 85.7), adds a missed ``pushy`` (83.7); the agent 七七 appeals it; the lead
overturns it (85.7), reviews the other ``needs_review`` conversation (034: 68.5 -> 78.5) and
closes the period: 七七's frozen final score is 75.9 (docs/workspace.md).  Chat text carrying
``<script>`` / ``<img onerror>`` is shown in every view; a dialog listener proves it never runs.

Same rules as tests/test_browser_report.py: Debian's chromium + the playwright package (no
browser download), skipped locally when missing, a failure under CI=true.  Screenshots go to
test-artifacts/webapp-*.png (1280 px; one at 390 px, a phone).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_browser_report import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _require_browser  # noqa: E402

pytestmark = pytest.mark.browser

C018, C034 = "C20261120-018", "C20261120-034"
QIQI = "柚子家居旗舰店:七七"
PASSWORDS = {"lead": "lead-pass-1", "rev2": "rev2-pass-1", "rev1": "rev1-pass-1", "qiqi": "qiqi-pass-1",
             "coach": "coach-pass-1"}
SCRIPT = "<script>alert('xss-script')</script>"
IMG = "<img src=x onerror=alert('xss-img')>"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, sample_audit):
    sync_playwright = _require_browser()
    import uvicorn
    from conftest import record_audit
    from sqlalchemy import select, update

    from qa_scorer.web import auth, create_app
    from qa_scorer.workspace import Workspace
    from qa_scorer.workspace import schema as S

    ws = Workspace(str(tmp_path_factory.mktemp("webapp") / "qa.db"))
    record_audit(ws, sample_audit)
    for name, role, agent in [("lead", "lead", None), ("rev1", "reviewer", None), ("rev2", "reviewer", None),
                              ("qiqi", "agent", QIQI), ("coach", "trainer", None)]:
        ws.add_user(name, role, agent=agent)
        auth.set_password(ws, name, PASSWORDS[name])
    # untrusted chat text: buyer messages and the buyer's name of 018 carry markup (scores unchanged)
    with ws.begin() as conn:
        cid = conn.execute(select(S.conversations.c.id).where(S.conversations.c.conversation_key == C018)).scalar()
        m = S.messages.c
        conn.execute(update(S.messages).where(m.conversation_id == cid).where(m.seq == 1).values(text=SCRIPT))
        conn.execute(update(S.messages).where(m.conversation_id == cid).where(m.seq == 3).values(text=IMG))
        conn.execute(update(S.conversations).where(S.conversations.c.id == cid).values(customer=IMG))
    ws.build_queue("2026-11", reviewers=["rev1", "rev2"], actor="lead")  # 034 -> rev1, 018 -> rev2
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield {"base": f"http://127.0.0.1:{port}", "browser": browser, "ws": ws, "problems": []}
        browser.close()
    srv.should_exit = True
    thread.join(timeout=10)
    ws.close()


def open_as(server, user: str, width: int = 1280):
    """A fresh browser context (own cookies) logged in as ``user``; dialogs and errors recorded."""
    ctx = server["browser"].new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    problems = server["problems"]
    page.on("dialog", lambda d: (problems.append(f"{user}: dialog {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: problems.append(f"{user}: pageerror {e}"))
    expected = "status of 403"  # the agent opening another agent's chat, on purpose
    page.on("console", lambda m: problems.append(f"{user}: console {m.text}")
            if m.type == "error" and expected not in m.text else None)
    page.on("request", lambda r: problems.append(f"{user}: external request {r.url}")
            if not r.url.startswith(server["base"]) else None)
    page.goto(server["base"] + "/login")
    page.fill('input[name="name"]', user)
    page.fill('input[name="password"]', PASSWORDS[user])
    page.click('button[type="submit"]')
    page.wait_for_load_state("load")
    return page


def shot(page, name: str, full: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"webapp-{name}.png"), full_page=full)


def score(page) -> str:
    return page.locator("#final-score").inner_text().strip()


def focused(page) -> str | None:
    return page.evaluate("document.activeElement && document.activeElement.getAttribute('data-finding')")


def key_decide(page, finding: str, verdict_key: str, reason: str) -> None:
    """Move with j/k to ``finding``, press c/r, type the reason, Enter."""
    for _i in range(20):
        if focused(page) == finding:
            break
        page.keyboard.press("j")
    assert focused(page) == finding
    page.keyboard.press(verdict_key)
    assert page.evaluate("document.activeElement.name") == "reason"
    page.keyboard.type(reason)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_roles_main_paths(server):
    base, ws = server["base"], server["ws"]

    # the login page
    anon = server["browser"].new_page(viewport={"width": 1280, "height": 900})
    anon.goto(base + "/login")
    shot(anon, "login", full=False)
    anon.close()

    # --- reviewer: queue, next item with n, two decisions with the keyboard, score 75.7 -> 85.7
    rev = open_as(server, "rev2")
    assert rev.url.endswith("/queue") and C018 in rev.content()
    shot(rev, "queue")
    with rev.expect_navigation():
        rev.keyboard.press("n")
    assert C018 in rev.url and score(rev) == "75.7"
    assert rev.locator(".bubble", has_text="<script>").count() == 1  # shown as text
    key_decide(rev, "4-unhelpful", "c", "确实敷衍")
    assert score(rev) == "75.7" and "75.7 → 75.7" in rev.locator(".flash").inner_text()
    assert focused(rev) == "6-rude"  # the next undecided finding keeps the keyboard focus
    key_decide(rev, "6-rude", "r", "在确认需求")
    assert score(rev) == "85.7" and "75.7 → 85.7" in rev.locator(".flash").inner_text()
    assert ws.conversation(C018).conversation["final_score"] == 85.7
    # a missed finding, with the form: pushy at reply 4 costs 2 points
    rev.click("details.add summary")
    form = rev.locator("details.add form")
    form.locator('select[name="seq"]').select_option("4")
    form.locator('select[name="item"]').select_option("pushy")
    form.locator('input[name="reason"]').fill("漏标催单")
    with rev.expect_navigation():
        form.locator('button[type="submit"]').click()
    assert score(rev) == "83.7"
    shot(rev, "review")
    phone = open_as(server, "rev2", width=390)
    phone.goto(base + f"/c/{C018}")
    shot(phone, "review-390")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scrolling
    phone.context.close()
    rev.context.close()

    # --- agent: my scores, my reviewed conversation, an appeal on the pushy decision
    agent = open_as(server, "qiqi")
    assert agent.url.endswith("/me") and C018 in agent.content()
    shot(agent, "agent")
    agent.click(f"text={C018}")
    pushy = int(ws.conversation(C018).decisions.query("item == 'pushy'")["id"].iloc[0])
    agent.check(f'#appeal-form input[name="decision"][value="{pushy}"]')
    agent.fill('#appeal-form textarea[name="comment"]', "买家问尺码，我没有催单")
    with agent.expect_navigation():
        agent.click('#appeal-form button[type="submit"]')
    assert "买家问尺码" in agent.locator("#appeals").inner_text()
    shot(agent, "appeal")
    agent.goto(base + f"/c/{C034}")  # another agent's conversation
    assert "403" in agent.locator("h1").inner_text()

    # --- lead: appeals inbox, overturn, review 034, close the period
    lead = open_as(server, "lead")
    assert lead.url.endswith("/dashboard")
    lead.goto(base + "/appeals")
    shot(lead, "appeals")
    card = lead.locator("section.appeal", has_text=C018)
    card.locator('input[name="reason"]').fill("确实没有催单")
    with lead.expect_navigation():
        card.locator('button[value="overturn"]').click()
    assert "83.7 → 85.7" in lead.locator(".flash").inner_text()
    assert ws.conversation(C018).conversation["final_score"] == 85.7
    agent.goto(base + "/appeals")
    assert "确实没有催单" in agent.content()
    agent.context.close()
    lead.goto(base + f"/c/{C034}")
    key_decide(lead, "7-rude", "r", "是在说明退货流程")
    assert score(lead) == "78.5"
    lead.goto(base + "/dashboard")
    with lead.expect_navigation():
        lead.click("#close-period button.primary")
    assert ws.period_status("2026-11")["status"] == "closed"
    trend = lead.locator("#trend").inner_text()
    assert QIQI in trend and "75.9" in trend
    shot(lead, "dashboard")
    lead.goto(base + "/calibration")
    lead.context.close()

    # --- trainer: coaching examples, masked; the injected chat text is in them
    coach = open_as(server, "coach")
    coach.goto(base + "/coach?tag=unhelpful")
    assert coach.locator("section.example").count() >= 1
    shot(coach, "coach")
    coach.context.close()

    time.sleep(0.3)  # let any late dialog arrive
    assert server["problems"] == []
