"""CSV in/out for the classifier commands (corpus files, reply files to tag, tagged output)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from qa_scorer.classifier.model import ReplyClassifier, validate_corpus
from qa_scorer.classifier.tagging import tag_replies
from qa_scorer.ingest.encoding import DecodeError, decode_bytes
from qa_scorer.safety import excel_safe
from qa_scorer.schema import TAGS


class InputFileError(ValueError):
    """A CSV given on the command line cannot be used; the message names the file and the fix."""


def read_csv_text(path: str | Path) -> pd.DataFrame:
    """All columns as strings, empty cells as "" (encoding detected by ``qa_scorer.ingest.encoding``:
    UTF-8 with or without BOM, UTF-16, GBK/GB18030)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        text, _ = decode_bytes(path.read_bytes())
    except DecodeError as exc:
        raise InputFileError(f"{path}: {exc.reason}; save it as UTF-8 CSV") from None
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(f"{path}: not a readable CSV file ({exc})") from None


def read_corpus(path: str | Path) -> pd.DataFrame:
    """A labelled corpus CSV, checked (``validate_corpus``; errors name file and line)."""
    df = read_csv_text(path)
    clean = validate_corpus(df, str(path))
    if "split" in df.columns:
        clean["split"] = df["split"].str.strip()
    return clean


def read_replies(path: str | Path) -> pd.DataFrame:
    """A CSV of replies to tag: needs ``text``; ``context`` optional; must not carry tag columns."""
    df = read_csv_text(path)
    if "text" not in df.columns:
        raise InputFileError(
            f"{path}: no 'text' column; it has: {', '.join(map(str, df.columns)) or '(no columns)'}. "
            "Name the reply column 'text' (and the buyer's preceding message 'context')."
        )
    clash = [c for c in (*TAGS, *(f"p_{t}" for t in TAGS)) if c in df.columns]
    if clash:
        raise InputFileError(
            f"{path}: already has column(s) {', '.join(clash)}, which tagging would overwrite; "
            "rename them first (or use `qa-scorer evaluate` to compare labels with the model)."
        )
    return df


def tag_csv(input_path: str | Path, output_path: str | Path, model: ReplyClassifier, *, workers: int = 1,
            with_words: bool = False) -> pd.DataFrame:
    """Tag a replies CSV and write it: the input rows in order + tags and probabilities.

    Written as UTF-8 with BOM (Excel shows Chinese), cells neutralised against spreadsheet
    formulas (chat text is untrusted).
    """
    replies = read_replies(input_path)
    tagged = tag_replies(replies, model, workers=workers, with_words=with_words)
    columns = [*replies.columns, *TAGS, *(f"p_{t}" for t in TAGS)] + (["tag_words"] if with_words else [])
    out = tagged[columns].copy()
    for t in TAGS:
        out[f"p_{t}"] = out[f"p_{t}"].round(4)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    excel_safe(out).to_csv(output_path, index=False, encoding="utf-8-sig")
    return out
