"""Speed of ``classify_questions`` on distinct buyer messages, one core.

    OMP_NUM_THREADS=1 taskset -c 0 python models/training/questions/bench_speed.py [N]

Messages: corpus texts with one random common character inserted at a random position, so
(almost) every message is distinct *and* its jieba blocks are new (pessimistic: real buyer
messages repeat clauses), while the length stays that of buyer messages.  Reports distinct messages per second, cold (fresh jieba
block cache; model and jieba dictionary already loaded) and again with the cache warm, as wall
time and as CPU time of this process (the honest "one core" figure on a shared machine).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import pandas as pd

from qa_scorer import question_types
from qa_scorer.question_types import classify_questions, load_question_model

HERE = Path(__file__).resolve().parent


def messages(n: int, seed: int = 0) -> pd.Series:
    rng = random.Random(seed)
    corpus = pd.read_csv(HERE / "corpus.csv", keep_default_na=False)["text"].tolist()
    chars = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
    out = []
    for i in range(n):
        t = rng.choice(corpus)
        k = rng.randint(0, len(t))
        out.append(t[:k] + rng.choice(chars) + t[k:])
    return pd.Series(out, dtype=object)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    model = load_question_model()
    texts = messages(n)
    distinct = texts.nunique()
    classify_questions(pd.Series(["预热一下"]), model)  # jieba dictionary loaded once per process
    question_types._CUT_CACHE.clear()
    print(f"mean length {texts.str.len().mean():.1f} characters; {n} messages, {distinct} distinct")
    for run in ("cold (new jieba blocks)", "warm (jieba blocks cached)"):
        w0, c0 = time.perf_counter(), time.process_time()
        classify_questions(texts, model)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        print(f"{run}: wall {wall:.2f} s = {distinct / wall:,.0f} distinct/s; "
              f"CPU {cpu:.2f} s = {distinct / cpu:,.0f} distinct/s per CPU-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
