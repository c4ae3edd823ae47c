"""Benchmark of the metrics stage: conversation_metrics + agent_metrics on synthetic chats.

Run:  cd /work/main && PYTHONPATH=. python benchmarks/bench_metrics.py [--messages 1000000] [--seed 7]

The messages table is generated with numpy (fixed seed, no Python loop per message):
~60,000 conversations of ~17 messages, ~50% human agent messages, a few auto-replies and
system notices, 200 agents in 10 shops, 5% of conversations transferred to a second agent,
about a third of the texts made distinct by a number so the per-distinct-text regex work
is not flattered by an unrealistically small vocabulary.  Only the metrics stage is timed
(not the generation).  Prints messages/second and the peak RSS (psutil, sampled every
10 ms during the timed part, plus the process high-water mark from getrusage).
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import numpy as np
import pandas as pd
import psutil

from qa_scorer.metrics import agent_metrics, conversation_metrics
from qa_scorer.settings import MetricSettings, settings_from_mapping

CUSTOMER_TEXTS = [
    "在吗", "这个尺码偏大吗？我身高165体重110斤", "有货吗", "什么时候发货", "质量怎么样会不会起球",
    "颜色有色差吗", "能便宜点吗", "好的谢谢", "[图片]", "这个材质是纯棉的吗", "可以退换吗", "快递是哪家",
    "我买的东西还没到", "亲在不在", "这款适合敏感肌吗",
]
AGENT_TEXTS = [
    "在的呢亲~[微笑]", "好的", "嗯", "有的亲，现货今天下单明天就发哦", "亲，这款是纯棉面料，不起球的，放心购买哦",
    "[图片]", "/:^_^", "稍等，我帮您查一下", "亲，偏大一码，建议您拍小一码哦", "感谢您的支持，祝您购物愉快！",
    "您好，欢迎光临，有什么可以帮您", "亲爱的您可以看下我们店铺内有没有您喜欢的商品，如果有什么问题请随时咨询我们",
    "默认中通快递哦亲", "好的呢亲", "不知道",
]
AUTO_TEXTS = ["[自动回复]您好，客服正在赶来的路上，请稍候", "[自动回复]亲，现在是非工作时间，上班后第一时间回复您"]
SYSTEM_TEXTS = ["买家已下单", "[商品卡片]", "会话已转接"]


def generate_messages(n_messages: int = 1_000_000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_conv = max(1, n_messages // 17)
    # Conversation lengths (at least 2) summing exactly to n_messages.
    lengths = rng.poisson(15, n_conv) + 2
    lengths = np.maximum(np.round(lengths * n_messages / lengths.sum()).astype(np.int64), 1)
    lengths[-1] += n_messages - lengths.sum()
    while lengths[-1] < 1:  # rounding drift: take the excess from the longest conversations
        i = int(np.argmax(lengths[:-1]))
        lengths[i] -= 1
        lengths[-1] += 1
    conv = np.repeat(np.arange(n_conv), lengths)
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    pos_in_conv = np.arange(n_messages) - first[conv]

    # Roles: the first message is the buyer's; then ~50% agent, 43% buyer, 4% auto, 3% system.
    role_pick = rng.choice(4, size=n_messages, p=[0.43, 0.50, 0.04, 0.03])
    role_pick[first] = 0
    roles = np.array(["customer", "agent", "auto", "system"], dtype=object)[role_pick]

    # Times: conversations start over March 2026 (more by day), messages 5 s - 10 min apart.
    day = rng.integers(0, 31, n_conv)
    hour_weight = np.r_[[0.5] * 8, [6.0] * 14, [2.0] * 2]  # night, day, late evening
    hour = rng.choice(24, size=n_conv, p=hour_weight / hour_weight.sum())
    start = (np.datetime64("2026-03-01T00:00:00", "ns") + (day * 86400 + hour * 3600 + rng.integers(0, 3600, n_conv))
             .astype("timedelta64[s]"))
    gaps = rng.exponential(60.0, n_messages).clip(5, 600).astype("timedelta64[s]")
    gaps[first] = np.timedelta64(0, "s")
    offsets = np.cumsum(gaps.astype(np.int64))
    offsets -= offsets[first][conv]
    sent_at = start[conv] + offsets.astype("timedelta64[s]")

    shop_of_conv = rng.integers(0, 10, n_conv)
    agent_of_conv = shop_of_conv * 20 + rng.integers(0, 20, n_conv)
    second_agent = shop_of_conv * 20 + (agent_of_conv % 20 + 1) % 20
    transferred = rng.random(n_conv) < 0.05
    late = pos_in_conv > lengths[conv] // 2
    agent_id = np.where(transferred[conv] & late, second_agent[conv], agent_of_conv[conv])
    shop_names = np.array([f"旗舰店{i}" for i in range(10)], dtype=object)
    agent_names = np.array([f"旗舰店{i // 20}:客服{i % 20}" for i in range(200)], dtype=object)

    sender = np.where(role_pick == 0, "tb_" + pd.Series(conv).astype(str).to_numpy(dtype=object),
                      agent_names[agent_id])
    sender = np.where(role_pick >= 2, shop_names[shop_of_conv[conv]], sender)

    text = np.empty(n_messages, dtype=object)
    for code, pool in enumerate((CUSTOMER_TEXTS, AGENT_TEXTS, AUTO_TEXTS, SYSTEM_TEXTS)):
        mask = role_pick == code
        text[mask] = np.array(pool, dtype=object)[rng.integers(0, len(pool), int(mask.sum()))]
    # A third of buyer/agent texts get a number (sizes, order numbers) -> many distinct texts.
    numbered = (role_pick <= 1) & (rng.random(n_messages) < 0.33)
    numbers = pd.Series(rng.integers(0, 1_000_000, int(numbered.sum()))).astype(str).to_numpy(dtype=object)
    text[numbered] = text[numbered] + numbers

    return pd.DataFrame({
        "conversation_id": "c" + pd.Series(conv).astype(str),
        "sent_at": pd.Series(sent_at.astype("datetime64[ns]")),
        "sender": sender,
        "role": roles,
        "text": text,
        "source_file": "bench.csv",
        "source_line": np.arange(2, n_messages + 2, dtype=np.int64),
        "shop": shop_names[shop_of_conv[conv]],
        "agent": agent_names[agent_of_conv[conv]],
    })


class PeakRss:
    """Sample this process's RSS with psutil in a background thread."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--platform", default=None, help="apply a platform preset (taobao, douyin, ...)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    messages = generate_messages(args.messages, args.seed)
    gen_s = time.perf_counter() - t0
    settings = settings_from_mapping({"platform": args.platform}) if args.platform else MetricSettings()
    rss_before = psutil.Process().memory_info().rss

    with PeakRss() as rss:
        t1 = time.perf_counter()
        tables = conversation_metrics(messages, settings)
        t2 = time.perf_counter()
        agents = agent_metrics(tables.replies, tables.rounds, tables.conversations, settings)
        t3 = time.perf_counter()

    n = len(messages)
    mib = 1024 * 1024
    print(f"messages            {n:,} ({messages['conversation_id'].nunique():,} conversations, "
          f"{(messages['role'] == 'agent').mean():.0%} human agent) generated in {gen_s:.1f} s")
    print(f"output              {len(tables.replies):,} replies, {len(tables.rounds):,} rounds, "
          f"{len(tables.conversations):,} conversations, {len(agents):,} agents")
    print(f"conversation_metrics {t2 - t1:.2f} s")
    print(f"agent_metrics        {t3 - t2:.2f} s")
    print(f"total                {t3 - t1:.2f} s  ->  {n / (t3 - t1):,.0f} messages/s")
    print(f"RSS before {rss_before / mib:,.0f} MiB, peak during metrics {rss.peak / mib:,.0f} MiB "
          f"(+{(rss.peak - rss_before) / mib:,.0f} MiB); process high-water mark "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
