"""Merge the labelled parts into models/training/corpus.csv with a fixed train/validation/test split.

    PYTHONPATH=. python models/training/build_corpus.py [--seed 0]

Steps (each one reports its counts):
1. read every ``models/training/parts/*.csv`` (columns text,context,pushy,unhelpful,rude,overclaim,source);
   a wrong column, an empty text or a label other than 0/1 stops with file and line;
2. drop exact (text, context) duplicates; when copies disagree on the labels, all copies
   are dropped and listed (the disagreement means the row is ambiguous);
3. split 70/15/15 by *group*: rows sharing ``source`` are variants of one base sentence and
   must stay together, and groups that contain the same reply text (ignoring punctuation and
   spaces) are joined too, so no test reply has a twin in training.  The split is *stable*:
   the rows of the original parts (``EXPECTED_PARTS``) are split exactly as before they had
   company; a unit of a later part that shares a group or reply text with them follows their
   split (when they disagree, the split holding most of them; the rows moved are listed);
   units made only of later-part rows are split 70/15/15 among themselves.  So adding a part
   never reshuffles the test split the earlier figures were measured on;
4. write corpus.csv (UTF-8) with a ``split`` column.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from qa_scorer.classifier import SPLITS, split_by_group  # noqa: E402
from qa_scorer.classifier.files import read_csv_text  # noqa: E402
from qa_scorer.classifier.model import CorpusError  # noqa: E402
from qa_scorer.schema import TAGS  # noqa: E402

COLUMNS = ["text", "context", *TAGS, "source"]
EXPECTED_PARTS = ("pushy_overclaim", "unhelpful_rude")


def read_part(path: Path) -> pd.DataFrame:
    df = read_csv_text(path)
    if list(df.columns) != COLUMNS:
        raise CorpusError(f"{path}: columns are {', '.join(df.columns)}; expected exactly {', '.join(COLUMNS)}")
    for col in ("text", "context", "source"):
        df[col] = df[col].str.strip()
    for i, row in enumerate(df.itertuples(index=False), start=2):
        if not row.text:
            raise CorpusError(f"{path} line {i}: empty text")
        if not row.source:
            raise CorpusError(f"{path} line {i}: empty source (every row needs its group id)")
        for tag in TAGS:
            if getattr(row, tag) not in ("0", "1"):
                raise CorpusError(f"{path} line {i}: {tag} must be 0 or 1, got {getattr(row, tag)!r}")
    for tag in TAGS:
        df[tag] = df[tag].astype("int64")
    df.insert(0, "part", path.stem)
    return df


def drop_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept rows, conflicting rows dropped).  Exact copies keep their first occurrence."""
    key = ["text", "context"]
    label_sets = df.groupby(key)[list(TAGS)].nunique().max(axis=1)
    conflicting = label_sets[label_sets > 1].index
    is_conflict = df.set_index(key).index.isin(conflicting)
    conflicts = df[is_conflict]
    kept = df[~is_conflict].drop_duplicates(subset=key, keep="first")
    return kept, conflicts


