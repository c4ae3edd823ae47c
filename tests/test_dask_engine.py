"""The Dask engine gives exactly the in-process results (LocalCluster on loopback)."""

from pathlib import Path

import pandas as pd
import pytest

from qa_scorer.pipeline import AuditOptions, audit

pytest.importorskip("dask.distributed")
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_transcripts"


def _read(folder, name):
    return pd.read_csv(folder / name, encoding="utf-8-sig", keep_default_na=False)


@pytest.mark.slow
def test_dask_engine_matches_local_engine(tmp_path):
    local, distributed = tmp_path / "local", tmp_path / "dask"
    audit([SAMPLES], AuditOptions(out_dir=local, html=False, xlsx=False, workers=1))
    # a scheduler address makes the engine connect instead of starting its own cluster
    from dask.distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster:
        res = audit([SAMPLES], AuditOptions(out_dir=distributed, html=False, xlsx=False, engine="dask",
                                            scheduler=cluster.scheduler_address))
    assert res.timings.get("dask", 0) > 0  # it really went through Dask
    for name in ("messages.csv", "replies.csv", "rounds.csv", "conversations.csv", "agents.csv"):
        a, b = _read(local, name), _read(distributed, name)
        assert len(a) > 0, name
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
