"""Where the reply model lives - kept apart from the classifier so that finding (or failing to
find) the model file costs no scikit-learn import."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import qa_scorer

DEFAULT_MODEL_NAME = "reply_tagger.skops"


class ModelError(ValueError):
    """A model file is missing, unreadable, untrusted or not a reply classifier."""


def checkout_model_path(name: str) -> Path:
    """Where a clone of the repository keeps model NAME (it may not exist)."""
    return Path(qa_scorer.__file__).resolve().parent.parent / "models" / name


def shipped_model_path(name: str) -> Path | None:
    """A model file shipped with qa-scorer: the checkout's ``models/NAME`` first (an editable
    install or a clone), else the wheel's ``qa_scorer/_models/NAME``; None when neither exists."""
    checkout = checkout_model_path(name)
    if checkout.is_file():
        return checkout
    packaged = importlib.resources.files("qa_scorer").joinpath("_models", name)
    if packaged.is_file():
        return Path(str(packaged))
    return None


def default_model_path() -> Path:
    """The shipped reply model (see ``shipped_model_path``)."""
    path = shipped_model_path(DEFAULT_MODEL_NAME)
    if path is None:
        raise ModelError(
            f"no reply model found: looked for {checkout_model_path(DEFAULT_MODEL_NAME)} and the installed "
            f"package data qa_scorer/_models/{DEFAULT_MODEL_NAME}. Train one with "
            "`qa-scorer train models/training/corpus.csv` or pass --model PATH."
        )
    return path
