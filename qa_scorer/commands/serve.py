"""``qa-scorer serve``: the reviewer's desk, a web app on a workspace (docs/webapp.md)."""

from __future__ import annotations

import ipaddress

import typer

from qa_scorer.commands.common import fail, plain
from qa_scorer.i18n import _


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    db: str = typer.Option(..., "--db", envvar="QA_SCORER_DB", show_envvar=False,
                           help="Workspace: a SQLite file path or a URL such as postgresql://user@host/db."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    https: bool = typer.Option(False, "--https",
                               help="The app is reached over HTTPS (a TLS reverse proxy in front): "
                                    "session cookies get the Secure flag."),
) -> None:
    """Serve the web app (reviewers, agents, leads, trainers) on a workspace.

    Example:  qa-scorer serve --db qa.db

    Example:  qa-scorer serve --db postgresql://qa@dbhost/qa --host 127.0.0.1 --port 8765 --https
    """
    import uvicorn

    from qa_scorer.web import create_app
    from qa_scorer.workspace import WorkspaceError
    from qa_scorer.workspace.db import display_url

    try:
        app = create_app(db, https=https)
    except WorkspaceError as exc:
        fail(plain(exc, 2000), 1)
    if not _loopback(host) and not https:
        typer.echo(_("warning: listening on {host} without TLS: passwords and session cookies cross the network "
                     "in clear text. Put a TLS reverse proxy in front and add --https (docs/webapp.md).").format(
                         host=host), err=True)
    typer.echo(_("serving {url} on http://{host}:{port}/ (Ctrl+C stops)").format(
        url=plain(display_url(app.state.desk.ws.url), 500), host=host, port=port), err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False,
                proxy_headers=True, forwarded_allow_ips="127.0.0.1")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
