"""Reply classifier library: features, thresholds, metrics, training, tagging, persistence.

Everything here runs on a small corpus written below (no dependency on the shipped model).
"""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io

from qa_scorer.classifier import (
    CorpusError,
    ModelError,
    ReplyClassifier,
    choose_thresholds,
    evaluate_model,
    explain,
    load_model,
    output_columns,
    save_model,
    split_by_group,
    tag_replies,
    train_model,
    validate_corpus,
)
from qa_scorer.classifier import features as F
from qa_scorer.classifier.model import metrics_from_predictions
from qa_scorer.schema import TAGS

# ---------------------------------------------------------------------------------------
# A small hand-written corpus: base sentences x a few variants, one source group per base.
# ---------------------------------------------------------------------------------------
PUSHY = [
    "最后一件了，不拍就没了", "今天不下单明天就涨价了", "库存只剩两件，赶紧拍下吧", "活动马上结束，现在不买就错过了",
    "手慢无，快点拍", "名额有限，赶紧下单", "这款马上卖断货了，要买赶紧", "拍下吧，别犹豫了",
    "今晚12点恢复原价，抓紧时间", "就剩最后几件了，再不拍就抢光了", "错过今天就没有这个价了，赶紧拍",
    "现在不拍等会就没货了", "别想了直接拍下吧", "仅剩三件，先拍先得", "限时秒杀就今天，快下单",
]
UNHELPFUL = [
    "不知道", "自己看详情", "不清楚", "没办法", "这个我们管不了", "详情页都写了", "你自己去问快递",
    "看链接", "系统问题我也没办法", "这个不归我管", "我也不清楚你问别人", "图片上有自己看", "不行就是不行",
    "没有为什么", "问快递去",
]
RUDE = [
    "说了多少遍了", "你烦不烦", "买不起就别问", "爱买不买", "你看不懂字吗", "问那么多干嘛", "你自己不会看吗",
    "都说过了还问", "有病吧", "别浪费我时间", "你到底买不买啊", "这么简单都不懂", "跟你说不清楚",
    "嫌贵别买", "你这人怎么这么麻烦",
]
OVERCLAIM = [
    "百分百不掉色", "全网最低价", "永不褪色", "绝对不会起球", "用了立马见效", "国家级品质，全网第一",
    "保证一次见效", "史上最低价", "百分之百纯棉，绝对不缩水", "全网最好的面料", "穿十年都不会坏",
    "绝对零风险", "效果百分百保证", "顶级工艺全网独一家", "永久不变形",
]
FINE = [
    "有的亲", "稍等，我帮您查一下", "亲，这款是纯棉的哦", "建议您拍大一码", "今天下单明天发货的",
    "满199减20，您可以领券", "好的，已经帮您备注了", "亲，支持七天无理由退换", "这款有S到XL四个尺码",
    "您好，很高兴为您服务", "亲，有运费险的，退换不花钱", "这个颜色是实拍的，可能有轻微色差",
    "您身高165体重100斤，建议拍M码", "稍等哦，我帮您核实一下物流", "已经帮您催发货了",
    "这款洗的时候建议手洗，不容易起球", "活动到月底结束，您可以放心考虑", "好的呢亲，有问题随时联系",
    "亲，我们是顺丰包邮的", "感谢您的支持，祝您购物愉快",
]
CONTEXTS = ["", "有货吗", "这个会掉色吗", "能便宜点吗", "怎么还不发货", "尺码怎么选", "好的谢谢", "我再看看"]
VARIANTS = ["{}", "亲，{}", "{}哦", "{}[微笑]", "{}~"]


