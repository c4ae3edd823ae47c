"""Reading an audit output folder (``qa-scorer audit --out qa-report/``) back into tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

#: Files ``coach`` cannot work without, and the ones it uses when present.
REQUIRED_FILES = ("messages.csv", "replies.csv", "conversations.csv")
OPTIONAL_FILES = ("rounds.csv", "agents.csv", "rejected.csv")

#: Columns read as text (ids that look like numbers must stay text so the tables join).
TEXT_COLUMNS = (
    "conversation_id", "sender", "role", "text", "source_file", "shop", "agent", "customer",
    "customer_text", "tag_words", "forbidden_words", "score_items", "agents", "reason", "raw", "context", "receiver",
)
DATETIME_COLUMNS = ("sent_at", "started_at", "ended_at", "answered_at")


class AuditFolderError(ValueError):
    """The folder is not (or not completely) the output of ``qa-scorer audit``."""


def _hint(folder: Path) -> str:
    return f"run `qa-scorer audit INPUTS --out {folder}` first"


def read_table(path: Path) -> pd.DataFrame:
    """One audit CSV (UTF-8 with BOM): text columns stay text ('' not NaN), date columns parsed."""
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype={c: "string" for c in TEXT_COLUMNS},
                         keep_default_na=False, na_values=[""], low_memory=False)
    except pd.errors.EmptyDataError:
        raise AuditFolderError(f"{path}: the file is empty; {_hint(path.parent)}") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise AuditFolderError(f"{path}: not a readable audit CSV ({exc}); {_hint(path.parent)}") from None
    for col in TEXT_COLUMNS:
        if col in df.columns:
            df[col] = df[col].fillna("")
    for col in DATETIME_COLUMNS:
        if col not in df.columns:
            continue
        raw = df[col]
        parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        bad = parsed.isna() & raw.notna() & raw.astype("string").str.strip().ne("")
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise AuditFolderError(
                f"{path}: data row {row + 1}, column {col}: cannot read the date/time {raw.iloc[row]!r}; "
                "expected YYYY-MM-DD HH:MM:SS as written by qa-scorer audit"
            )
        df[col] = parsed
    return df


def load_audit_folder(folder) -> dict[str, Any]:
    """Read an audit folder: ``{"messages", "replies", "conversations", "rounds", "agents", "rejected": DataFrame,
    "run": dict}``.

    The three required tables must exist (the error names the missing file and says to run
    ``qa-scorer audit`` first); optional ones are absent from the dict when missing, and
    ``run`` is ``{}`` without run.json.
    """
    root = Path(folder)
    if not root.is_dir():
        raise AuditFolderError(f"{root}: no such folder; {_hint(root)}")
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise AuditFolderError(
            f"{root} is not an audit folder: {', '.join(missing)} missing; {_hint(root)}"
        )
    tables: dict[str, Any] = {}
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        path = root / name
        if path.is_file():
            tables[name.removesuffix(".csv")] = read_table(path)
    run_path = root / "run.json"
    tables["run"] = {}
    if run_path.is_file():
        try:
            tables["run"] = json.loads(run_path.read_text(encoding="utf-8-sig"))
        except ValueError as exc:
            raise AuditFolderError(f"{run_path}: not valid JSON ({exc}); {_hint(root)}") from None
    return tables
