"""Chinese-first messages: the gettext catalog is complete and compiled, the language is chosen as
documented, and the column dictionary (docs/columns.md) covers every column of a real audit."""

from __future__ import annotations

import gettext
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa_scorer import i18n
from qa_scorer.i18n import _, set_language, use_language

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "qa_scorer" / "locale" / "zh_CN" / "LC_MESSAGES" / "qa_scorer.po"
MO = PO.with_suffix(".mo")

babel = pytest.importorskip("babel", reason="Babel is a test dependency (pip install -e '.[test]')")


@pytest.fixture(autouse=True)
def _restore_language(monkeypatch):
    for var in ("QA_SCORER_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    yield
    set_language("zh")


def _po():
    from babel.messages.pofile import read_po

    with PO.open("rb") as fh:
        return read_po(fh)


def _extracted_ids() -> set:
    """Every message in the code and templates, extracted with babel.cfg as pybabel extract does."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    ids = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            str(ROOT / "qa_scorer"), method_map, options_map):
        ids.add((context, message if isinstance(message, str) else message[0]))
    return ids


def test_every_message_in_the_code_has_a_chinese_translation():
    catalog = _po()
    translated = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog
                  if m.id and m.string and not m.fuzzy}
    missing = sorted(_extracted_ids() - translated, key=str)
    assert not missing, ("messages without a Chinese translation - run the commands in docs/translating.md: "
                         f"{missing}")


def test_translations_keep_their_placeholders():
    for m in _po():
        if not m.id or not m.string:
            continue
        wanted = set(re.findall(r"\{(\w*)\}", m.id))
        assert set(re.findall(r"\{(\w*)\}", m.string)) == wanted, (m.id, m.string)


def test_mo_is_compiled_from_the_current_po():
    from babel.messages.mofile import write_mo

    buf = io.BytesIO()
    write_mo(buf, _po())
    fresh = gettext.GNUTranslations(io.BytesIO(buf.getvalue()))
    with MO.open("rb") as fh:
        shipped = gettext.GNUTranslations(fh)
    assert shipped._catalog == fresh._catalog, (
        "qa_scorer.mo is out of date: pybabel compile -d qa_scorer/locale -D qa_scorer")


def test_chinese_by_default_english_on_request(monkeypatch):
    assert set_language(None) == "zh" and _("Mean conversation score") == "会话平均服务分"
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert set_language(None) == "zh"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert set_language(None) == "en" and _("Mean conversation score") == "Mean conversation score"
    monkeypatch.setenv("QA_SCORER_LANG", "zh_CN")  # the variable beats the locale
    assert set_language(None) == "zh"
    with use_language("en"):
        assert _("Agent") == "Agent"
    assert _("Agent") == "客服"
    with pytest.raises(ValueError):
        set_language("fr")


def test_runtime_needs_no_babel():
    code = ("import sys, qa_scorer.cli, qa_scorer.report\n"
            "from qa_scorer.i18n import _\n"
            "assert _('Agent') == '客服', _('Agent')\n"
            "assert not [m for m in sys.modules if m == 'babel' or m.startswith('babel.')]\n")
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("QA_SCORER_LANG", "LANGUAGE", "LC_ALL", "LANG")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


def test_formats_follow_the_language():
    from qa_scorer.report.common import fmt_rate, fmt_seconds

    assert fmt_seconds(192) == "3分12秒" and fmt_seconds(42) == "42秒" and fmt_rate(0.857) == "85.7%"
    with use_language("en"):
        assert fmt_seconds(192) == "3 min 12 s" and fmt_seconds(3900) == "1 h 5 min"


def test_column_dictionary_covers_a_real_audit(tmp_path):
    from qa_scorer.pipeline import AuditOptions, audit
    from qa_scorer.report.columns import audit_folder_columns, column_label, is_known

    audit([str(ROOT / "sample_transcripts")], AuditOptions(out_dir=tmp_path, html=False, xlsx=False, tags=False))
    tables = audit_folder_columns(tmp_path)
    assert set(tables) == {"messages", "rejected", "replies", "rounds", "conversations", "agents"}
    docs = (ROOT / "docs" / "columns.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\w+)\.csv\n(.*?)(?=^## |\Z)", docs, flags=re.S | re.M))
    for table, columns in tables.items():
        unknown = [c for c in columns if not is_known(c)]
        assert not unknown, f"{table}.csv columns without a label in qa_scorer/report/columns.py: {unknown}"
        undocumented = [c for c in columns if f"| `{c}` | {column_label(c)} |" not in sections.get(table, "")]
        assert not undocumented, (f"docs/columns.md is missing {table}.csv columns {undocumented}: "
                                  "python -m qa_scorer.report.columns > docs/columns.md")