def build_corpus() -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(7)

    def add(base_list, tag, prefix):
        for i, base in enumerate(base_list):
            for j, variant in enumerate(VARIANTS):
                labels = {t: 0 for t in TAGS}
                if tag:
                    labels[tag] = 1
                rows.append({"text": variant.format(base), "context": CONTEXTS[rng.integers(len(CONTEXTS))],
                             **labels, "source": f"{prefix}{i:03d}"})

    add(PUSHY, "pushy", "p")
    add(UNHELPFUL, "unhelpful", "u")
    add(RUDE, "rude", "r")
    add(OVERCLAIM, "overclaim", "o")
    add(FINE, None, "f")
    # The bare acknowledgement: unhelpful after a real question, fine after thanks.
    for i, (ack, q) in enumerate([("嗯", "这个有货吗"), ("嗯嗯", "会掉色吗？"), ("哦", "什么时候发货"),
                                  ("好", "尺码偏大吗"), ("嗯", "能便宜点吗")]):
        for j, v in enumerate(["{}", "{}。", "{}[微笑]"]):
            rows.append({"text": v.format(ack), "context": q, "pushy": 0, "unhelpful": 1, "rude": 0,
                         "overclaim": 0, "source": f"q{i:03d}"})
            rows.append({"text": v.format(ack), "context": "好的谢谢", "pushy": 0, "unhelpful": 0, "rude": 0,
                         "overclaim": 0, "source": f"a{i:03d}"})
    # Two-tag rows.
    for i, text in enumerate(["说了多少遍了，自己看详情", "你烦不烦，不知道", "最后一件了，全网最低价赶紧拍"]):
        tags = [("rude", "unhelpful"), ("rude", "unhelpful"), ("pushy", "overclaim")][i]
        for v in VARIANTS[:3]:
            rows.append({"text": v.format(text), "context": "", **{t: int(t in tags) for t in TAGS},
                         "source": f"m{i:03d}"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return build_corpus()


@pytest.fixture(scope="module")
def model(corpus) -> ReplyClassifier:
    return train_model(corpus, seed=0)


@pytest.fixture(scope="module")
def half_model(model) -> ReplyClassifier:
    """The same fitted model with every threshold at 0.5, so tests of the tagging mechanics do
    not depend on where threshold selection lands on a corpus this small."""
    return model.with_thresholds({t: 0.5 for t in TAGS})


# ---------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------
def test_user_dictionary_keeps_shop_words_whole():
    tokens = F.tokenize(["支持七天无理由退换，有运费险", "亲亲，这件不起球"])
    assert "七天无理由" in tokens[0].split()
    assert "运费险" in tokens[0].split()
    assert "亲亲" in tokens[1].split()


def test_userdict_has_150_plus_distinct_entries():
    import importlib.resources
    text = importlib.resources.files("qa_scorer").joinpath("data", "userdict.txt").read_text(encoding="utf-8")
    words = [line.split()[0] for line in text.splitlines() if line.strip()]
    assert len(set(words)) == len(words) >= 150


def test_tokenizer_is_built_once_per_process():
    assert F.get_tokenizer() is F.get_tokenizer()


def test_content_length_ignores_emoticons_and_punctuation():
    # "[微笑]好的~" -> 好的 (2); "/:^_^ 在的呢亲~" -> 在的呢亲 (4); "[图片]" -> 0
    assert list(F.content_length(["[微笑]好的~", "/:^_^ 在的呢亲~", "[图片]", "有的亲，稍等"])) == [2, 4, 0, 5]


def test_cross_feature_marks_bare_ack_to_a_question_only():
    names = list(F.CROSS_FEATURES)
    fz = F.ReplyFeaturizer(word_min_df=1, char_min_df=1, context_min_df=1).fit(
        pd.DataFrame({"text": ["嗯", "有的亲"], "context": ["有货吗", "好的"]}))
    X = fz.transform(pd.DataFrame({"text": ["嗯", "嗯", "有的亲", "嗯"],
                                   "context": ["有货吗", "好的谢谢", "有货吗", ""]}))
    cross = X[:, -len(names):].toarray()
    col = names.index("x:question_ack_only")
    assert list(cross[:, col]) == [1, 0, 0, 0]
    assert list(cross[:, names.index("x:context_question")]) == [1, 0, 1, 0]
    assert list(cross[:, names.index("x:no_context_ack_only")]) == [0, 0, 0, 1]
    assert list(cross[:, names.index("x:reply_len_3_5")]) == [0, 0, 1, 0]


def test_cross_features_tell_yes_no_questions_from_wh_questions():
    # Hand-checked: a yes/no question answered by a fitting yes/no word is marked as answered;
    # the same word after a wh-question, a bare refusal of a request and size advice get their own marks.
    names = list(F.CROSS_FEATURES)
    pairs = pd.DataFrame({
        "text": ["不会", "是的", "有的", "有的亲", "可以的", "不能", "不能哦", "正常", "拍43", "拍43"],
        "context": ["会不会小", "加厚浴巾是纯棉的吗", "薄荷绿呢", "哪个更保暖", "这件衣服有色差吗",
                    "能今天发吗，周末要用", "这个能机洗吗", "偏大还是偏小呀", "我平时穿42", "在吗"],
    })
    fz = F.ReplyFeaturizer(word_min_df=1, char_min_df=1, context_min_df=1).fit(pairs)
    cross = fz.transform(pairs)[:, -len(names):].toarray()

    def col(name):
        return list(cross[:, names.index(name)].astype(int))

    assert col("x:context_yesno_question") == [1, 1, 1, 0, 1, 1, 1, 0, 0, 0]  # "在吗" is a greeting
    assert col("x:context_wh_question") == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert col("x:yesno_answered") == [1, 1, 1, 0, 1, 1, 1, 0, 0, 0]
    # "可以的" does not fit "有色差吗" (the corpus labels it unhelpful); the others fit.
    assert col("x:yesno_answered_matching") == [1, 1, 1, 0, 0, 1, 1, 0, 0, 0]
    assert col("x:wh_yesno_word") == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert col("x:wh_short_vague") == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert col("x:request_bare_refusal") == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert col("x:size_advice_asked") == [0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert col("x:size_advice_unasked") == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_transform_of_repeated_rows_equals_row_by_row_and_tokenises_each_string_once(monkeypatch, corpus):
    fz = F.ReplyFeaturizer().fit(corpus)
    df = pd.DataFrame({"text": ["有的亲", "最后一件了", "有的亲", "有的亲", "最后一件了"],
                       "context": ["有货吗", "", "有货吗", "还有吗", "有货吗"]})
    calls: list[str] = []
    real = F.tokenize

    def counting(strings):
        calls.extend(strings)
        return real(strings)

    monkeypatch.setattr(F, "tokenize", counting)
    batch = fz.transform(df).toarray()
    # 2 distinct replies + 3 distinct contexts ("有货吗", "", "还有吗"), each tokenised once.
    assert sorted(calls) == sorted(["有的亲", "最后一件了", "有货吗", "", "还有吗"])
    single = np.vstack([fz.transform(df.iloc[[i]]).toarray() for i in range(len(df))])
    np.testing.assert_allclose(batch, single, rtol=1e-6)


def test_block_cached_tokenize_equals_plain_jieba():
    strings = ["亲，这款是纯棉的哦~", "最后一件了!!不拍就没了", "size M 码 ok?", "订单号#已发货[微笑]", "", "  ",
               "百分百不掉色，全网最低", "亲，这款是纯棉的哦~"]
    plain = [" ".join(t for t in F.get_tokenizer().lcut(s, HMM=False) if not t.isspace()) for s in strings]
    assert F.tokenize(strings) == plain
    assert F.tokenize(strings) == plain  # second call served from the block cache


def test_normalisation_folds_case_spaces_and_long_numbers():
    codes, uniques = F.factorize_normalized(["订单123456已发", " 订单99999999已发", "OK  好的", "ok 好的", None])
    assert list(uniques) == ["订单#已发", "ok 好的", ""]
    assert list(codes) == [0, 0, 1, 1, 2]


def test_char_ngram_tfidf_equals_sklearn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from qa_scorer.classifier.vectorizers import CharNgramTfidf
    docs = ["亲有的哦", "最后一件了不拍就没了", "亲 最后一件", "有的亲", "百分百不掉色 亲", "有的", "𠀋字有"]
    ours = CharNgramTfidf((1, 3), min_df=2).fit(docs)
    ref = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, lowercase=False).fit(docs)
    assert sorted(ours.get_feature_names_out()) == sorted(ref.get_feature_names_out())
    order = [list(ref.get_feature_names_out()).index(n) for n in ours.get_feature_names_out()]
    probe = ["有的亲亲", "最后一件了", "完全陌生", ""]
    np.testing.assert_allclose(ours.transform(probe).toarray(), ref.transform(probe).toarray()[:, order], atol=1e-6)


def test_token_tfidf_equals_sklearn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from qa_scorer.classifier.vectorizers import TokenTfidf
    docs = ["亲 有的 哦", "最后 一件 了", "亲 最后 一件", "有的 亲", "有的", "最后 一件"]
    ours = TokenTfidf(ngram_max=2, min_df=2).fit(docs)
    ref = TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                          lowercase=False).fit(docs)
    assert sorted(ours.get_feature_names_out()) == sorted(ref.get_feature_names_out())
    order = [list(ref.get_feature_names_out()).index(n) for n in ours.get_feature_names_out()]
    probe = ["最后 一件 一件", "有的 亲 哦", "", "陌生"]
    np.testing.assert_allclose(ours.transform(probe).toarray(), ref.transform(probe).toarray()[:, order], atol=1e-6)


def test_featurizer_needs_a_text_column():
    with pytest.raises(ValueError, match="'text' column"):
        F.ReplyFeaturizer().fit(pd.DataFrame({"reply": ["有的"]}))


# ---------------------------------------------------------------------------------------
# Corpus checks and split
# ---------------------------------------------------------------------------------------
def test_validate_corpus_names_missing_columns():
    with pytest.raises(CorpusError, match=r"corpus.csv: missing column\(s\) rude, overclaim; it has text, pushy"):
        validate_corpus(pd.DataFrame({"text": ["a"], "pushy": [0], "unhelpful": [0]}), "corpus.csv")


def test_validate_corpus_names_the_line_of_a_bad_label():
    df = pd.DataFrame({"text": ["有的", "不知道"], "context": ["", ""], "pushy": [0, 0], "unhelpful": [0, "yes"],
                       "rude": [0, 0], "overclaim": [0, 0]})
    with pytest.raises(CorpusError, match=r"c.csv line 3: unhelpful must be 0 or 1, got 'yes'"):
        validate_corpus(df, "c.csv")


def test_validate_corpus_fills_context_and_source():
    df = pd.DataFrame({"text": ["有的"], "pushy": ["1"], "unhelpful": [0], "rude": [0], "overclaim": [0]})
    out = validate_corpus(df)
    assert out.loc[0, "context"] == "" and out.loc[0, "source"] == "row0" and out.loc[0, "pushy"] == 1


def test_split_by_group_keeps_groups_whole_and_is_reproducible():
    groups = pd.Series([f"g{i // 4}" for i in range(400)])  # 100 groups of 4 rows
    a = split_by_group(groups, seed=3)
    b = split_by_group(groups, seed=3)
    assert a.equals(b)
    assert (a.groupby(groups).nunique() == 1).all()
    counts = a.value_counts()
    # Group-sized granularity: within one group (4 rows) of the 70/15/15 targets.
    assert abs(counts["train"] - 280) <= 4 and abs(counts["validation"] - 60) <= 4 and abs(counts["test"] - 60) <= 8
    assert not split_by_group(groups, seed=4).equals(a)


# ---------------------------------------------------------------------------------------
# Thresholds and metrics (expected values worked out by hand)
# ---------------------------------------------------------------------------------------
def test_choose_thresholds_picks_lowest_threshold_reaching_precision():
    # pushy: sorted by p: 0.95(1) 0.9(1) 0.8(1) 0.7(0) 0.6(1) 0.4(0)
    #   t=0.6 -> 4/5 = 0.8 ; t=0.7 -> 3/4 ; t=0.8 -> 3/3 = 1.0  => lowest reaching 0.92 is 0.8
    # other tags: positives at 0.9 only, fine rows at 0.1 => lowest candidate >= 0.3 with precision 1 is 0.9
    y = pd.DataFrame({"pushy": [1, 1, 1, 0, 1, 0], "unhelpful": [0, 0, 0, 0, 0, 1],
                      "rude": [0, 0, 0, 0, 0, 1], "overclaim": [0, 0, 0, 0, 0, 1]})
    p = pd.DataFrame({"p_pushy": [0.95, 0.9, 0.8, 0.7, 0.6, 0.4], "p_unhelpful": [0.1] * 5 + [0.9],
                      "p_rude": [0.1] * 5 + [0.9], "p_overclaim": [0.1] * 5 + [0.9]})
    th, notes = choose_thresholds(y, p, target_precision=0.9, margin=0.02, min_threshold=0.3,
                                  max_fine_flag_rate=1.0)
    assert th == {"pushy": 0.8, "unhelpful": 0.9, "rude": 0.9, "overclaim": 0.9}
    assert notes["per_tag"]["pushy"]["reached_goal"] is True


def test_choose_thresholds_raises_a_threshold_to_protect_fine_replies():
    # 10 rows; rows 0-1 pushy (p 0.9), rows 2-9 fine; fine rows 2 and 3 have p_pushy 0.5 and 0.6.
    # Precision step alone: t=0.5 -> 2/4; t=0.6 -> 2/3; t=0.9 -> 1.0 => 0.9, no fine row flagged.
    # With margin 0 and target 0.5: t=0.5 reaches 0.5 -> 2 fine flagged of 8 = 25 % > 10 %,
    # so pushy is raised: 0.6 (1/8 = 12.5 %) -> 0.9 (0 %).
    y = pd.DataFrame({"pushy": [1, 1] + [0] * 8, "unhelpful": [0] * 10, "rude": [0] * 10, "overclaim": [0] * 10})
    p = pd.DataFrame({"p_pushy": [0.9, 0.9, 0.5, 0.6] + [0.1] * 6, "p_unhelpful": [0.0] * 10,
                      "p_rude": [0.0] * 10, "p_overclaim": [0.0] * 10})
    th, notes = choose_thresholds(y, p, target_precision=0.5, margin=0.0, min_threshold=0.3,
                                  max_fine_flag_rate=0.10)
    assert th["pushy"] == 0.9
    assert notes["raised_for_fine_rate"] == {"pushy": 2}


def test_metrics_from_predictions_by_hand():
    labels = pd.DataFrame({"pushy": [1, 1, 0, 0, 0], "unhelpful": [0, 0, 1, 0, 0], "rude": [0] * 5,
                           "overclaim": [0, 0, 0, 0, 0]})
    pred = pd.DataFrame({"pushy": [1, 0, 1, 0, 0], "unhelpful": [0, 0, 1, 0, 1], "rude": [0] * 5,
                         "overclaim": [0, 0, 0, 1, 0]})
    r = metrics_from_predictions(labels, pred)
    assert r.per_tag.loc["pushy", ["precision", "recall", "f1"]].tolist() == [0.5, 0.5, 0.5]
    assert r.per_tag.loc["unhelpful", ["precision", "recall"]].tolist() == [0.5, 1.0]
    assert r.per_tag.loc["rude", "support"] == 0 and r.per_tag.loc["rude", "precision"] == 0.0
    # fine rows = 3, 4 (row 2 is unhelpful, rows 0-1 pushy); both flagged (overclaim, unhelpful)
    assert (r.fine_rows, r.fine_flagged, r.fine_flag_rate) == (2, 2, 1.0)


# ---------------------------------------------------------------------------------------
# Training, tagging, explanations
# ---------------------------------------------------------------------------------------
def test_train_is_reproducible_and_records_thresholds(corpus, model):
    again = train_model(corpus, seed=0)
    assert again.thresholds == model.thresholds
    probe = pd.DataFrame({"text": ["最后一件了快拍", "有的亲", "你烦不烦"], "context": ["", "有货吗", ""]})
    np.testing.assert_allclose(again.predict_proba(probe), model.predict_proba(probe))
    assert set(model.thresholds) == set(TAGS)
    assert all(0.3 <= v <= 1.0 for v in model.thresholds.values())
    assert model.metadata["seed"] == 0
    assert sum(model.metadata["rows"].values()) == len(corpus)
    assert list(model.metadata["validation"]["per_tag"]) == list(TAGS)


def test_train_rejects_a_corpus_without_validation_rows(corpus):
    df = corpus.assign(split="train")
    with pytest.raises(CorpusError, match="no validation rows"):
        train_model(df)


def test_tag_replies_keeps_rows_and_matches_row_by_row(model):
    replies = pd.DataFrame(
        {"text": ["最后一件了，不拍就没了", "有的亲", "有的亲", None, "你烦不烦", "最后一件了，不拍就没了"],
         "context": ["", "有货吗", "有货吗", "在吗", "", ""], "agent": list("abcdef")},
        index=[10, 11, 12, 13, 14, 15])
    out = tag_replies(replies, model)
    assert list(out.index) == [10, 11, 12, 13, 14, 15]
    assert list(out.columns) == ["text", "context", "agent", *TAGS, *(f"p_{t}" for t in TAGS), "tag_words"]
    assert list(out.columns)[3:] == output_columns()
    assert out["agent"].tolist() == list("abcdef")
    for t in TAGS:
        assert out[t].dtype == "int64" and out[f"p_{t}"].dtype == "float64"
    # Each row equals its own single-row tagging.
    for i in range(len(replies)):
        one = tag_replies(replies.iloc[[i]], model)
        np.testing.assert_allclose(one[[f"p_{t}" for t in TAGS]].to_numpy(),
                                   out.iloc[[i]][[f"p_{t}" for t in TAGS]].to_numpy(), rtol=1e-9)
    assert (out.loc[10, list(TAGS)] == out.loc[15, list(TAGS)]).all()
    assert replies.columns.tolist() == ["text", "context", "agent"]  # input untouched


def test_tag_replies_scores_by_parts_equal_predict_proba(model, corpus):
    # tag_replies adds up reply / context / cross parts of the linear scores; the result must be
    # what the estimator's own predict_proba gives for the same rows.
    sample = corpus.sample(120, random_state=1)[["text", "context"]].reset_index(drop=True)
    extra = pd.DataFrame({"text": ["嗯", "从没见过的一句话", "[微笑]"], "context": ["有货吗", "", "在吗"]})
    rows = pd.concat([sample, extra], ignore_index=True)
    ours = tag_replies(rows, model, with_words=False)[[f"p_{t}" for t in TAGS]].to_numpy()
    reference = model.predict_proba(rows)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-9)


