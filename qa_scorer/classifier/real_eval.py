"""How the tagger behaves on real agent turns that carry human judgements (e.g. STC-3).

    turns = read_real_turns("../shared/eval/stc3")          # text, context[, not_helpful_share]
    report = evaluate_real_turns(model, turns, sample=20)

Real chats seldom come with per-tag labels, so the report measures what they do support:
- how often each tag fires (false alarms dominate on polite real text: e.g. the share of turns
  tagged rude, most of which a reader rejects);
- when the turns carry the share of annotators who found them unhelpful
  (``not_helpful_share``), how well ``p_unhelpful`` (and the strongest of the complaint tags)
  ranks the turns most annotators found unhelpful first (AUROC against share > 0.5), and
  precision/recall of the unhelpful tag against that label;
- a fixed-seed sample of flagged turns to read.
Nothing here is written to the repository: the real text stays where it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from qa_scorer.schema import TAGS

__all__ = ["read_real_turns", "evaluate_real_turns"]


def read_real_turns(path: str | Path) -> pd.DataFrame:
    """A CSV of agent turns (``text``, optional ``context`` and ``not_helpful_share``), or a folder
    holding ``agent_turns.csv`` (the STC-3 evaluation layout)."""
    from qa_scorer.classifier.files import read_csv_text

    p = Path(path)
    if p.is_dir():
        p = p / "agent_turns.csv"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: not found (give a CSV of agent turns or a folder with agent_turns.csv)")
    df = read_csv_text(p)
    if "text" not in df.columns:
        raise ValueError(f"{p}: no 'text' column; it has: {', '.join(map(str, df.columns))}")
    if "context" not in df.columns:
        df["context"] = ""
    return df


def _auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    if labels.min() == labels.max():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def evaluate_real_turns(model, turns: pd.DataFrame, *, sample: int = 20, seed: int = 0) -> dict:
    """Flag rates, AUROC against ``not_helpful_share > 0.5`` (when present) and a sample of
    flagged turns (``sample`` of them, fixed seed)."""
    from qa_scorer.classifier import tag_replies

    tagged = tag_replies(turns[["text", "context"]].fillna(""), model)
    report: dict = {"turns": int(len(turns)),
                    "flag_rate": {t: float(tagged[t].mean()) for t in TAGS},
                    "any_flag_rate": float(tagged[list(TAGS)].any(axis=1).mean())}
    if "not_helpful_share" in turns.columns:
        share = pd.to_numeric(turns["not_helpful_share"], errors="coerce").fillna(0).to_numpy()
        label = (share > 0.5).astype(int)
        strongest = tagged[["p_unhelpful", "p_rude", "p_pushy"]].max(axis=1).to_numpy()
        flagged = tagged["unhelpful"].to_numpy().astype(bool)
        report["not_helpful"] = {
            "positives": int(label.sum()),
            "auroc_p_unhelpful": _auroc(label, tagged["p_unhelpful"].to_numpy()),
            "auroc_strongest_complaint_tag": _auroc(label, strongest),
            "unhelpful_precision": float(label[flagged].mean()) if flagged.any() else None,
            "unhelpful_recall": float(flagged[label == 1].mean()) if label.any() else None,
        }
    flagged_rows = tagged[tagged[list(TAGS)].any(axis=1)]
    if len(flagged_rows) and sample:
        picked = flagged_rows.sample(min(sample, len(flagged_rows)), random_state=seed)
        report["sample"] = [
            {"text": r.text, "context": r.context,
             "tags": ",".join(t for t in TAGS if getattr(r, t)),
             "p": {t: round(float(getattr(r, f"p_{t}")), 3) for t in TAGS if getattr(r, t)},
             "words": r.tag_words}
            for r in picked.itertuples(index=False)]
    else:
        report["sample"] = []
    return report
