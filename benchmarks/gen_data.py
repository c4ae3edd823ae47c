"""Fixed-seed generator of large chat exports for the benchmarks (vectorised numpy, no per-row Python).

    python benchmarks/gen_data.py --messages 1000000 --repeated 0.7 --out benchmarks/_data/1m.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

QUICK_AGENT = [
    "在的呢亲~", "好的亲", "亲，有的哦", "稍等，我帮您查一下", "亲亲，今天下单明天发货哦", "包邮的亲", "有问题随时联系哦，祝您生活愉快",
    "亲，这款是纯棉的，透气不闷汗", "M码适合身高160-165体重100-115斤", "七天无理由退换，放心购买", "感谢您的支持，欢迎再次光临",
    "亲，已经帮您备注了", "快递是中通，一般2-3天到", "亲，实物和图片一样的，没有色差", "好的呢，马上为您处理", "嗯嗯好的",
    "亲，可以的", "这边帮您催一下快递哦", "退款已经处理了，1-3个工作日到账", "亲，尺码表在详情页，建议您拍M码",
    "最后一件了，不拍就没了哦", "百分百不掉色，全网最低价", "详情页都有，自己看下", "说了多少遍了", "嗯",
]
AGENT_WORDS = list("的了是我不在有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感")
CUSTOMER = [
    "在吗", "有货吗", "这件有M码吗", "多久发货", "包邮吗", "会起球吗", "我身高165体重110穿什么码", "能便宜点吗",
    "好的谢谢", "我拍了", "什么时候到", "可以退吗", "质量怎么样", "有色差吗", "发什么快递", "怎么还没发货",
]


def generate(n_messages: int, repeated: float = 0.7, seed: int = 0, conv_size: float = 16.7) -> pd.DataFrame:
    """~n_messages rows in ~n/conv_size conversations, half agent; ``repeated`` share of agent texts
    are quick phrases, the rest distinct strings of 8-30 characters."""
    rng = np.random.default_rng(seed)
    n_conv = max(1, int(n_messages / conv_size))
    sizes = rng.poisson(conv_size - 2, n_conv) + 2
    sizes = (sizes * (n_messages / sizes.sum())).round().astype(int).clip(2)
    sizes[-1] += n_messages - sizes.sum()
    sizes = sizes.clip(1)
    conv = np.repeat(np.arange(n_conv), sizes)
    n = len(conv)
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    is_agent = (pos % 2) == 1
    start = pd.Timestamp("2026-11-01 08:00:00").value // 10**9 + rng.integers(0, 30 * 86400 - 7200, n_conv)
    gaps = rng.exponential(45, n).astype(int) + 3
    gaps[pos == 0] = 0
    csum = np.cumsum(gaps)
    conv_offset = np.repeat(csum[np.cumsum(sizes) - sizes], sizes)
    ts = np.repeat(start, sizes) + (csum - conv_offset)
    agents = np.array([f"示例旗舰店:客服{i:02d}" for i in range(40)])
    conv_agent = agents[rng.integers(0, len(agents), n_conv)]
    buyers = np.array([f"tb_{i:07d}" for i in rng.integers(0, 10**7, n_conv)])
    sender = np.where(is_agent, np.repeat(conv_agent, sizes), np.repeat(buyers, sizes))
    text = np.empty(n, dtype=object)
    cust_idx = np.flatnonzero(~is_agent)
    text[cust_idx] = np.array(CUSTOMER, dtype=object)[rng.integers(0, len(CUSTOMER), len(cust_idx))]
    agent_idx = np.flatnonzero(is_agent)
    quick = rng.random(len(agent_idx)) < repeated
    text[agent_idx[quick]] = np.array(QUICK_AGENT, dtype=object)[rng.integers(0, len(QUICK_AGENT), quick.sum())]
    n_distinct = int((~quick).sum())
    lengths = rng.integers(8, 30, n_distinct)
    chars = np.array(AGENT_WORDS)[rng.integers(0, len(AGENT_WORDS), lengths.sum())]
    splits = np.split(chars, np.cumsum(lengths)[:-1])
    text[agent_idx[~quick]] = ["".join(s) + f"{i}" for i, s in enumerate(splits)]  # the suffix keeps them distinct
    return pd.DataFrame({
        "conversation_id": np.char.add("C", np.repeat(np.arange(n_conv), sizes).astype(str)),
        "sent_at": pd.to_datetime(ts, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
        "sender": sender,
        "role": np.where(is_agent, "agent", "customer"),
        "text": text,
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--repeated", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    generate(args.messages, args.repeated, args.seed).to_csv(args.out, index=False)
    print(args.out)


if __name__ == "__main__":
    main()
