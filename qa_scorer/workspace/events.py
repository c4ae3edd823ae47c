"""The audit trail: every change is an append-only event (who, when, what, why)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import dumps, now_text

#: Event kinds written by the workspace (docs/workspace.md "Audit trail").
KINDS = ("audit", "user_add", "user_disable", "setting", "queue_build", "decision", "appeal_file",
         "appeal_decide", "period_close", "period_reopen", "calibration_start", "migrate",
         "model_add", "model_evaluate", "model_promote", "model_rollback")


def log_event(conn: Connection, kind: str, *, actor: str | None = None, period: str | None = None,
              conversation_id: int | None = None, data: Any = None, reason: str | None = None) -> int:
    return conn.execute(insert(S.events).values(
        at=now_text(), actor=actor, kind=kind, period=period, conversation_id=conversation_id,
        data_json=dumps(data) if data is not None else None, reason=reason)).inserted_primary_key[0]
