"""Benchmark of the review workspace (``qa_scorer.workspace``): what recording an audit costs, and
how the review calls behave on a big workspace.

    # 1. recording: the same 1M-message audit without --db, with --db (new workspace), and again
    #    (nothing new: every conversation unchanged); wall, peak memory, database size
    python benchmarks/bench_workspace.py record --messages 1000000
    python benchmarks/bench_workspace.py record --db-url postgresql://postgres@127.0.0.1:54330/bench1
    # where the recorder's time goes (cProfile around WorkspaceRecorder only)
    python benchmarks/bench_workspace.py profile --messages 1000000

    # 2. scale: grow the recorded workspace by copying its rows inside the database (doubling,
    #    the last step partial) and time the review calls at each size
    python benchmarks/bench_workspace.py scale --db /tmp/bench_ws/ws.db --to 30000000
    python benchmarks/bench_workspace.py scale --db-url postgresql://postgres@127.0.0.1:54330/bench1 --to 8000000

Every audit runs in its own child process (same settings as ``bench_audit.py``: all cores,
CSVs + report.html + audit.xlsx), so the peak memory of one case does not leak into the next.
The input is ``gen_data.generate(n, repeated=0.7, seed=0)``, kept in ``--work-dir``.

How the big workspace is made (``scale``): after one real recorded audit (run row, rubric,
users, one period), ``conversations`` is copied with ``INSERT ... SELECT`` as new rows - id +
offset, key ``R<id>`` (unique), a new random ``sample_key`` (0-9999), ``facts_json`` with the new
key, the same agent, period, scores and flags - and ``messages``, ``replies`` and ``rounds`` with
``conversation_id + offset``.  Each step doubles the workspace; the last one copies only as many
conversations as reach the target.  Agents, period and the share of needs_review / flagged
conversations stay as in the recorded audit.

Timed at each size (``Workspace(db)`` reopened before the "first" call):
``conversation(key)`` for random keys (cold: SQLite file evicted from the page cache with
posix_fadvise + new engine; first call after reopening; median / p95 of 20 random keys),
``build_queue`` (the issue's policy, limit 200), ``queue(reviewer=...)``, ``period_status`` and,
up to ``--fas-max`` messages, ``final_agent_scores`` (loads the whole period; in a child process
with its own peak memory).  The benchmark's users (bench_lead, bench_r1-3) are added once and the
queue is emptied before each size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

PERIOD = "2026-11"   # gen_data's conversations all start in November 2026


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def is_url(db: str) -> bool:
    return "://" in db


def sqlite_path(db: str) -> Path:
    return Path(db.split(":///", 1)[1]) if db.startswith("sqlite:") else Path(db)


def db_size(db: str) -> dict:
    """Bytes on disk: SQLite file + -wal (+ -shm), or PostgreSQL's pg_database_size."""
    if is_url(db) and not db.startswith("sqlite"):
        from sqlalchemy import create_engine, text

        from qa_scorer.workspace.db import resolve_url
        eng = create_engine(resolve_url(db))
        with eng.connect() as c:
            size = c.execute(text("select pg_database_size(current_database())")).scalar()
            tables = dict(c.execute(text(
                "select relname, pg_total_relation_size(oid) from pg_class where relname in "
                "('conversations','messages','replies','rounds') and relkind='r'")).all())
        eng.dispose()
        return {"total": int(size), "tables": {k: int(v) for k, v in tables.items()}}
    p = sqlite_path(db)
    sizes = {s: (Path(str(p) + s).stat().st_size if Path(str(p) + s).exists() else 0) for s in ("", "-wal", "-shm")}
    return {"total": sizes[""] + sizes["-wal"], "file": sizes[""], "wal": sizes["-wal"]}


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def evict(db: str) -> bool:
    """Drop the SQLite file's pages from the OS page cache (this file only; other processes' caches stay)."""
    if is_url(db) and not db.startswith("sqlite"):
        return False
    for suffix in ("", "-wal"):
        f = Path(str(sqlite_path(db)) + suffix)
        if f.exists():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return True


