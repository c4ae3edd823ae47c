import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests also run from a checkout without install
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("COLUMNS", "200")  # rich/typer help output not wrapped in CLI tests


@pytest.fixture
def write(tmp_path):
    """write("name.csv", text, encoding="utf-8") -> Path"""
    def _write(name: str, text: str | bytes, encoding: str = "utf-8") -> Path:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_bytes(text.encode(encoding))
        return p
    return _write


@pytest.fixture(autouse=True)
def _default_language(monkeypatch):
    """Every test starts in the default language (Chinese), whatever the machine's locale, and a
    CLI call with --lang en (which exports QA_SCORER_LANG for worker processes) cannot leak into
    the next test."""
    for var in ("QA_SCORER_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    from qa_scorer import i18n

    i18n.set_language(None)
    yield
    i18n.set_language(None)


@pytest.fixture(scope="module")
def chinese_for_module():
    """For module-scoped audit folders (set up before any function fixture): written in the
    default language, Chinese, whatever the environment says."""
    from qa_scorer import i18n

    saved = os.environ.pop("QA_SCORER_LANG", None)
    i18n.set_language("zh")
    yield
    if saved is not None:
        os.environ["QA_SCORER_LANG"] = saved
    i18n.set_language(None)


# --- workspace: every workspace test runs on SQLite and on a real PostgreSQL server ------------

def _postgres_base_url() -> str | None:
    return os.environ.get("QA_SCORER_TEST_PG")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty workspace database: a SQLite file, or a new database on the PostgreSQL
    server that .ci/run starts (QA_SCORER_TEST_PG).  Under CI a missing server is a failure."""
    if request.param == "sqlite":
        yield str(tmp_path / "qa.db")
        return
    base = _postgres_base_url()
    if not base:
        if os.environ.get("CI"):
            pytest.fail("QA_SCORER_TEST_PG is not set: .ci/run starts PostgreSQL (.ci/postgres.sh)")
        pytest.skip("no PostgreSQL server: `source .ci/postgres.sh` starts one and sets QA_SCORER_TEST_PG")
    import uuid

    from sqlalchemy import create_engine

    from qa_scorer.workspace.db import resolve_url

    name = "qa_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(resolve_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield base.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(scope="session")
def sample_audit(tmp_path_factory):
    """The shipped samples audited once (the real pipeline, full tables kept): what the
    workspace tests record, chunk = the whole input, exactly as ``audit --db`` feeds its sink."""
    from qa_scorer import i18n
    from qa_scorer.pipeline import AuditOptions, audit

    i18n.set_language("zh")
    out = tmp_path_factory.mktemp("sample_audit")
    result = audit([ROOT / "sample_transcripts"], AuditOptions(out_dir=out / "out", keep_tables=True, html=False,
                                                               xlsx=False, executor="in-process"))
    i18n.set_language(None)
    return result


def record_audit(ws, result, conversations=None, rubric=None):
    """What ``audit --db`` does with each scored chunk, the whole input being one chunk; with
    ``conversations``/``rubric`` the same chats re-scored by another rubric (a new version)."""
    from qa_scorer.scoring import ScoredChunk

    info = {k: result.run_info[k] for k in ("qa_scorer_version", "model", "rubric", "settings")}
    if rubric is not None:
        info["rubric"] = rubric.to_dict()
    rec = ws.recorder(info)
    rec.add(result.messages, ScoredChunk(result.replies, result.rounds,
                                         result.conversations if conversations is None else conversations))
    return rec.finish(info, [])


@pytest.fixture
def sample_workspace(db_url, sample_audit):
    """A workspace holding the sample audit, with a lead, two reviewers and the agents 七七 and 阿杰."""
    from qa_scorer.workspace import Workspace

    ws = Workspace(db_url)
    record_audit(ws, sample_audit)
    ws.add_user("lead", "lead")
    ws.add_user("rev1", "reviewer")
    ws.add_user("rev2", "reviewer")
    ws.add_user("qiqi", "agent", agent="柚子家居旗舰店:七七")
    ws.add_user("ajie", "agent", agent="柚子家居旗舰店:阿杰")
    yield ws
    ws.close()