def test_tag_replies_without_context_column_and_empty_table(model):
    out = tag_replies(pd.DataFrame({"text": ["有的亲"]}), model)
    assert "context" not in out.columns and out.loc[0, "tag_words"] == ""
    empty = tag_replies(pd.DataFrame({"text": pd.Series([], dtype=object)}), model)
    assert len(empty) == 0 and "p_rude" in empty.columns


def test_tag_replies_missing_text_column_is_a_clear_error(model):
    with pytest.raises(ValueError, match="needs a 'text' column; the table has: reply, context"):
        tag_replies(pd.DataFrame({"reply": ["x"], "context": [""]}), model)


def test_tag_words_only_for_flagged_tags(half_model):
    out = tag_replies(pd.DataFrame({"text": ["最后一件了，不拍就没了", "百分百不掉色", "有的亲"],
                                    "context": ["", "", "有货吗"]}), half_model)
    for _, row in out.iterrows():
        flagged = [t for t in TAGS if row[t] == 1]
        named = [part.split(":")[0] for part in row["tag_words"].split("; ") if part]
        assert named == flagged
    assert out.loc[0, "pushy"] == 1 and out.loc[1, "overclaim"] == 1 and out.loc[2, "tag_words"] == ""
    parts = dict(part.split(": ", 1) for part in out.loc[0, "tag_words"].split("; "))
    pushy_words = parts["pushy"].split(", ")
    assert pushy_words and all(w in "最后一件了不拍就没了" or w.startswith("〔") for w in pushy_words)


