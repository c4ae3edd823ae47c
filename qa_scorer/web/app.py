"""The reviewer's desk: a server-rendered Starlette app on a workspace (docs/webapp.md).

Every page is HTML rendered on the server (Jinja2, autoescape on); one static ``app.js``
(keyboard shortcuts) and one ``app.css``, both served by the app.  Every action calls a
``Workspace`` method (which checks roles again, writes events and uses optimistic versions);
the logged-in user's name is passed as reviewer / agent / lead, never a form field.

Security: signed session cookie (HttpOnly, SameSite=Strict, Secure with ``https=True``), a CSRF
token on every form (checked on every POST), login rate limiting, a role check on every route,
and a strict Content-Security-Policy (no inline script or style anywhere).
"""

from __future__ import annotations

import functools
import hmac
import json
import math
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlencode

import jinja2
import pandas as pd
from sqlalchemy import Integer, and_, case, cast, func, select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qa_scorer.i18n import N_, _, ngettext
from qa_scorer.schema import TAGS
from qa_scorer.web import auth
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import ConflictError, NotFound, PermissionDenied, WorkspaceError
from qa_scorer.workspace.words import word as workflow_word

HERE = Path(__file__).resolve().parent
C = S.conversations.c

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
SESSION_COOKIE = "qa_session"
SESSION_MAX_AGE = 12 * 3600
#: How long the lead dashboard's per-agent aggregate is reused before it is recomputed (seconds).
DASHBOARD_TTL = 60

#: Each role's pages in the navigation (path, label).
NAV = {
    "lead": [("/dashboard", N_("Dashboard")), ("/queue", N_("Review queue")), ("/appeals", N_("Appeals")),
             ("/calibration", N_("Calibration")), ("/model", N_("Model & labels")), ("/payroll", N_("Payroll")),
             ("/coach", N_("Coaching"))],
    "reviewer": [("/queue", N_("My queue")), ("/calibration", N_("Calibration"))],
    "agent": [("/me", N_("My scores")), ("/appeals", N_("My appeals"))],
    "trainer": [("/coach", N_("Coaching"))],
}
HOME = {"lead": "/dashboard", "reviewer": "/queue", "agent": "/me", "trainer": "/coach"}


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# --- formatting helpers for the templates --------------------------------------------------------
def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def fmt(v, digits: int = 1) -> str:
    if _missing(v):
        return "–"
    if isinstance(v, bool):
        return _("yes") if v else _("no")
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def word(v) -> str:
    return "" if _missing(v) else workflow_word(v)


def item_label(item: str) -> str:
    from qa_scorer.report.columns import item_label as label

    try:
        return label(item)
    except Exception:  # noqa: BLE001 - an unknown item is shown by its name
        return str(item)


def secs(v) -> str:
    if _missing(v):
        return ""
    v = float(v)
    return _("{n} s").format(n=f"{v:.0f}") if v < 120 else _("{n} min").format(n=f"{v / 60:.1f}")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.i18n"],
                             trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_callables(lambda m: _(m), lambda s, p, n: ngettext(s, p, n), newstyle=True)
    env.filters.update(fmt=fmt, word=word, item_label=item_label, secs=secs)
    env.globals.update(TAGS=TAGS, tag_label=lambda t: item_label(t))
    return env


# --- the ASGI security headers -------------------------------------------------------------------
class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in
                           {h for h, _v in SECURITY_HEADERS}]
                headers += SECURITY_HEADERS
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- the application -----------------------------------------------------------------------------
class Desk:
    """The app's state: the workspace, templates, the login limiter and the dashboard cache."""

    def __init__(self, ws, *, https: bool = False, limiter: auth.LoginLimiter | None = None):
        self.ws, self.https = ws, https
        self.env = _environment()
        self.limiter = limiter or auth.LoginLimiter()
        self._agg: dict[str, tuple[float, list[dict]]] = {}
        self._agg_busy: set[str] = set()
        self._agg_lock = threading.Lock()
        self._coach: dict[tuple, tuple[float, pd.DataFrame]] = {}

    # rendering
    def render(self, request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        flash = request.session.pop("flash", None) if "session" in request.scope else None
        html = self.env.get_template(name).render(
            user=user, nav=NAV.get(user["role"], []) if user else [], csrf=csrf_token(request),
            path=request.url.path, flash=flash, **ctx)
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status=status, status_code=status, message=message)


