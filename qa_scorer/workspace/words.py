"""The workflow's words as people read them: statuses, verdicts, roles, sources (one list for the
CLI and the web app)."""

from __future__ import annotations

from qa_scorer.i18n import N_, _

WORDS = {
    "open": N_("open"), "closed": N_("closed"), "done": N_("done"), "pending": N_("pending"),
    "upheld": N_("upheld"), "overturned": N_("overturned"), "confirm": N_("confirm"), "reject": N_("reject"),
    "add": N_("add"), "adjust": N_("adjust"), "review": N_("review"), "appeal": N_("appeal"),
    "calibration": N_("calibration"), "lead": N_("lead"), "reviewer": N_("reviewer"), "trainer": N_("trainer"),
    "agent": N_("agent"), "candidate": N_("candidate"), "active": N_("active"), "retired": N_("retired"),
}


def word(value) -> str:
    """``value`` in the current language when it is a workflow word, else as text ("" for None)."""
    return _(WORDS[value]) if isinstance(value, str) and value in WORDS else ("" if value is None else str(value))
