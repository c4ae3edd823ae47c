"""``Workspace``: one database holding audit runs and the review workflow.

    from qa_scorer.workspace import Workspace
    ws = Workspace("qa.db")                        # SQLite file (created on first use)
    ws = Workspace("postgresql://qa@db/qa")        # or a PostgreSQL server
    ws.add_user("alice", "reviewer")

Every CLI command of the workspace (``review``, ``appeal``, ``period``, ``calibration``,
``export``, ``user``) is one method here; the web app calls the same methods.  Each method runs in
its own transaction and writes an event (``events``) for every change.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from qa_scorer.i18n import _
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import (
    HEAD, NotFound, PermissionDenied, WorkspaceError, current_revision, display_url, is_empty, make_engine,
    now_text, resolve_url, upgrade,
)
from qa_scorer.workspace.events import log_event

#: Workspace settings and their defaults (``qa-scorer workspace set KEY VALUE``).
DEFAULT_SETTINGS: dict[str, str] = {
    "appeal_window_days": "7",   # days after the last review decision in which an agent may appeal
}


class Workspace:
    def __init__(self, db: str, *, create: bool = True):
        self.url = resolve_url(db)
        self.engine = make_engine(self.url)
        self._check_schema(create)

    def __repr__(self) -> str:
        return f"Workspace({display_url(self.url)!r})"

    # -- schema ------------------------------------------------------------------------------
    def _check_schema(self, create: bool) -> None:
        try:
            empty = is_empty(self.engine)
        except Exception as exc:  # server down, wrong password, not a database file
            raise WorkspaceError(_("cannot open workspace {url}: {error}").format(
                url=display_url(self.url), error=str(exc).splitlines()[0])) from exc
        if empty:
            if not create:
                raise WorkspaceError(_("{url} is not a qa-scorer workspace yet; run `qa-scorer workspace init "
                                       "--db ...` or `qa-scorer audit ... --db ...` first").format(
                                           url=display_url(self.url)))
            upgrade(self.engine)
            return
        with self.engine.connect() as conn:
            rev = current_revision(conn)
        if rev is None:
            raise WorkspaceError(_("{url} holds other tables and is not a qa-scorer workspace; choose another "
                                   "--db").format(url=display_url(self.url)))
        if rev != HEAD:
            raise WorkspaceError(_("workspace {url} has schema {rev}, this qa-scorer needs {head}: back it up, then "
                                   "run `qa-scorer workspace upgrade --db ...`").format(
                                       url=display_url(self.url), rev=rev, head=HEAD))

    @staticmethod
    def upgrade(db: str) -> tuple[str | None, str | None]:
        """Migrate a workspace (any older revision) to the newest schema; logs a ``migrate`` event."""
        engine = make_engine(resolve_url(db))
        before, after = upgrade(engine)
        if before != after:
            with engine.begin() as conn:
                log_event(conn, "migrate", data={"from": before, "to": after})
        return before, after

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- users -------------------------------------------------------------------------------
    def add_user(self, name: str, role: str, *, agent: str | None = None, display_name: str | None = None,
                 actor: str | None = None) -> dict:
        name = (name or "").strip()
        if not name:
            raise WorkspaceError(_("a user needs a name"))
        if role not in S.ROLES:
            raise WorkspaceError(_("unknown role {role}; use one of: {roles}").format(role=role,
                                                                                    roles=", ".join(S.ROLES)))
        if role == "agent" and not agent:
            agent = name
        with self.begin() as conn:
            if conn.execute(select(S.users.c.id).where(S.users.c.name == name)).first():
                raise WorkspaceError(_("user {name} exists already").format(name=name))
            conn.execute(insert(S.users).values(
                name=name, role=role, agent=agent, display_name=display_name, active=True,
                created_at=now_text()))
            log_event(conn, "user_add", actor=actor, data={"name": name, "role": role, "agent": agent})
        return self.user(name)

    def user(self, name: str, conn: Connection | None = None) -> dict:
        def find(c: Connection):
            return c.execute(select(S.users).where(S.users.c.name == name)).mappings().first()
        if conn is not None:
            row = find(conn)
        else:
            with self.engine.connect() as c:
                row = find(c)
        if row is None:
            raise NotFound(_("no user {name} in this workspace; add one with `qa-scorer user add {name} --role "
                             "...`").format(name=name))
        if not row["active"]:
            raise PermissionDenied(_("user {name} is disabled").format(name=name))
        return dict(row)

    def users(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(select(S.users.c.id, S.users.c.name, S.users.c.role, S.users.c.agent,
                                       S.users.c.display_name, S.users.c.active, S.users.c.created_at)
                                .order_by(S.users.c.id)).mappings().all()
        return pd.DataFrame(rows, columns=["id", "name", "role", "agent", "display_name", "active", "created_at"])

    def disable_user(self, name: str, *, actor: str | None = None, reason: str | None = None) -> None:
        with self.begin() as conn:
            user = self.user(name, conn)
            conn.execute(update(S.users).where(S.users.c.id == user["id"]).values(active=False))
            log_event(conn, "user_disable", actor=actor, data={"name": name}, reason=reason)

    def require(self, conn: Connection, name: str, *roles: str) -> dict:
        """The active user ``name``, who must have one of ``roles``."""
        user = self.user(name, conn)
        if roles and user["role"] not in roles:
            raise PermissionDenied(_("{name} is a {role}; this needs the role {roles}").format(
                name=name, role=user["role"], roles=" / ".join(roles)))
        return user

    # -- settings ----------------------------------------------------------------------------
    def setting(self, key: str, conn: Connection | None = None) -> str:
        if key not in DEFAULT_SETTINGS:
            raise WorkspaceError(_("unknown setting {key}; known: {keys}").format(
                key=key, keys=", ".join(DEFAULT_SETTINGS)))
        q = select(S.workspace_settings.c.value).where(S.workspace_settings.c.key == key)
        if conn is None:
            with self.engine.connect() as c:
                value = c.execute(q).scalar()
        else:
            value = conn.execute(q).scalar()
        return DEFAULT_SETTINGS[key] if value is None else value

    def set_setting(self, key: str, value: str, *, actor: str, reason: str | None = None) -> None:
        self.setting(key)  # validates the key
        if key == "appeal_window_days" and not (str(value).isdigit() and 1 <= int(value) <= 30):
            raise WorkspaceError(_("appeal_window_days must be a whole number of days from 1 to 30"))
        with self.begin() as conn:
            self.require(conn, actor, "lead")
            old = self.setting(key, conn)
            t = S.workspace_settings
            if conn.execute(select(t.c.key).where(t.c.key == key)).first():
                conn.execute(update(t).where(t.c.key == key).values(value=str(value)))
            else:
                conn.execute(insert(t).values(key=key, value=str(value)))
            log_event(conn, "setting", actor=actor, data={"key": key, "from": old, "to": str(value)}, reason=reason)

    # -- conversations -----------------------------------------------------------------------
    def conversation_row(self, conn: Connection, key: str) -> dict:
        row = conn.execute(select(S.conversations).where(S.conversations.c.conversation_key == str(key))
                           ).mappings().first()
        if row is None:
            raise NotFound(_("no conversation {key} in this workspace").format(key=key))
        return dict(row)

    def status(self) -> dict:
        """Counts for `qa-scorer workspace status`."""
        with self.engine.connect() as conn:
            def count(table, *where):
                q = select(func.count()).select_from(table)
                for w in where:
                    q = q.where(w)
                return int(conn.execute(q).scalar())
            return {
                "url": display_url(self.url), "schema": current_revision(conn),
                "runs": count(S.runs), "conversations": count(S.conversations), "messages": count(S.messages),
                "reviewed": count(S.conversations, S.conversations.c.reviewed.is_(True)),
                "needs_review": count(S.conversations, S.conversations.c.needs_review.is_(True)),
                "decisions": count(S.decisions), "appeals_pending": count(S.appeals, S.appeals.c.status == "pending"),
                "users": count(S.users), "events": count(S.events),
            }

    def events(self, *, conversation: str | None = None, limit: int = 200) -> pd.DataFrame:
        with self.engine.connect() as conn:
            q = select(S.events).order_by(S.events.c.id.desc()).limit(limit)
            if conversation is not None:
                q = q.where(S.events.c.conversation_id == self.conversation_row(conn, conversation)["id"])
            rows = conn.execute(q).mappings().all()
        return pd.DataFrame(rows, columns=[c.name for c in S.events.columns])

    # The workflow lives in its own modules; these are the library calls the CLI wraps.
    from qa_scorer.workspace.review import build_queue, conversation, decide, queue  # noqa: E402
    from qa_scorer.workspace.appeals import appeals, decide_appeal, file_appeal  # noqa: E402
    from qa_scorer.workspace.periods import (  # noqa: E402
        close_period, final_agent_scores, period_status, reopen_period, scores_table,
    )
    from qa_scorer.workspace.calibration import calibration_report, start_calibration  # noqa: E402
    from qa_scorer.workspace.payroll import payroll  # noqa: E402

    def recorder(self, run_info: dict, actor: str | None = None):
        from qa_scorer.workspace.record import WorkspaceRecorder

        return WorkspaceRecorder(self, run_info, actor)