def csrf_token(request: Request) -> str:
    session = request.session
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf(request: Request, form) -> None:
    sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
    expected = request.session.get("csrf") or ""
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPError(403, _("The form has expired or did not come from this site (CSRF check failed); "
                               "reload the page and try again."))


def page(*roles: str, login: bool = True):
    """Wrap a sync handler ``fn(desk, request, user, form)``: session user, role check, CSRF on POST,
    the body in a worker thread, workspace errors mapped to 403 / 404 / 409 / 400 pages."""
    def wrap(fn: Callable):
        @functools.wraps(fn)
        async def endpoint(request: Request):
            desk: Desk = request.app.state.desk
            form = None
            try:
                if request.method == "POST":
                    form = await request.form(max_files=2, max_fields=200)
                    _check_csrf(request, form)
                user = None
                if login:
                    user = await run_in_threadpool(_session_user, desk, request)
                    if user is None:
                        if request.method == "GET":
                            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), 303)
                        raise HTTPError(401, _("Please log in again."))
                    if roles and user["role"] not in roles:
                        raise HTTPError(403, _("Your role ({role}) may not open this page.").format(
                            role=word(user["role"])))
                request.state.user = user
                return await run_in_threadpool(fn, desk, request, user, form)
            except HTTPError as exc:
                return desk.error(request, exc.status, exc.message)
            except PermissionDenied as exc:
                return desk.error(request, 403, str(exc))
            except NotFound as exc:
                return desk.error(request, 404, str(exc))
            except ConflictError as exc:
                return desk.error(request, 409, str(exc))
            except WorkspaceError as exc:
                return desk.error(request, 400, str(exc))
        return endpoint
    return wrap


def _session_user(desk: Desk, request: Request) -> dict | None:
    name = request.session.get("user")
    if not name:
        return None
    try:
        user = desk.ws.user(name)
    except (NotFound, PermissionDenied):
        request.session.clear()
        return None
    if not hmac.compare_digest(auth.hash_fingerprint(user.get("password_hash")), request.session.get("pw", "")):
        request.session.clear()  # the password changed since this session logged in
        return None
    return user


def _int(value, name: str, default=None) -> int | None:
    if value in (None, ""):
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise HTTPError(400, _("{name} must be a whole number").format(name=name)) from None


def _float(value, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        raise HTTPError(400, _("{name} must be a number").format(name=name)) from None


def _period_param(value) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) != 7 or value[4] != "-" or not (value[:4] + value[5:]).isdigit():
        raise HTTPError(400, _("a period is a month such as 2026-11"))
    return value


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def conv_url(key: str) -> str:
    return "/c/" + quote(str(key), safe="")


# --- login --------------------------------------------------------------------------------------
@page(login=False)
def login_page(desk: Desk, request: Request, user, form):
    if form is None:
        return desk.render(request, "login.html", next=_safe_next(request.query_params.get("next")), error=None)
    name = str(form.get("name") or "").strip()[:200]
    password = str(form.get("password") or "")
    addr = request.client.host if request.client else "?"
    nxt = _safe_next(form.get("next"))
    if desk.limiter.blocked(name, addr):
        return desk.render(request, "login.html", status=429, next=nxt,
                           error=_("Too many failed logins for this user from your address; wait 15 minutes."))
    found = auth.authenticate(desk.ws, name, password)
    if found is None:
        desk.limiter.failed(name, addr)
        return desk.render(request, "login.html", status=401, next=nxt, error=_("Wrong user name or password."))
    desk.limiter.succeeded(name, addr)
    request.session.clear()
    request.session.update({"user": found["name"], "csrf": secrets.token_urlsafe(32),
                            "pw": auth.hash_fingerprint(found["password_hash"])})
    return redirect(nxt or HOME.get(found["role"], "/"))


