"""Payroll from a closed period: the frozen final scores, plus how much people checked them.

``qa-scorer commission --db URL --period 2026-11 --sales SALES.csv --out payroll.xlsx`` is
``ws.payroll(period, read_sales(path), load_scheme(...))`` then ``write_payroll``.  Only a closed
period pays (its scores cannot change under the payslip); each row adds
``reviewed_conversations`` (conversations a person reviewed) and ``appeals_changed`` (appeals
that changed a score) for that agent.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from sqlalchemy import select

from qa_scorer.i18n import _
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import WorkspaceError


def scores_for_commission(agents: pd.DataFrame) -> pd.DataFrame:
    """The agents table in the shape ``compute_commission`` reads (``read_scores``)."""
    out = pd.DataFrame({"agent": agents["agent"].astype(str).str.strip(),
                        "source_line": range(2, len(agents) + 2)})
    out["service_score"] = [None if v is None or v != v else Decimal(str(round(float(v), 1)))
                            for v in agents["service_score"]]
    out["service_score"] = out["service_score"].astype(object)
    out["unassigned"] = agents["unassigned"].astype(bool).to_numpy() if "unassigned" in agents else False
    return out


def payroll(ws, period: str, sales: pd.DataFrame, scheme, assessment: pd.DataFrame | None = None):
    """Commission rows for a closed ``period``; ``assessment`` (rows of ``qa_scorer.assessment``)
    pays on the 绩效考核得分 as ``compute_commission`` does."""
    from qa_scorer.commission import compute_commission

    with ws.engine.connect() as conn:
        status = conn.execute(select(S.periods.c.status).where(S.periods.c.period == period)).scalar()
    if status != "closed":
        raise WorkspaceError(_("period {period} is not closed; payroll pays only final, closed scores - a lead "
                               "closes it with `qa-scorer period close {period} --db ...`").format(period=period))
    agents = ws.final_agent_scores(period)
    result = compute_commission(scores_for_commission(agents), sales, scheme, assessment=assessment)
    extra = agents.set_index(agents["agent"].astype(str).str.strip())
    for col in ("reviewed_conversations", "appeals_changed"):
        result.rows[col] = result.rows["agent"].map(extra[col]).astype("Int64")
    result.rows["period_closed"] = period
    return result