def test_explain_reports_every_tag(half_model):
    e = explain(half_model, "百分百不掉色")
    assert list(e) == list(TAGS)
    assert e["overclaim"]["flagged"] and e["overclaim"]["p"] >= e["overclaim"]["threshold"]
    words = [w for w, _ in e["overclaim"]["words"]]
    assert any("百分百" in w or "掉色" in w for w in words)
    assert all(weight > 0 for _, weight in e["overclaim"]["words"])


def test_bare_ack_depends_on_the_question(model):
    out = tag_replies(pd.DataFrame({"text": ["嗯", "嗯"], "context": ["这个有货吗", "好的谢谢"]}), model)
    assert out["p_unhelpful"].iloc[0] > out["p_unhelpful"].iloc[1]


def test_two_workers_give_the_same_answer_as_one(half_model):
    texts = ["最后一件了，不拍就没了", "有的亲", "你烦不烦", "百分百不掉色", "稍等我帮您查一下", "不知道"]
    replies = pd.DataFrame({"text": [texts[i % 6] + ("" if i % 4 else str(i)) for i in range(60)],
                            "context": [["", "有货吗", "怎么还不发货"][i % 3] for i in range(60)]})
    one = tag_replies(replies, half_model, workers=1)
    two = tag_replies(replies, half_model, workers=2, parallel_min_strings=0)
    pd.testing.assert_frame_equal(one, two)
    assert (two["tag_words"] != "").sum() >= 10  # explanations also ran in the workers