def child(args: list[str]) -> dict:
    """Run this script in a fresh Python (one case) and return the JSON it prints last."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-4000:] + out.stderr[-8000:])
        return {"error": f"exit {out.returncode}", "stderr": out.stderr[-2000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def input_csv(work: Path, n: int) -> Path:
    from gen_data import generate

    data = work / "data" / f"bench_{n}_0.7.csv"
    if not data.exists():
        data.parent.mkdir(parents=True, exist_ok=True)
        generate(n, repeated=0.7, seed=0).to_csv(data, index=False)
    return data


def fresh_pg(url: str) -> None:
    """Drop and create the database named in ``url`` (connecting to the server's ``postgres`` db)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from qa_scorer.workspace.db import resolve_url
    u = make_url(resolve_url(url))
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'drop database if exists "{u.database}" with (force)'))
        c.execute(text(f'create database "{u.database}"'))
    admin.dispose()


# ---------------------------------------------------------------------------------------------
# one audit, in a child process
# ---------------------------------------------------------------------------------------------
def cmd_audit_one(a) -> None:
    from _memory import PeakRSS

    from qa_scorer.options import AuditOptions
    from qa_scorer.pipeline import audit
    from qa_scorer.workspace import record

    spent = {"init": 0.0, "add": 0.0, "finish": 0.0}
    prof = None
    if a.profile:
        import cProfile
        prof = cProfile.Profile()

    def timed(name, fn):
        def wrapper(*args, **kw):
            t = time.perf_counter()
            if prof:
                prof.enable()
            try:
                return fn(*args, **kw)
            finally:
                if prof:
                    prof.disable()
                spent[name] += time.perf_counter() - t
        return wrapper

    R = record.WorkspaceRecorder
    R.__init__, R.add, R.finish = timed("init", R.__init__), timed("add", R.add), timed("finish", R.finish)
    with PeakRSS() as rss:
        t0 = time.perf_counter()
        result = audit([a.csv], AuditOptions(out_dir=a.out, workers=a.workers, db=a.db or None))
        wall = time.perf_counter() - t0
    res = {"wall_s": wall, "peak_rss": rss.peak, "peak_pss": rss.peak_pss, "messages": result.summary["messages"],
           "conversations": int(result.conversations.shape[0]), "timings": result.run_info.get("timings_s", {}),
           "workspace": result.run_info.get("workspace"), "recorder_s": spent,
           "loadavg_1m_after": os.getloadavg()[0]}
    if a.db:
        res["size"] = db_size(a.db)
    if prof:
        import io
        import pstats
        prof.dump_stats(a.profile)
        for key in ("tottime", "cumulative"):
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats(key).print_stats(30)
            Path(a.profile + f".{key}.txt").write_text(s.getvalue())
    print(json.dumps(res, default=str))


