"""``qa-scorer rubric init|check``: create and validate scoring rubrics (library: qa_scorer.rubric)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from qa_scorer.commands.common import fail, plain
from qa_scorer.i18n import _

rubric_app = typer.Typer(
    help=(
        "Create and check scoring rubrics (TOML; reference: docs/rubric.md).\n\n"
        "Example:  qa-scorer rubric init rubric.toml --preset presales"
    ),
    no_args_is_help=True,
    add_completion=False,
)


class Preset(str, Enum):
    default = "default"
    presales = "presales"
    aftersales = "aftersales"


@rubric_app.command("init")
def init_command(
    path: Path = typer.Argument(Path("rubric.toml"), help="Where to write the rubric."),
    preset: Preset = typer.Option(Preset.default, "--preset",
                                  help="Which shipped rubric to start from."),
    force: bool = typer.Option(False, "--force", help="Overwrite PATH if it exists."),
) -> None:
    """Write a documented rubric file to edit (every key explained in comments).

    Example:  qa-scorer rubric init rubric.toml --preset aftersales
    """
    from qa_scorer.rubric import write_default_rubric

    try:
        written = write_default_rubric(path, preset=preset.value, force=force)
    except FileExistsError as exc:
        fail(plain(exc, 1000) + " " + _("(use --force to overwrite it)"), code=1)
    typer.echo(_("wrote {path} (preset {preset}); check it with: qa-scorer rubric check {path}").format(
        path=plain(written), preset=preset.value))


@rubric_app.command("check")
def check_command(
    file: Path = typer.Argument(..., help="Rubric TOML file to validate."),
) -> None:
    """Validate a rubric file and print what it will deduct, cap, fail and reward.

    Example:  qa-scorer rubric check rubric.toml
    """
    from qa_scorer.rubric import RubricError, load_rubric, summarize

    try:
        rubric = load_rubric(file)
    except RubricError as exc:
        fail(plain(exc, 2000))
    typer.echo("\n".join(plain(line, None) for line in summarize(rubric)))
    typer.echo(_("OK: the rubric is valid"))


def register(app: typer.Typer) -> None:
    app.add_typer(rubric_app, name="rubric")
