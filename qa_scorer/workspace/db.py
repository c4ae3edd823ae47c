"""Connecting to a workspace database and keeping its schema current (Alembic).

``--db`` takes a file path (SQLite, the default: one file the user chooses) or a URL
(``postgresql://user@host/dbname``; ``sqlite:///path``).  SQLite runs in WAL mode so reviewers
can read while an audit is being recorded, with a busy timeout instead of "database is locked".
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine

from qa_scorer.i18n import _

MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest revision this version of qa-scorer writes (migrations/versions).
HEAD = "0003"


class WorkspaceError(ValueError):
    """A workspace operation cannot be done; the message says why and what to do instead."""


class NotFound(WorkspaceError):
    pass


class PermissionDenied(WorkspaceError):
    """The user's role (or identity) does not allow this action."""


class ConflictError(WorkspaceError):
    """Someone else changed the conversation since it was read (optimistic version check)."""


class PeriodClosed(WorkspaceError):
    pass


def resolve_url(db: str | Path) -> str:
    """A path -> ``sqlite:///abs/path``; ``postgresql://`` -> the psycopg 3 driver."""
    raw = str(db)
    if "://" not in raw:
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    if raw.startswith("postgresql://") or raw.startswith("postgres://"):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    return raw


def display_url(url: str) -> str:
    """The URL without its password, for messages and run records."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    url = resolve_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            parent = Path(path).parent
            if not parent.exists():
                raise WorkspaceError(_("workspace folder {path} does not exist; create it first or choose "
                                       "another --db path").format(path=parent))
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # unknown dialect / driver missing
        raise WorkspaceError(_("cannot use database URL {url}: {error}").format(url=display_url(url), error=exc)) from exc


def _alembic_config(connection: Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns (before, after)."""
    from alembic import command

    with engine.begin() as conn:
        before = current_revision(conn)
        command.upgrade(_alembic_config(conn), revision)
        after = current_revision(conn)
    return before, after


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def now_text(now: datetime | None = None) -> str:
    return (now or datetime.now()).isoformat(sep=" ", timespec="seconds")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
