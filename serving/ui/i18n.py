"""Texts of the officers' pages in Chinese (default) and English."""

from __future__ import annotations

from typing import Final

#: key -> (中文, English)
TEXTS: Final[dict[str, tuple[str, str]]] = {
    "app": ("重点回访", "Revisit"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "token": ("令牌", "Token"),
    "token_hint": (
        "粘贴管理员发给您的令牌（rv_ 开头）",
        "Paste the token you were given (starts with rv_)",
    ),
    "bad_token": ("令牌无效或已吊销", "The token is invalid or revoked"),
    "bad_form": ("表单已过期，请重试", "The form expired; please try again"),
    "my_list": ("我的任务", "My tasks"),
    "overdue": ("超时任务", "Overdue"),
    "done": ("已完成", "Done"),
    "supervise": ("督办", "Supervision"),
    "household": ("户", "Household"),
    "village": ("村（社区）", "Village"),
    "due": ("完成期限", "Due"),
    "status": ("状态", "Status"),
    "reasons": ("预警原因", "Reasons"),
    "officer": ("包保民警", "Officer"),
    "rank": ("排名", "Rank"),
    "risk": ("风险概率", "Risk"),
    "acknowledge": ("签收", "Acknowledge"),
    "record_outcome": ("登记走访结果", "Record outcome"),
    "visited_at": ("走访时间", "Visited at"),
    "outcome": ("处置结果", "Outcome"),
    "decline": ("退回", "Decline"),
    "decline_reason": ("退回原因", "Reason"),
    "save": ("提交", "Save"),
    "no_tasks": ("暂无任务", "No tasks"),
    "days_overdue": ("已超期 {n} 天", "{n} days overdue"),
    "followup_overdue": ("回访超期", "Follow-up overdue"),
    "history": ("历史概况", "History"),
    "tasks_of_household": ("该户任务", "Tasks of this household"),
    "not_found": ("不在您的辖区或不存在", "Not in your jurisdiction, or no such record"),
    "forbidden_role": ("您的角色不能办理任务", "Your role may not act on tasks"),
    "saved": ("已保存", "Saved"),
    "conflict": ("任务状态已变化，未保存", "The task changed meanwhile; nothing saved"),
    "jurisdiction": ("辖区", "Jurisdiction"),
    "slow_units": ("反馈最慢的单位", "Units slowest to act"),
    "open_tasks": ("未完成", "Open"),
    "overdue_share": ("超时比例", "Overdue share"),
    "hours_to_ack": ("签收用时（小时，中位数）", "Hours to acknowledge (median)"),
    "days_to_close": ("办结用时（天，中位数）", "Days to close (median)"),
    "adherence": ("按期走访率", "Visited on time"),
    "township": ("乡镇（街道）", "Township"),
    "county": ("县（市、新区）", "County"),
    "as_of": ("截至", "As of"),
    "model_version": ("模型版本", "Model version"),
    "days_since_visit": ("距上次走访天数", "Days since last visit"),
    "open_disputes": ("未化解纠纷数", "Open disputes"),
    "task": ("任务", "Task"),
    "back": ("返回", "Back"),
    "lang_switch": ("English", "中文"),
    "band_rule": (
        "风险等级按全市（州）排名：红 = 前 1 %，橙 = 前 5 %，黄 = 前 20 %，蓝 = 其余",
        "Bands by prefecture rank: red = top 1 %, orange = top 5 %, yellow = top 20 %, blue = the rest",
    ),
}

BANDS: Final[dict[str, tuple[str, str]]] = {
    "high": ("红 · 高", "Red · high"),
    "elevated": ("橙 · 较高", "Orange · elevated"),
    "moderate": ("黄 · 中", "Yellow · moderate"),
    "low": ("蓝 · 低", "Blue · low"),
}

STATUSES: Final[dict[str, tuple[str, str]]] = {
    "open": ("待签收", "Open"),
    "acknowledged": ("已签收", "Acknowledged"),
    "done": ("已完成", "Done"),
    "declined": ("已退回", "Declined"),
}


def translate(lang: str, key: str, **kw: object) -> str:
    """The text of ``key`` in ``lang`` (``zh`` or ``en``), formatted with ``kw``."""
    zh, en = TEXTS.get(key, (key, key))
    return (zh if lang == "zh" else en).format(**kw)


def pick(table: dict[str, tuple[str, str]], code: object, lang: str) -> str:
    """The label of ``code`` in ``table`` in ``lang`` (the code itself if unknown)."""
    if code is None:
        return ""
    zh, en = table.get(str(code), (str(code), str(code)))
    return zh if lang == "zh" else en
