"""Page times of the web app on a big workspace (docs/webapp.md, "Measured page times").

    python benchmarks/bench_webapp.py /tmp/bench_ws/ws_30m.db [--runs 10] [--json out.json]

Each page is requested ``--runs`` times through Starlette's TestClient (in process: the time is
the server's work plus a little client overhead, no network) after one warm-up request; the
median and the slowest are reported.  The script gives web passwords to the benchmark users
(``bench_lead``, ``bench_r1``) and adds ``bench_agent`` (an agent with conversations) and
``bench_trainer`` if missing - it writes only to ``users`` / ``workspace_settings`` / ``events``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from urllib.parse import quote

from sqlalchemy import func, select


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args()

    from starlette.testclient import TestClient

    from qa_scorer.web import auth, create_app
    from qa_scorer.web.app import agent_aggregate, periods
    from qa_scorer.workspace import Workspace
    from qa_scorer.workspace import schema as S

    ws = Workspace(args.db, create=False)
    C = S.conversations.c
    with ws.engine.connect() as conn:
        n_msgs = conn.execute(select(func.max(S.messages.c.conversation_id))).scalar()
        n_conv = conn.execute(select(func.max(C.id))).scalar()
        period = periods(conn)[-1]  # the biggest, oldest month in the benchmark db
        agent = conn.execute(select(C.agent).where(C.period == period).where(C.reviewed.is_(False)).limit(1)).scalar()
        users = set(conn.execute(select(S.users.c.name)).scalars())
    if "bench_agent" not in users:
        ws.add_user("bench_agent", "agent", agent=agent)
    if "bench_trainer" not in users:
        ws.add_user("bench_trainer", "trainer")
    for name in ("bench_lead", "bench_r1", "bench_agent", "bench_trainer"):
        auth.set_password(ws, name, "bench-password")
    agent = ws.user("bench_agent")["agent"]
    with ws.engine.connect() as conn:
        own = conn.execute(select(C.conversation_key).where(C.period == period).where(C.agent == agent)
                           .order_by(C.id.desc()).limit(1)).scalar()
        q = ws.queue(reviewer="bench_r1", status="open", limit=1)
    key = q["conversation"].iloc[0] if len(q) else own

    app = create_app(ws)

    def login(name):
        c = TestClient(app)
        tok = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"name": name, "password": "bench-password", "csrf": tok}, follow_redirects=False)
        assert r.status_code == 303, r.text[:500]
        return c

    clients = {n: login(n) for n in ("bench_lead", "bench_r1", "bench_agent", "bench_trainer")}

    # the dashboard's per-agent aggregate, computed in the background and cached for 60 s
    t0 = time.perf_counter()
    with ws.engine.connect() as conn:
        rows = agent_aggregate(conn, period)
    aggregate_s = time.perf_counter() - t0

    pages = [
        ("login page", None, "/login"),
        ("reviewer: my queue", "bench_r1", "/queue"),
        ("reviewer: conversation", "bench_r1", "/c/" + quote(key, safe="")),
        ("lead: dashboard (cached aggregate)", "bench_lead", f"/dashboard?period={period}"),
        ("lead: queue (everyone)", "bench_lead", "/queue"),
        ("lead: appeals inbox", "bench_lead", "/appeals"),
        ("lead: calibration", "bench_lead", "/calibration"),
        ("agent: my scores", "bench_agent", "/me"),
        ("agent: own conversation", "bench_agent", "/c/" + quote(own, safe="")),
        ("agent: my appeals", "bench_agent", "/appeals"),
        ("trainer: coaching (rude)", "bench_trainer", f"/coach?period={period}&tag=rude"),
        ("trainer: coaching (missing_closing)", "bench_trainer", f"/coach?period={period}&rule=missing_closing"),
    ]
    from starlette.testclient import TestClient as TC

    anon = TC(app)
    out = []
    for label, user, path in pages:
        c = clients[user] if user else anon
        r = c.get(path)  # warm-up (and the dashboard's aggregate cache)
        if "dashboard" in path:
            for _i in range(600):
                if "id=\"agents\"" in r.text:
                    break
                time.sleep(0.5)
                r = c.get(path)
        assert r.status_code == 200, (label, r.status_code, r.text[:300])
        times = []
        for _i in range(args.runs):
            app.state.desk._coach.clear()  # coaching pages: measure the uncached work every time
            t = time.perf_counter()
            r = c.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        out.append({"page": label, "path": path, "median_ms": round(statistics.median(times), 1),
                    "max_ms": round(max(times), 1)})
        print(f"{label:40s} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms")
    print(f"dashboard aggregate over {period} ({len(rows)} agents), background: {aggregate_s * 1000:.0f} ms")
    result = {"db": args.db, "conversations": n_conv, "max_conversation_id_in_messages": n_msgs,
              "period": period, "pages": out, "aggregate_ms": round(aggregate_s * 1000)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
    ws.close()


if __name__ == "__main__":
    main()
