"""The reviewer's desk: a server-rendered web app on the workspace (``qa-scorer serve``).

See docs/webapp.md.  ``create_app(db)`` returns the Starlette application.
"""

from qa_scorer.web.app import create_app

__all__ = ["create_app"]
