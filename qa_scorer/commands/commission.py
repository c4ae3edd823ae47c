"""``qa-scorer commission``: payroll rows from agents' scores and a sales file (library: qa_scorer.commission)."""

from __future__ import annotations

from pathlib import Path

import typer

from qa_scorer.commands.common import fail, plain
from qa_scorer.i18n import _


def commission_command(
    scores: Path = typer.Option(..., "--scores", help="agents.csv from `qa-scorer audit` (agent, service_score)."),
    sales: Path = typer.Option(..., "--sales",
                               help="Sales file (CSV/TSV in UTF-8, GBK or UTF-16, or xlsx): 客服, 岗位, 询单销售额, 询单人数, "
                                    "成交人数, 退换件数, 平均客单价, optional 周期."),
    scheme: str = typer.Option("default", "--scheme",
                               help="Scheme TOML file, or a shipped scheme: default, tiered, two_part."),
    out: Path = typer.Option(..., "--out", help="Output: .xlsx (with an unmatched sheet) or .csv."),
    strict: bool = typer.Option(False, "--strict",
                                help="Exit with status 1 if any agent is unmatched or unpaid."),
) -> None:
    """Compute each agent's commission (提成) from the period score and the sales figures.

    Example:  qa-scorer commission --scores qa-report/agents.csv --sales sales.csv --scheme tiered --out payroll.xlsx
    """
    from qa_scorer.commission import (
        SalesError, SchemeError, compute_commission, load_scheme, read_sales, read_scores, write_payroll,
    )

    try:
        chosen = load_scheme(scheme)
        result = compute_commission(read_scores(scores), read_sales(sales), chosen)
        written = write_payroll(result, out)
    except (SchemeError, SalesError, ValueError) as exc:
        fail(plain(exc, 2000))
    rows = result.rows
    paid = int((rows["status"] == "ok").sum())
    typer.echo(_("scheme {name}: {paid} of {n} agents paid, total {total}").format(
        name=repr(plain(chosen.name)), paid=paid, n=len(rows), total=f"{result.total:,.2f}"))
    for warning in result.warnings:
        typer.echo(_("warning: {message}").format(message=plain(warning, 1000)), err=True)
    if len(result.unmatched):
        typer.echo(_("{n} unmatched agent(s): {agents}").format(n=len(result.unmatched), agents=", ".join(
            f"{plain(a)} ({plain(s)})" for a, s in zip(result.unmatched["agent"], result.unmatched["status"]))))
    typer.echo(_("wrote {files}").format(files=", ".join(plain(p) for p in written)))
    if strict and len(result.unpaid):  # an unassigned bucket is not a person left unpaid
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("commission")(commission_command)
