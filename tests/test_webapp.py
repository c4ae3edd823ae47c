"""The web app (qa_scorer/web) over HTTP with Starlette's TestClient, on SQLite and PostgreSQL.

Security: role checks on every route (403), CSRF on every POST (403), a reviewer cannot decide
their own conversation, login rate limiting (429), chat text is escaped in every view, scrypt
password hashes, cookie flags and the Content-Security-Policy.  Workflow: the hand-computed
figures of tests/test_workspace.py (C20261120-018: 75.7 -> 85.7 rejecting rude at reply 6; 七七's
final period score 75.9 once 018 ends at 85.7).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from qa_scorer.web import auth, create_app
from qa_scorer.workspace import schema as S

C018, C034 = "C20261120-018", "C20261120-034"
PERIOD = "2026-11"
PASSWORD = {"lead": "lead-pass-1", "rev1": "rev1-pass-1", "rev2": "rev2-pass-1", "qiqi": "qiqi-pass-1",
            "ajie": "ajie-pass-1", "coach": "coach-pass-1", "selfrev": "selfrev-pass"}
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


@pytest.fixture
def ws(sample_workspace):
    ws = sample_workspace
    ws.add_user("coach", "trainer")
    ws.add_user("selfrev", "reviewer", agent="柚子家居旗舰店:七七")  # a reviewer who also serves buyers
    for name, pw in PASSWORD.items():
        auth.set_password(ws, name, pw)
    return ws


@pytest.fixture
def app(ws):
    return create_app(ws)


def client(app):
    from starlette.testclient import TestClient

    return TestClient(app, base_url="http://testserver")


def token(c, path="/login") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)


def login(app, name):
    c = client(app)
    r = c.post("/login", data={"name": name, "password": PASSWORD[name], "csrf": token(c)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def version(ws, key) -> int:
    return ws.conversation(key).conversation["row_version"]


def final(ws, key) -> float:
    return ws.conversation(key).conversation["final_score"]


def decide(c, key, **form):
    data = {"csrf": token(c, f"/c/{key}"), **{k: str(v) for k, v in form.items()}}
    return c.post(f"/c/{key}/decide", data=data, follow_redirects=False)


# --- passwords -------------------------------------------------------------------------------------

def test_password_hash_round_trip():
    h = auth.hash_password("correct horse")
    assert "correct horse" not in h
    scheme, n, r, p, salt, key = h.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert auth.verify_password("correct horse", h)
    assert not auth.verify_password("correct horsf", h)
    assert auth.hash_password("correct horse") != h  # a fresh salt every time
    for bad in (None, "", "bcrypt$x", "scrypt$1$2$3$%%%$###", h[:-4]):
        assert not auth.verify_password("correct horse", bad)


def test_passwords_are_stored_hashed(ws):
    with ws.engine.connect() as conn:
        stored = conn.execute(select(S.users.c.password_hash).where(S.users.c.name == "rev1")).scalar()
    assert stored.startswith("scrypt$") and PASSWORD["rev1"] not in stored
    assert auth.authenticate(ws, "rev1", PASSWORD["rev1"])["name"] == "rev1"
    assert auth.authenticate(ws, "rev1", "wrong") is None
    assert auth.authenticate(ws, "nobody", "x") is None


def test_user_passwd_command(ws):
    from typer.testing import CliRunner

    from qa_scorer.cli import app as cli

    db = ws.url
    r = CliRunner().invoke(cli, ["user", "passwd", "rev2", "--password-stdin", "--db", db], input="new-secret-9\n")
    assert r.exit_code == 0, r.output
    assert auth.authenticate(ws, "rev2", "new-secret-9") and not auth.authenticate(ws, "rev2", PASSWORD["rev2"])
    r = CliRunner().invoke(cli, ["user", "passwd", "rev2", "--password-stdin", "--db", db], input="short\n")
    assert r.exit_code == 1
    r = CliRunner().invoke(cli, ["user", "passwd", "rev2", "--db", db], input="abcdefgh1\nabcdefgh2\n")
    assert r.exit_code == 1 and auth.authenticate(ws, "rev2", "new-secret-9")


# --- sessions, headers ---------------------------------------------------------------------------

def test_login_sets_a_strict_httponly_cookie_and_security_headers(app, ws):
    c = client(app)
    r = c.get("/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "same-origin"
    r = c.post("/login", data={"name": "rev1", "password": PASSWORD["rev1"], "csrf": token(c)}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert r.headers["location"] == "/queue"
    assert "password" not in r.headers["location"]
    assert c.get("/static/app.js").headers["content-security-policy"] == r.headers["content-security-policy"]


def test_https_flag_makes_the_cookie_secure(ws):
    c = client(create_app(ws, https=True))
    r = c.post("/login", data={"name": "rev1", "password": PASSWORD["rev1"], "csrf": token(c)}, follow_redirects=False)
    assert "secure" in r.headers["set-cookie"].lower()


def test_logged_out_pages_redirect_to_login(app):
    c = client(app)
    for path in ("/queue", "/dashboard", "/me", f"/c/{C018}", "/coach", "/appeals"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path


def test_a_disabled_user_or_a_new_password_ends_the_session(app, ws):
    c = login(app, "rev1")
    assert c.get("/queue").status_code == 200
    auth.set_password(ws, "rev1", "another-pass-1")
    assert c.get("/queue", follow_redirects=False).status_code == 303
    c = login(app, "rev2")
    ws.disable_user("rev2", actor="lead")
    assert c.get("/queue", follow_redirects=False).status_code == 303
    c = client(app)
    r = c.post("/login", data={"name": "rev2", "password": PASSWORD["rev2"], "csrf": token(c)})
    assert r.status_code == 401


# --- roles ---------------------------------------------------------------------------------------

ROLE_MATRIX = {
    # path: {user: status}
    "/dashboard": {"lead": 200, "rev1": 403, "qiqi": 403, "coach": 403},
    "/queue": {"lead": 200, "rev1": 200, "qiqi": 403, "coach": 403},
    "/me": {"lead": 403, "rev1": 403, "qiqi": 200, "coach": 403},
    "/appeals": {"lead": 200, "rev1": 403, "qiqi": 200, "coach": 403},
    "/calibration": {"lead": 200, "rev1": 200, "qiqi": 403, "coach": 403},
    "/payroll": {"lead": 200, "rev1": 403, "qiqi": 403, "coach": 403},
    "/model": {"lead": 200, "rev1": 403, "qiqi": 403, "coach": 403},
    "/coach": {"lead": 200, "rev1": 403, "qiqi": 403, "coach": 200},
    f"/c/{C018}": {"lead": 200, "rev1": 200, "qiqi": 200, "ajie": 403, "coach": 403},
    f"/c/{C034}": {"lead": 200, "rev1": 200, "qiqi": 403, "ajie": 200, "coach": 403},
}


def test_role_matrix(app):
    clients = {}
    for path, expected in ROLE_MATRIX.items():
        for user, status in expected.items():
            c = clients.setdefault(user, login(app, user))
            assert c.get(path, follow_redirects=False).status_code == status, (user, path)


def test_model_page_shows_the_closed_loop(app, ws):
    """The lead's view of the closed loop: one rejected and one confirmed tag are 2 labels; the
    month's model-vs-reviewer agreement is 1 of 2 (the rejection is a disagreement)."""
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    ws.decide(C018, reviewer="rev1", item="unhelpful", seq=4, verdict="confirm", reason="敷衍")
    page = login(app, "lead").get("/model").text
    assert "模型与标签" in page and "已标注的回复" in page
    row = page[page.index('id="agreement"'):]
    assert re.search(r"<td>2026-11</td><td>全部</td><td class=\"num\">2</td><td class=\"num\">1</td>"
                     r"<td class=\"num\">0.50</td>", row)
    assert "出厂模型" in page           # no model promoted: the shipped one scored the audit


