"""Where the reply model lives - kept apart from the classifier so that finding (or failing to
find) the model file costs no scikit-learn import."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import qa_scorer

DEFAULT_MODEL_NAME = "reply_tagger.skops"


class ModelError(ValueError):
    """A model file is missing, unreadable, untrusted or not a reply classifier."""


def default_model_path() -> Path:
    """The shipped model: the checkout's ``models/`` first, else the wheel's ``qa_scorer/_models/``."""
    checkout = Path(qa_scorer.__file__).resolve().parent.parent / "models" / DEFAULT_MODEL_NAME
    if checkout.is_file():
        return checkout
    packaged = importlib.resources.files("qa_scorer").joinpath("_models", DEFAULT_MODEL_NAME)
    if packaged.is_file():
        return Path(str(packaged))
    raise ModelError(
        f"no reply model found: looked for {checkout} and the installed package data "
        f"qa_scorer/_models/{DEFAULT_MODEL_NAME}. Train one with `qa-scorer train models/training/corpus.csv` "
        "or pass --model PATH."
    )
