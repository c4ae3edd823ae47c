"""The shipped model (models/reply_tagger.skops) against the quality bar.

"Fewer than 2 % of fine replies may be flagged, and the clear cases of each tag must be
caught."  Checked on the corpus test split (never used for training or tuning) and on
hand-written replies that are not in the corpus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qa_scorer.classifier import default_model_path, evaluate_model, load_model, tag_replies
from qa_scorer.classifier.files import read_corpus
from qa_scorer.classifier.model import corpus_fingerprint
from qa_scorer.schema import TAGS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "models" / "training" / "corpus.csv"


@pytest.fixture(scope="module")
def model():
    return load_model()  # the default lookup: the checkout's models/ directory


@pytest.fixture(scope="module")
def corpus():
    return read_corpus(CORPUS)


def test_default_lookup_finds_the_checkout_model():
    assert default_model_path() == ROOT / "models" / "reply_tagger.skops"
    assert default_model_path().stat().st_size < 20 * 2**20


def test_model_was_trained_on_this_corpus_without_its_test_split(model, corpus):
    # The hash ties the shipped model to corpus.csv, so the test split below is really unseen.
    assert model.metadata["corpus_sha256"] == corpus_fingerprint(corpus)
    assert model.metadata["rows"]["test"] == int((corpus["split"] == "test").sum()) > 0
    assert list(model.tags) == list(TAGS)
    assert all(0.0 < model.thresholds[t] <= 1.0 for t in TAGS)


def test_model_describes_itself(model, corpus):
    import json
    d = model.describe()
    assert json.loads(json.dumps(d)) == d
    assert d["name"] == "reply_tagger.skops" and "/" not in d["name"]
    assert d["corpus_sha256"] == corpus_fingerprint(corpus) and d["corpus_rows"] == len(corpus)
    assert d["trained_at"] and d["version"] and d["format"] == 2 and d["thresholds"] == model.thresholds_


def test_fast_tagging_path_equals_predict_proba_on_corpus_rows(model, corpus):
    # tag_replies adds up reply / context / cross parts of the linear scores from public coef_ /
    # intercept_ attributes; it must give the estimator's own predict_proba on real rows.
    rows = corpus.sample(2000, random_state=0)[["text", "context"]]
    rows = pd.concat([rows, pd.DataFrame({"text": ["嗯", "[微笑]", "", "从没见过的一句话/:^_^"],
                                          "context": ["有货吗", "", "在吗", "这个多少钱"]})], ignore_index=True)
    fast = tag_replies(rows, model, with_words=False)[[f"p_{t}" for t in TAGS]].to_numpy()
    np.testing.assert_allclose(fast, model.predict_proba(rows), rtol=0, atol=1e-9)


def test_test_split_precision_and_fine_flag_rate(model, corpus):
    test = corpus[corpus["split"] == "test"]
    report = evaluate_model(model, test)
    for tag in TAGS:
        row = report.per_tag.loc[tag]
        assert row["support"] >= 20, f"{tag}: too few test positives to judge ({row['support']})"
        assert row["precision"] >= 0.85, f"{tag}: test precision {row['precision']:.3f} < 0.85"
    assert report.fine_rows >= 200
    assert report.fine_flag_rate <= 0.02, f"fine replies flagged: {report.fine_flag_rate:.2%}"


# Hand-written replies; no (reply, buyer message) pair of them is in the corpus (checked below).
# Each case names the tags it must get and, for tagged cases, the tags it must not get; fine
# cases must get none.  Corpus convention: a rude reply that also dodges the question is
# rude + unhelpful, so unhelpful is neither required nor forbidden there.  Cases the shipped
# model gets wrong stay listed as strict xfails so the miss is visible (and noticed once fixed).
FINE = set(TAGS)
CLEAR_CASES = [
    # (reply, buyer message before it, must have, must not have)
    ("最后一件了，不拍就没了", "", {"pushy"}, {"rude", "overclaim"}),
    ("今天不拍明天就涨价了哦，赶紧下单", "我再想想", {"pushy"}, {"rude", "unhelpful"}),
    ("说了多少遍了，自己看", "这个怎么用", {"rude"}, {"pushy", "overclaim"}),
    ("你烦不烦啊，问这么多", "能再便宜点吗", {"rude"}, {"pushy", "overclaim"}),
    ("百分百不掉色，全网最低", "会掉色吗", {"overclaim"}, {"rude", "unhelpful"}),
    ("这款永不褪色，绝对不会起球", "质量怎么样", {"overclaim"}, {"rude", "unhelpful"}),
    ("不知道", "这个适合几岁的孩子", {"unhelpful"}, {"pushy", "overclaim"}),
    ("自己看详情页", "这个尺码怎么选", {"unhelpful"}, {"pushy", "overclaim"}),
    ("嗯", "这个有货吗？", {"unhelpful"}, {"pushy", "rude", "overclaim"}),
    ("库存只剩3件了，再犹豫就被别人抢走了", "我考虑一下", {"pushy"}, {"rude", "overclaim"}),
    ("活动今晚12点结束，现在不拍就亏大了", "", {"pushy"}, {"rude", "unhelpful"}),
    ("赶紧拍吧亲，别想了", "这个能机洗吗", {"pushy"}, {"overclaim"}),
    ("爱买不买", "太贵了", {"rude"}, {"pushy", "overclaim"}),
    ("用了保证一周瘦十斤", "这个减肥茶有效吗", {"overclaim"}, {"rude", "unhelpful"}),
    ("国家级认证，百分之百无副作用", "安全吗", {"overclaim"}, {"rude", "unhelpful"}),
    ("哦", "可以开发票吗", {"unhelpful"}, {"pushy", "rude", "overclaim"}),
    ("这个问题我们不管", "快递把包裹弄丢了", {"unhelpful"}, {"pushy", "overclaim"}),
    ("有的亲", "这款有现货吗", set(), FINE),
    ("在的呢亲，有什么可以帮您", "在吗", set(), FINE),
    ("好的，已为您登记，缺货会第一时间通知您", "什么时候补货", set(), FINE),
    ("亲，今天下单明天就能发出", "什么时候发货", set(), FINE),
    ("满两件打八折，活动到周日结束", "有活动吗", set(), FINE),
    ("亲，这个颜色是实拍的，可能有轻微色差", "颜色准吗", set(), FINE),
    ("亲，退货地址在订单详情里，运费险会自动理赔", "怎么退货", set(), FINE),
    ("您可以先拍下，我们这边优先为您发货", "能快点发吗", set(), FINE),
    ("稍等我帮您查一下", "我的快递到哪了", set(), FINE),
    ("亲，满199减20，活动到月底都有的", "有优惠吗", set(), FINE),
    ("您身高165的话建议拍M码哦", "165穿多大", set(), FINE),
    ("好的呢亲，已经帮您备注了", "帮我备注一下送人", set(), FINE),
    # Short complete answers to yes/no questions (from the sample transcripts, not in the corpus):
    # brevity alone is not unhelpful.
    ("有的", "薄荷绿呢", set(), FINE),
    ("有", "浴巾和毛巾有套装吗", set(), FINE),
    ("是的", "加厚浴巾是纯棉的吗", set(), FINE),
    ("不会", "会不会小", set(), FINE),
    ("不会", "冬天想穿袜子穿，会不会挤", set(), FINE),
    ("有", "被子有8斤的吗 在不在啊", set(), FINE),
    # Size advice after a size question is an answer, not a push.
    ("拍43", "我平时穿42", set(), FINE),
    # Short non-answers to wh-questions, and a bare refusal of a request, stay unhelpful.
    ("有的亲", "这款卫衣哪个颜色最耐脏", {"unhelpful"}, {"pushy", "overclaim"}),
    ("是的", "这个床垫多厚", {"unhelpful"}, {"pushy", "overclaim"}),
    ("正常", "这个鞋子几天能到", {"unhelpful"}, {"pushy", "overclaim"}),
    ("自己算", "三件一共多少钱", {"unhelpful"}, {"pushy", "overclaim"}),
    ("不行", "能帮我改成顺丰吗", {"unhelpful"}, {"pushy", "overclaim"}),
]
KNOWN_MISSES = {
    # ("赶紧拍吧亲，别想了" was a known miss of the 7,855-row model; the 23,720-row corpus catches it.)
    # A false overclaim that came with the round-3 corpus: fake scarcity (最后一件) also reads as a
    # claim about the product (最 + 了); the pushy tag is right.
    "最后一件了，不拍就没了": "round-3 model also tags overclaim (false positive next to the right pushy tag)",
    # ("爱买不买" was a known rude miss before round 3; it is caught now.)
}


def _cases():
    for text, context, must, must_not in CLEAR_CASES:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[text])] if text in KNOWN_MISSES else []
        yield pytest.param(text, context, must, must_not, marks=marks, id=f"{text}|{context}")


def test_clear_cases_are_not_in_the_corpus(corpus):
    pairs = set(zip(corpus["text"], corpus["context"]))
    assert not [(t, c) for t, c, _, _ in CLEAR_CASES if (t, c) in pairs]


@pytest.mark.parametrize("text,context,must,must_not", list(_cases()))
def test_clear_hand_written_case(model, text, context, must, must_not):
    out = tag_replies(pd.DataFrame({"text": [text], "context": [context]}), model)
    got = {t for t in TAGS if out.loc[0, t] == 1}
    assert must <= got and not (got & must_not), (
        f"{text!r} after {context!r}: tagged {sorted(got)}, must have {sorted(must)}, must not have {sorted(must_not)}")


# --- the blind challenge set ------------------------------------------------------------------
# models/challenge/blind_*.csv: 1,080 replies written by two writers who saw only docs/labeling.md
# (never the corpus or the model); never used for training or for choosing thresholds.
# Measured on the shipped model (models/MODEL_CARD.md): F1 pushy 0.899, unhelpful 0.744,
# rude 0.725, overclaim 0.940 (macro 0.827); fine replies flagged 0.85 %.  The floors are the
# issue's targets (every tag >= 0.70, macro >= 0.80, fine flagged <= 2 %), all under the measured
# figures, so a retrained model cannot silently fall below them.
BLIND_FLOORS = {"pushy": 0.70, "unhelpful": 0.70, "rude": 0.70, "overclaim": 0.70}


@pytest.fixture(scope="module")
def blind():
    parts = sorted((ROOT / "models" / "challenge").glob("blind_*.csv"))
    assert len(parts) == 2
    return pd.concat([read_corpus(p) for p in parts], ignore_index=True)


def test_blind_set_is_nearly_disjoint_from_the_training_corpus(blind, corpus):
    norm = lambda s: s.str.replace(r"[\s\W_]+", "", regex=True)  # noqa: E731
    shared = set(norm(blind["text"])) & set(norm(corpus["text"]))
    # Short stock phrases (有的亲, 嗯) exist in both by nature, and independent writers meet on a
    # few shop templates (亲您好请问有什么可以帮您, 3、2、1上链接手慢无): 4 longer sentences when
    # measured. More would mean the blind set leaked into training.
    longer = sorted(t for t in shared if len(t) > 6)
    assert len(longer) <= 6, longer


def test_blind_set_floors(model, blind):
    report = evaluate_model(model, blind, name="blind")
    f1 = report.per_tag["f1"]
    for tag, floor in BLIND_FLOORS.items():
        assert f1[tag] >= floor, (tag, round(float(f1[tag]), 3))
    assert float(f1.mean()) >= 0.80
    assert report.fine_flag_rate <= 0.02