def _safe_next(value) -> str | None:
    value = str(value or "")
    if value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) < 300:
        return value
    return None


@page(login=False)
def logout(desk: Desk, request: Request, user, form):
    request.session.clear()
    return redirect("/login")


@page()
def home(desk: Desk, request: Request, user, form):
    return redirect(HOME.get(user["role"], "/login"))


# --- reviewer ------------------------------------------------------------------------------------
@page("reviewer", "lead")
def queue_page(desk: Desk, request: Request, user, form):
    mine = user["role"] == "reviewer" or request.query_params.get("mine") == "1"
    items = desk.ws.queue(reviewer=user["name"] if mine else None, status="open", limit=300)
    return desk.render(request, "queue.html", items=items.to_dict("records"), mine=mine, conv_url=conv_url)


@page("reviewer", "lead")
def next_item(desk: Desk, request: Request, user, form):
    skip = request.query_params.get("after")
    items = desk.ws.queue(reviewer=user["name"], status="open", limit=2)
    for key in items["conversation"]:
        if key != skip:
            return redirect(conv_url(key))
    request.session["flash"] = _("Your queue is empty.")
    return redirect("/queue")


def _messages_for_view(view) -> list[dict]:
    from qa_scorer.report.common import parse_tag_words

    out = []
    for r in view.messages.to_dict("records"):
        tags = []
        words = parse_tag_words(r.get("tag_words"))
        for t in TAGS:
            v = r.get(t)
            if not _missing(v) and int(v) > 0:
                tags.append({"tag": t, "p": r.get(f"p_{t}"), "words": words.get(t, "")})
        forb = r.get("forbidden")
        if not _missing(forb) and int(forb) > 0:
            tags.append({"tag": "forbidden", "p": None, "words": r.get("forbidden_words") or ""})
        out.append({"seq": int(r["seq"]), "role": r.get("role") or "", "sender": r.get("sender") or "",
                    "sent_at": r.get("sent_at") or "", "text": r.get("text") or "",
                    "latency": None if _missing(r.get("latency_s")) else float(r["latency_s"]),
                    "slow": bool(r.get("latency_s") and not _missing(r.get("latency_s")) and r["latency_s"] > 120),
                    "tags": tags})
    return out


@page("reviewer", "lead", "agent")
def conversation_page(desk: Desk, request: Request, user, form):
    from qa_scorer.workspace.scoring import CONVERSATION_ITEMS, REPLY_ITEMS

    key = request.path_params["key"]
    view = desk.ws.conversation(key, viewer=user["name"])  # an agent: only their own (403)
    conv = view.conversation
    findings = view.findings().to_dict("records")
    for f in findings:
        f["seq"] = None if _missing(f["seq"]) else int(f["seq"])
    decisions = view.decisions.sort_values("id").to_dict("records") if len(view.decisions) else []
    own = bool(user.get("agent")) and user["agent"] in (conv.get("agent"), conv.get("last_agent"))
    can_decide = user["role"] in ("reviewer", "lead") and not own
    can_appeal = user["role"] == "agent" and own and any(d["source"] == "review" for d in decisions)
    replies = [int(s) for s, role in zip(view.messages["seq"], view.messages["role"]) if role in ("agent", "auto")]
    return desk.render(
        request, "conversation.html", conv=conv, messages=_messages_for_view(view), findings=findings,
        decisions=decisions, appeals=view.appeals.to_dict("records"), final_items=view.final_items,
        machine_items=view.machine_items, can_decide=can_decide, can_appeal=can_appeal, own=own,
        reply_seqs=replies, reply_items=REPLY_ITEMS, conversation_items=CONVERSATION_ITEMS,
        reasons=[r for r in str(conv.get("review_reasons") or "").split(",") if r], conv_url=conv_url(key))


