"""The closed loop (docs/closed-loop.md): ``labels export`` and ``model list|add|evaluate|promote|
rollback|report``.  Each command parses options and calls ``qa_scorer.workspace.labels`` /
``qa_scorer.workspace.models``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import pandas as pd
import typer

from qa_scorer.commands.common import fail, plain
from qa_scorer.commands.workspace import db_option, show_table, workspace
from qa_scorer.i18n import _
from qa_scorer.schema import TAGS

labels_app = typer.Typer(help="Reviewers' decisions as labelled training examples.", no_args_is_help=True)
model_app = typer.Typer(help="The workspace's model registry: candidates, evaluation, promotion, rollback.",
                        no_args_is_help=True)


@labels_app.command("export")
def labels_export(
    out: Path = typer.Option(..., "--out", help="CSV to write (training corpus columns, then provenance)."),
    db: str = db_option(),
    since: Optional[str] = typer.Option(None, "--since", help="Only replies whose newest decision is at or after "
                                                              "this time (e.g. 2026-11-01)."),
    holdout: float = typer.Option(0.30, "--holdout", help="Share of the newest labelled replies marked split=test "
                                                          "(never trained on; what `model evaluate` measures)."),
) -> None:
    """Every confirmed, rejected or added reply tag as a labelled reply with its context.

    Example:  qa-scorer labels export --db qa.db --out labels.csv
    """
    from qa_scorer.workspace.labels import export_labels, label_counts, write_labels

    with workspace(db) as ws:
        df = export_labels(ws, since=since, holdout=holdout)
    write_labels(df, out)
    counts = label_counts(df)
    per_tag = ", ".join(f"{t} +{counts['tags'][t]['positive']}/-{counts['tags'][t]['negative']}" for t in TAGS)
    typer.echo(_("{rows} labelled replies ({complete} with all four tags known; {test} held out as test): {tags} "
                 "-> {out}").format(rows=counts["rows"], complete=counts["complete"],
                                    test=int((df["split"] == "test").sum()), tags=per_tag, out=plain(out)))


MODEL_COLUMNS = {"id": "#", "status": None, "name": None, "sha256": "sha256", "corpus_rows": None,
                 "created_at": None, "promoted_at": None, "promoted_by": None, "forced": None}


def _model_columns() -> dict[str, str]:
    labels = {"status": _("status"), "name": _("name"), "corpus_rows": _("corpus rows"), "created_at": _("added"),
              "promoted_at": _("promoted"), "promoted_by": _("by"), "forced": _("forced")}
    return {k: (v if v is not None else labels[k]) for k, v in MODEL_COLUMNS.items()}


@model_app.command("list")
def model_list(db: str = db_option()) -> None:
    """The registered models; the active one scores `audit --db` (none: the shipped model).

    Example:  qa-scorer model list --db qa.db
    """
    from qa_scorer.workspace.models import list_models

    with workspace(db) as ws:
        df = list_models(ws)
    df["sha256"] = df["sha256"].str[:12]
    show_table(df, _model_columns(), title=_("{n} model(s)").format(n=len(df)))
    if not (df["status"] == "active").any():
        typer.echo(_("no model is active: audits score with the shipped model"))


@model_app.command("add")
def model_add(file: Path = typer.Argument(..., help="A model trained by `qa-scorer train` (.skops)."),
              db: str = db_option(), by: Optional[str] = typer.Option(None, "--by", help="Who adds it.")) -> None:
    """Store a trained model in the workspace as a candidate.

    Example:  qa-scorer model add candidate.skops --db qa.db --by 组长
    """
    from qa_scorer.workspace.models import register_model

    if not file.is_file():
        fail(_("model file not found: {path}").format(path=plain(file)))
    with workspace(db) as ws:
        info = register_model(ws, file, actor=by)
    typer.echo(_("model {id} ({sha}) is a {status}").format(id=info["id"], sha=info["sha256"][:12],
                                                          status=_(info["status"])))


def _ref(ws, ref: str, by: Optional[str]) -> int:
    """A model id; a path to a .skops file is added first."""
    from qa_scorer.workspace.models import register_model, resolve

    path = Path(ref)
    if path.suffix == ".skops" and path.is_file():
        return int(register_model(ws, path, actor=by)["id"])
    return resolve(ws, ref)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _print_evaluation(result: dict) -> None:
    cand, act = result["models"]["candidate"], result["models"]["active"]
    rows = []
    for t in TAGS:
        c, a = cand["heldout"]["per_tag"].get(t, {}), act["heldout"]["per_tag"].get(t, {})
        for k in ("precision", "recall", "f1", "false_flags"):
            rows.append({"metric": _("held-out {tag} {what}").format(tag=t, what=k), "candidate": _fmt(c.get(k)),
                         "active": _fmt(a.get(k))})
    for k, label in (("macro_f1", _("held-out macro-F1")), ("agreement", _("held-out agreement")),
                     ("fine_flag_rate", _("held-out fine replies flagged"))):
        rows.append({"metric": label, "candidate": _fmt(cand["heldout"][k]), "active": _fmt(act["heldout"][k])})
    if cand["blind"] is not None:
        for t in TAGS:
            rows.append({"metric": _("blind {tag} F1").format(tag=t),
                         "candidate": _fmt(cand["blind"]["per_tag"][t]["f1"]),
                         "active": _fmt(act["blind"]["per_tag"][t]["f1"])})
        rows.append({"metric": _("blind macro-F1"), "candidate": _fmt(cand["blind"]["macro_f1"]),
                     "active": _fmt(act["blind"]["macro_f1"])})
        rows.append({"metric": _("blind fine replies flagged"), "candidate": _fmt(cand["blind"]["fine_flag_rate"]),
                     "active": _fmt(act["blind"]["fine_flag_rate"])})
    active_label = (_("model {id}").format(id=result["active"]) if result["active"] is not None
                    else _("shipped model"))
    show_table(pd.DataFrame(rows), {"metric": _("metric"), "candidate": _("model {id}").format(id=result["candidate"]),
                                    "active": active_label},
               title=_("{held} held-out labelled replies (newest {share:.0%} of {n}), {blind} blind replies").format(
                   held=result["heldout_rows"], share=result["holdout_share"], n=result["labels"],
                   blind=result["blind_rows"]))
    checks = pd.DataFrame([{**c, "passed": _("yes") if c["passed"] else _("NO"), "candidate": _fmt(c["candidate"]),
                            "active": _fmt(c["active"])} for c in result["checks"]])
    show_table(checks, {"check": _("check"), "passed": _("passed"), "candidate": _("candidate"),
                        "active": _("active"), "rule": _("rule")}, title=_("promotion gate"))
    typer.echo(_("gate passed: the candidate may be promoted") if result["passed"]
               else _("gate failed: `model promote` refuses it unless --force --reason ..."))


@model_app.command("evaluate")
def model_evaluate(
    ref: str = typer.Argument(..., help="Model id, sha256 prefix, or a .skops file (added as a candidate)."),
    db: str = db_option(),
    by: Optional[str] = typer.Option(None, "--by", help="Who evaluates (audit trail)."),
    blind: Optional[List[Path]] = typer.Option(None, "--blind", help="Blind challenge CSV(s) (default: "
                                               "models/challenge/blind_*.csv)."),
    holdout: float = typer.Option(0.30, "--holdout", help="Share of the newest labelled replies held out."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Compare a candidate with the active model on the shop's newest reviewed replies and the blind set.

    Example:  qa-scorer model evaluate candidate.skops --db qa.db
    """
    from qa_scorer.workspace.models import evaluate

    with workspace(db) as ws:
        result = evaluate(ws, _ref(ws, ref, by), blind_paths=blind or None, holdout=holdout, actor=by)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    _print_evaluation(result)