def test_workers_must_be_positive(model):
    with pytest.raises(ValueError, match="workers must be >= 1"):
        tag_replies(pd.DataFrame({"text": ["a"]}), model, workers=0)


def test_evaluate_model_counts_fine_rows(model, corpus):
    report = evaluate_model(model, corpus)
    fine = int((corpus[list(TAGS)].sum(axis=1) == 0).sum())
    assert report.fine_rows == fine and report.rows == len(corpus)
    assert list(report.per_tag.index) == list(TAGS)
    assert report.per_tag["support"].tolist() == [int(corpus[t].sum()) for t in TAGS]
    d = report.to_dict()
    assert d["fine_flag_rate"] == round(report.fine_flagged / fine, 6)


# ---------------------------------------------------------------------------------------
# Persistence
# ---------------------------------------------------------------------------------------
def test_save_and_load_roundtrip(model, tmp_path):
    path = save_model(model, tmp_path / "m.skops")
    loaded = load_model(path)
    assert loaded.thresholds == model.thresholds and loaded.metadata == model.metadata
    probe = pd.DataFrame({"text": ["最后一件了", "有的亲"], "context": ["", "有货吗"]})
    np.testing.assert_allclose(loaded.predict_proba(probe), model.predict_proba(probe))
    assert loaded.describe()["name"] == "m.skops"


