"""The ``qa-scorer`` command line: a thin layer over the library.

Each command lives in ``qa_scorer/commands/<name>.py`` and exposes ``register(app)``;
commands only parse options and call library functions.

Language: messages, errors and the reports are in Simplified Chinese unless ``--lang en`` (before or
after the command name), ``QA_SCORER_LANG=en`` or an English locale says otherwise
(``qa_scorer.i18n``).  ``--help`` texts are in English.
"""

from __future__ import annotations

import typer

from qa_scorer import __version__
from qa_scorer.commands.common import lang_option, with_lang

app = typer.Typer(
    name="qa-scorer",
    help=(
        "Audit customer-service chats, score service quality and feed payroll.\n\n"
        "Messages and reports are in Chinese; add --lang en (or set QA_SCORER_LANG=en) for English.\n\n"
        "Example:  qa-scorer audit sample_transcripts/ --out qa-report/\n\n"
        "Example:  qa-scorer --lang en audit sample_transcripts/"
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
    lang: str = lang_option(default_from_env=True),
) -> None:
    """Audit customer-service chats, score service quality and feed payroll."""


def _add_lang_everywhere(typer_app: typer.Typer) -> None:
    """Give every command its own ``--lang`` too (``qa-scorer audit x --lang en``)."""
    for info in typer_app.registered_commands:
        info.callback = with_lang(info.callback)
    for group in typer_app.registered_groups:
        _add_lang_everywhere(group.typer_instance)


def _register_commands() -> None:
    from qa_scorer.commands import assess, audit, classify, closed_loop, coach, commission, rubric, workspace, serve

    for module in (audit, classify, rubric, commission, assess, coach, workspace, closed_loop, serve):
        module.register(app)
    _add_lang_everywhere(app)


_register_commands()


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()