@page("reviewer", "lead")
def decide(desk: Desk, request: Request, user, form):
    key = request.path_params["key"]
    seq = _int(form.get("seq"), "seq")
    verdict = str(form.get("verdict") or "")
    result = desk.ws.decide(
        key, reviewer=user["name"], verdict=verdict, reason=str(form.get("reason") or ""),
        item=str(form.get("item")) if form.get("item") and verdict != "all" else None, seq=seq,
        value=_float(form.get("value"), "value"), expected_version=_int(form.get("version"), "version"),
        confirm_rest=verdict == "all")
    request.session["flash"] = _("Saved. Score {before} → {after}").format(
        before=fmt(result.score_before), after=fmt(result.score_after))
    focus = form.get("focus") or ""
    return redirect(conv_url(key) + (f"?focus={quote(str(focus))}" if focus else "#findings"))


# --- agent ---------------------------------------------------------------------------------------
def periods(conn) -> list[str]:
    """The workspace's periods, newest first, by seeking the (period, ...) index once per period."""
    out, last = [], None
    for _i in range(240):
        q = select(func.min(C.period))
        if last is not None:
            q = q.where(C.period > last)
        last = conn.execute(q).scalar()
        if last is None:
            break
        out.append(last)
    return out[::-1]


@page("agent")
def agent_home(desk: Desk, request: Request, user, form):
    agent = user.get("agent") or user["name"]
    with desk.ws.engine.connect() as conn:
        all_periods = periods(conn)
        period = _period_param(request.query_params.get("period")) or (all_periods[0] if all_periods else None)
        by_period = []
        for p in all_periods[:12]:
            n, mean, reviewed = conn.execute(
                select(func.count(), func.avg(C.final_score), func.sum(cast(C.reviewed, Integer)))
                .where(C.period == p).where(C.agent == agent)).one()
            frozen = conn.execute(
                select(S.period_scores.c.service_score).where(S.period_scores.c.period == p)
                .where(S.period_scores.c.agent == agent).order_by(S.period_scores.c.close_no.desc()).limit(1)).scalar()
            status = conn.execute(select(S.periods.c.status).where(S.periods.c.period == p)).scalar() or "open"
            by_period.append({"period": p, "conversations": int(n), "mean": mean, "reviewed": int(reviewed or 0),
                              "final": frozen, "status": status})
        reviewed = []
        if period:
            reviewed = [dict(r) for r in conn.execute(
                select(C.conversation_key, C.started_at, C.machine_score, C.final_score, C.auto_failed)
                .where(C.period == period).where(C.agent == agent).where(C.reviewed.is_(True))
                .order_by(C.started_at.desc()).limit(200)).mappings()]
    window = desk.ws.setting("appeal_window_days")
    return desk.render(request, "agent.html", by_period=by_period, period=period, reviewed=reviewed,
                       window=window, conv_url=conv_url)


@page("agent")
def file_appeal(desk: Desk, request: Request, user, form):
    key = request.path_params["key"]
    ids = [_int(v, "decision") for v in form.getlist("decision") if v]
    appeal = desk.ws.file_appeal(key, agent=user["name"], comment=str(form.get("comment") or ""),
                                 decision_ids=ids or None)
    request.session["flash"] = _("Appeal {id} filed; your team lead will rule on it.").format(id=appeal["id"])
    return redirect(conv_url(key) + "#appeals")


# --- lead ----------------------------------------------------------------------------------------
def agent_aggregate(conn, period: str) -> list[dict]:
    """Per agent of ``period``: conversations, mean final and machine score, reviewed, open needs_review."""
    rows = conn.execute(
        select(C.agent, func.count().label("conversations"), func.avg(C.final_score).label("mean_final"),
               func.avg(C.machine_score).label("mean_machine"),
               func.sum(cast(C.reviewed, Integer)).label("reviewed"),
               func.sum(cast(C.needs_review, Integer)).label("needs_review"),
               func.sum(case((and_(C.needs_review.is_(True), C.reviewed.is_(False)), 1), else_=0))
               .label("needs_review_open"))
        .where(C.period == period).group_by(C.agent).order_by(C.agent)).mappings().all()
    return [dict(r) for r in rows]