def split_units(df: pd.DataFrame) -> pd.Series:
    """A unit id per row: sources joined when they share a reply text (punctuation/space-insensitive)."""
    sources, source_idx = np.unique(df["source"].to_numpy(dtype=str), return_inverse=True)
    key = (df["text"].str.lower().str.replace(r"[\W_]+", "", regex=True)
           .str.replace(r"\[[^\]]*\]", "", regex=True))
    texts, text_idx = np.unique(key.to_numpy(dtype=str), return_inverse=True)
    n = len(sources) + len(texts)
    graph = coo_matrix((np.ones(len(df)), (source_idx, len(sources) + text_idx)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return pd.Series([f"unit{labels[i]:05d}" for i in source_idx], index=df.index)


def stable_split(df: pd.DataFrame, units: pd.Series, seed: int) -> pd.Series:
    """Split by unit, keeping the rows of ``EXPECTED_PARTS`` exactly where they were without later parts."""
    is_base = df["part"].isin(EXPECTED_PARTS)
    split = pd.Series("", index=df.index, dtype=object)
    if is_base.any():
        base = df[is_base]
        split[is_base] = split_by_group(split_units(base), seed=seed).to_numpy()
    # Per joined unit: the split most of its base rows are in ("" when it has none).
    base_split = split[is_base].groupby(units[is_base]).agg(lambda s: s.value_counts().index[0])
    unit_split = units.map(base_split).fillna("")
    moved = is_base & (unit_split != "") & (unit_split != split)
    if moved.any():
        print(f"  {int(moved.sum())} rows of the original parts follow a later part's unit into another split:")
        for _, row in df[moved].iterrows():
            print(f"    {row['text']!r} | {row['context']!r} {split[_]} -> {unit_split[_]}")
    new_only = unit_split == ""
    out = unit_split.where(~new_only, "")
    if new_only.any():
        out[new_only] = split_by_group(units[new_only], seed=seed).to_numpy()
    print(f"  rows of later parts: {int((~is_base).sum())}, of which {int((~is_base & ~new_only).sum())} "
          f"follow an original unit's split and {int(new_only.sum())} are split among themselves")
    return out


def check_disjoint(df: pd.DataFrame) -> None:
    """Stop when a source group or a reply text (punctuation-insensitive) sits in two splits."""
    key = df["text"].str.lower().str.replace(r"[\W_]+", "", regex=True)
    for name, col in (("source group", df["source"]), ("reply text", key)):
        n_splits = df.groupby(col.to_numpy())["split"].nunique()
        if (n_splits > 1).any():
            raise CorpusError(f"{name}s in several splits: {', '.join(map(str, n_splits[n_splits > 1].index[:5]))}")
    print("split check: every source group and every reply text sits in one split")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", type=Path, default=HERE / "parts")
    parser.add_argument("--out", type=Path, default=HERE / "corpus.csv")
    args = parser.parse_args()

    paths = sorted(args.parts.glob("*.csv"))
    for name in EXPECTED_PARTS:
        done = args.parts / f".{name}_done"
        print(f"part {name}: {'done' if done.exists() else 'NOT marked done'}"
              f"{'' if (args.parts / f'{name}.csv').exists() else ' (file missing)'}")
    if not paths:
        raise SystemExit(f"no parts in {args.parts}")
    parts = [read_part(p) for p in paths]
    df = pd.concat(parts, ignore_index=True)
    for part in parts:
        tags = ", ".join(f"{t} {int(part[t].sum())}" for t in TAGS)
        fine = int((part[list(TAGS)].sum(axis=1) == 0).sum())
        print(f"  {part['part'].iloc[0]}: {len(part)} rows, {part['source'].nunique()} groups; {tags}; fine {fine}")

    kept, conflicts = drop_duplicates(df)
    print(f"exact (text, context) duplicates dropped: {len(df) - len(kept) - len(conflicts)}; "
          f"rows with conflicting labels dropped: {len(conflicts)}")
    for _, row in conflicts.iterrows():
        print(f"    conflict: {row['text']!r} | {row['context']!r} | "
              + ",".join(str(row[t]) for t in TAGS) + f" | {row['source']}")

    units = split_units(kept)
    sizes = units.value_counts()
    print(f"{kept['source'].nunique()} source groups -> {len(sizes)} split units "
          f"(largest unit {sizes.iloc[0]} rows, {(sizes > 1).sum()} units with several rows)")
    kept = kept.assign(split=stable_split(kept, units, seed=args.seed).to_numpy())
    check_disjoint(kept)

    out = kept[COLUMNS + ["split"]].reset_index(drop=True)
    out.to_csv(args.out, index=False, encoding="utf-8")
    print(f"wrote {len(out)} rows to {args.out}")
    header = f"{'split':<11}{'rows':>6}{'groups':>8}" + "".join(f"{t:>11}" for t in TAGS) + f"{'fine':>7}"
    print(header)
    for split in SPLITS:
        part = out[out["split"] == split]
        fine = int((part[list(TAGS)].sum(axis=1) == 0).sum())
        print(f"{split:<11}{len(part):>6}{part['source'].nunique():>8}"
              + "".join(f"{int(part[t].sum()):>11}" for t in TAGS) + f"{fine:>7}")


if __name__ == "__main__":
    try:
        main()
    except CorpusError as exc:
        raise SystemExit(f"error: {exc}")