def test_an_agent_cannot_decide_or_act_as_a_lead(app, ws):
    c = login(app, "qiqi")
    t = token(c, "/me")
    assert c.post(f"/c/{C034}/decide", data={"csrf": t, "seq": 7, "item": "rude", "verdict": "reject",
                                             "reason": "x", "version": 1}).status_code == 403
    assert c.post(f"/c/{C018}/decide", data={"csrf": t, "seq": 6, "item": "rude", "verdict": "reject",
                                             "reason": "x", "version": 1}).status_code == 403
    assert c.post(f"/periods/{PERIOD}/close", data={"csrf": t}).status_code == 403
    assert c.post("/appeals/1/decide", data={"csrf": t, "outcome": "overturn", "reason": "x"}).status_code == 403
    assert c.post(f"/c/{C034}/appeal", data={"csrf": t, "comment": "x"}).status_code == 403
    r = login(app, "coach").post(f"/c/{C018}/decide", data={"csrf": token(login(app, "coach"), "/coach")})
    assert r.status_code == 403
    assert ws.conversation(C018).decisions.empty and ws.conversation(C034).decisions.empty


def test_a_reviewer_cannot_decide_their_own_conversation(app, ws):
    c = login(app, "selfrev")
    page = c.get(f"/c/{C018}")
    assert page.status_code == 200 and "/decide" not in page.text
    r = c.post(f"/c/{C018}/decide", data={"csrf": token(c, "/queue"), "seq": 6, "item": "rude", "verdict": "reject",
                                          "reason": "自己的", "version": 1})
    assert r.status_code == 403
    assert ws.conversation(C018).decisions.empty and final(ws, C018) == 75.7


