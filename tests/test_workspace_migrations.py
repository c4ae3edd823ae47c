"""Schema migrations: a workspace made at the first revision (0001) is upgraded to the current one
with its data, on SQLite and PostgreSQL."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from qa_scorer.cli import app
from qa_scorer.scoring import ScoredChunk
from qa_scorer.workspace import Workspace, WorkspaceError
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import HEAD, current_revision, make_engine, upgrade
from qa_scorer.workspace.record import WorkspaceRecorder


@pytest.fixture
def old_workspace(db_url, sample_audit):
    """A workspace as qa-scorer wrote it at schema 0001: the sample audit recorded, a reviewer
    (users had no display_name then) and one decision; no calibration tables yet."""
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    info = {k: sample_audit.run_info[k] for k in ("qa_scorer_version", "model", "rubric", "settings")}
    rec = WorkspaceRecorder(SimpleNamespace(engine=engine), info)
    rec.add(sample_audit.messages, ScoredChunk(sample_audit.replies, sample_audit.rounds, sample_audit.conversations))
    rec.finish(info, [])
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (name, role, agent, active, created_at) "
                          "VALUES ('rev1', 'reviewer', NULL, :t, '2026-11-01 09:00:00'), "
                          "('lead', 'lead', NULL, :t, '2026-11-01 09:00:00')"), {"t": True})
        cid = conn.execute(text("SELECT id FROM conversations WHERE conversation_key = 'C20261120-018'")).scalar()
        conn.execute(text("INSERT INTO decisions (conversation_id, seq, item, verdict, reviewer_id, reason, source, "
                          "machine_value, created_at) VALUES (:c, 6, 'rude', 'reject', 1, '旧版本的复核', 'review', 1, "
                          "'2026-11-21 10:00:00')"), {"c": cid})
        conn.execute(text("UPDATE conversations SET final_score = 85.7, reviewed = :t WHERE id = :c"),
                     {"c": cid, "t": True})
    assert "calibration_sessions" not in inspect(engine).get_table_names()
    engine.dispose()
    return db_url


def test_old_workspace_is_refused_until_upgraded(old_workspace):
    with pytest.raises(WorkspaceError, match="workspace upgrade"):
        Workspace(old_workspace)


def test_upgrade_keeps_the_data_and_enables_new_features(old_workspace):
    assert Workspace.upgrade(old_workspace) == ("0001", HEAD)
    ws = Workspace(old_workspace)
    assert ws.status()["conversations"] == 96 and ws.status()["messages"] == 925
    users = ws.users().set_index("name")
    assert users.loc["rev1", "role"] == "reviewer" and users.loc["rev1", "display_name"] is None
    view = ws.conversation("C20261120-018")
    assert view.decisions["reason"].tolist() == ["旧版本的复核"] and view.conversation["final_score"] == 85.7
    # new in 0002: calibration, display names
    ws.add_user("rev2", "reviewer", display_name="李四")
    sid = ws.start_calibration("升级后", reviewers=["rev1", "rev2"], size=1, actor="lead")["id"]
    assert len(ws.calibration_report(sid).scores) == 1
    # decisions made before the upgrade still drive the score after a re-score
    r = ws.decide("C20261120-018", reviewer="rev2", item="unhelpful", seq=4, verdict="confirm", reason="敷衍")
    assert r.score_after == 85.7
    assert "migrate" in ws.events(limit=500)["kind"].tolist()
    with ws.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        # new in 0003: the model registry
        assert {c["name"] for c in inspect(conn).get_columns("models")} == {c.name for c in S.models.columns}
        assert "ix_models_status" in {i["name"] for i in inspect(conn).get_indexes("models")}
    ws.close()


def test_upgrade_command(old_workspace):
    runner = CliRunner()
    first = runner.invoke(app, ["workspace", "upgrade", "--db", old_workspace])
    assert first.exit_code == 0, first.output
    assert "0001" in first.output and HEAD in first.output
    again = runner.invoke(app, ["workspace", "upgrade", "--db", old_workspace])
    assert again.exit_code == 0 and "已是最新" in again.output


def test_new_workspace_is_created_at_head(db_url):
    ws = Workspace(db_url)
    with ws.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        names = set(inspect(conn).get_table_names())
    assert {t.name for t in S.metadata.sorted_tables} <= names
    # the migrations build exactly the tables and columns schema.py describes
    insp = inspect(ws.engine)
    for table in S.metadata.sorted_tables:
        assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}, table.name
        want = {ix.name: [c.name for c in ix.columns] for ix in table.indexes}
        got = {ix["name"]: ix["column_names"] for ix in insp.get_indexes(table.name)}
        assert {k: got.get(k) for k in want} == want, table.name
    ws.close()
