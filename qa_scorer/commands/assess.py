"""``qa-scorer assess``: the assessment sheet (绩效考核表) per agent (library: qa_scorer.assessment)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from qa_scorer.commands.common import fail, plain
from qa_scorer.i18n import _


def assess_command(
    scores: Optional[Path] = typer.Option(None, "--scores",
                                          help="agents.csv from `qa-scorer audit` (or give --db and --period)."),
    db: Optional[str] = typer.Option(None, "--db", help="Workspace database URL: the period's final (reviewed) "
                                                         "agent scores instead of --scores."),
    period: Optional[str] = typer.Option(None, "--period",
                                         help="Period, e.g. 2026-11: with --db the workspace period; also keeps "
                                              "the KPI rows of that period."),
    kpis: Optional[Path] = typer.Option(None, "--kpis",
                                        help="KPI file (CSV/TSV in UTF-8 or GBK, or xlsx): 客服, 岗位, 周期, 询单转化率, "
                                             "客单价, 接待人数, 退款率, 退货率, 解决率, 投诉率, 好评率, 改评数, 在线时长."),
    sheet: List[str] = typer.Option(..., "--sheet",
                                    help="Sheet TOML file or shipped sheet: presales, aftersales, gold, supervisor. "
                                         "Repeat it (or separate with commas) for one sheet per role."),
    out: Path = typer.Option(Path("assessment.xlsx"), "--out",
                             help="Output .xlsx (sheets assessment, items, missing) or .csv; an HTML page with "
                                  "each agent's sheet is written beside it."),
    strict: bool = typer.Option(False, "--strict", help="Exit with status 1 if any agent could not be assessed."),
) -> None:
    """Score each agent on the assessment sheet of their role: 绩效考核得分 with every item itemised.

    Example:  qa-scorer assess --scores qa-report/agents.csv --kpis kpis.csv --sheet presales,aftersales --out assessment.xlsx
    """
    from qa_scorer.assessment import KpiError, SheetError, assess, load_sheets, read_agents, read_kpis, write_assessment
    from qa_scorer.commission import SalesError

    if (scores is None) == (db is None):
        fail(_("give either --scores agents.csv or --db URL with --period"))
    if db is not None and not period:
        fail(_("--db needs --period (the workspace period to read, e.g. 2026-11)"))
    try:
        sheets = load_sheets(sheet)
        if db is not None:
            from qa_scorer.workspace import final_agent_scores

            agents = final_agent_scores(db, period)
        else:
            agents = read_agents(scores)
        result = assess(agents, read_kpis(kpis) if kpis is not None else None, sheets, period=period)
        written = write_assessment(result, out)
    except (SheetError, KpiError, SalesError, ValueError, OSError) as exc:
        fail(plain(exc, 2000))
    rows = result.rows
    people = int((rows["status"] != "unassigned").sum())
    ok = int((rows["status"] == "ok").sum())
    typer.echo(_("sheets {sheets}: {ok} of {n} agents assessed").format(
        sheets=", ".join(plain(s.name) for s in sheets), ok=ok, n=people))
    for warning in result.warnings:
        typer.echo(_("warning: {message}").format(message=plain(warning, 1000)), err=True)
    if len(result.missing):
        typer.echo(_("{n} agent(s) without a 绩效考核得分: {agents}").format(n=len(result.missing), agents=", ".join(
            f"{plain(a)} ({plain(s)})" for a, s in zip(result.missing["agent"], result.missing["status"]))))
    typer.echo(_("wrote {files}").format(files=", ".join(plain(p) for p in written)))
    if strict and len(result.missing):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("assess")(assess_command)