def _cached_aggregate(desk: Desk, period: str) -> tuple[list[dict] | None, float | None]:
    """The per-agent aggregate, from the cache when fresh; a stale or missing one is recomputed in
    the background (a page never waits for a scan of a month of millions of conversations)."""
    now = time.time()
    with desk._agg_lock:
        hit = desk._agg.get(period)
        fresh = hit is not None and now - hit[0] < DASHBOARD_TTL
        start = not fresh and period not in desk._agg_busy
        if start:
            desk._agg_busy.add(period)
    if start:
        def work():
            try:
                with desk.ws.engine.connect() as conn:
                    rows = agent_aggregate(conn, period)
                with desk._agg_lock:
                    desk._agg[period] = (time.time(), rows)
            finally:
                with desk._agg_lock:
                    desk._agg_busy.discard(period)
        t = threading.Thread(target=work, daemon=True)
        t.start()
        if hit is None:
            t.join(timeout=0.25)  # small workspaces: answer right away
            hit = desk._agg.get(period)
    return (hit[1], hit[0]) if hit else (None, None)


@page("lead")
def dashboard(desk: Desk, request: Request, user, form):
    with desk.ws.engine.connect() as conn:
        all_periods = periods(conn)
        period = _period_param(request.query_params.get("period")) or (all_periods[0] if all_periods else None)
        prow = (conn.execute(select(S.periods).where(S.periods.c.period == period)).mappings().first()
                if period else None)
        # the first 50 in id order: the (period, needs_review) index gives them without a sort
        needs = [dict(r) for r in conn.execute(
            select(C.conversation_key, C.agent, C.final_score, C.review_reasons)
            .where(C.period == period).where(C.needs_review.is_(True)).where(C.reviewed.is_(False))
            .order_by(C.id).limit(50)).mappings()] if period else []
        a = S.appeals.c
        pending = int(conn.execute(select(func.count()).select_from(S.appeals).where(a.status == "pending")).scalar())
        ps = S.period_scores.c
        latest = select(ps.period, func.max(ps.close_no).label("n")).group_by(ps.period).subquery()
        frozen = conn.execute(select(ps.period, ps.agent, ps.service_score).select_from(
            S.period_scores.join(latest, (ps.period == latest.c.period) & (ps.close_no == latest.c.n)))
            .order_by(ps.period)).all()
    trend_periods = sorted({r.period for r in frozen})
    trend: dict[str, dict[str, float]] = {}
    for r in frozen:
        trend.setdefault(r.agent, {})[r.period] = r.service_score
    agg, as_of = _cached_aggregate(desk, period) if period else ([], None)
    # the open needs_review total comes with the cached aggregate (counting it live means reading
    # every needs_review row of the month); below 50 the list itself is the count
    needs_total = (sum(int(a["needs_review_open"] or 0) for a in agg) if agg is not None
                   else None) if len(needs) >= 50 else len(needs)
    return desk.render(
        request, "dashboard.html", periods=all_periods, period=period, prow=dict(prow) if prow else None,
        agents=agg, as_of=time.strftime("%H:%M:%S", time.localtime(as_of)) if as_of else None,
        needs=needs, needs_total=needs_total, pending=pending, trend=trend, trend_periods=trend_periods,
        conv_url=conv_url)


@page("lead")
def model_page(desk: Desk, request: Request, user, form):
    """The closed loop for the lead (docs/closed-loop.md): labels from reviews, model-vs-human
    agreement per month, when the model changed, which model scored each audit run."""
    from qa_scorer.workspace.models import list_models, loop_report

    rep = loop_report(desk.ws)
    return desk.render(request, "model.html", summary=rep["summary"].to_dict("records")[0],
                       labels=rep["labels"].to_dict("records"), agreement=rep["agreement"].to_dict("records"),
                       changes=rep["model_changes"].to_dict("records"), runs=rep["runs"].tail(20).to_dict("records"),
                       models=list_models(desk.ws).to_dict("records"))


