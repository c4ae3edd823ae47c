"""``qa-scorer train / evaluate / tag``: the reply classifier on the command line.

Commands only parse options, call ``qa_scorer.classifier`` and print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qa_scorer.schema import TAGS

console = Console()


def _fail(message: str) -> None:
    from qa_scorer.i18n import _

    typer.echo(_("Error: {message}").format(message=message), err=True)
    raise typer.Exit(code=2)


def _report_table(report, title: str) -> Table:
    table = Table(title=title)
    for col in ("tag", "precision", "recall", "F1", "support", "flagged", "threshold"):
        table.add_column(col, justify="left" if col == "tag" else "right")
    for tag, row in report.per_tag.iterrows():
        threshold = f"{row['threshold']:.3f}" if "threshold" in row else "-"
        table.add_row(tag, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                      str(int(row["support"])), str(int(row["flagged"])), threshold)
    table.caption = (f"fine replies flagged: {report.fine_flagged}/{report.fine_rows} "
                     f"= {report.fine_flag_rate:.2%}  (rows: {report.rows})")
    return table


def _load(model_path: Optional[Path]):
    from qa_scorer.classifier import ModelError, load_model

    try:
        return load_model(model_path)
    except ModelError as exc:
        _fail(str(exc))


def train(
    data: Optional[Path] = typer.Argument(None, help="Labelled corpus CSV: text,context,pushy,unhelpful,rude,overclaim,source[,split]."),
    corpus_opt: Optional[Path] = typer.Option(None, "--corpus", help="The base corpus (same as DATA)."),
    add: Optional[Path] = typer.Option(None, "--add", help="Shop labels from `qa-scorer labels export`: their complete "
                                       "'train' rows join the training rows, 'test' rows are never fitted."),
    weight_shop: int = typer.Option(1, "--weight-shop", min=1, help="With --add: each shop training row counts N times."),
    parent: Optional[Path] = typer.Option(None, "--parent", help="The model this one replaces (recorded as a parent)."),
    out: Path = typer.Option(Path("models/reply_tagger.skops"), "--out", help="Where to write the model (.skops)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the group split (if DATA has no split column) and the folds."),
    threshold_folds: int = typer.Option(5, "--threshold-folds", min=0,
                                        help="Out-of-fold predictions on the train rows that join the validation "
                                             "split for placing thresholds (0 = validation split only: faster)."),
    cv_folds: int = typer.Option(0, "--cv-folds", help="Also print N-fold grouped cross-validation on train+validation (0 = skip)."),
) -> None:
    """Train the reply classifier on the train split; thresholds come from held-out predictions
    (validation split + out-of-fold train predictions); the test split is left untouched.

    With --add, the shop's own labels (docs/closed-loop.md) are trained on too; the model records the
    corpus hash, the label counts and its parents (base corpus, labels, --parent).

    Example:  qa-scorer train models/training/corpus.csv --out models/reply_tagger.skops --seed 0

    Example:  qa-scorer train --corpus models/training/corpus.csv --add labels.csv --weight-shop 2 --out candidate.skops
    """
    import hashlib

    from qa_scorer.classifier import CorpusError, corpus_fingerprint, cross_validate, save_model, train_model
    from qa_scorer.classifier.files import InputFileError, read_corpus
    from qa_scorer.i18n import _

    if (data is None) == (corpus_opt is None):
        _fail(_("give the base corpus once: as DATA or as --corpus"))
    data = data or corpus_opt
    facts = None
    try:
        corpus = read_corpus(data)
        base_info = {"name": Path(data).name, "corpus_sha256": corpus_fingerprint(corpus), "rows": int(len(corpus))}
        if add is not None:
            from qa_scorer.workspace.db import WorkspaceError
            from qa_scorer.workspace.labels import read_labels, training_frame

            try:
                corpus, facts = training_frame(corpus, read_labels(add), weight=weight_shop)
            except WorkspaceError as exc:
                _fail(str(exc))
        model = train_model(corpus, seed=seed, name=str(data), threshold_folds=threshold_folds)
    except (CorpusError, InputFileError) as exc:
        _fail(str(exc))
    parents = {"base_corpus": base_info}
    if facts is not None:
        parents["shop_labels"] = {"name": Path(add).name, "labels_sha256": facts["labels_sha256"]}
        model.metadata_["shop_labels"] = facts
    if parent is not None:
        parents["model"] = {"name": parent.name, "file_sha256": hashlib.sha256(parent.read_bytes()).hexdigest()}
    model.metadata_["parents"] = parents
    save_model(model, out)
    meta = model.metadata_
    console.print(f"trained on {meta['rows']['train']} rows ({meta['groups']['train']} groups); "
                  f"validation {meta['rows']['validation']} rows; test {meta['rows']['test']} rows left untouched")
    if facts is not None:
        typer.echo(_("shop labels: {train} training rows (x{w}), {test} held out, {skipped} incomplete rows "
                     "skipped").format(train=facts["train_rows"], w=facts["weight"], test=facts["test_rows"],
                                       skipped=facts["skipped_incomplete"]))
    from qa_scorer.classifier import evaluate_model
    valid = corpus[corpus["split"] == "validation"] if "split" in corpus.columns else None
    if valid is not None and len(valid):
        console.print(_report_table(evaluate_model(model, valid), "validation split"))
    if cv_folds:
        trainval = corpus[corpus["split"].isin(["train", "validation"])] if "split" in corpus.columns else corpus
        console.print(_report_table(cross_validate(trainval, model.thresholds_, seed=seed, folds=cv_folds),
                                    f"{cv_folds}-fold grouped cross-validation on train+validation"))
    console.print(f"model written to {escape(str(out))}")


def evaluate(
    data: Optional[Path] = typer.Argument(None, help="Labelled CSV (same columns as the corpus)."),
    model_path: Optional[Path] = typer.Option(None, "--model", help="Model file (default: the shipped reply_tagger.skops)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    split: Optional[str] = typer.Option(None, "--split", help="Only rows of this split (train/validation/test); needs a split column."),
    real: Optional[Path] = typer.Option(None, "--real", help="Real agent turns without tag labels: a CSV (text, context, "
                                        "optional not_helpful_share) or a folder with agent_turns.csv, e.g. "
                                        "../shared/eval/stc3. Reports flag rates, AUROC against the annotators' "
                                        "not-helpful share and a sample of flagged turns to read."),
    sample: int = typer.Option(20, "--sample", min=0, help="With --real: flagged turns to show."),
) -> None:
    """Per-tag precision/recall/F1, support and the share of fine replies flagged.

    Example:  qa-scorer evaluate models/training/corpus.csv --split test --json
              qa-scorer evaluate --real ../shared/eval/stc3
    """
    from qa_scorer.classifier import SPLITS, CorpusError, evaluate_model
    from qa_scorer.classifier.files import InputFileError, read_corpus

    if real is not None:
        _evaluate_real(real, model_path, as_json, sample)
        return
    if data is None:
        _fail("give a labelled CSV, or --real PATH for real turns without tag labels")

    try:
        df = read_corpus(data)
    except (CorpusError, InputFileError) as exc:
        _fail(str(exc))
    if split is not None:
        if split not in SPLITS:
            _fail(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
        if "split" not in df.columns:
            _fail(f"{data}: --split {split} given but the file has no 'split' column")
        df = df[df["split"] == split]
        if df.empty:
            _fail(f"{data}: no rows with split == {split!r}")
    model = _load(model_path)
    report = evaluate_model(model, df, name=str(data))
    if as_json:
        payload = {"data": str(data), "split": split, "model_version": model.version_, "model": model.describe(),
                   **report.to_dict()}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        console.print(_report_table(report, escape(str(data)) + (f" (split {escape(split)})" if split else "")))


def _evaluate_real(path: Path, model_path: Optional[Path], as_json: bool, sample: int) -> None:
    from qa_scorer.classifier.real_eval import evaluate_real_turns, read_real_turns

    try:
        turns = read_real_turns(path)
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    model = _load(model_path)
    report = evaluate_real_turns(model, turns, sample=sample)
    if as_json:
        typer.echo(json.dumps({"data": str(path), "model": model.describe(), **report}, ensure_ascii=False, indent=2))
        return
    table = Table(title=escape(f"{path} ({report['turns']:,} turns)"))
    table.add_column("tag")
    table.add_column("flagged", justify="right")
    for t in TAGS:
        table.add_row(t, f"{report['flag_rate'][t]:.2%}")
    console.print(table)
    nh = report.get("not_helpful")
    if nh:
        def fmt(v, pct=False):
            return "-" if v is None else (f"{v:.1%}" if pct else f"{v:.3f}")
        console.print(escape(
            f"not helpful (share > 0.5): {nh['positives']:,} turns; AUROC p_unhelpful {fmt(nh['auroc_p_unhelpful'])}, "
            f"strongest complaint tag {fmt(nh['auroc_strongest_complaint_tag'])}; unhelpful tag precision "
            f"{fmt(nh['unhelpful_precision'], True)}, recall {fmt(nh['unhelpful_recall'], True)}"))
    for row in report["sample"]:
        console.print(escape(f"[{row['tags']}] {row['text'][:120]}  <- {row['context'][:60]}  ({row['words']})"))


def tag(
    text: Optional[str] = typer.Argument(None, help="One reply to tag."),
    context: str = typer.Option("", "--context", help="The buyer's message the reply answers."),
    input_path: Optional[Path] = typer.Option(None, "--input", help="CSV with a 'text' column (and optional 'context')."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output CSV for --input (UTF-8 with BOM)."),
    model_path: Optional[Path] = typer.Option(None, "--model", help="Model file (default: the shipped reply_tagger.skops)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes for --input."),
    words: bool = typer.Option(False, "--words", help="With --input: also write the tag_words column."),
) -> None:
    """Tag one reply (tags, probabilities, the words behind each tag) or a CSV of replies.

    Example:  qa-scorer tag "最后一件了，不拍就没了" --context "还有货吗"
    Example:  qa-scorer tag --input replies.csv --out tagged.csv
    """
    from qa_scorer.classifier import explain
    from qa_scorer.classifier.files import InputFileError, tag_csv

    if (text is None) == (input_path is None):
        _fail("give either one TEXT or --input FILE.csv (with --out OUT.csv)")
    if input_path is not None:
        if out is None:
            _fail("--input needs --out OUT.csv")
        model = _load(model_path)
        try:
            tagged = tag_csv(input_path, out, model, workers=workers, with_words=words)
        except InputFileError as exc:
            _fail(str(exc))
        counts = ", ".join(f"{t} {int(tagged[t].sum())}" for t in TAGS)
        console.print(f"tagged {len(tagged)} rows ({counts}) -> {escape(str(out))}")
        return
    model = _load(model_path)
    result = explain(model, text, context)
    from qa_scorer.commands.common import safe  # the reply and context are text, never rich markup

    table = Table(title=safe(text, 400) + (f"  (买家: {safe(context, 400)})" if context else ""))
    for col in ("tag", "flagged", "p", "threshold", "words"):
        table.add_column(col, justify="right" if col in ("p", "threshold") else "left")
    for t, r in result.items():
        table.add_row(t, "YES" if r["flagged"] else "no", f"{r['p']:.3f}", f"{r['threshold']:.3f}",
                      ", ".join(w for w, _ in r["words"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("tag")(tag)