@model_app.command("promote")
def model_promote(
    ref: str = typer.Argument(..., help="Model id or sha256 prefix."),
    by: str = typer.Option(..., "--by", help="The lead promoting it."),
    db: str = db_option(),
    force: bool = typer.Option(False, "--force", help="Promote even if the gate fails (needs --reason; logged)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required with --force)."),
    blind: Optional[List[Path]] = typer.Option(None, "--blind", help="Blind challenge CSV(s)."),
) -> None:
    """Make a candidate the active model, after the gate (docs/closed-loop.md).

    Example:  qa-scorer model promote 2 --by 组长 --db qa.db
    """
    from qa_scorer.workspace.models import promote

    with workspace(db) as ws:
        done = promote(ws, _ref(ws, ref, by), actor=by, force=force, reason=reason, blind_paths=blind or None)
    msg = _("model {id} is now active (was: {old})").format(
        id=done["model"], old=done["from"] if done["from"] is not None else _("shipped model"))
    typer.echo(msg + (" " + _("[forced past the gate]") if done["forced"] else ""))


@model_app.command("rollback")
def model_rollback(
    by: str = typer.Option(..., "--by", help="The lead rolling back."),
    reason: str = typer.Option(..., "--reason", help="Why (logged)."),
    db: str = db_option(),
    to: Optional[str] = typer.Option(None, "--to", help="Activate this model instead of the previous one."),
) -> None:
    """Retire the active model and re-activate the one it replaced (none: the shipped model).

    Example:  qa-scorer model rollback --by 组长 --reason "误报增多" --db qa.db
    """
    from qa_scorer.workspace.models import rollback

    with workspace(db) as ws:
        done = rollback(ws, actor=by, reason=reason, to=to)
    typer.echo(_("model {old} retired; active now: {new}").format(
        old=done["from"] if done["from"] is not None else "-",
        new=done["to"] if done["to"] is not None else _("shipped model")))


