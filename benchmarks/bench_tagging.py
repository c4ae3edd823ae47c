"""Benchmark ``tag_replies`` on a shop-like replies table.

500,000 replies (fixed seed): ~70 % drawn from ~300 quick phrases, ~30 % distinct sentences;
contexts likewise (~70 % from ~300 common buyer questions).  Times ``tag_replies`` with
workers=1 and workers=2 and prints replies/second and the peak RSS of the whole process tree
(this process + worker processes, sampled every 20 ms with psutil).

    PYTHONPATH=. python benchmarks/bench_tagging.py [--rows 500000] [--model models/reply_tagger.skops]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from qa_scorer.classifier import features, load_model, tag_replies

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import PeakRSS  # noqa: E402

OPENERS = ["亲", "亲亲", "您好", "在的呢亲", "好的亲", "嗯嗯", "亲爱的", "哈喽亲", "", "宝宝"]
ANSWERS = [
    "这款是纯棉面料，透气不闷热", "建议您拍大一码，这款偏小", "今天下单明天就发货", "我们默认发中通快递",
    "满199减20，可以叠加店铺券", "这款有黑白灰三个颜色", "支持七天无理由退换", "有运费险的，退换不花钱",
    "洗的时候建议手洗，不要暴晒", "您身高165的话建议拍M码", "已经帮您备注了，会尽快发出", "稍等我帮您查一下物流",
    "这个颜色是实拍的，会有轻微色差", "亲，这款是现货的哦", "最后一件了，不拍就没了", "今天不下单明天就涨价了",
    "百分百不掉色", "全网最低价了亲", "自己看详情页", "说了多少遍了", "不知道", "这款卖得很好，回购率很高",
    "我们是官方旗舰店，正品保证", "赠品是随机发的", "可以开发票的，下单备注抬头", "售后问题请联系售后客服",
]
CLOSERS = ["", "哦", "呢", "~", "[微笑]", "[玫瑰]", "哈", "的", "，有问题随时联系我", "，祝您购物愉快"]
COMMON_CHARS = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
    "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好"
    "应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道"
    "命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长"
    "求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色"
    "光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教"
    "速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记"
    "需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史"
)
QUESTIONS = [
    "有货吗", "这个会掉色吗", "能便宜点吗", "怎么还不发货", "尺码怎么选", "好的谢谢", "我再看看", "什么时候发货",
    "发什么快递", "可以退吗", "有没有优惠券", "质量怎么样", "会起球吗", "是正品吗", "165穿多大", "包邮吗",
    "在吗", "能开发票吗", "有赠品吗", "颜色和图片一样吗",
]


def make_replies(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    opener = np.array(OPENERS, dtype=object)
    answer = np.array(ANSWERS, dtype=object)
    closer = np.array(CLOSERS, dtype=object)

    def combos(n):
        return (opener[rng.integers(len(opener), size=n)] + "，" + answer[rng.integers(len(answer), size=n)]
                + closer[rng.integers(len(closer), size=n)])

    quick = pd.unique(combos(5000))[:300]                     # ~300 quick phrases
    repeated = rng.random(rows) < 0.70
    text = quick[rng.integers(len(quick), size=rows)].astype(object)
    n_distinct = int((~repeated).sum())
    # Distinct replies: a sentence plus a clause of 4-9 random common characters, so their
    # wording (not just a number) differs and jieba has to cut a new block for each.
    pool = np.array(list(COMMON_CHARS), dtype=object)
    lengths = rng.integers(4, 10, size=n_distinct)
    picks = pool[rng.integers(len(pool), size=(n_distinct, 9))]
    clause = np.array(["".join(row[:k]) for row, k in zip(picks, lengths)], dtype=object)
    text[~repeated] = combos(n_distinct) + "，" + clause

    q = np.array(QUESTIONS, dtype=object)
    common_ctx = pd.unique(q[rng.integers(len(q), size=3000)] + np.array(["", "？", "呢", "啊", "亲"],
                                                                         dtype=object)[rng.integers(5, size=3000)]
                           + pd.Series(rng.integers(0, 15, size=3000)).astype(str).to_numpy(dtype=object))[:300]
    ctx_repeated = rng.random(rows) < 0.70
    context = common_ctx[rng.integers(len(common_ctx), size=rows)].astype(object)
    n_ctx = int((~ctx_repeated).sum())
    ctx_lengths = rng.integers(3, 8, size=n_ctx)
    ctx_picks = pool[rng.integers(len(pool), size=(n_ctx, 7))]
    ctx_clause = np.array(["".join(row[:k]) for row, k in zip(ctx_picks, ctx_lengths)], dtype=object)
    context[~ctx_repeated] = q[rng.integers(len(q), size=n_ctx)] + "，" + ctx_clause
    return pd.DataFrame({"text": text, "context": context})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--model", default=None, help="model path (default: the shipped model)")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to time")
    args = parser.parse_args()

    t0 = time.perf_counter()
    replies = make_replies(args.rows)
    print(f"generated {len(replies):,} replies in {time.perf_counter() - t0:.1f} s: "
          f"{replies['text'].nunique():,} distinct texts, {replies['context'].nunique():,} distinct contexts, "
          f"{len(replies.drop_duplicates()):,} distinct pairs")
    t0 = time.perf_counter()
    model = load_model(args.model)
    print(f"model loaded in {time.perf_counter() - t0:.2f} s: {model.describe()}")
    baseline = psutil.Process().memory_info().rss
    print(f"RSS before tagging: {baseline / 2**20:.0f} MiB")
    results = {}
    for workers in [int(w) for w in args.workers.split(",")]:
        # Start each run cold: the in-process run would otherwise reuse the jieba block cache
        # filled by the previous run (pool workers start empty from qa_scorer.executors' server).
        features._BLOCK_CACHE.clear()
        with PeakRSS() as peak:
            t0 = time.perf_counter()
            tagged = tag_replies(replies, model, workers=workers)
            elapsed = time.perf_counter() - t0
        results[workers] = tagged
        flagged = {t: int(tagged[t].sum()) for t in model.tags_}
        print(f"workers={workers}: {elapsed:.2f} s, {len(replies) / elapsed:,.0f} replies/s, "
              f"peak memory of the process tree: RSS sum {peak.peak / 2**20:.0f} MiB, PSS sum "
              f"{peak.peak_pss / 2**20:.0f} MiB; flagged {flagged}")
    if len(results) > 1:
        first, *rest = results.values()
        same = all(first.equals(r) for r in rest)
        print(f"results identical across worker counts: {same}")


if __name__ == "__main__":
    main()
