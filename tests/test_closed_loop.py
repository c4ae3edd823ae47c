"""The closed loop (docs/closed-loop.md): reviewers' decisions -> labels -> a retrained candidate ->
evaluation against the active model -> promotion gate -> audits scored by the promoted model.

Every test that touches a workspace runs on SQLite and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from qa_scorer.cli import app
from qa_scorer.workspace import QueuePolicy, Workspace, WorkspaceError
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.labels import export_labels, labels_fingerprint, read_labels, training_frame
from qa_scorer.workspace.models import (
    F1_TOLERANCE, FINE_TOLERANCE, GateRefused, evaluate, list_models, loop_report, promote, register_model, rollback,
)

ROOT = Path(__file__).resolve().parent.parent
QIQI, AJIE = "柚子家居旗舰店:七七", "柚子家居旗舰店:阿杰"
C018, C034 = "C20261120-018", "C20261120-034"
runner = CliRunner()


@pytest.fixture
def ws(sample_workspace):
    return sample_workspace


def record(ws, result):
    from conftest import record_audit

    return record_audit(ws, result)


def flagged_seqs(ws, key, tag):
    m = ws.conversation(key).messages
    return sorted(int(s) for s in m.loc[m[tag].fillna(0) > 0, "seq"])


# --- the label rule ----------------------------------------------------------------------------

def test_label_rule(ws):
    """Hand-computed rows from the sample audit:

    - C018 #6 (rude, "说了多少遍了，看详情"): rev1 rejects rude -> rude 0, the other tags unknown (no --all).
    - C018 #4 (unhelpful, "详情页都有"): rev1 confirms unhelpful, rev2 later rejects it (disagreement:
      the newest wins -> 0, earlier = 1); rev1 adds pushy (-> 1), the agent appeals that decision and
      the lead overturns it -> the lead's reject: pushy 0, appeal "overturned".
    - C034: rev2 rejects rude on #7, then confirms the rest (--all): #7 is rude 0 and unhelpful 1
      (confirmed by --all), overclaim/pushy 0 (undecided, not flagged when --all was given); the
      other flagged replies are unhelpful 1 and 0 elsewhere; all complete.
    """
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    ws.decide(C018, reviewer="rev1", item="unhelpful", seq=4, verdict="confirm", reason="敷衍")
    ws.decide(C018, reviewer="rev2", item="unhelpful", seq=4, verdict="reject", reason="其实指了位置")
    add = ws.decide(C018, reviewer="rev1", item="pushy", seq=4, verdict="add", reason="漏标催单")
    appeal = ws.file_appeal(C018, agent="qiqi", comment="我没有催单", decision_ids=add.decision_ids)
    ws.decide_appeal(appeal["id"], outcome="overturn", lead="lead", reason="确实没有催单")
    ws.decide(C034, reviewer="rev2", item="rude", seq=7, verdict="reject", reason="是在说明流程")
    ws.decide(C034, reviewer="rev2", verdict="confirm", reason="其余无误", confirm_rest=True)

    df = export_labels(ws).set_index("source")
    c034_unhelpful = flagged_seqs(ws, C034, "unhelpful")
    assert 7 in c034_unhelpful and len(c034_unhelpful) == 3
    assert sorted(df.index) == sorted([f"ws:{C018}:6", f"ws:{C018}:4"] + [f"ws:{C034}:{s}" for s in c034_unhelpful])

    r6 = df.loc[f"ws:{C018}:6"]
    assert r6["text"] == "说了多少遍了，看详情" and r6["rude"] == 0 and not r6["complete"]
    assert all(pd.isna(r6[t]) for t in ("pushy", "unhelpful", "overclaim"))
    assert r6["context"] != "" and r6["reviewer"] == "rev1" and r6["verdict"] == "rude:reject"

    r4 = df.loc[f"ws:{C018}:4"]
    assert (r4["pushy"], r4["unhelpful"]) == (0, 0) and pd.isna(r4["rude"]) and not r4["complete"]
    assert r4["appeal"] == "overturned" and r4["reviewer"] == "lead" and r4["earlier"] == 2
    assert r4["verdict"] == "pushy:reject;unhelpful:reject" and r4["machine"] == "unhelpful"

    r7 = df.loc[f"ws:{C034}:7"]
    assert [r7[t] for t in ("pushy", "unhelpful", "rude", "overclaim")] == [0, 1, 0, 0] and r7["complete"]
    assert r7["machine"] == "unhelpful;rude"
    for s in c034_unhelpful:
        assert df.loc[f"ws:{C034}:{s}", "unhelpful"] == 1 and df.loc[f"ws:{C034}:{s}", "complete"]
    # time order: the newest 30 % (ceil(5 x 0.3) = 2 rows) are the held-out test rows
    ordered = export_labels(ws)
    assert ordered["split"].tolist() == ["train"] * 3 + ["test"] * 2
    assert ordered["decision_id"].is_monotonic_increasing or ordered["decided_at"].is_monotonic_increasing
    # --since filters by the newest decision
    assert export_labels(ws, since="2999-01-01").empty


def test_labels_file_round_trip_and_training_frame(ws, tmp_path):
    ws.decide(C034, reviewer="rev2", item="rude", seq=7, verdict="reject", reason="是在说明流程")
    ws.decide(C034, reviewer="rev2", verdict="confirm", reason="其余无误", confirm_rest=True)
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    out = tmp_path / "labels.csv"
    res = runner.invoke(app, ["labels", "export", "--db", ws.url, "--out", str(out)])
    assert res.exit_code == 0, res.output
    head = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert head[:7] == ["text", "context", "pushy", "unhelpful", "rude", "overclaim", "source"]
    assert head[7:11] == ["split", "complete", "conversation", "seq"]
    labels = read_labels(out)
    assert len(labels) == 4 and labels["complete"].sum() == 3
    base = pd.DataFrame({"text": ["a", "b"], "context": ["", ""], "pushy": [0, 1], "unhelpful": [0, 0], "rude": [0, 0],
                         "overclaim": [0, 0], "source": ["x", "y"], "split": ["train", "validation"]})
    corpus, facts = training_frame(base, labels, weight=3)
    # the incomplete row (C018 #6) is skipped; complete train rows x3, test rows once (never fitted)
    n_train = int(((labels["split"] == "train") & labels["complete"]).sum())
    n_test = int(((labels["split"] == "test") & labels["complete"]).sum())
    assert facts["skipped_incomplete"] == 1 and (facts["train_rows"], facts["test_rows"]) == (n_train, n_test)
    assert len(corpus) == 2 + 3 * n_train + n_test
    assert (corpus["split"] == "test").sum() == n_test
    assert facts["label_counts"]["tags"]["unhelpful"]["positive"] == 3


# --- the registry, the gate, promote and rollback ------------------------------------------------

@pytest.fixture(scope="module")
def shipped_bytes():
    from qa_scorer.classifier import default_model_path

    return default_model_path().read_bytes()


@pytest.fixture(scope="module")
def worse_model(tmp_path_factory):
    """The shipped model with its unhelpful and rude thresholds pushed to 1.0: it never flags them."""
    from qa_scorer.classifier import load_model, save_model

    m = load_model()
    worse = m.with_thresholds({**m.thresholds_, "unhelpful": 1.0, "rude": 1.0})
    path = tmp_path_factory.mktemp("worse") / "worse.skops"
    save_model(worse, path)
    return path


def test_registry_gate_promote_rollback(ws, worse_model, shipped_bytes):
    # labels the shipped model gets right: confirmed unhelpful flags, rejected rude flags
    ws.decide(C034, reviewer="rev2", verdict="confirm", reason="都对", confirm_rest=True)
    ws.decide(C018, reviewer="rev1", verdict="confirm", reason="都对", confirm_rest=True)
    shipped = register_model(ws, shipped_bytes, actor="lead", name="reply_tagger.skops")
    again = register_model(ws, shipped_bytes, actor="lead")
    assert again["id"] == shipped["id"] and len(list_models(ws)) == 1    # same sha256 -> stored once
    worse = register_model(ws, worse_model, actor="lead")
    assert worse["status"] == "candidate" and worse["parent_id"] is None

    result = evaluate(ws, worse["id"], actor="lead")
    checks = {c["check"]: c for c in result["checks"]}
    assert result["active"] is None and not result["passed"]
    assert not checks["blind_macro_f1"]["passed"]                         # F1 of two tags drops to 0
    assert checks["heldout_rows"]["passed"] is False                      # ceil(5 x 0.3) = 2 < 10
    with pytest.raises(GateRefused, match="blind_macro_f1"):
        promote(ws, worse["id"], actor="lead")
    with pytest.raises(WorkspaceError, match="--reason"):
        promote(ws, worse["id"], actor="lead", force=True)
    with pytest.raises(WorkspaceError, match="lead"):
        promote(ws, worse["id"], actor="rev1", force=True, reason="x")

    done = promote(ws, shipped["id"], actor="lead", force=True, reason="基线")
    assert done["forced"] and done["from"] is None                       # too few held-out labels
    done = promote(ws, worse["id"], actor="lead", force=True, reason="试一下")
    assert done["from"] == shipped["id"]
    models = list_models(ws).set_index("id")
    assert models.loc[worse["id"], "status"] == "active" and models.loc[shipped["id"], "status"] == "retired"
    assert rollback(ws, actor="lead", reason="误报") == {"from": worse["id"], "to": shipped["id"]}
    assert rollback(ws, actor="lead", reason="回到内置模型") == {"from": shipped["id"], "to": None}
    assert not (list_models(ws)["status"] == "active").any()
    with pytest.raises(WorkspaceError):
        rollback(ws, actor="lead", reason="没有可回退的")
    events = ws.events(limit=500)
    kinds = events["kind"].tolist()
    assert kinds.count("model_promote") == 2 and kinds.count("model_rollback") == 2
    assert kinds.count("model_add") == 2 and "model_evaluate" in kinds
    promo = events[events["kind"] == "model_promote"].sort_values("id")
    assert promo["reason"].tolist() == ["基线", "试一下"]
    assert json.loads(promo["data_json"].iloc[1])["failed"]               # what was overridden is logged
    rep = loop_report(ws)
    assert rep["model_changes"]["kind"].tolist() == ["model_promote", "model_promote", "model_rollback",
                                                      "model_rollback"]
    assert int(rep["summary"]["labels"].iloc[0]) == 5


def test_model_commands(ws, worse_model, tmp_path):
    res = runner.invoke(app, ["model", "list", "--db", ws.url])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["model", "evaluate", str(worse_model), "--db", ws.url, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["passed"] is False
    res = runner.invoke(app, ["model", "promote", "1", "--by", "lead", "--db", ws.url])
    assert res.exit_code == 1 and "blind_macro_f1" in res.output
    res = runner.invoke(app, ["model", "promote", "1", "--by", "lead", "--db", ws.url, "--force", "--reason", "演示"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["model", "report", "--db", ws.url, "--out", str(tmp_path / "loop.xlsx")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "loop.xlsx").is_file()
    res = runner.invoke(app, ["model", "rollback", "--by", "lead", "--reason", "演示结束", "--db", ws.url])
    assert res.exit_code == 0, res.output


def test_migration_adds_the_registry(db_url):
    from qa_scorer.workspace.db import make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine, "0002")
    assert "models" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert {c["name"] for c in inspect(engine).get_columns("models")} == {c.name for c in S.models.columns}
    engine.dispose()


# --- active learning ---------------------------------------------------------------------------

def test_queue_uncertain_and_often_rejected(ws):
    from qa_scorer.workspace.review import often_rejected_tags, uncertain_conversations

    with ws.engine.connect() as conn:
        run_model = json.loads(conn.execute(select(S.runs.c.model_json)).scalar())
        thr = run_model["thresholds"]
        rep = pd.DataFrame(conn.execute(select(S.replies, S.conversations.c.conversation_key).join(
            S.conversations, S.replies.c.conversation_id == S.conversations.c.id)).mappings().all())
        rep = rep[~rep["is_auto"].astype(bool)]
        dist = pd.concat([(rep[f"p_{t}"] - thr[t]).abs() for t in thr], axis=1).min(axis=1)
        expected = (rep.assign(d=dist)[dist <= 0.15].groupby("conversation_id")["d"].min()
                    .reset_index().sort_values(["d", "conversation_id"])["conversation_id"].tolist())
        assert expected and uncertain_conversations(conn, "2026-11", 0.15) == expected
    # rude: rejected 5 of 5 times; unhelpful confirmed -> rude is the most rejected tag
    rude = [(C018, 6), (C034, 7)]
    for i in range(5):
        key, seq = rude[i % 2]
        ws.decide(key, reviewer="rev1" if i % 2 else "rev2", item="rude", seq=seq, verdict="reject", reason=f"第{i}次")
    ws.decide(C034, reviewer="rev1", item="unhelpful", seq=7, verdict="confirm", reason="确实")
    with ws.engine.connect() as conn:
        assert often_rejected_tags(conn, 1) == ["rude"]
    added = ws.build_queue("2026-11", reviewers=["rev1"], actor="lead",
                           policy=QueuePolicy(needs_review=False, uncertain_band=0.15, often_rejected=1, limit=500))
    reasons = dict(zip(added["conversation"], added["reasons"]))
    assert C018 not in reasons and C034 not in reasons          # reviewed conversations are not taken again
    assert all("uncertain" in r or "often_rejected:rude" in r for r in reasons.values())
    assert sum("uncertain" in r for r in reasons.values()) == len([c for c in expected if c not in
                                                                   (ws.conversation(C018).conversation["id"],
                                                                    ws.conversation(C034).conversation["id"])])
    res = runner.invoke(app, ["review", "queue", "--db", ws.url, "--build", "--period", "2026-11", "--reviewers", "rev2",
                              "--by", "lead", "--no-needs-review", "--uncertain", "0.3", "--often-rejected", "1"])
    assert res.exit_code == 0, res.output


# --- end to end ---------------------------------------------------------------------------------

#: (buyer complaint, what the agent asks whether the buyer did) - after-sales diagnostic questions.
#: The shipped model (and a model trained like it) tags many of them unhelpful when they contain
#: 自己: a polite clarifying question read as "pushing the work back to the buyer".  The shop's
#: reviewers decide they are fine (labeling.md: asking back to diagnose is not a brush-off).
ACTS = [
    ("手机屏幕裂了", "摔过"), ("耳机开不了机", "充过电"), ("遥控器不工作了", "打开过后盖"), ("风扇坏了", "动过里面的零件"),
    ("手表不走了", "碰过水"), ("秤不显示了", "换过电池"), ("路由器没信号", "重启过"), ("水龙头漏水", "拧紧过接口"),
    ("吸尘器没吸力", "清理过滤网"), ("电饭煲不加热", "插紧电源"), ("屏幕有划痕", "撕掉保护膜"), ("鞋子开胶了", "泡过水"),
    ("门铃不响", "按过复位键"), ("平板卡顿", "更新过系统"), ("冰箱不制冷", "调过温度"), ("加湿器不出雾", "加过水"),
    ("打印机卡纸", "拆过机器"), ("玩具车不动", "把电池装反"), ("白鞋变黄了", "接触过油污"), ("毛衣缩水了", "烘干过"),
    ("充不上电", "用过别的充电线"), ("插排没电", "检查过保险丝"), ("背带断了", "提过重物"), ("键盘失灵了", "洒过饮料"),
    ("电动牙刷不转", "充满电再试"), ("音箱没声音", "调过音量"), ("相机开不了机", "取出过存储卡"), ("净水器出水慢", "换过滤芯"),
    ("空调不出风", "清洗过滤网"), ("鼠标没反应", "换过接收器"), ("热水器不出热水", "打开过燃气阀"), ("电热毯不热", "打开过开关"),
    ("台灯闪烁", "换过灯泡"), ("洗衣机漏水", "装好排水管"), ("扫地机不回充", "挪过充电座"), ("投影仪模糊", "调过焦距"),
    ("电吹风不出热风", "清理过进风口"), ("煮蛋器不工作", "加过水"), ("空气炸锅报错", "放好炸篮"), ("微波炉不加热", "关紧炉门"),
    ("电视没信号", "插好天线"), ("智能锁打不开", "换过电池"), ("榨汁机不转", "装好杯盖"), ("蒸锅不出蒸汽", "加够水"),
    ("挂烫机不出汽", "预热过"), ("血压计读数不准", "绑对袖带位置"), ("体温计没显示", "按过开关"), ("电子秤不准", "放在平整的地面"),
    ("行车记录仪不录像", "插好内存卡"), ("手机壳变黄了", "长时间暴晒"), ("保温杯不保温", "拧紧杯盖"), ("拉链拉不动", "用力拉扯过"),
    ("裤子掉色了", "和浅色衣服一起洗"), ("羽绒服跑绒", "用洗衣机洗过"), ("包包掉皮了", "沾过酒精"), ("眼镜腿松了", "单手摘过"),
    ("床垫有味道", "拆掉塑封透气"), ("沙发塌陷", "站在上面过"), ("窗帘变形", "用热水洗过"), ("茶具有裂纹", "用开水直接冲过"),
    # held out (decided later)
    ("锅底粘锅", "空烧过"), ("菜刀生锈", "泡在水里过夜"), ("砧板开裂", "放进消毒柜"), ("雨伞打不开", "按过中间的按钮"),
    ("蓝牙连不上", "删除过配对记录"), ("手环不计步", "打开过运动权限"), ("耳机一边没声", "清理过耳机网"), ("充电宝充不进", "换过插头"),
    ("电动车跑不远", "按说明充满"), ("儿童座椅装不上", "对准卡扣"), ("帐篷漏雨", "拉紧防风绳"), ("自行车刹车不灵", "调过刹车线"),
    ("跑步机不启动", "插上安全锁"), ("按摩椅不动", "打开底部的总开关"), ("烤箱温度不够", "预热十分钟"), ("面包机不发酵", "放过酵母"),
    ("咖啡机不出水", "装满水箱"), ("豆浆机报警", "放够豆子"), ("油烟机吸力小", "撕掉出风口的膜"), ("燃气灶打不着", "装好电池"),
    # fresh paraphrases for the final audit (never labelled)
    ("马桶盖不加热", "接好电源"), ("花洒出水小", "清理过出水孔"), ("地漏有异味", "装好防臭芯"), ("晾衣架升不上去", "绕好钢丝"),
    ("电脑蓝屏", "装过别的软件"), ("硬盘读不出", "换过数据线"), ("U盘打不开", "直接拔出过"), ("显示器黑屏", "插紧视频线"),
    ("电风扇摇头不转", "拆过网罩"), ("吸奶器没吸力", "装好鸭嘴阀"), ("电子琴没声音", "插过耳机"), ("对讲机没信号", "拧紧天线"),
]
TRAIN_TEMPLATES = ("请问您自己有没有{a}呢", "您好，请问您自己{a}没有呀")
HELD_TEMPLATES = ("亲，您自己{a}吗", "请问您自己之前{a}吗")
FRESH_TEMPLATES = ("亲，请问您自己有没有{a}呀", "您好，您自己之前{a}吗")
#: Real brush-offs the reviewers confirm (or add): the shop still wants these tagged unhelpful.
UNHELPFUL = [
    ("这个适合敏感肌吗", "不知道"), ("尺码怎么选", "自己看详情"), ("有没有质检报告", "看评价就知道了"),
    ("快递三天没动了", "那你问快递吧"), ("这个保修多久", "不清楚"), ("能开发票吗", "随便"), ("怎么安装", "自己看说明书"),
    ("多久能到", "看物流"), ("为什么少了一个配件", "不归我们管"), ("这个怎么用", "自己研究一下"),
    ("能换个颜色吗", "不行"), ("退款什么时候到", "等着吧"), ("哪个更省电", "都行"), ("保质期多久", "看包装"),
    ("你们发什么快递", "不知道"),
]
AGENT = "修修家电旗舰店:小林"
_TRAINED: dict[str, bytes] = {}   # labels fingerprint -> candidate model bytes


def _conversations(pairs, prefix, day, start=0):
    rows = []
    for i, (complaint, reply) in enumerate(pairs):
        cid = f"{prefix}{start + i:03d}"
        t = pd.Timestamp(f"2026-11-{day:02d} 10:00:00") + pd.Timedelta(minutes=10 * i)
        rows.append((cid, t, f"买家{start + i}", "customer", complaint))
        rows.append((cid, t + pd.Timedelta(seconds=30), AGENT, "agent", reply))
    return rows


def _write_chats(path, rows):
    df = pd.DataFrame(rows, columns=["conversation_id", "sent_at", "sender", "role", "text"])
    df["sent_at"] = df["sent_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    df.to_csv(path, index=False, encoding="utf-8")
    return path


def _base_corpus(path: Path) -> Path:
    """The e2e test's base corpus: the train and validation rows of the shipped corpus whose
    ``source`` group hashes into 35 % of groups (sha256 of the group id, a fixed choice: 6,914
    rows; 20 % was tried first and was too small: its blind-set figures moved by +-0.03 between
    retrains, more than the gate's tolerance).  The test split is left out (it is not trained on anyway)."""
    from qa_scorer.classifier.files import read_corpus

    corpus = read_corpus(ROOT / "models" / "training" / "corpus.csv")
    keep = corpus["source"].map(lambda s: int(hashlib.sha256(s.encode()).hexdigest()[:8], 16) % 100 < 35)
    corpus[keep & corpus["split"].isin(["train", "validation"])].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    """(base corpus CSV, active-model file): trained once per module with the CLI, exactly like the
    candidate later (same subset, seed 0, thresholds on the validation split only) but without the
    shop's labels - so the comparison is fair."""
    folder = tmp_path_factory.mktemp("loop_base")
    base = _base_corpus(folder / "base.csv")
    model = folder / "base.skops"
    res = runner.invoke(app, ["train", "--corpus", str(base), "--out", str(model), "--threshold-folds", "0"])
    assert res.exit_code == 0, res.output
    return base, model


def _review(ws, key, truth: dict, reviewer: str):
    """Decide every machine tag of the conversation's agent reply by ``truth`` ({tag: 0/1}),
    add what the machine missed, then confirm the rest (--all)."""
    view = ws.conversation(key)
    reply = view.messages[view.messages["role"] == "agent"].iloc[0]
    for tag in ("pushy", "unhelpful", "rude", "overclaim"):
        machine, want = int(reply[tag] or 0), truth.get(tag, 0)
        if machine and not want:
            ws.decide(key, reviewer=reviewer, item=tag, seq=int(reply["seq"]), verdict="reject", reason="追问诊断，不是推诿")
        elif machine and want:
            ws.decide(key, reviewer=reviewer, item=tag, seq=int(reply["seq"]), verdict="confirm", reason="确实敷衍")
        elif want:
            ws.decide(key, reviewer=reviewer, item=tag, seq=int(reply["seq"]), verdict="add", reason="漏标")
    ws.decide(key, reviewer=reviewer, verdict="confirm", reason="其余无误", confirm_rest=True)


def test_end_to_end_closed_loop(db_url, base_model, tmp_path, capsys):
    """Reviewers reject a systematic false flag -> labels export -> train -> evaluate -> promote ->
    a fresh audit no longer flags held-out paraphrases; the blind set gets no worse than the
    tolerance.

    Fair and fast (CI): the active model and the candidate are both trained with the CLI on the same
    6,914-row subset of the shipped corpus (35 % of its source groups, train + validation rows,
    seed 0, ``--threshold-folds 0``: thresholds placed on the subset's validation split); the
    candidate adds only the shop's labels (``--add``, ``--weight-shop 2``).  The shop's chats are
    written here: 60 after-sales diagnostic questions ("请问您自己有没有摔过呢") x 2 phrasings and
    15 real brush-offs, decided first; 20 other diagnostic questions x 2 phrasings and 15 more
    brush-offs decided later (the newest 30 % of labels are held out); 12 fresh questions in two
    new phrasings are audited after the promotion.
    """
    from qa_scorer.classifier import load_model
    from qa_scorer.pipeline import AuditOptions, audit

    t0 = time.perf_counter()
    base_csv, base_file = base_model
    ws = Workspace(db_url)
    for name, role in (("lead", "lead"), ("rev1", "reviewer"), ("rev2", "reviewer")):
        ws.add_user(name, role)
    base_id = register_model(ws, base_file, actor="lead")["id"]
    promote(ws, base_id, actor="lead", force=True, reason="本店基线（测试用子集模型）")

    def pairs(acts, templates):
        return [(c, templates[k].format(a=a)) for c, a in acts for k in range(len(templates))]
    train_pairs = pairs(ACTS[:60], TRAIN_TEMPLATES)
    held_pairs = pairs(ACTS[60:80], HELD_TEMPLATES)
    fresh_pairs = pairs(ACTS[80:], FRESH_TEMPLATES)
    rows = (_conversations(train_pairs, "D", 3) + _conversations(UNHELPFUL[:10], "U", 4)
            + _conversations(held_pairs, "H", 20) + _conversations(UNHELPFUL[10:], "V", 21))
    chats = _write_chats(tmp_path / "chats.csv", rows)
    opts = dict(keep_tables=True, html=False, xlsx=False, executor="in-process", db=db_url, db_actor="lead")
    first = audit([chats], AuditOptions(out_dir=tmp_path / "out1", **opts))
    base_sha = hashlib.sha256(base_file.read_bytes()).hexdigest()
    assert first.run_info["model"]["file_sha256"] == base_sha            # audit --db used the active model
    rep = first.replies
    false_train = int(rep.loc[rep["conversation_id"].astype(str).str.startswith("D"), "unhelpful"].sum())
    assert false_train >= 40, false_train                                  # a systematic false flag

    # review: the older conversations first, then the newer ones
    keys = ([f"D{i:03d}" for i in range(len(train_pairs))] + [f"U{i:03d}" for i in range(10)]
            + [f"H{i:03d}" for i in range(len(held_pairs))] + [f"V{i:03d}" for i in range(5)])
    for n, key in enumerate(keys):
        _review(ws, key, {"unhelpful": 1} if key[0] in "UV" else {}, "rev1" if n % 2 else "rev2")

    labels_csv = tmp_path / "labels.csv"
    res = runner.invoke(app, ["labels", "export", "--db", db_url, "--out", str(labels_csv)])
    assert res.exit_code == 0, res.output
    labels = read_labels(labels_csv)
    assert labels["complete"].all()
    held = labels[labels["split"] == "test"]
    assert len(held) == -(-len(labels) * 3 // 10)
    assert held["conversation"].str[0].isin(["H", "V"]).mean() > 0.5      # the newer decisions

    cand_file = tmp_path / "candidate.skops"
    key = labels_fingerprint(labels)       # the same labels on SQLite and PostgreSQL: train once
    if key in _TRAINED:
        cand_file.write_bytes(_TRAINED[key])
    else:
        res = runner.invoke(app, ["train", "--corpus", str(base_csv), "--add", str(labels_csv), "--weight-shop", "2",
                                  "--threshold-folds", "0", "--parent", str(base_file), "--out", str(cand_file)])
        assert res.exit_code == 0, res.output
        _TRAINED[key] = cand_file.read_bytes()
    cand = load_model(cand_file)
    meta = cand.metadata_
    assert meta["parents"]["base_corpus"]["rows"] == len(pd.read_csv(base_csv))
    assert meta["parents"]["model"]["file_sha256"] == base_sha
    assert meta["shop_labels"]["label_counts"]["tags"]["unhelpful"]["positive"] > 0
    assert not set(meta["shop_labels"]["train_sources"]) & set(held["source"])

    res = runner.invoke(app, ["model", "evaluate", str(cand_file), "--db", db_url, "--by", "lead", "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    c, a = result["models"]["candidate"], result["models"]["active"]
    assert result["active"] == base_id and result["passed"], json.dumps(result, ensure_ascii=False)
    assert c["heldout"]["agreement"] > a["heldout"]["agreement"]
    assert c["heldout"]["macro_f1"] >= a["heldout"]["macro_f1"]
    assert c["heldout"]["per_tag"]["unhelpful"]["false_flags"] < a["heldout"]["per_tag"]["unhelpful"]["false_flags"]
    assert c["blind"]["macro_f1"] >= a["blind"]["macro_f1"] - F1_TOLERANCE
    assert c["blind"]["fine_flag_rate"] <= a["blind"]["fine_flag_rate"] + FINE_TOLERANCE

    res = runner.invoke(app, ["model", "promote", str(result["candidate"]), "--by", "lead", "--db", db_url])
    assert res.exit_code == 0, res.output

    fresh = _write_chats(tmp_path / "fresh.csv", _conversations(fresh_pairs, "F", 25))
    base_flags = int(load_model(base_file).predict(pd.DataFrame(
        {"text": [t for _, t in fresh_pairs], "context": [c for c, _ in fresh_pairs]}))[:, 1].sum())
    after = audit([fresh], AuditOptions(out_dir=tmp_path / "out2", **opts))
    assert after.run_info["model"]["file_sha256"] == hashlib.sha256(cand_file.read_bytes()).hexdigest()
    now_flags = int(after.replies["unhelpful"].sum())
    assert base_flags >= 6 and now_flags <= 1, (base_flags, now_flags)
    # human decisions survive a re-score of the older period with the new model
    again = audit([chats], AuditOptions(out_dir=tmp_path / "out3", **opts))
    assert again.run_info["workspace"]["rescored_with_decisions"] == len(keys)
    assert len(export_labels(ws)) == len(labels)
    report = loop_report(ws)
    assert report["model_changes"]["model"].tolist() == [base_id, result["candidate"]]
    assert report["runs"]["model"].tolist() == [base_id, result["candidate"], result["candidate"]]
    ws.close()
    with capsys.disabled():
        print(f"\n[closed loop e2e, {db_url.split(':')[0]}] held-out ({result['heldout_rows']} rows): macro-F1 "
              f"{a['heldout']['macro_f1']:.3f} -> {c['heldout']['macro_f1']:.3f}, agreement "
              f"{a['heldout']['agreement']:.3f} -> {c['heldout']['agreement']:.3f}, unhelpful false flags "
              f"{a['heldout']['per_tag']['unhelpful']['false_flags']} -> {c['heldout']['per_tag']['unhelpful']['false_flags']}"
              f"; blind macro-F1 {a['blind']['macro_f1']:.3f} -> {c['blind']['macro_f1']:.3f}, fine flagged "
              f"{a['blind']['fine_flag_rate']:.4f} -> {c['blind']['fine_flag_rate']:.4f}; fresh paraphrases flagged "
              f"{base_flags}/{len(fresh_pairs)} -> {now_flags}/{len(fresh_pairs)}; {time.perf_counter() - t0:.0f} s")