def cmd_record(a) -> None:
    work = Path(a.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    csv = input_csv(work, a.messages)
    if a.db_url:
        db = a.db_url
        fresh_pg(db)
    else:
        db = str(work / (a.db_name or f"ws_{a.messages}.db"))
        for s in ("", "-wal", "-shm"):
            Path(db + s).unlink(missing_ok=True)
    base = ["_audit", "--csv", str(csv), "--workers", str(a.workers)]
    cases = [("audit, no --db", base + ["--out", str(work / "out_plain")]),
             ("audit --db (new workspace)", base + ["--out", str(work / "out_db1"), "--db", db]),
             ("audit --db again (unchanged)", base + ["--out", str(work / "out_db2"), "--db", db]),
             ("audit, no --db (repeat)", base + ["--out", str(work / "out_plain2")])]
    if a.quick:
        cases = cases[:3]
    rows = []
    print(f"input {csv} ({a.messages:,} messages), db {db}, workers={a.workers}", flush=True)
    for name, args in cases:
        r = child(args)
        r["case"] = name
        rows.append(r)
        if "error" in r:
            print(f"{name}: FAILED {r['error']}", flush=True)
            continue
        if "size" in r:
            r["size_after_exit"] = db_size(db)
        print(f"{name:<30} wall {r['wall_s']:7.2f} s  RSS {mb(r['peak_rss'])}  PSS {mb(r['peak_pss'])}  "
              f"recorder add {r['recorder_s']['add']:.2f} s finish {r['recorder_s']['finish']:.2f} s "
              f"init {r['recorder_s']['init']:.2f} s  workspace={r['timings'].get('workspace', '-')} "
              f"sinks={r['timings'].get('sinks', '-')} load={r['loadavg_1m_after']:.1f}"
              + (f"  db {mb(r['size']['total'])}" if 'size' in r else "")
              + (f"  summary {json.dumps({k: r['workspace'][k] for k in ('new', 'updated', 'unchanged')})}"
                 if r.get('workspace') else ""), flush=True)
    plain = [r for r in rows if "error" not in r and not r.get("size")]
    with_db = [r for r in rows if "error" not in r and r.get("size")]
    if plain and with_db:
        p = min(r["wall_s"] for r in plain)
        print(f"added time of recording: {with_db[0]['wall_s'] - p:.2f} s (+{(with_db[0]['wall_s'] / p - 1) * 100:.0f} %"
              f" over the faster plain run, {p:.2f} s); re-audit into the same workspace: "
              f"{with_db[-1]['wall_s'] - p:+.2f} s", flush=True)
    (work / f"record_{'pg' if a.db_url else 'sqlite'}.json").write_text(json.dumps(rows, indent=1, default=str))


def cmd_profile(a) -> None:
    work = Path(a.work_dir)
    csv = input_csv(work, a.messages)
    db = str(work / "ws_profile.db")
    for s in ("", "-wal", "-shm"):
        Path(db + s).unlink(missing_ok=True)
    prof = str(work / "recorder.prof")
    r = child(["_audit", "--csv", str(csv), "--workers", str(a.workers), "--out", str(work / "out_prof"),
               "--db", db, "--profile", prof])
    print(json.dumps({k: r.get(k) for k in ("wall_s", "recorder_s")}, default=str))
    for key in ("tottime", "cumulative"):
        print(Path(prof + f".{key}.txt").read_text())


# ---------------------------------------------------------------------------------------------
# scale: grow the workspace inside the database
# ---------------------------------------------------------------------------------------------
CONV_COLS = ["id", "conversation_key", "shop", "agent", "last_agent", "customer", "started_at", "ended_at",
             "period", "messages", "content_hash", "version_key", "version_no", "run_id", "facts_json",
             "machine_score", "machine_items", "flagged_replies", "flag_p_max", "flag_p_min", "needs_review",
             "review_reasons", "final_score", "final_items", "auto_failed", "reviewed", "sample_key",
             "row_version", "updated_at"]


def _copy_statements(pg: bool) -> list[str]:
    new_key = "('R' || (id + :off))"
    replaced = {
        "id": "id + :off",
        "conversation_key": new_key,
        "facts_json": (f"jsonb_set(facts_json::jsonb, '{{conversation_id}}', to_jsonb({new_key}))::text" if pg
                       else f"json_set(facts_json, '$.conversation_id', {new_key})"),
        "sample_key": "floor(random() * 10000)::int" if pg else "abs(random()) % 10000",
    }
    sel = ", ".join(replaced.get(c, c) for c in CONV_COLS)
    stmts = [f"INSERT INTO conversations ({', '.join(CONV_COLS)}) SELECT {sel} FROM conversations "
             f"WHERE id <= :lim ORDER BY id"]
    from qa_scorer.workspace import schema as S
    for table in (S.messages, S.replies, S.rounds):
        cols = [c.name for c in table.columns]
        sel = ", ".join("conversation_id + :off" if c == "conversation_id" else c for c in cols)
        stmts.append(f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {sel} FROM {table.name} "
                     f"WHERE conversation_id <= :lim")
    return stmts


def grow(db: str, target_messages: int, current: int) -> tuple[int, float]:
    """One step: copy as many conversations (from id 1 on) as bring the workspace to at most
    ``target_messages`` (doubling at most).  Returns (messages now, seconds)."""
    from sqlalchemy import create_engine, text

    from qa_scorer.workspace.db import resolve_url
    pg = is_url(db) and not db.startswith("sqlite")
    t0 = time.perf_counter()
    if pg:
        eng = create_engine(resolve_url(db))
        conn = eng.connect()
        q = lambda s, **p: conn.execute(text(s), p)  # noqa: E731
        q("SET synchronous_commit = off")
    else:
        import sqlite3
        conn = sqlite3.connect(sqlite_path(db), isolation_level=None)
        q = lambda s, **p: conn.execute(s, p)  # noqa: E731
        conn.execute("PRAGMA journal_mode=DELETE")   # one big write: no WAL copy of every page
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-3000000")  # 3 GB page cache for the index updates
        conn.execute("PRAGMA temp_store=FILE")
        conn.execute("BEGIN")
    max_id = q("SELECT max(id) FROM conversations").scalar() if pg else q("SELECT max(id) FROM conversations").fetchone()[0]
    want = min(target_messages - current, current)
    if want >= current:
        lim = max_id
    else:  # the smallest id prefix holding >= want messages
        lim_sql = ("SELECT id FROM (SELECT id, sum(messages) OVER (ORDER BY id) AS cum FROM conversations) t "
                   "WHERE cum >= :want ORDER BY id LIMIT 1")
        row = q(lim_sql, want=want)
        lim = (row.scalar() if pg else row.fetchone()[0]) or max_id
    added = 0
    for i, stmt in enumerate(_copy_statements(pg)):
        cur = q(stmt, off=max_id, lim=lim)
        if i == 1:
            added = cur.rowcount
    if pg:
        q("SELECT setval(pg_get_serial_sequence('conversations', 'id'), (SELECT max(id) FROM conversations))")
        conn.commit()
        conn.close()
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE conversations, messages, replies, rounds"))
        eng.dispose()
    else:
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
    return current + added, time.perf_counter() - t0


def _timeit(fn, n: int, budget_s: float = 30.0) -> tuple[list[float], object]:
    times, out, t_all = [], None, time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if time.perf_counter() - t_all > budget_s and len(times) >= 3:
            break
    return times, out


def stats(times: list[float]) -> dict:
    s = sorted(times)
    return {"n": len(s), "median_ms": statistics.median(s) * 1000,
            "p95_ms": s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))] * 1000, "max_ms": s[-1] * 1000}