class Smuggled:  # stands in for any type that is not on the trusted list
    def __init__(self):
        self.payload = "x"


def test_loading_a_file_with_untrusted_types_fails_clearly(model, tmp_path):
    path = tmp_path / "evil.skops"
    skops.io.dump({"model": Smuggled()}, path)
    with pytest.raises(ModelError, match=r"refusing to load.*test_classifier\.Smuggled"):
        load_model(path)


def test_loading_a_pickle_or_missing_file_fails_clearly(tmp_path):
    p = tmp_path / "m.pkl"
    p.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelError, match="not a skops model file"):
        load_model(p)
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "nope.skops")


def test_a_trusted_file_holding_something_else_is_refused(tmp_path):
    path = tmp_path / "arr.skops"
    skops.io.dump(np.arange(3), path)
    with pytest.raises(ModelError, match="not a ReplyClassifier"):
        load_model(path)


def test_saved_model_is_a_compressed_zip(model, tmp_path):
    path = save_model(model, tmp_path / "m.skops")
    with zipfile.ZipFile(path) as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())


def test_default_model_lookup_explains_where_it_looked(monkeypatch, tmp_path):
    import qa_scorer
    from qa_scorer.classifier import default_model_path

    # Pretend the package lives outside a checkout and has no packaged model either.
    fake = tmp_path / "site" / "qa_scorer" / "__init__.py"
    monkeypatch.setattr(qa_scorer, "__file__", str(fake))
    with pytest.raises(ModelError, match=r"no reply model found: looked for .*site/models/reply_tagger\.skops "
                                         r"and the installed package data qa_scorer/_models/reply_tagger\.skops"):
        default_model_path()
    # A checkout next to the package wins.
    (tmp_path / "site" / "models").mkdir(parents=True)
    (tmp_path / "site" / "models" / "reply_tagger.skops").write_bytes(b"x")
    assert default_model_path() == tmp_path / "site" / "models" / "reply_tagger.skops"