@page("lead")
def period_action(desk: Desk, request: Request, user, form):
    period = _period_param(request.path_params["period"])
    action = request.path_params["action"]
    reason = str(form.get("reason") or "").strip() or None
    if action == "close":
        desk.ws.close_period(period, lead=user["name"], force=form.get("force") == "1", reason=reason)
        request.session["flash"] = _("Period {period} closed; its final scores are frozen.").format(period=period)
    elif action == "reopen":
        desk.ws.reopen_period(period, lead=user["name"], reason=reason or "")
        request.session["flash"] = _("Period {period} reopened.").format(period=period)
    elif action == "compute":
        scores = desk.ws.final_agent_scores(period, live=True)
        cols = [c for c in ("agent", "service_score", "conversations", "reviewed_conversations", "appeals_changed")
                if c in scores.columns]
        return desk.render(request, "scores.html", period=period, rows=scores[cols].to_dict("records"), cols=cols)
    else:
        raise HTTPError(404, _("no such action"))
    with desk._agg_lock:
        desk._agg.pop(period, None)
    return redirect("/dashboard?" + urlencode({"period": period}))


@page("lead", "agent")
def appeals_page(desk: Desk, request: Request, user, form):
    if user["role"] == "agent":
        rows = desk.ws.appeals(agent=user["name"])
    else:
        status = request.query_params.get("status", "pending")
        rows = desk.ws.appeals(status=status if status in ("pending", "upheld", "overturned") else None)
    rows = rows.sort_values("id", ascending=False).head(300)
    return desk.render(request, "appeals.html", appeals=rows.to_dict("records"), conv_url=conv_url,
                       shown=request.query_params.get("status", "pending"))


@page("lead")
def decide_appeal(desk: Desk, request: Request, user, form):
    appeal_id = _int(request.path_params["id"], "appeal")
    outcome = str(form.get("outcome") or "")
    result = desk.ws.decide_appeal(appeal_id, lead=user["name"], outcome=outcome, reason=str(form.get("reason") or ""))
    request.session["flash"] = _("Appeal {id}: {outcome}; score {before} → {after}").format(
        id=appeal_id, outcome=word(result["status"]), before=fmt(result["score_before"]),
        after=fmt(result["score_after"]))
    return redirect("/appeals")


@page("lead", "reviewer")
def calibration_list(desk: Desk, request: Request, user, form):
    t = S.calibration_sessions.c
    with desk.ws.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(S.calibration_sessions).order_by(t.id.desc()).limit(100)
                                              ).mappings()]
        items = {}
        if rows:
            ci = S.calibration_items.c
            ids = [r["id"] for r in rows]
            items = dict(conn.execute(select(ci.session_id, func.count()).where(ci.session_id.in_(ids))
                                      .group_by(ci.session_id)).all())
            if user["role"] == "reviewer":
                mine = set(conn.execute(select(S.calibration_members.c.session_id)
                                        .where(S.calibration_members.c.reviewer_id == user["id"])).scalars())
                rows = [r for r in rows if r["id"] in mine]
                for r in rows:
                    r["keys"] = conn.execute(select(C.conversation_key).select_from(
                        S.calibration_items.join(S.conversations, ci.conversation_id == C.id))
                        .where(ci.session_id == r["id"]).order_by(C.id)).scalars().all()
    return desk.render(request, "calibration.html", sessions=rows, items=items, conv_url=conv_url)


@page("lead")
def calibration_page(desk: Desk, request: Request, user, form):
    rep = desk.ws.calibration_report(_int(request.path_params["id"], "session"))
    tag_cols = list(rep.tags.columns)
    return desk.render(request, "calibration_report.html", rep=rep, tags=rep.tags.to_dict("records"),
                       tag_cols=tag_cols, scores=rep.scores.to_dict("records"),
                       strict=rep.strictness.to_dict("records"), model=rep.model_vs_human.to_dict("records"))


