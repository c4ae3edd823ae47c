"""Alembic environment: migrations run on the connection the workspace hands over
(``qa_scorer.workspace.db.upgrade``), never on a URL read from an ini file."""

from alembic import context

from qa_scorer.workspace.schema import metadata

connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters tables by copying them; Alembic's batch mode does it for us.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