# ---------------------------------------------------------------------------------------
# ReplyClassifier as an ordinary scikit-learn estimator
# ---------------------------------------------------------------------------------------
def _text_and_context(df: pd.DataFrame) -> pd.DataFrame:
    return df[["text", "context"]]


def test_estimator_api_shapes_and_fitted_attributes(corpus, model):
    X = corpus[["text", "context"]].iloc[:37]
    proba, pred = model.predict_proba(X), model.predict(X)
    # scikit-learn's multilabel convention: one column per tag, P(tag) / 0-1 decisions.
    assert proba.shape == pred.shape == (37, len(TAGS))
    assert proba.dtype == np.float64 and pred.dtype == np.int64 and set(np.unique(pred)) <= {0, 1}
    thresholds = np.array([model.thresholds_[t] for t in TAGS])
    np.testing.assert_array_equal(pred, (proba >= thresholds).astype(int))
    frame = model.predict_proba_frame(X)
    assert list(frame.columns) == [f"p_{t}" for t in TAGS] and frame.index.equals(X.index)
    np.testing.assert_array_equal(frame.to_numpy(), proba)
    assert model.tags_ == list(TAGS) and [list(c) for c in model.classes_] == [[0, 1]] * len(TAGS)
    assert len(model.calibrators_) == len(model.estimators_) == len(TAGS)
    assert all(len(c) == len(e) == model.calibration_folds for c, e in zip(model.calibrators_, model.estimators_))
    assert model.predict_proba(X.iloc[:0]).shape == (0, len(TAGS))
    # Without a context column every reply is scored as having no buyer message.
    np.testing.assert_allclose(model.predict_proba(X[["text"]]), model.predict_proba(X.assign(context="")))


def test_fit_takes_a_label_frame_or_an_array(corpus):
    X, Y = corpus[["text", "context"]], corpus[list(TAGS)]
    kwargs = dict(fixed_thresholds=0.5, calibration_folds=2)
    a = ReplyClassifier(**kwargs).fit(X, Y, groups=corpus["source"])
    b = ReplyClassifier(**kwargs).fit(X, Y.to_numpy(), groups=corpus["source"].to_numpy())
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.thresholds_ == {t: 0.5 for t in TAGS}
    with pytest.raises(ValueError, match=r"shape \(439, 4\)"):
        ReplyClassifier(**kwargs).fit(X, Y.to_numpy()[:, :3])
    with pytest.raises(ValueError, match="lacks tag column"):
        ReplyClassifier(**kwargs).fit(X, Y.drop(columns="rude"))
    with pytest.raises(ValueError, match="'text' column"):
        ReplyClassifier(**kwargs).fit(X.to_numpy(), Y)


def test_automatic_thresholds_from_out_of_fold_predictions(corpus):
    X, Y = corpus[["text", "context"]], corpus[list(TAGS)]
    clf = ReplyClassifier(threshold_folds=2, calibration_folds=2).fit(X, Y, groups=corpus["source"])
    assert all(0.3 <= clf.thresholds_[t] <= 1.0 for t in TAGS)
    assert "2-fold out-of-fold" in clf.metadata_["threshold_rule"]["chosen_on"]
    with pytest.raises(ValueError, match="held-out predictions"):
        ReplyClassifier(threshold_folds=0).fit(X, Y)


def test_clone_and_get_params_follow_the_estimator_conventions(model):
    from sklearn.base import clone, is_classifier
    from sklearn.exceptions import NotFittedError
    from sklearn.utils import estimator_checks as checks

    fresh = ReplyClassifier(C=8.0, calibration_folds=4, fixed_thresholds={t: 0.6 for t in TAGS},
                            features=F.ReplyFeaturizer(word_min_df=1), random_state=3)
    for check in (checks.check_parameters_default_constructible, checks.check_no_attributes_set_in_init,
                  checks.check_get_params_invariance, checks.check_set_params, checks.check_estimator_cloneable,
                  checks.check_estimator_repr, checks.check_do_not_raise_errors_in_init_or_set_params,
                  checks.check_valid_tag_types, checks.check_mixin_order, checks.check_estimators_unfitted):
        check("ReplyClassifier", clone(fresh))
    params = fresh.get_params()
    assert params["C"] == 8.0 and params["random_state"] == 3 and params["features__word_min_df"] == 1
    copy = clone(fresh)
    assert copy.get_params()["fixed_thresholds"] == params["fixed_thresholds"]
    assert copy.set_params(C=2.0, features__char_min_df=3).C == 2.0 and copy.features.char_min_df == 3
    assert fresh.C == 8.0 and fresh.features.char_min_df == 2   # the original is untouched
    # A clone of the fitted model is unfitted, with the same hyper-parameters.
    unfitted = clone(model)
    assert unfitted.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        unfitted.predict(pd.DataFrame({"text": ["有的亲"]}))
    assert is_classifier(model)
    tags = model.__sklearn_tags__()
    assert tags.classifier_tags.multi_label and tags.target_tags.multi_output