@page("lead")
def payroll_page(desk: Desk, request: Request, user, form):
    from qa_scorer.commission import SCHEMES, load_scheme, read_sales, write_payroll

    with desk.ws.engine.connect() as conn:
        closed = conn.execute(select(S.periods.c.period).where(S.periods.c.status == "closed")
                              .order_by(S.periods.c.period.desc())).scalars().all()
    if form is None:
        return desk.render(request, "payroll.html", closed=closed, schemes=SCHEMES)
    period = _period_param(form.get("period"))
    scheme = str(form.get("scheme") or "default")
    if scheme not in SCHEMES:
        raise HTTPError(400, _("unknown scheme"))
    upload = form.get("sales")
    if upload is None or not hasattr(upload, "file"):
        raise HTTPError(400, _("choose the sales file (CSV) for the period"))
    with tempfile.TemporaryDirectory() as tmp:
        sales_path = Path(tmp) / "sales.csv"
        sales_path.write_bytes(upload.file.read(50 * 1024 * 1024))
        try:
            result = desk.ws.payroll(period, read_sales(sales_path), load_scheme(scheme))
        except WorkspaceError:
            raise
        except Exception as exc:  # noqa: BLE001 - the sales file is the user's: say what is wrong
            raise HTTPError(400, str(exc)) from exc
        written = write_payroll(result, Path(tmp) / f"payroll-{period}.xlsx")
        data = Path(written[0]).read_bytes()
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"content-disposition": f'attachment; filename="payroll-{period}.xlsx"'})


# --- trainer -------------------------------------------------------------------------------------
#: How many conversations one coaching page reads (newest flagged first): bounded at any size.
COACH_CONVERSATIONS = 150


def coaching_tables(ws, period: str, agent: str | None, tag: str | None) -> dict[str, pd.DataFrame]:
    """The audit tables ``coaching_examples`` reads, for a bounded set of the period's conversations."""
    with ws.engine.connect() as conn:
        q = select(C.id, C.conversation_key, C.customer, C.agent, C.facts_json).where(C.period == period)
        if agent:
            q = q.where(C.agent.in_([agent]) | C.agent.like("%:" + agent))
        if tag:
            q = q.where(C.flagged_replies > 0)
        convs = conn.execute(q.order_by(C.id.desc()).limit(COACH_CONVERSATIONS)).mappings().all()
        ids = [r["id"] for r in convs]
        keys = {r["id"]: r["conversation_key"] for r in convs}
        m = S.messages.c
        msgs = pd.DataFrame(conn.execute(select(m.conversation_id, m.seq, m.sent_at, m.sender, m.role, m.text,
                                                m.source_file, m.source_line)
                                         .where(m.conversation_id.in_(ids)).order_by(m.conversation_id, m.seq)).all(),
                            columns=["cid", "seq", "sent_at", "sender", "role", "text", "source_file", "source_line"])
        rep = pd.DataFrame(conn.execute(select(S.replies).where(S.replies.c.conversation_id.in_(ids))).mappings().all(),
                           columns=[c.name for c in S.replies.columns])
    msgs["conversation_id"] = msgs["cid"].map(keys)
    rep = rep.rename(columns={"conversation_id": "cid"})
    rep = rep.merge(msgs[["cid", "seq", "text", "source_file", "source_line"]], on=["cid", "seq"], how="left")
    rep["conversation_id"] = rep["cid"].map(keys)
    for t in TAGS:
        rep[t] = rep[t].fillna(0).astype(int)
    rep["is_auto"] = rep["is_auto"].fillna(False).astype(bool)
    rep["short_reply"] = rep["short_reply"].fillna(False).astype(bool)
    conv_rows = []
    for r in convs:
        facts = json.loads(r["facts_json"] or "{}")
        conv_rows.append({**facts, "conversation_id": r["conversation_key"], "customer": r["customer"],
                          "agent": r["agent"]})
    return {"messages": msgs.drop(columns=["cid"]), "replies": rep.drop(columns=["cid"]),
            "conversations": pd.DataFrame(conv_rows), "rounds": None, "run": None}