# --- CSRF ----------------------------------------------------------------------------------------

def test_missing_or_invalid_csrf_is_refused(app, ws):
    c = login(app, "rev1")
    form = {"seq": 6, "item": "rude", "verdict": "reject", "reason": "在确认需求", "version": 1}
    assert c.post(f"/c/{C018}/decide", data=form).status_code == 403
    assert c.post(f"/c/{C018}/decide", data={**form, "csrf": "forged"}).status_code == 403
    other = login(app, "rev2")  # a valid token of another session is still wrong here
    assert c.post(f"/c/{C018}/decide", data={**form, "csrf": token(other, "/queue")}).status_code == 403
    assert ws.conversation(C018).decisions.empty
    assert c.post("/logout", data={}).status_code == 403
    anon = client(app)
    r = anon.post("/login", data={"name": "rev1", "password": PASSWORD["rev1"]})
    assert r.status_code == 403
    lead = login(app, "lead")
    assert lead.post(f"/periods/{PERIOD}/close", data={"force": "1", "reason": "x"}).status_code == 403


# --- rate limiting -------------------------------------------------------------------------------

def test_twenty_wrong_passwords_are_rate_limited(app):
    c = client(app)
    t = token(c)
    codes = [c.post("/login", data={"name": "rev1", "password": f"wrong{i}", "csrf": t}).status_code for i in range(20)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    # now even the right password waits; another user from the same address is not locked out
    assert c.post("/login", data={"name": "rev1", "password": PASSWORD["rev1"], "csrf": t}).status_code == 429
    assert c.post("/login", data={"name": "rev2", "password": PASSWORD["rev2"], "csrf": t},
                  follow_redirects=False).status_code == 303


def test_limiter_window_expires():
    lim = auth.LoginLimiter(max_failures=2, window_s=0.05)
    lim.failed("a", "1.2.3.4")
    lim.failed("a", "1.2.3.4")
    assert lim.blocked("a", "1.2.3.4") and not lim.blocked("a", "5.6.7.8")
    import time

    time.sleep(0.06)
    assert not lim.blocked("a", "1.2.3.4")


# --- chat text is untrusted ------------------------------------------------------------------------

def _inject(ws):
    """Chat text, tag words, a buyer name, an agent's appeal comment and a reviewer's reason carrying markup."""
    with ws.begin() as conn:
        cid = conn.execute(select(S.conversations.c.id).where(S.conversations.c.conversation_key == C018)).scalar()
        m = S.messages.c
        conn.execute(update(S.messages).where(m.conversation_id == cid).where(m.seq == 1).values(text=SCRIPT))
        conn.execute(update(S.messages).where(m.conversation_id == cid).where(m.seq == 6).values(text=IMG))
        conn.execute(update(S.messages).where(m.conversation_id == cid).where(m.seq == 2).values(sender=IMG))
        conn.execute(update(S.replies).where(S.replies.c.conversation_id == cid).where(S.replies.c.seq == 6)
                     .values(tag_words=f"rude: {SCRIPT}"))
        conn.execute(update(S.conversations).where(S.conversations.c.id == cid).values(customer=IMG))


def test_injected_markup_is_escaped_in_every_view(app, ws):
    _inject(ws)
    rev = login(app, "rev1")
    r = decide(rev, C018, seq=4, item="unhelpful", verdict="confirm", reason=SCRIPT, version=version(ws, C018))
    assert r.status_code == 303
    agent = login(app, "qiqi")
    assert agent.post(f"/c/{C018}/appeal", data={"csrf": token(agent, "/me"), "comment": IMG}).status_code == 200
    views = [(rev, f"/c/{C018}"), (login(app, "lead"), f"/c/{C018}"), (login(app, "lead"), "/appeals"),
             (agent, f"/c/{C018}"), (agent, "/appeals"), (agent, "/me"), (login(app, "lead"), "/dashboard"),
             (login(app, "coach"), "/coach?tag=rude"), (login(app, "coach"), "/coach?tag=unhelpful")]
    seen_escaped = 0
    for c, path in views:
        html = c.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        seen_escaped += ("&lt;script&gt;" in html) + ("&lt;img src=x" in html)
    assert seen_escaped >= 8
    conv = rev.get(f"/c/{C018}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in conv and "&lt;img src=x onerror=alert(1)&gt;" in conv
    # every script the pages load is the app's own file; no inline handlers or inline styles anywhere
    assert re.findall(r"<script[^>]*>", conv) == ['<script src="/static/app.js" defer>']
    tags = re.findall(r"<[a-zA-Z][^>]*>", conv)
    assert not [t for t in tags if re.search(r"\s(on[a-z]+|style)=", t)]


# --- the workflow over HTTP ------------------------------------------------------------------------

def test_review_appeal_close_and_payroll(app, ws):
    ws.build_queue(PERIOD, reviewers=["rev1", "rev2"], actor="lead")  # needs_review: 034 -> rev1, 018 -> rev2
    rev = login(app, "rev2")
    queue = rev.get("/queue").text
    assert C018 in queue
    nxt = rev.get("/next", follow_redirects=False)
    assert nxt.status_code == 303 and nxt.headers["location"].startswith("/c/")
    r = decide(rev, C018, seq=6, item="rude", verdict="reject", reason="在确认需求", version=1)
    assert r.status_code == 303
    page = rev.get(r.headers["location"]).text
    assert "75.7" in page and "85.7" in page and final(ws, C018) == 85.7
    # a stale version: someone else decided since the page was opened -> 409, nothing saved
    stale = decide(rev, C018, seq=4, item="unhelpful", verdict="confirm", reason="确实敷衍", version=1)
    assert stale.status_code == 409
    r = decide(rev, C018, seq=4, item="unhelpful", verdict="confirm", reason="确实敷衍", version=2)
    assert r.status_code == 303
    assert decide(rev, C018, seq=4, item="pushy", verdict="add", reason="漏标催单", version=3).status_code == 303
    assert final(ws, C018) == 83.7
    assert decide(rev, C018, seq=4, item="nonsense", verdict="add", reason="x", version=4).status_code == 400
    assert decide(login(app, "rev1"), C034, seq=7, item="rude", verdict="reject", reason="是在说明退货流程",
                  version=1).status_code == 303
    assert final(ws, C034) == 78.5

    agent = login(app, "qiqi")
    pushy = int(ws.conversation(C018).decisions.query("item == 'pushy'")["id"].iloc[0])
    r = agent.post(f"/c/{C018}/appeal", data={"csrf": token(agent, "/me"), "comment": "买家问尺码，我没有催单",
                                              "decision": str(pushy)}, follow_redirects=False)
    assert r.status_code == 303
    assert "买家问尺码" in agent.get("/appeals").text

    lead = login(app, "lead")
    inbox = lead.get("/appeals").text
    appeal_id = int(re.search(r'action="/appeals/(\d+)/decide"', inbox).group(1))
    t = token(lead, "/appeals")
    assert lead.post(f"/appeals/{appeal_id}/decide", data={"csrf": t, "outcome": "overturn", "reason": ""}
                     ).status_code == 400
    r = lead.post(f"/appeals/{appeal_id}/decide", data={"csrf": t, "outcome": "overturn", "reason": "确实没有催单"},
                  follow_redirects=False)
    assert r.status_code == 303 and final(ws, C018) == 85.7
    assert "确实没有催单" in agent.get(f"/c/{C018}").text

    r = lead.post(f"/periods/{PERIOD}/close", data={"csrf": t}, follow_redirects=False)
    assert r.status_code == 303
    dash = lead.get(r.headers["location"]).text
    assert "75.9" in dash  # 七七's frozen final period score
    assert ws.period_status(PERIOD)["status"] == "closed"
    # closed: decisions are refused
    assert decide(rev, C018, seq=6, item="rude", verdict="confirm", reason="x", version=6).status_code == 400

    from pathlib import Path

    sales = Path(__file__).resolve().parent.parent / "sample_transcripts" / "sales_2026-11.csv"
    r = lead.post("/payroll", data={"csrf": t, "period": PERIOD, "scheme": "default"},
                  files={"sales": ("sales.csv", sales.read_bytes(), "text/csv")})
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert "attachment" in r.headers["content-disposition"]


def test_trainer_coaching_examples_are_masked_and_exportable(app, ws):
    with ws.begin() as conn:
        cid = conn.execute(select(S.conversations.c.id).where(S.conversations.c.conversation_key == C018)).scalar()
        conn.execute(update(S.messages).where(S.messages.c.conversation_id == cid).where(S.messages.c.seq == 5)
                     .values(text="我的电话13812345678，帮我看看"))
    c = login(app, "coach")
    page = c.get("/coach?tag=unhelpful").text
    assert "13812345678" not in page
    md = c.get("/coach?tag=unhelpful&export=md")
    assert md.status_code == 200 and "attachment" in md.headers["content-disposition"]
    assert "13812345678" not in md.text
    assert c.get("/coach?tag=nonsense").status_code == 400


# --- qa-scorer serve ---------------------------------------------------------------------------------

def test_serve_binds_loopback_and_warns_when_exposed_without_tls(ws, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from qa_scorer.cli import app as cli

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    r = CliRunner().invoke(cli, ["serve", "--db", ws.url])
    assert r.exit_code == 0, r.output
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8765 and "TLS" not in r.output
    assert "http://127.0.0.1:8765/" in r.output and "Workspace(" not in r.output
    r = CliRunner().invoke(cli, ["serve", "--db", ws.url, "--host", "0.0.0.0"])
    assert calls[-1]["host"] == "0.0.0.0" and "TLS" in r.output
    r = CliRunner().invoke(cli, ["serve", "--db", ws.url, "--host", "0.0.0.0", "--https"])
    assert "TLS" not in r.output


def test_an_appeal_after_the_window_is_refused_with_the_date(app, ws):
    """The review was 8 days ago; the window is 7 days: the agent's appeal gets a 400 page that
    says when the window closed, and nothing is written."""
    ws.decide(C018, reviewer="rev1", item="unhelpful", seq=4, verdict="confirm", reason="敷衍")
    with ws.begin() as conn:
        conn.execute(update(S.decisions).values(created_at="2026-11-20 10:00:00"))
    agent = login(app, "qiqi")
    r = agent.post(f"/c/{C018}/appeal", data={"csrf": token(agent, "/me"), "comment": "详情页确实写了"})
    assert r.status_code == 400
    assert "申诉期已于 2026-11-27 10:00 结束" in r.text
    assert ws.appeals().empty
