"""Workspace commands: ``workspace``, ``user``, ``review``, ``appeal``, ``period``, ``calibration``,
``export``.  Each one parses options and calls one ``qa_scorer.workspace.Workspace`` method
(docs/workspace.md has the workflow)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from qa_scorer.commands.common import fail, plain, safe
from qa_scorer.i18n import _
from qa_scorer.workspace.words import word

DB_HELP = ("Workspace: a SQLite file path (created on first use) or a URL such as postgresql://user@host/db. "
           "Also QA_SCORER_DB.")


def db_option():
    return typer.Option(..., "--db", envvar="QA_SCORER_DB", help=DB_HELP, show_envvar=False)


@contextmanager
def workspace(db: str, *, create: bool = False) -> Iterator:
    """Open the workspace; every refusal becomes ``错误：…`` on stderr with exit code 1
    (4: someone else changed the conversation first)."""
    from qa_scorer.workspace import ConflictError, Workspace, WorkspaceError

    try:
        ws = Workspace(db, create=create)
    except WorkspaceError as exc:
        fail(plain(exc, 2000), 1)
    try:
        yield ws
    except ConflictError as exc:
        fail(plain(exc, 2000), 4)
    except WorkspaceError as exc:
        fail(plain(exc, 2000), 1)
    finally:
        ws.close()


_WORD_COLUMNS = {"status", "verdict", "decision", "source", "role"}


def show_table(df: pd.DataFrame, columns: dict[str, str], title: str | None = None) -> None:
    """Print ``df`` with Chinese column labels; every value made safe for the terminal (long
    chat text wraps instead of being cut)."""
    table = Table(title=safe(title) if title else None, title_justify="left")
    for label in columns.values():
        table.add_column(safe(label), overflow="fold")
    for row in df.itertuples(index=False):
        values = row._asdict()
        table.add_row(*[safe(word(values.get(c)) if c in _WORD_COLUMNS else _fmt(values.get(c)), 400)
                        for c in columns])
    Console().print(table)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return ""
    if isinstance(v, float):
        return f"{v:.1f}" if not v.is_integer() else f"{v:.0f}"
    if isinstance(v, bool):
        return _("yes") if v else _("no")
    return str(v)


def named_item(item: str) -> str:
    """态度差 (rude): the label people read and the name `review decide --tag/--item` takes."""
    from qa_scorer.report.columns import item_label

    label = item_label(item)
    return f"{label} ({item})" if label != item else item


def csv_list(value: str) -> list[str]:
    return [x.strip() for x in str(value or "").replace("，", ",").split(",") if x.strip()]


# --- workspace & user ---------------------------------------------------------------------------
workspace_app = typer.Typer(help="Create, upgrade and inspect a workspace.", no_args_is_help=True)
user_app = typer.Typer(help="Workspace users and their roles (lead, reviewer, trainer, agent).", no_args_is_help=True)


@workspace_app.command("init")
def workspace_init(db: str = db_option()) -> None:
    """Create an empty workspace (audit --db creates one too).

    Example:  qa-scorer workspace init --db qa.db
    """
    with workspace(db, create=True) as ws:
        typer.echo(_("workspace ready: {url} (schema {rev})").format(url=plain(ws.status()["url"]),
                                                                     rev=ws.status()["schema"]))


@workspace_app.command("upgrade")
def workspace_upgrade(db: str = db_option()) -> None:
    """Migrate a workspace made by an older qa-scorer to the current schema (back it up first).

    Example:  qa-scorer workspace upgrade --db qa.db
    """
    from qa_scorer.workspace import Workspace, WorkspaceError

    try:
        before, after = Workspace.upgrade(db)
    except WorkspaceError as exc:
        fail(plain(exc, 2000), 1)
    if before == after:
        typer.echo(_("workspace schema is current ({rev})").format(rev=after))
    else:
        typer.echo(_("workspace upgraded from {before} to {after}").format(before=before or "-", after=after))


@workspace_app.command("status")
def workspace_status(db: str = db_option()) -> None:
    """Counts: runs, conversations, messages, reviews, pending appeals.

    Example:  qa-scorer workspace status --db qa.db
    """
    labels = {"url": _("workspace"), "schema": _("schema"), "runs": _("audit runs"),
              "conversations": _("conversations"), "messages": _("messages"), "reviewed": _("reviewed conversations"),
              "needs_review": _("needs review"), "decisions": _("decisions"),
              "appeals_pending": _("pending appeals"), "users": _("users"), "events": _("events")}
    with workspace(db) as ws:
        st = ws.status()
    show_table(pd.DataFrame([{"k": labels[k], "v": v} for k, v in st.items()]), {"k": _("item"), "v": _("value")})


@workspace_app.command("set")
def workspace_set(key: str = typer.Argument(..., help="Setting: appeal_window_days."),
                  value: str = typer.Argument(...),
                  by: str = typer.Option(..., "--by", help="The lead making the change."),
                  reason: str = typer.Option("", "--reason"),
                  db: str = db_option()) -> None:
    """Change a workspace setting (logged).

    Example:  qa-scorer workspace set appeal_window_days 10 --by lead --db qa.db
    """
    with workspace(db) as ws:
        ws.set_setting(key, value, actor=by, reason=reason or None)
        typer.echo(_("{key} = {value}").format(key=key, value=plain(value)))


@workspace_app.command("events")
def workspace_events(conversation: Optional[str] = typer.Option(None, "--conversation"),
                     limit: int = typer.Option(50, "--limit"), db: str = db_option()) -> None:
    """The audit trail, newest first: who did what, when and why.

    Example:  qa-scorer workspace events --conversation C20261120-018 --db qa.db
    """
    with workspace(db) as ws:
        ev = ws.events(conversation=conversation, limit=limit)
    show_table(ev, {"id": "#", "at": _("time"), "actor": _("who"), "kind": _("what"), "conversation_id": _("conversation"),
                    "reason": _("reason"), "data_json": _("details")})


@user_app.command("add")
def user_add(name: str = typer.Argument(...),
             role: str = typer.Option(..., "--role", help="lead, reviewer, trainer or agent."),
             agent: Optional[str] = typer.Option(None, "--agent",
                                                 help="The agent's sender id in the exports (店铺:子账号); "
                                                      "for agents, and for reviewers who also serve buyers."),
             display_name: Optional[str] = typer.Option(None, "--display-name"),
             db: str = db_option()) -> None:
    """Add a workspace user.

    Example:  qa-scorer user add 阿紫 --role agent --agent "暖阳女装旗舰店:阿紫" --db qa.db
    """
    with workspace(db, create=True) as ws:
        u = ws.add_user(name, role, agent=agent, display_name=display_name)
        typer.echo(_("added {role} {name}").format(role=word(u["role"]), name=plain(u["name"])))


@user_app.command("list")
def user_list(db: str = db_option()) -> None:
    """List users and roles.

    Example:  qa-scorer user list --db qa.db
    """
    with workspace(db) as ws:
        show_table(ws.users(), {"name": _("user"), "role": _("role"), "agent": _("agent id"), "active": _("active")})


@user_app.command("disable")
def user_disable(name: str = typer.Argument(...), by: Optional[str] = typer.Option(None, "--by"),
                 reason: str = typer.Option("", "--reason"), db: str = db_option()) -> None:
    """Disable a user (kept for the audit trail, never deleted).

    Example:  qa-scorer user disable 小美 --by lead --reason 离职 --db qa.db
    """
    with workspace(db) as ws:
        ws.disable_user(name, actor=by, reason=reason or None)
        typer.echo(_("disabled {name}").format(name=plain(name)))


@user_app.command("passwd")
def user_passwd(name: str = typer.Argument(...),
                password_stdin: bool = typer.Option(False, "--password-stdin",
                                                    help="Read the password from the first line of stdin (scripts)."),
                by: Optional[str] = typer.Option(None, "--by", help="Who sets it (recorded in the events)."),
                db: str = db_option()) -> None:
    """Set a user's web app password (asked twice, not shown; hashed with scrypt).

    Example:  qa-scorer user passwd 小王 --db qa.db
    """
    import sys

    from qa_scorer.web.auth import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(_("new password"), hide_input=True)
        if password != typer.prompt(_("repeat the password"), hide_input=True):
            fail(_("the two passwords differ; nothing was changed"), 1)
    with workspace(db) as ws:
        set_password(ws, name, password, actor=by)
        typer.echo(_("password set for {name}").format(name=plain(name)))


# --- review ------------------------------------------------------------------------------------
review_app = typer.Typer(help="The review queue, one conversation, and decisions.", no_args_is_help=True)


@review_app.command("queue")
def review_queue(
    db: str = db_option(),
    period: Optional[str] = typer.Option(None, "--period", help="Month, e.g. 2026-11."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="Show only this reviewer's items."),
    build: bool = typer.Option(False, "--build", help="Add conversations to the queue by the policy below."),
    reviewers: str = typer.Option("", "--reviewers", help="--build: reviewers to assign round-robin (a,b,c)."),
    by: Optional[str] = typer.Option(None, "--by", help="--build: the lead building the queue."),
    needs_review: bool = typer.Option(True, "--needs-review/--no-needs-review",
                                      help="--build: every needs_review conversation."),
    flagged_above: Optional[float] = typer.Option(None, "--flagged-above",
                                                  help="--build: conversations with a flagged reply of p >= this."),
    flagged_below: Optional[float] = typer.Option(None, "--flagged-below",
                                                  help="--build: conversations with a flagged reply of p <= this."),
    random_pct: float = typer.Option(0.0, "--random-pct", help="--build: this % of each agent's conversations."),
    lowest: int = typer.Option(0, "--lowest", help="--build: the N lowest scores."),
    limit: int = typer.Option(200, "--limit", help="--build: at most this many new items."),
    status: str = typer.Option("open", "--status", help="open, done or all."),
    uncertain: Optional[float] = typer.Option(None, "--uncertain",
                                              help="--build: replies whose p is within this distance of the tag's "
                                                   "threshold (e.g. 0.15): what the model is least sure of."),
    often_rejected: int = typer.Option(0, "--often-rejected",
                                       help="--build: flagged replies of the N tags reviewers reject most often."),
) -> None:
    """Show the review queue, or build it (--build) from a sampling policy.

    Example:  qa-scorer review queue --build --period 2026-11 --reviewers 小王,小李 --by 组长 --random-pct 5 --lowest 20 --db qa.db

    Example:  qa-scorer review queue --reviewer 小王 --db qa.db
    """
    from qa_scorer.workspace import QueuePolicy

    cols = {"id": "#", "conversation": _("conversation"), "agent": _("agent"), "final_score": _("score"),
            "reasons": _("why queued"), "reviewer": _("reviewer"), "status": _("status")}
    with workspace(db) as ws:
        if build:
            if not period or not by:
                fail(_("--build needs --period and --by (the lead)"))
            policy = QueuePolicy(needs_review=needs_review, flagged_above=flagged_above, flagged_below=flagged_below,
                                 random_pct=random_pct, lowest=lowest, limit=limit, uncertain_band=uncertain,
                                 often_rejected=often_rejected)
            added = ws.build_queue(period, reviewers=csv_list(reviewers), policy=policy, actor=by)
            typer.echo(_("{n} conversation(s) added to the queue").format(n=len(added)))
            show_table(added, cols)
            return
        items = ws.queue(reviewer=reviewer, period=period, status=None if status == "all" else status)
    show_table(items, cols, title=_("{n} item(s)").format(n=len(items)))


@review_app.command("show")
def review_show(conversation: str = typer.Argument(..., help="Conversation id (as in the export)."),
                db: str = db_option(),
                calibration: Optional[int] = typer.Option(None, "--calibration", help="Calibration session id."),
                viewer: Optional[str] = typer.Option(None, "--as", help="Show as this user (blind calibration, "
                                                                        "agents see only their own).")) -> None:
    """One conversation: messages with tags, findings, decisions, scores, version for decide.

    Example:  qa-scorer review show C20261120-018 --db qa.db
    """
    with workspace(db) as ws:
        view = ws.conversation(conversation, viewer=viewer, calibration=calibration)
    c = view.conversation
    console = Console()
    console.print(safe(_("conversation {key} | agent {agent} | {start} | machine score {m} | final score {f} | "
                         "version {v}").format(key=c["conversation_key"], agent=c["agent"], start=c["started_at"],
                                               m=_fmt(c["machine_score"]), f=_fmt(c["final_score"]),
                                               v=c["row_version"]), 400))
    if c.get("review_reasons"):
        console.print(safe(c["review_reasons"], 400))
    msgs = view.messages.copy()
    from qa_scorer.schema import TAGS

    def tags(r) -> str:
        out = [f"{t}({getattr(r, 'p_' + t):.2f})" for t in TAGS
               if getattr(r, t, None) == getattr(r, t, None) and (getattr(r, t, 0) or 0) > 0]
        if (getattr(r, "forbidden", 0) or 0) > 0:
            out.append(f"forbidden:{getattr(r, 'forbidden_words', '')}")
        return " ".join(out)
    msgs["tags"] = [tags(r) for r in msgs.itertuples(index=False)]
    show_table(msgs, {"seq": "#", "sent_at": _("time"), "sender": _("sender"), "text": _("text"),
                      "latency_s": _("latency s"), "tags": _("machine tags")})
    findings = view.findings()
    findings["p"] = [f"{p:.2f}" if p is not None and p == p else "" for p in findings["p"]]
    findings["item"] = findings["item"].map(named_item)
    show_table(findings, {"seq": _("reply #"), "item": _("finding"), "machine": _("machine"), "p": "p",
                                 "decision": _("decision")}, title=_("findings"))
    if len(view.decisions):
        show_table(view.decisions, {"id": "#", "seq": _("reply #"), "item": _("finding"), "verdict": _("verdict"),
                                    "value": _("value"), "reviewer": _("reviewer"), "reason": _("reason"),
                                    "source": _("source"), "created_at": _("time")}, title=_("decisions"))
    if len(view.appeals):
        show_table(view.appeals, {"id": "#", "filed_at": _("filed"), "comment": _("comment"), "status": _("status"),
                                  "decision_reason": _("ruling"), "score_before": _("before"),
                                  "score_after": _("after")}, title=_("appeals"))
    items = pd.DataFrame(view.final_items)
    if len(items):
        items["item"] = items["item"].map(named_item)
        show_table(items, {"item": _("item"), "kind": _("kind"), "count": _("count"), "points": _("points")},
                   title=_("final score items (points > 0 taken off, < 0 given back)"))


@review_app.command("decide")
def review_decide(
    conversation: str = typer.Argument(...),
    verdict: str = typer.Option(..., "--verdict", help="confirm, reject, add or adjust."),
    reviewer: str = typer.Option(..., "--reviewer"),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    item: Optional[str] = typer.Option(None, "--item", "--tag",
                                       help="pushy, unhelpful, rude, overclaim, forbidden (per reply) or slow_rounds, "
                                            "unanswered_rounds, short_replies, product_answer_short, missing_closing."),
    reply: Optional[int] = typer.Option(None, "--reply", help="Message number (#) of the reply, for reply tags."),
    value: Optional[float] = typer.Option(None, "--value", help="adjust: the corrected count; add: how many."),
    version: Optional[int] = typer.Option(None, "--version", help="The version `review show` printed: refuse if "
                                                                  "someone changed the conversation since."),
    all_rest: bool = typer.Option(False, "--all", help="Confirm every machine finding not decided yet."),
    calibration: Optional[int] = typer.Option(None, "--calibration", help="Record as a calibration judgement."),
    db: str = db_option(),
) -> None:
    """Confirm, reject, add or adjust a finding, with a reason; the conversation is re-scored.

    Example:  qa-scorer review decide C20261120-018 --reply 6 --tag rude --verdict reject --reviewer 小王 --reason "在确认需求" --db qa.db
    """
    with workspace(db) as ws:
        r = ws.decide(conversation, reviewer=reviewer, verdict=verdict, reason=reason, item=item, seq=reply,
                      value=value, expected_version=version, calibration=calibration, confirm_rest=all_rest)
    if calibration is not None:
        typer.echo(_("calibration judgement recorded ({n} decision(s))").format(n=len(r.decision_ids)))
    else:
        typer.echo(_("saved decision {ids}; score {before} -> {after}; version {v}").format(
            ids=", ".join(f"#{i}" for i in r.decision_ids), before=_fmt(r.score_before), after=_fmt(r.score_after),
            v=r.row_version))


# --- appeal ------------------------------------------------------------------------------------
appeal_app = typer.Typer(help="Appeals (申诉): agents dispute a review, leads rule.", no_args_is_help=True)


@appeal_app.command("file")
def appeal_file(conversation: str = typer.Argument(...),
                agent: str = typer.Option(..., "--agent", help="The agent filing (a workspace user)."),
                comment: str = typer.Option(..., "--comment", help="What is wrong (required)."),
                decision: list[int] = typer.Option([], "--decision", help="Disputed decision id(s); default: every "
                                                                          "decision that costs points."),
                db: str = db_option()) -> None:
    """File an appeal on your reviewed conversation, within the appeal window (default 7 days).

    Example:  qa-scorer appeal file C20261120-018 --agent 七七 --comment "买家要求催发货，不是催单" --db qa.db
    """
    with workspace(db) as ws:
        a = ws.file_appeal(conversation, agent=agent, comment=comment, decision_ids=list(decision) or None)
    typer.echo(_("appeal {id} filed").format(id=a["id"]))


@appeal_app.command("decide")
def appeal_decide(appeal: int = typer.Argument(..., help="Appeal id."),
                  outcome: str = typer.Option(..., "--outcome", help="uphold or overturn."),
                  lead: str = typer.Option(..., "--lead"),
                  reason: str = typer.Option(..., "--reason"),
                  db: str = db_option()) -> None:
    """Uphold or overturn an appeal; overturning removes the disputed findings and re-scores.

    Example:  qa-scorer appeal decide 1 --outcome overturn --lead 组长 --reason "确为买家要求" --db qa.db
    """
    with workspace(db) as ws:
        a = ws.decide_appeal(appeal, lead=lead, outcome=outcome, reason=reason)
    typer.echo(_("appeal {id}: {status}; score {before} -> {after}").format(
        id=a["id"], status=word(a["status"]), before=_fmt(a["score_before"]), after=_fmt(a["score_after"])))


@appeal_app.command("list")
def appeal_list(status: Optional[str] = typer.Option(None, "--status", help="pending, upheld or overturned."),
                agent: Optional[str] = typer.Option(None, "--agent"),
                period: Optional[str] = typer.Option(None, "--period"),
                db: str = db_option()) -> None:
    """List appeals (the lead's inbox with --status pending).

    Example:  qa-scorer appeal list --status pending --db qa.db
    """
    with workspace(db) as ws:
        df = ws.appeals(status=status, agent=agent, period=period)
    show_table(df, {"id": "#", "conversation": _("conversation"), "filed_by": _("agent"), "filed_at": _("filed"),
                    "comment": _("comment"), "status": _("status"), "score_before": _("before"),
                    "score_after": _("after")})


# --- period ------------------------------------------------------------------------------------
period_app = typer.Typer(help="Close, reopen and inspect a month.", no_args_is_help=True)

def _print_status(st: dict) -> None:
    status = _("closed") if st["status"] == "closed" else _("open (not closed)")
    rows = [(_("period"), st["period"]), (_("status"), status), (_("conversations"), st["conversations"]),
            (_("reviewed conversations"), st["reviewed"]), (_("agents"), st["agents"]),
            (_("unreviewed needs_review"), st["needs_review_open"]), (_("pending appeals"), st["pending_appeals"]),
            (_("times closed"), st["close_no"]), (_("closed at"), st.get("closed_at") or ""),
            (_("closed by"), st.get("closed_by") or "")]
    show_table(pd.DataFrame(rows, columns=["k", "v"]), {"k": _("item"), "v": _("value")})
    if st["open_items"]["needs_review"]:
        typer.echo(_("unreviewed: {keys}").format(keys=plain(", ".join(st["open_items"]["needs_review"][:20]), 2000)))


@period_app.command("status")
def period_status(period: str = typer.Argument(..., help="Month, e.g. 2026-11."), db: str = db_option()) -> None:
    """Where a month stands: open/closed, reviewed, open items.

    Example:  qa-scorer period status 2026-11 --db qa.db
    """
    with workspace(db) as ws:
        _print_status(ws.period_status(period))


@period_app.command("close")
def period_close(period: str = typer.Argument(...), lead: str = typer.Option(..., "--lead"),
                 force: bool = typer.Option(False, "--force", help="Close despite open items (needs --reason)."),
                 reason: str = typer.Option("", "--reason"), db: str = db_option()) -> None:
    """Freeze a month: final agent scores, rubric and model identity; then payroll can pay it.

    Example:  qa-scorer period close 2026-11 --lead 组长 --db qa.db
    """
    with workspace(db) as ws:
        st = ws.close_period(period, lead=lead, force=force, reason=reason or None)
        agents = ws.final_agent_scores(period)
    _print_status(st)
    show_table(agents, {"agent": _("agent"), "conversations": _("conversations"),
                        "reviewed_conversations": _("reviewed"), "appeals_changed": _("appeals changed score"),
                        "service_score": _("final score")}, title=_("final agent scores"))


@period_app.command("reopen")
def period_reopen(period: str = typer.Argument(...), lead: str = typer.Option(..., "--lead"),
                  reason: str = typer.Option(..., "--reason"), db: str = db_option()) -> None:
    """Reopen a closed month (logged; the next close stores new final scores).

    Example:  qa-scorer period reopen 2026-11 --lead 组长 --reason "补录 11-30 的聊天" --db qa.db
    """
    with workspace(db) as ws:
        _print_status(ws.reopen_period(period, lead=lead, reason=reason))


# --- calibration -------------------------------------------------------------------------------
calibration_app = typer.Typer(help="Calibration sessions: reviewers judge the same chats blind.",
                              no_args_is_help=True)


@calibration_app.command("start")
def calibration_start(name: str = typer.Argument(...),
                      reviewers: str = typer.Option(..., "--reviewers", help="a,b,c"),
                      size: int = typer.Option(10, "--size", help="Conversations in the session."),
                      period: Optional[str] = typer.Option(None, "--period"),
                      by: str = typer.Option(..., "--by", help="The lead."),
                      db: str = db_option()) -> None:
    """Start a session: sampled conversations (machine-flagged first) for every named reviewer.

    Example:  qa-scorer calibration start 11月校准 --reviewers 小王,小李,小张 --size 10 --period 2026-11 --by 组长 --db qa.db
    """
    with workspace(db) as ws:
        session = ws.start_calibration(name, reviewers=csv_list(reviewers), size=size, period=period, actor=by)
    sid, keys = session["id"], session["conversations"]
    typer.echo(_("calibration session {id}: {n} conversation(s); each reviewer decides them with "
                 "`review decide CONV --calibration {id} ...`").format(id=sid, n=len(keys)))
    typer.echo(plain(", ".join(keys), 4000))


@calibration_app.command("report")
def calibration_report(session: int = typer.Argument(...), db: str = db_option(),
                       out: Optional[Path] = typer.Option(None, "--out", help="Also write the tables (.xlsx or .csv "
                                                                              "folder).")) -> None:
    """Agreement per tag (Fleiss'/Cohen's kappa), score spread, strictness, model vs human.

    Example:  qa-scorer calibration report 1 --db qa.db --out calibration.xlsx
    """
    with workspace(db) as ws:
        rep = ws.calibration_report(session)
    show_table(rep.tags, {c: c for c in rep.tags.columns}, title=_("agreement per tag"))
    show_table(rep.scores, {c: c for c in rep.scores.columns}, title=_("scores per conversation and reviewer"))
    show_table(rep.strictness, {"reviewer": _("reviewer"), "conversations": _("conversations"),
                                "mean_score": _("mean score"), "strictness": _("vs group (negative = stricter)")},
               title=_("strictness"))
    show_table(rep.model_vs_human, {c: c for c in rep.model_vs_human.columns}, title=_("model vs human (live reviews)"))
    if out:
        from qa_scorer.workspace.exports import write_sheets
        written = write_sheets(out, {"tags": rep.tags, "scores": rep.scores, "strictness": rep.strictness,
                                     "model_vs_human": rep.model_vs_human})
        typer.echo(_("wrote {files}").format(files=", ".join(plain(p) for p in written)))


# --- export ------------------------------------------------------------------------------------
export_app = typer.Typer(help="Export final scores.", no_args_is_help=True)


@export_app.command("scores")
def export_scores(period: str = typer.Option(..., "--period"), db: str = db_option(),
                  out: Path = typer.Option(..., "--out", help=".xlsx (sheets agents, conversations) or a folder of "
                                                              "CSVs.")) -> None:
    """Final agent and conversation scores of a month (frozen if the month is closed).

    Example:  qa-scorer export scores --period 2026-11 --out scores-2026-11.xlsx --db qa.db
    """
    from qa_scorer.workspace.exports import write_sheets

    with workspace(db) as ws:
        agents = ws.final_agent_scores(period)
        convs = ws.scores_table(period)
    written = write_sheets(out, {"agents": agents, "conversations": convs})
    typer.echo(_("{a} agents, {c} conversations; wrote {files}").format(
        a=len(agents), c=len(convs), files=", ".join(plain(p) for p in written)))


def register(app: typer.Typer) -> None:
    app.add_typer(workspace_app, name="workspace")
    app.add_typer(user_app, name="user")
    app.add_typer(review_app, name="review")
    app.add_typer(appeal_app, name="appeal")
    app.add_typer(period_app, name="period")
    app.add_typer(calibration_app, name="calibration")
    app.add_typer(export_app, name="export")

