"""End-to-end benchmark of ``qa-scorer audit``: generate a fixed-seed export, run the real audit
path in-process, print messages/second, wall time per stage and peak memory (RSS of the whole
process tree, sampled every 20 ms: the classifier's worker processes count too).

    python benchmarks/bench_audit.py --messages 1000000               # ~70% quick phrases
    python benchmarks/bench_audit.py --messages 1000000 --repeated 0  # worst case: every agent text distinct
    python benchmarks/bench_audit.py --sizes 100000,1000000,3000000   # linearity
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _memory import PeakRSS  # noqa: E402
from gen_data import generate  # noqa: E402

from qa_scorer.pipeline import AuditOptions, audit  # noqa: E402


def run_one(n: int, repeated: float, workers: int, folder: Path, xlsx: bool, html: bool,
            chunk_rows: int | None = None) -> dict:
    data = folder / f"bench_{n}_{repeated}.csv"
    if not data.exists():
        generate(n, repeated=repeated, seed=0).to_csv(data, index=False)
    out = folder / f"out_{n}_{repeated}"
    with PeakRSS() as rss:
        t0 = time.perf_counter()
        result = audit([data], AuditOptions(out_dir=out, workers=workers, xlsx=xlsx, html=html, chunk_rows=chunk_rows))
        wall = time.perf_counter() - t0
    n_msgs = result.summary["messages"]
    return {"messages": n_msgs, "conversations": int(result.conversations.shape[0]),
            "wall_s": wall, "msgs_per_s": n_msgs / wall, "peak_rss_mb": rss.peak / 2**20,
            "peak_pss_mb": rss.peak_pss / 2**20,
            "timings": result.timings, "notes": result.notes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--sizes", type=str, default=None, help="comma-separated sizes, e.g. 100000,1000000")
    ap.add_argument("--repeated", type=float, default=0.7, help="share of agent texts that are quick phrases")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-xlsx", action="store_true")
    ap.add_argument("--no-html", action="store_true")
    ap.add_argument("--chunk-size", type=int, default=None, help="stream in chunks of this many messages")
    ap.add_argument("--data-dir", type=Path, default=None, help="keep generated inputs here (default: temp)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.messages]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"cores={os.cpu_count()} workers={args.workers} repeated={args.repeated}")
        print(f"{'messages':>10} {'convs':>7} {'wall s':>7} {'msg/s':>9} {'RSS MB':>8} {'PSS MB':>8}  stages (s)")
        for n in sizes:
            r = run_one(n, args.repeated, args.workers, folder, not args.no_xlsx, not args.no_html, args.chunk_size)
            stages = " ".join(f"{k}={v:.2f}" for k, v in r["timings"].items())
            print(f"{r['messages']:>10,} {r['conversations']:>7,} {r['wall_s']:>7.2f} {r['msgs_per_s']:>9,.0f} "
                  f"{r['peak_rss_mb']:>8,.0f} {r['peak_pss_mb']:>8,.0f}  {stages}", flush=True)
            for note in r["notes"]:
                print(f"{'':>10} note: {note}")


if __name__ == "__main__":
    main()