def test_usable_in_a_pipeline_and_in_cross_validate(corpus):
    from sklearn.model_selection import GroupKFold
    from sklearn.model_selection import cross_validate as sk_cross_validate
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, Y = corpus[["text", "context"]].assign(agent="a"), corpus[list(TAGS)]
    pipe = Pipeline([("columns", FunctionTransformer(_text_and_context)),
                     ("tagger", ReplyClassifier(fixed_thresholds=0.5, calibration_folds=2))])
    result = sk_cross_validate(pipe, X, Y, groups=corpus["source"], cv=GroupKFold(n_splits=3),
                               scoring=["f1_micro", "roc_auc"], return_estimator=True, error_score="raise")
    assert len(result["estimator"]) == 3
    # Held-out groups: the linear models must still rank tagged replies well above fine ones.
    assert (result["test_roc_auc"] > 0.8).all() and (result["test_f1_micro"] > 0.3).all()
    fitted = result["estimator"][0]
    assert fitted.predict(X.iloc[:5]).shape == (5, len(TAGS))
    # Groups can also be routed to fit (calibration folds keep a sentence's variants together).
    import sklearn
    with sklearn.config_context(enable_metadata_routing=True):
        routed = ReplyClassifier(fixed_thresholds=0.5, calibration_folds=2).set_fit_request(groups=True)
        out = sk_cross_validate(routed, X[["text", "context"]], Y, cv=GroupKFold(n_splits=2),
                                params={"groups": corpus["source"]}, error_score="raise")
    assert len(out["test_score"]) == 2


def test_describe_is_json_with_file_name_only(model, corpus, tmp_path):
    import json
    fresh = ReplyClassifier(fixed_thresholds=0.5, calibration_folds=2).fit(corpus[["text"]], corpus[list(TAGS)])
    assert fresh.describe()["name"] is None and fresh.describe()["corpus_sha256"] is None  # fit alone: no corpus file
    path = save_model(model, tmp_path / "sub" / "shop.skops")
    d = load_model(path).describe()
    assert json.loads(json.dumps(d)) == d
    assert d["name"] == "shop.skops" and str(tmp_path) not in json.dumps(d)
    assert set(d) >= {"name", "version", "trained_at", "corpus_sha256", "corpus_rows", "thresholds", "format"}
    assert d["corpus_rows"] == 439 and len(d["corpus_sha256"]) == 64 and d["trained_at"].endswith("Z")
    assert d["thresholds"] == model.thresholds_ and d["format"] == 2
    import hashlib
    assert d["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_saved_model_holds_no_private_scikit_learn_class(model, tmp_path):
    from qa_scorer.classifier import TRUSTED_TYPES
    assert not [t for t in TRUSTED_TYPES if t.rsplit(".", 1)[1].startswith("_")]
    path = save_model(model, tmp_path / "m.skops")
    assert set(skops.io.get_untrusted_types(file=path)) <= set(TRUSTED_TYPES)


def test_a_format_1_model_asks_for_a_retrain(tmp_path):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    path = tmp_path / "old.skops"
    clf = CalibratedClassifierCV(LogisticRegression(), cv=2).fit(np.r_[np.zeros(4), np.ones(4)].reshape(-1, 1),
                                                                  [0, 0, 0, 0, 1, 1, 1, 1])
    skops.io.dump(clf, path)
    with pytest.raises(ModelError, match="format 1.*Re-train it with `qa-scorer train`"):
        load_model(path)


def test_explanation_weights_are_the_calibrated_log_odds(model):
    weights, intercepts, slopes, offsets, tag_of = model.linear_parts()
    folds = model.calibration_folds
    assert weights.shape == (sum(model.featurizer.block_sizes()), len(TAGS) * folds) and (slopes > 0).all()
    assert list(tag_of) == [k for k in range(len(TAGS)) for _ in range(folds)]
    np.testing.assert_allclose(model.coefficients()[1], (weights[:, folds:2 * folds] * slopes[folds:2 * folds]).mean(axis=1))