@model_app.command("report")
def model_report(
    db: str = db_option(),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the tables to this .xlsx (or a folder of CSVs)."),
    freq: str = typer.Option("M", "--freq", help="Agreement per month (M) or week (W)."),
) -> None:
    """The lead's view of the loop: labels, model-vs-human agreement over time, model changes.

    Example:  qa-scorer model report --db qa.db --out loop.xlsx
    """
    from qa_scorer.workspace.models import loop_report

    if freq not in ("M", "W"):
        fail(_("--freq must be M (month) or W (week)"))
    with workspace(db) as ws:
        rep = loop_report(ws, freq=freq)
    s = rep["summary"].iloc[0]
    typer.echo(_("{labels} labelled replies ({complete} complete, {heldout} held out); {models} model(s) "
                 "registered").format(labels=s["labels"], complete=s["complete"], heldout=s["heldout"],
                                      models=s["models"]))
    show_table(rep["labels"], {"tag": _("tag"), "positive": _("positive"), "negative": _("negative"),
                               "unknown": _("unknown")}, title=_("labels"))
    show_table(rep["agreement"], {"period": _("period"), "item": _("tag"), "decisions": _("decisions"),
                                  "agreed": _("confirmed"), "agreement": _("agreement")},
               title=_("model vs human (confirmed share of review decisions)"))
    show_table(rep["model_changes"], {"at": _("time"), "kind": _("change"), "model": _("model"), "from": _("from"),
                                      "actor": _("by"), "forced": _("forced"), "reason": _("reason")},
               title=_("model changes"))
    if out is not None:
        from qa_scorer.workspace.exports import write_sheets

        written = write_sheets(out, rep)
        typer.echo(_("wrote {files}").format(files=", ".join(plain(p) for p in written)))


def register(app: typer.Typer) -> None:
    app.add_typer(labels_app, name="labels")
    app.add_typer(model_app, name="model")
