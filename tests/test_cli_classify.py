"""CLI: qa-scorer train / evaluate / tag (typer CliRunner against qa_scorer.cli.app)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from qa_scorer.classifier import evaluate_model, load_model, split_by_group
from qa_scorer.cli import app
from qa_scorer.schema import TAGS
from test_classifier import build_corpus

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus_csv(tmp_path_factory):
    df = build_corpus()
    df["split"] = split_by_group(df["source"], seed=0)
    path = tmp_path_factory.mktemp("cli") / "corpus.csv"
    df.to_csv(path, index=False, encoding="utf-8-sig")
    return path


@pytest.fixture(scope="module")
def model_path(corpus_csv):
    out = corpus_csv.parent / "m.skops"
    result = runner.invoke(app, ["train", str(corpus_csv), "--out", str(out), "--seed", "0"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("command", ["train", "evaluate", "tag"])
def test_help_has_an_example(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and f"qa-scorer {command}" in result.output


def test_train_prints_validation_figures_and_is_reproducible(corpus_csv, model_path, tmp_path):
    again = tmp_path / "again.skops"
    result = runner.invoke(app, ["train", str(corpus_csv), "--out", str(again), "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "validation split" in result.output and "fine replies flagged" in result.output
    for tag in TAGS:
        assert tag in result.output
    first, second = load_model(model_path), load_model(again)
    assert first.thresholds == second.thresholds
    assert first.metadata["validation"] == second.metadata["validation"]


def test_train_reports_missing_columns(write):
    bad = write("bad.csv", "reply,pushy\n有的,0\n")
    result = runner.invoke(app, ["train", str(bad), "--out", str(bad.with_suffix(".skops"))])
    assert result.exit_code == 2
    assert "bad.csv: missing column(s) text, unhelpful, rude, overclaim; it has reply, pushy" in result.output


def test_evaluate_json_matches_the_library_and_split_filters(corpus_csv, model_path):
    result = runner.invoke(app, ["evaluate", str(corpus_csv), "--model", str(model_path), "--json",
                                 "--split", "test"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    df = pd.read_csv(corpus_csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    test_rows = df[df["split"] == "test"]
    assert payload["rows"] == len(test_rows) and payload["split"] == "test"
    expected = evaluate_model(load_model(model_path), test_rows).to_dict()
    assert payload["per_tag"] == expected["per_tag"]
    assert payload["fine_flag_rate"] == expected["fine_flag_rate"]
    assert list(payload["per_tag"]) == list(TAGS)
    assert payload["model"]["name"] == "m.skops" and payload["model"]["corpus_rows"] == len(df)


def test_evaluate_table_and_split_errors(corpus_csv, model_path, write):
    result = runner.invoke(app, ["evaluate", str(corpus_csv), "--model", str(model_path)])
    assert result.exit_code == 0 and "precision" in result.output and "fine replies flagged" in result.output
    no_split = write("nosplit.csv", "text,context,pushy,unhelpful,rude,overclaim\n有的亲,,0,0,0,0\n")
    result = runner.invoke(app, ["evaluate", str(no_split), "--model", str(model_path), "--split", "test"])
    assert result.exit_code == 2 and "has no 'split' column" in result.output
    result = runner.invoke(app, ["evaluate", str(corpus_csv), "--model", str(model_path), "--split", "dev"])
    assert result.exit_code == 2 and "--split must be one of train, validation, test" in result.output


def test_tag_one_text_prints_every_tag_with_probability_and_words(model_path):
    result = runner.invoke(app, ["tag", "最后一件了，不拍就没了", "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.split("│")[1:-1]]
                                          for line in result.output.splitlines() if line.count("│") >= 5)}
    assert set(TAGS) <= set(rows)
    thresholds = load_model(model_path).thresholds
    for tag in TAGS:
        _, flagged, p, threshold, _words = rows[tag]
        assert float(threshold) == pytest.approx(thresholds[tag], abs=5e-4)
        if abs(float(p) - thresholds[tag]) > 5e-4:  # p is printed with 3 decimals
            assert (flagged == "YES") == (float(p) >= thresholds[tag])
    assert float(rows["pushy"][2]) > 0.5  # a training sentence of the small corpus
    assert "不拍" in rows["pushy"][4] or "最后一件" in rows["pushy"][4]


def test_tag_file_keeps_order_appends_columns_and_is_formula_safe(model_path, write, tmp_path):
    src = write("in.csv", "id,text,context\n1,最后一件了，不拍就没了,\n2,=HYPERLINK(\"x\"),有货吗\n3,有的亲,有货吗\n")
    out = tmp_path / "out" / "tagged.csv"
    result = runner.invoke(app, ["tag", "--input", str(src), "--out", str(out), "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(df.columns) == ["id", "text", "context", *TAGS, *(f"p_{t}" for t in TAGS)]
    assert df["id"].tolist() == ["1", "2", "3"]
    assert df.loc[1, "text"] == "'=HYPERLINK(\"x\")"
    thresholds = load_model(model_path).thresholds
    for t in TAGS:
        assert set(df[t]) <= {"0", "1"}
        assert all(0.0 <= float(v) <= 1.0 for v in df[f"p_{t}"])
        # Flags follow the (4-decimal) probabilities at the model's thresholds.
        for flag, p in zip(df[t], df[f"p_{t}"]):
            if abs(float(p) - thresholds[t]) > 1e-4:
                assert (flag == "1") == (float(p) >= thresholds[t])
    assert float(df.loc[0, "p_pushy"]) > float(df.loc[2, "p_pushy"])


def test_tag_file_without_text_column_names_file_and_columns(model_path, write, tmp_path):
    src = write("replies.csv", "reply,context\n有的,有货吗\n")
    result = runner.invoke(app, ["tag", "--input", str(src), "--out", str(tmp_path / "o.csv"),
                                 "--model", str(model_path)])
    assert result.exit_code == 2
    assert "replies.csv: no 'text' column; it has: reply, context" in result.output


def test_tag_needs_text_or_input(model_path):
    result = runner.invoke(app, ["tag", "--model", str(model_path)])
    assert result.exit_code == 2 and "give either one TEXT or --input" in result.output


def test_tag_with_an_untrusted_model_file_fails_clearly(write):
    fake = write("m.skops", b"not a zip")
    result = runner.invoke(app, ["tag", "有的亲", "--model", str(fake)])
    assert result.exit_code == 2 and "not a skops model file" in result.output


def test_tag_file_in_gbk_is_read_with_the_project_decoder(model_path, write, tmp_path):
    # Excel on Chinese Windows saves CSV as GBK; qa_scorer.ingest.encoding detects it.
    src = write("gbk.csv", "text,context\n最后一件了，不拍就没了,\n有的亲,有货吗\n", encoding="gbk")
    out = tmp_path / "gbk_tagged.csv"
    result = runner.invoke(app, ["tag", "--input", str(src), "--out", str(out), "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert df["text"].tolist() == ["最后一件了，不拍就没了", "有的亲"]


def test_tag_file_in_no_known_encoding_fails_clearly(model_path, write, tmp_path):
    src = write("bad.csv", b"text\n\xff\xfe\x00\xd8\x00\xdc\x81\n")
    result = runner.invoke(app, ["tag", "--input", str(src), "--out", str(tmp_path / "o.csv"),
                                 "--model", str(model_path)])
    assert result.exit_code == 2 and "bad.csv:" in result.output and "UTF-8" in result.output


def test_evaluate_real_turns_reports_flag_rates_auroc_and_a_sample(tmp_path):
    """`evaluate --real` on turns without tag labels (the STC-3 layout: a folder with agent_turns.csv)."""
    import json as _json

    from typer.testing import CliRunner as _Runner

    from qa_scorer.cli import app as _app

    folder = tmp_path / "real"
    folder.mkdir()
    rows = [("您好，请问是什么型号的呢？", "手机充不进电", "0.1"),
            ("自己看详情", "这个能机洗吗", "0.9"),
            ("不知道", "什么时候发货", "0.8"),
            ("亲，今天下单明天发，中通快递", "什么时候发货", "0.0"),
            ("说了多少遍了，自己不会看吗", "尺码怎么选", "0.7"),
            ("好的亲，已经帮您备注了", "帮我备注一下", "0.2")]
    import csv as _csv
    with open(folder / "agent_turns.csv", "w", encoding="utf-8", newline="") as fh:
        w = _csv.writer(fh)
        w.writerow(["context", "text", "not_helpful_share"])
        for text, context, share in rows:
            w.writerow([context, text, share])
    result = _Runner().invoke(_app, ["evaluate", "--real", str(folder), "--json", "--sample", "3"])
    assert result.exit_code == 0, result.output
    report = _json.loads(result.output)
    assert report["turns"] == 6
    assert report["not_helpful"]["positives"] == 3            # shares 0.9, 0.8, 0.7 are > 0.5
    assert set(report["flag_rate"]) == {"pushy", "unhelpful", "rude", "overclaim"}
    assert all(0 <= v <= 1 for v in report["flag_rate"].values())
    auroc = report["not_helpful"]["auroc_p_unhelpful"]
    assert auroc is not None and 0 <= auroc <= 1
    assert len(report["sample"]) <= 3 and report["model"]["corpus_sha256"]
    table = _Runner().invoke(_app, ["evaluate", "--real", str(folder)])
    assert table.exit_code == 0 and "AUROC p_unhelpful" in table.output
    missing = _Runner().invoke(_app, ["evaluate", "--real", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "agent_turns.csv" in missing.output
