"""Real audit folders for the report tests: the pipeline run on a small crafted export.

Not a conftest: imported explicitly by tests/test_report_html.py, test_workbook.py,
test_coach.py and test_browser_report.py, which read the folder back with
``qa_scorer.report.load_audit_folder`` (what ``qa-scorer coach --from`` uses).  Each audit
runs once per test session (``audit_folder`` caches it), however many modules ask.

The figures the tests assert follow from the transcript below by hand (a round starts at the
buyer's first unanswered message and ends at the first human agent reply; auto replies end
no round; short = fewer than 4 counted characters; a product question's answer is every
agent message of its round and is short under 15 characters; a closing is due after
300 s of buyer silence).  Tag figures come from the shipped model (see TAGGED below).

QN202611210001 小美 / tb_buyer1: rounds of 30 s, 240 s ("嗯": short + slow) and 20 s (a pushy
    product answer to "<script>…还有货吗", 13 characters: too short); never closed.
QN202611210002 阿强 / 小王爱购物: "<img …>有优惠吗", an auto reply, a 70 s overclaim with the
    forbidden word 百分百; then "=1+1" answered rudely in 40 s; then "算了" closed in 30 s.
QN202611210003 小美 / tb_buyer3: 10 s greeting; "偏大一码" (4 characters) 20 s after a
    product question with an address in it; a system notice; "好的" closed in 60 s.
QN202611210004 阿强 / tb_buyer4: a complete 45 s product answer (27 characters), a 30 s closing.
QN202611210005 小新 / tb_buyer5: 8 s and 5 s, closed (the fastest agent: 8 < 20 < 57.5 s).
QN202611210006: one row with the date "yesterday" -> rejected.csv.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SHOP = "优衣库官方旗舰店"
XIAOMEI = f"{SHOP}:小美"
AQIANG = f"{SHOP}:阿强"
XIAOXIN = f"{SHOP}:小新"
CID1 = "QN202611210001"  # looks like "QN" + an order number: must never be masked
SCRIPT_ATTACK = "<script>alert(1)</script>还有货吗"
IMG_ATTACK = "<img src=x onerror=alert(1)>有优惠吗"
FORMULA = "=1+1"
PHONE = "13812345678"
ORDER_NO = "123456789012345"
ADDRESS = "浙江省杭州市西湖区文三路100号"
PUSHY = "最后一件了，赶紧下单吧，不买就没有了，今天不拍明天就涨价"
OVERCLAIM = "百分百正品，绝对全网最低价，用了保证一辈子不坏"
RUDE = "你烦不烦啊，问了多少遍了"
SHORT = "嗯"
SIZE_ANSWER = "偏大一码"
GOOD_ANSWER = "亲，这款是100%精梳棉，经过抗起球处理，正常穿着不容易起球哦"

#: (conversation, time on 2026-11-21, sender, role, text)
ROWS = [
    (CID1, "10:00:00", "tb_buyer1", "customer", "这件T恤会掉色吗？"),
    (CID1, "10:00:30", XIAOMEI, "agent", "亲，这款是纯棉面料，正常洗涤不会掉色的哦，放心购买~"),
    (CID1, "10:02:00", "tb_buyer1", "customer", f"好的，我电话{PHONE}，订单号{ORDER_NO}"),
    (CID1, "10:06:00", XIAOMEI, "agent", SHORT),
    (CID1, "10:07:00", "tb_buyer1", "customer", SCRIPT_ATTACK),
    (CID1, "10:07:20", XIAOMEI, "agent", PUSHY),
    ("QN202611210002", "11:00:00", "小王爱购物", "customer", IMG_ATTACK),
    ("QN202611210002", "11:00:05", AQIANG, "agent", "[自动回复]您好，客服马上就来"),
    ("QN202611210002", "11:01:10", AQIANG, "agent", OVERCLAIM),
    ("QN202611210002", "11:02:00", "小王爱购物", "customer", FORMULA),
    ("QN202611210002", "11:02:40", AQIANG, "agent", RUDE),
    ("QN202611210002", "11:03:00", "小王爱购物", "customer", "算了"),
    ("QN202611210002", "11:03:30", AQIANG, "agent", "好的呢亲，有问题随时联系我们，祝您购物愉快"),
    ("QN202611210003", "14:00:00", "tb_buyer3", "customer", "在吗"),
    ("QN202611210003", "14:00:10", XIAOMEI, "agent", "在的呢亲~有什么可以帮您"),
    ("QN202611210003", "14:00:30", "tb_buyer3", "customer", f"尺码偏大吗，我身高165体重100斤，寄到{ADDRESS}"),
    ("QN202611210003", "14:00:50", XIAOMEI, "agent", SIZE_ANSWER),
    ("QN202611210003", "14:01:00", "系统", "system", "买家已下单"),
    ("QN202611210003", "14:02:00", "tb_buyer3", "customer", "好的"),
    ("QN202611210003", "14:03:00", XIAOMEI, "agent", "感谢您的支持，祝您生活愉快"),
    ("QN202611210004", "15:00:00", "tb_buyer4", "customer", "这个面料是什么材质的，会起球吗"),
    ("QN202611210004", "15:00:45", AQIANG, "agent", GOOD_ANSWER),
    ("QN202611210004", "15:01:30", "tb_buyer4", "customer", "好的谢谢"),
    ("QN202611210004", "15:02:00", AQIANG, "agent", "不客气，有问题随时联系我们，祝您购物愉快"),
    ("QN202611210005", "16:00:00", "tb_buyer5", "customer", "你好，发什么快递"),
    ("QN202611210005", "16:00:08", XIAOXIN, "agent", "亲，默认发中通快递，偏远地区发邮政哦"),
    ("QN202611210005", "16:00:30", "tb_buyer5", "customer", "好的谢谢"),
    ("QN202611210005", "16:00:35", XIAOXIN, "agent", "不客气，祝您购物愉快"),
]
BAD_ROW = ("QN202611210006", "yesterday", "tb_buyer6", "customer", '=HYPERLINK("http://evil.example")')

#: What the shipped model flags in this transcript (reply -> tags).  If a retrained model
#: disagrees, test_shipped_model_still_flags_the_crafted_replies says so first.
# What the shipped model gives these replies (round-3 model, 23,720-row corpus): the rude reply
# that dodges the question is rude + unhelpful, as the labeling guide's convention says.
TAGGED = {PUSHY: {"pushy"}, OVERCLAIM: {"overclaim"}, RUDE: {"rude", "unhelpful"}}


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def write_export(path: Path) -> Path:
    """The crafted transcript as a platform-style CSV export (with one bad row)."""
    lines = ["conversation_id,sent_at,sender,role,text"]
    for cid, at, sender, role, text in ROWS:
        lines.append(",".join([cid, f"2026-11-21 {at}", sender, role, _quote(text)]))
    cid, at, sender, role, text = BAD_ROW
    lines.append(",".join([cid, at, sender, role, _quote(text)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_AUDITS: dict[str, Path] = {}


def audit_folder(tmp_path_factory, name: str = "crafted", **options) -> Path:
    """Run ``qa_scorer.pipeline.audit`` on the crafted export once per session and name: the output folder.

    ``options`` go to AuditOptions (e.g. ``tags=False``).  Callers must not modify the folder;
    ``copy_folder`` gives a private copy.
    """
    if name not in _AUDITS:
        from qa_scorer.pipeline import AuditOptions, audit

        root = tmp_path_factory.mktemp(f"audit-{name}")
        export = write_export(root / "exports" / "crafted.csv")
        out = root / "qa-report"
        result = audit([export], AuditOptions(out_dir=out, **options))
        assert not result.failed_files, result.failed_files
        _AUDITS[name] = out
    return _AUDITS[name]


def copy_folder(folder: Path, target: Path) -> Path:
    """A private copy of an audit folder, for tests that change or delete files."""
    shutil.copytree(folder, target)
    return target