@page("trainer", "lead")
def coach_page(desk: Desk, request: Request, user, form):
    from qa_scorer.report.coach import coaching_examples, write_coaching
    from qa_scorer.report.common import RULES

    q = request.query_params
    tag = q.get("tag") or None
    rule = q.get("rule") or None
    agent = (q.get("agent") or "").strip()[:200] or None
    if tag and tag not in TAGS:
        raise HTTPError(400, _("unknown tag"))
    if rule and rule not in RULES:
        raise HTTPError(400, _("unknown rule"))
    if rule == "slow":
        rule = None  # needs the rounds table, which the coaching page does not read
    with desk.ws.engine.connect() as conn:
        all_periods = periods(conn)
    period = _period_param(q.get("period")) or (all_periods[0] if all_periods else None)
    examples = pd.DataFrame()
    cache_key = (period, agent, tag, rule)
    hit = desk._coach.get(cache_key)
    if hit is not None and time.time() - hit[0] < DASHBOARD_TTL:
        examples = hit[1]  # the same choice again (paging back, exporting): reuse for a minute
    elif period:
        tables = coaching_tables(desk.ws, period, agent, tag)
        if len(tables["replies"]):
            try:
                examples = coaching_examples(tables, tag=tag, rule=rule, limit=20, mask=True)
            except Exception as exc:  # noqa: BLE001 - CoachingError: say why there are no examples
                raise HTTPError(400, str(exc)) from exc
        if len(desk._coach) > 200:
            desk._coach.clear()
        desk._coach[cache_key] = (time.time(), examples)
    fmt_ = q.get("export")
    if fmt_ in ("md", "html"):
        text = write_coaching(examples, None, fmt_)
        media = "text/markdown" if fmt_ == "md" else "text/html"
        return Response(text.encode("utf-8"), media_type=media + "; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="coaching.{fmt_}"'})
    if fmt_ == "xlsx":
        with tempfile.TemporaryDirectory() as tmp:
            path = write_coaching(examples, Path(tmp) / "coaching.xlsx", "xlsx")
            data = Path(path).read_bytes()
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"content-disposition": 'attachment; filename="coaching.xlsx"'})
    export_q = {k: v for k, v in {"tag": tag or "", "rule": rule or "", "agent": agent or "",
                                  "period": period or ""}.items() if v}
    return desk.render(request, "coach.html", examples=examples.to_dict("records"), periods=all_periods,
                       period=period, tag=tag, rule=rule, agent=agent, rules=[r for r in RULES if r != "slow"],
                       export_qs=urlencode(export_q))


async def favicon(request: Request) -> Response:
    return Response(status_code=204)


async def not_found(request: Request, exc) -> Response:
    desk: Desk = request.app.state.desk
    return desk.error(request, getattr(exc, "status_code", 404), _("Page not found."))


def create_app(db: Any, *, https: bool = False, limiter: auth.LoginLimiter | None = None) -> Starlette:
    """The web app on workspace ``db`` (a path, URL or an open ``Workspace``)."""
    from qa_scorer.workspace import Workspace

    ws = db if isinstance(db, Workspace) else Workspace(db, create=False)
    desk = Desk(ws, https=https, limiter=limiter)
    routes = [
        Route("/", home),
        Route("/favicon.ico", favicon),
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/queue", queue_page),
        Route("/next", next_item),
        Route("/c/{key:path}/decide", decide, methods=["POST"]),
        Route("/c/{key:path}/appeal", file_appeal, methods=["POST"]),
        Route("/c/{key:path}", conversation_page),
        Route("/me", agent_home),
        Route("/dashboard", dashboard),
        Route("/periods/{period}/{action}", period_action, methods=["POST"]),
        Route("/appeals", appeals_page),
        Route("/appeals/{id}/decide", decide_appeal, methods=["POST"]),
        Route("/calibration", calibration_list),
        Route("/calibration/{id}", calibration_page),
        Route("/model", model_page),
        Route("/payroll", payroll_page, methods=["GET", "POST"]),
        Route("/coach", coach_page),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=auth.session_secret(ws), session_cookie=SESSION_COOKIE,
                   max_age=SESSION_MAX_AGE, same_site="strict", https_only=https),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found, 405: not_found})
    app.state.desk = desk
    return app
