"""The QA workspace: audits that persist, human review, appeals, calibration, periods and payroll.

    from qa_scorer.workspace import Workspace
    ws = Workspace("qa.db")

See docs/workspace.md for the workflow and ``Workspace`` (core.py) for the library calls.
"""

from qa_scorer.workspace.db import (
    ConflictError, NotFound, PeriodClosed, PermissionDenied, WorkspaceError, resolve_url,
)
from qa_scorer.workspace.core import Workspace
from qa_scorer.workspace.review import QueuePolicy

__all__ = ["Workspace", "QueuePolicy", "WorkspaceError", "ConflictError", "NotFound", "PeriodClosed",
           "PermissionDenied", "resolve_url", "final_agent_scores"]


def final_agent_scores(db: str, period: str):
    """The period's final agent scores (frozen when the period is closed), as an agents table."""
    ws = Workspace(db, create=False)
    try:
        return ws.final_agent_scores(period)
    finally:
        ws.close()
