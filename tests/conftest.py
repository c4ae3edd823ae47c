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