def measure(db: str, messages: int, a) -> dict:
    """Time the review calls on the workspace as it is now."""
    from sqlalchemy import delete, func, select

    from qa_scorer.workspace import Workspace
    from qa_scorer.workspace import schema as S
    from qa_scorer.workspace.review import QueuePolicy

    res: dict = {"messages": messages, "loadavg_1m": os.getloadavg()[0]}
    ws = Workspace(db)
    lead, reviewers = "bench_lead", ["bench_r1", "bench_r2", "bench_r3"]
    existing = set(ws.users()["name"])
    for name, role in [(lead, "lead")] + [(r, "reviewer") for r in reviewers]:
        if name not in existing:
            ws.add_user(name, role)
    with ws.begin() as c:  # each size starts with an empty queue
        c.execute(delete(S.queue_items))
        n_conv, max_id = c.execute(select(func.count(), func.max(S.conversations.c.id))).one()
        n_review = c.execute(select(func.count()).where(S.conversations.c.needs_review.is_(True))).scalar()
    res["conversations"], res["needs_review"] = int(n_conv), int(n_review)
    rng = random.Random(messages)

    def keys(k: int) -> list[str]:
        ids = rng.sample(range(1, max_id + 1), min(k * 2, max_id))
        with ws.engine.connect() as c:
            found = c.execute(select(S.conversations.c.conversation_key)
                              .where(S.conversations.c.id.in_(ids))).scalars().all()
        rng.shuffle(found)
        return found[:k]

    sample = keys(40)
    ws.close()

    # cold: file evicted from the page cache, new engine
    evicted = evict(db)
    t = time.perf_counter()
    ws = Workspace(db)
    res["open_ms"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    view = ws.conversation(sample[0])
    res["conv_cold_ms" if evicted else "conv_first_ms"] = (time.perf_counter() - t) * 1000
    res["conv_messages"] = len(view.messages)
    ws.close()
    if evicted:  # first call after reopening, page cache as it is
        ws = Workspace(db)
        t = time.perf_counter()
        ws.conversation(sample[1])
        res["conv_first_ms"] = (time.perf_counter() - t) * 1000
    it = iter(sample[2:22])
    times, _ = _timeit(lambda: ws.conversation(next(it)), 20, budget_s=60)
    res["conv_random"] = stats(times)
    times, _ = _timeit(lambda: ws.conversation(sample[2]), 20)
    res["conv_same"] = stats(times)
    ws.close()

    policy = QueuePolicy(needs_review=True, random_pct=1, lowest=50, flagged_above=0.9, limit=200)
    ws = Workspace(db)
    t = time.perf_counter()
    q = ws.build_queue(PERIOD, reviewers=reviewers, policy=policy, actor=lead)
    res["queue_first_ms"], res["queue_items"] = (time.perf_counter() - t) * 1000, len(q)
    times, _ = _timeit(lambda: ws.build_queue(PERIOD, reviewers=reviewers, policy=policy, actor=lead), 20)
    res["build_queue"] = stats(times)
    times, out = _timeit(lambda: ws.queue(reviewer=reviewers[0]), 20)
    res["queue"], res["queue_rows"] = stats(times), len(out)
    ws.close()
    ws = Workspace(db)
    t = time.perf_counter()
    st = ws.period_status(PERIOD)
    res["status_first_ms"] = (time.perf_counter() - t) * 1000
    times, _ = _timeit(lambda: ws.period_status(PERIOD), 20)
    res["period_status"] = stats(times)
    res["status_conversations"] = st["conversations"]
    ws.close()
    res["size"] = db_size(db)
    if messages <= a.fas_max:
        res["final_agent_scores"] = child(["_fas", "--db", db, "--mem-limit-gb", str(a.mem_limit_gb)])
    return res


def cmd_fas(a) -> None:
    import resource

    from _memory import PeakRSS

    from qa_scorer.workspace import Workspace
    limit = int(a.mem_limit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # fail with MemoryError, not the OOM killer
    ws = Workspace(a.db)
    try:
        with PeakRSS() as rss:
            t = time.perf_counter()
            agents = ws.final_agent_scores(PERIOD)
            wall = time.perf_counter() - t
        print(json.dumps({"wall_s": wall, "peak_rss": rss.peak, "agents": len(agents)}))
    except MemoryError:
        print(json.dumps({"error": f"MemoryError at {a.mem_limit_gb} GB address-space limit"}))


def fmt_row(r: dict) -> str:
    fas = r.get("final_agent_scores")
    fas_txt = ("-" if not fas else fas.get("error") or f"{fas['wall_s']:.1f} s / {fas['peak_rss'] / 2**30:.1f} GB")
    return (f"{r['messages']:>11,} {r['conversations']:>10,} {r['size']['total'] / 2**30:>7.2f} "
            f"{r.get('conv_cold_ms', float('nan')):>8.0f} {r['conv_first_ms']:>8.0f} "
            f"{r['conv_random']['median_ms']:>8.1f} {r['conv_random']['p95_ms']:>8.1f} "
            f"{r['conv_same']['median_ms']:>7.1f} "
            f"{r['queue_first_ms']:>8.0f} {r['build_queue']['median_ms']:>8.0f} {r['queue']['median_ms']:>7.1f} "
            f"{r['status_first_ms']:>8.0f} {r['period_status']['median_ms']:>8.0f}  {fas_txt}"
            f"  (load {r.get('loadavg_1m', float('nan')):.1f})")


HEADER = (f"{'messages':>11} {'convs':>10} {'GB':>7} {'convCold':>8} {'conv1st':>8} {'convMed':>8} {'convP95':>8} "
          f"{'convSame':>7} {'bq1st':>8} {'bqMed':>8} {'queueMd':>7} {'stat1st':>8} {'statMed':>8}  final_agent_scores"
          "\n(all times ms unless stated)")


def cmd_scale(a) -> None:
    db = a.db_url or a.db
    work = Path(a.work_dir)
    out_file = work / f"scale_{'pg' if a.db_url else 'sqlite'}.json"
    from sqlalchemy import func, select

    from qa_scorer.workspace import Workspace
    from qa_scorer.workspace import schema as S
    ws = Workspace(db)
    with ws.engine.connect() as c:
        messages = int(c.execute(select(func.sum(S.conversations.c.messages))).scalar())
    ws.close()
    results, builds = [], []
    print(HEADER, flush=True)
    while True:
        if not a.no_measure_start or messages >= a.to:
            results.append(measure(db, messages, a))
            print(fmt_row(results[-1]), flush=True)
            out_file.write_text(json.dumps({"results": results, "builds": builds}, indent=1, default=str))
        if messages >= a.to * 0.99:
            break
        before = messages
        messages, secs = grow(db, a.to, messages)
        builds.append({"from": before, "to": messages, "seconds": secs})
        print(f"  grew {before:,} -> {messages:,} messages in {secs:.0f} s", flush=True)
        out_file.write_text(json.dumps({"results": results, "builds": builds}, indent=1, default=str))
    print(HEADER)
    for r in results:
        print(fmt_row(r))
    for b in builds:
        print(f"build {b['from']:,} -> {b['to']:,}: {b['seconds']:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--work-dir", default="/tmp/bench_ws")
    common.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p = sub.add_parser("record", parents=[common], help="recording cost of one audit")
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--db-url", default=None, help="postgresql://... (the database is dropped and created)")
    p.add_argument("--db-name", default=None, help="SQLite file name in --work-dir (default ws_<messages>.db)")
    p.add_argument("--quick", action="store_true", help="skip the second plain run")
    p = sub.add_parser("profile", parents=[common], help="cProfile of the recorder during a 1M audit")
    p.add_argument("--messages", type=int, default=1_000_000)
    p = sub.add_parser("scale", parents=[common], help="grow a recorded workspace and time the review calls")
    p.add_argument("--db", default="/tmp/bench_ws/ws_1000000.db")
    p.add_argument("--db-url", default=None)
    p.add_argument("--to", type=int, default=30_000_000, help="stop at this many messages")
    p.add_argument("--fas-max", type=int, default=8_000_000, help="time final_agent_scores up to this size")
    p.add_argument("--mem-limit-gb", type=float, default=18)
    p.add_argument("--no-measure-start", action="store_true", help="do not measure before the first growth step")
    p = sub.add_parser("_audit", parents=[common])
    p.add_argument("--csv", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--db", default=None)
    p.add_argument("--profile", default=None)
    p = sub.add_parser("_fas")
    p.add_argument("--db", required=True)
    p.add_argument("--mem-limit-gb", type=float, default=18)
    a = ap.parse_args()
    {"record": cmd_record, "profile": cmd_profile, "scale": cmd_scale, "_audit": cmd_audit_one,
     "_fas": cmd_fas}[a.cmd](a)


if __name__ == "__main__":
    main()
