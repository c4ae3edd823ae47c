"""``qa-scorer coach``: coaching examples (bad or model replies, with context) from an audit folder."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from qa_scorer.commands.common import fail, plain
from qa_scorer.i18n import _
from qa_scorer.schema import TAGS

RULE_CHOICES = ("short_reply", "product_answer_short", "missing_closing", "slow")

Tag = Enum("Tag", {t: t for t in TAGS}, type=str)
Rule = Enum("Rule", {r: r for r in RULE_CHOICES}, type=str)


class Format(str, Enum):
    md = "md"
    html = "html"
    xlsx = "xlsx"


def coach(
    source: Path = typer.Option(Path("qa-report"), "--from", help="Audit folder written by `qa-scorer audit`."),
    agent: str = typer.Option(None, "--agent", help="Only this agent (店铺:小美 or just 小美)."),
    tag: Tag = typer.Option(None, "--tag", help="Replies the classifier tagged with this tag."),
    rule: Rule = typer.Option(None, "--rule", help="Replies that broke this rule."),
    limit: int = typer.Option(20, "--limit", min=1, help="At most this many examples."),
    fmt: Format = typer.Option(Format.md, "--format", help="md (printed when no --out), html or xlsx."),
    out: Path = typer.Option(None, "--out", help="Output file (default for html/xlsx: coaching.<format> in --from)."),
    good: bool = typer.Option(False, "--good", help="Model answers instead: fast, complete, unflagged, closed."),
    no_mask: bool = typer.Option(False, "--no-mask",
                                 help="Show buyer nicknames, phones, addresses and order numbers."),
) -> None:
    """Coaching examples: flagged replies (or model answers with --good) with the buyer's messages around them.

    Most confident / most severe first. Buyers become 买家A, 买家B…; phones, addresses, order numbers are masked.

    Example:  qa-scorer coach --from qa-report/ --agent 小美 --tag pushy --limit 10 --format html --out pushy.html

    Example:  qa-scorer coach --from qa-report/ --good --limit 5 --lang en
    """
    from qa_scorer.report import AuditFolderError, CoachingError, coaching_examples, load_audit_folder, write_coaching

    try:
        tables = load_audit_folder(source)
        examples = coaching_examples(tables, agent=agent, tag=tag.value if tag else None,
                                     rule=rule.value if rule else None, limit=limit, good=good, mask=not no_mask)
        target = out
        if target is None and fmt is not Format.md:
            target = source / f"coaching.{fmt.value}"
        text = write_coaching(examples, target, fmt=fmt.value)
    except (AuditFolderError, CoachingError) as exc:
        fail(plain(exc, 2000))
    if target is None:
        typer.echo(text, nl=False)  # Markdown with every chat text escaped (qa_scorer.report.coach._md)
    else:
        typer.echo(_("wrote {n} example(s) to {path}").format(n=len(examples), path=plain(target)), err=True)


def register(app: typer.Typer) -> None:
    app.command("coach")(coach)
