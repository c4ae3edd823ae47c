"""The ``qa-scorer`` command line: a thin layer over the library.

Each command lives in ``qa_scorer/commands/<name>.py`` and exposes ``register(app)``;
commands only parse options and call library functions.
"""

from __future__ import annotations

import typer

from qa_scorer import __version__

app = typer.Typer(
    name="qa-scorer",
    help=(
        "Audit customer-service chats, score service quality and feed payroll.\n\n"
        "Example:  qa-scorer audit sample_transcripts/ --out qa-report/"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"qa-scorer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Audit customer-service chats, score service quality and feed payroll."""


def _register_commands() -> None:
    from qa_scorer.commands import audit, classify, coach, commission, rubric

    for module in (audit, classify, rubric, commission, coach):
        module.register(app)


_register_commands()


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()
