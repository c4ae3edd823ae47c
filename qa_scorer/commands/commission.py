"""``qa-scorer commission``: payroll rows from agents' scores and a sales file (library: qa_scorer.commission)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qa_scorer.commands.common import fail, plain
from qa_scorer.i18n import _


def commission_command(
    scores: Optional[Path] = typer.Option(None, "--scores",
                                          help="agents.csv from `qa-scorer audit` (agent, service_score); "
                                               "or --db with --period."),
    db: Optional[str] = typer.Option(None, "--db", envvar="QA_SCORER_DB",
                                     help="Pay a closed month's final scores from this workspace (with --period)."),
    period: Optional[str] = typer.Option(None, "--period", help="--db: the closed month, e.g. 2026-11."),
    sales: Path = typer.Option(..., "--sales",
                               help="Sales file (CSV/TSV in UTF-8, GBK or UTF-16, or xlsx): 客服, 岗位, 询单销售额, 询单人数, "
                                    "成交人数, 退换件数, 平均客单价, optional 周期."),
    scheme: str = typer.Option("default", "--scheme",
                               help="Scheme TOML file, or a shipped scheme: default, tiered, two_part, salary."),
    out: Path = typer.Option(..., "--out", help="Output: .xlsx (with an unmatched sheet) or .csv."),
    assessment: Optional[Path] = typer.Option(
        None, "--assessment",
        help="assessment.xlsx/.csv from `qa-scorer assess`: pay on the 绩效考核得分 instead of the service score."),
    sheet: Optional[List[str]] = typer.Option(
        None, "--sheet", help="Compute the assessment here: sheet TOML or shipped sheet (presales, aftersales, "
                              "gold, supervisor; repeat or comma-separate), with --kpis."),
    kpis: Optional[Path] = typer.Option(None, "--kpis", help="KPI file for --sheet (see `qa-scorer assess`)."),
    strict: bool = typer.Option(False, "--strict",
                                help="Exit with status 1 if any agent is unmatched or unpaid."),
) -> None:
    """Compute each agent's commission (提成) from the period score and the sales figures.

    Example:  qa-scorer commission --scores qa-report/agents.csv --sales sales.csv --scheme tiered --out payroll.xlsx

    Example:  qa-scorer commission --scores agents.csv --sales sales.csv --assessment assessment.xlsx --out payroll.xlsx

    Example:  qa-scorer commission --db qa.db --period 2026-11 --sales sales.csv --out payroll.xlsx
    """
    from qa_scorer.commission import (
        SalesError, SchemeError, compute_commission, load_scheme, read_sales, read_scores, write_payroll,
    )

    if (scores is None) == (db is None):
        fail(_("give either --scores agents.csv or --db with --period"))
    if db is not None and not period:
        fail(_("--db needs --period (the closed month to pay, e.g. 2026-11)"))
    if assessment is not None and sheet:
        fail(_("give either --assessment FILE or --sheet with --kpis, not both"))
    if kpis is not None and not sheet:
        fail(_("--kpis needs --sheet (or give --assessment FILE from qa-scorer assess)"))
    try:
        chosen = load_scheme(scheme)
        assessed = None
        if assessment is not None or sheet:
            from qa_scorer.assessment import assess, load_sheets, read_agents, read_assessment, read_kpis

            if assessment is not None:
                assessed = read_assessment(assessment)
            else:
                agents = read_agents(scores) if scores is not None else _final_scores(db, period)
                result = assess(agents, read_kpis(kpis) if kpis is not None else None, load_sheets(sheet))
                for warning in result.warnings:
                    typer.echo(_("warning: {message}").format(message=plain(warning, 1000)), err=True)
                assessed = result.rows
        if db is not None:
            result = _workspace_payroll(db, period, read_sales(sales), chosen, assessed)
        else:
            result = compute_commission(read_scores(scores), read_sales(sales), chosen, assessment=assessed)
        written = write_payroll(result, out)
    except (SchemeError, SalesError, ValueError) as exc:  # WorkspaceError is a ValueError
        fail(plain(exc, 2000))
    rows = result.rows
    paid = int((rows["status"] == "ok").sum())
    typer.echo(_("scheme {name}: {paid} of {n} agents paid, total {total}").format(
        name=repr(plain(chosen.name)), paid=paid, n=len(rows), total=f"{result.total:,.2f}"))
    if assessed is not None:
        typer.echo(_("score used: the 绩效考核得分 of the assessment (service scores shown beside it)"))
    for warning in result.warnings:
        typer.echo(_("warning: {message}").format(message=plain(warning, 1000)), err=True)
    if len(result.unmatched):
        typer.echo(_("{n} unmatched agent(s): {agents}").format(n=len(result.unmatched), agents=", ".join(
            f"{plain(a)} ({plain(s)})" for a, s in zip(result.unmatched["agent"], result.unmatched["status"]))))
    typer.echo(_("wrote {files}").format(files=", ".join(plain(p) for p in written)))
    if strict and len(result.unpaid):  # an unassigned bucket is not a person left unpaid
        raise typer.Exit(1)


def _final_scores(db: str, period: str):
    from qa_scorer.workspace import final_agent_scores

    return final_agent_scores(db, period)


def _workspace_payroll(db: str, period: str, sales, scheme, assessed):
    """The closed month's frozen final scores (qa_scorer.workspace.payroll)."""
    from qa_scorer.workspace import Workspace

    ws = Workspace(db, create=False)
    try:
        return ws.payroll(period, sales, scheme, assessment=assessed)
    finally:
        ws.close()


def register(app: typer.Typer) -> None:
    app.command("commission")(commission_command)
