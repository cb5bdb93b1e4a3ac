"""Chinese names of the codes messages mention: states, roles and actions (rules.md §0 and §1).

Messages are written with the codes a client sees in the API; `plain_zh` gives a Chinese message the Chinese
names of the codes it quotes or lists, so a reader sees 已提交 and 主管领导, not `submitted` and `leader_in_charge`.
Every Violation's Chinese message goes through it (workflows.rules), and so does every problem's (permit_service.errors).
"""

from __future__ import annotations

import re

from workflows.states import State

STATE_NAMES: dict[str, str] = {
    State.draft: "草稿",
    State.submitted: "已提交",
    State.countersigned: "已会签",
    State.approved: "已审批",
    State.briefed: "已交底",
    State.active: "作业中",
    State.suspended: "已暂停",
    State.completed: "已完工",
    State.closed: "已关闭",
    State.rejected: "已驳回",
    State.cancelled: "已取消",
    State.expired: "已过期",
    State.voided: "已作废",
    # a high-risk job's own states (workflows.high_risk_job.JobState)
    "reported": "已报备",
    "consented": "监管部门已同意",
    "refused": "监管部门不同意",
    "principal_confirmed": "主要负责人已现场确认",
    "in_progress": "进行中",
}

ROLE_NAMES: dict[str, str] = {
    "applicant": "作业申请人",
    "work_leader": "作业负责人",
    "worker": "作业人",
    "guardian": "监护人",
    "analyst": "分析人",
    "shift_leader": "岗位当班班长",
    "unit_leader": "所在基层单位",
    "specialist_dept": "所在单位专业部门",
    "safety_dept": "安全管理部门",
    "plant_manager": "主管厂长或总工程师",
    "leader_in_charge": "主管领导",
    "principal": "主要负责人",
    "power_supplier": "配送电单位",
    "countersigner": "会签部门",
    "enterprise_admin": "企业管理员",
    "regulator": "属地监管部门",
    "city_regulator": "市级监管部门",
    "integration": "对接系统",
    "signaller": "指挥人员",
}

ACTION_NAMES: dict[str, str] = {
    "submit": "提交",
    "reject": "驳回",
    "countersign": "会签",
    "approve": "审批",
    "brief": "安全交底",
    "shift_check": "当班班长确认",
    "activate": "开始作业",
    "suspend": "暂停",
    "resume": "恢复",
    "complete": "完工",
    "accept": "完工验收",
    "close": "关闭",
    "cancel": "取消",
    "void": "作废",
    "expire": "过期",
    "record_gas_test": "记录气体分析",
    # a high-risk job's actions (workflows.high_risk_job.TRANSITIONS)
    "update": "修改",
    "attach_permit": "纳入作业票",
    "detach_permit": "移出作业票",
    "report": "报备",
    "consent": "同意",
    "refuse": "不同意",
    "confirm_on_site": "主要负责人现场确认",
    "reconfirm_on_site": "主要负责人再次现场确认",
    "start": "开始",
}

# Departments that countersign (EX-01, RC-01), the closed list an enterprise configures its countersigning from and
# a person's record belongs to: road closure's own (fire, safety) and those GB A.7 names for excavation.
DEPARTMENT_NAMES: dict[str, tuple[str, str]] = {
    "fire": ("消防部门", "fire department"),
    "safety": ("安全管理部门", "safety department"),
    "power": ("供电部门", "power supply"),
    "water": ("给排水部门", "water supply and drainage"),
    "steam": ("供汽部门", "steam supply"),
    "telecom": ("通信部门", "telecommunications"),
    "process": ("工艺部门", "process"),
    "equipment": ("设备管理部门", "equipment"),
}

# Why the service (or a person naming the kind) suspended a permit: the suspension's reason code, its names and the
# rule it acts under; None: the breach rule of the permit type's gas plan (HW-08, CS-04). A suspension without a
# code, or with one not listed here, is a person's (G-08).
SUSPENSION_REASONS: dict[str, tuple[str, str, str | None]] = {
    "found_object": ("发现不明物或管线", "object found", "EX-03"),
    "gas_alarm": ("气体报警", "gas alarm", None),
    "failed_gas_test": ("气体分析不合格", "failed gas test", None),
    "gas_monitoring_gap": ("气体监测中断", "gas monitoring gap", "CS-03"),
    "freeze": ("停工冻结", "freeze", "FZ-03"),
    "red_grade": ("企业红色风险等级", "red risk grade", "RG-02"),
    "working_period_ended": ("作业时段结束", "working period ended", "HW-03"),
    "guardian_absent": ("监护人不在场", "guardian absent", "HC-04"),
    "crew_off_post": ("作业人员脱岗", "crew off post", "HC-04"),
    "headcount_exceeded": ("作业人数超限", "headcount exceeded", "HC-04"),
    "plant_alarm": ("装置报警", "plant alarm", "G-08"),
}

ZH_NAMES: dict[str, str] = {**ACTION_NAMES, **ROLE_NAMES, **STATE_NAMES}
_WORD = r"[a-z]+(?:_[a-z]+)*"
# Where messages put codes: quoted (作业票处于“submitted”状态) or as the list that ends a clause (角色：a, b; c).
_QUOTED = re.compile(rf"“({_WORD})”")
_LISTED = re.compile(rf"(?<=：){_WORD}(?:(?:, |; ){_WORD})*(?=$|[；。，（])")
_SEPARATORS = {", ": "、", "; ": "；"}


def zh_name(code: str) -> str:
    """The Chinese name of a state, role or action code (the code itself when it has none)."""
    return ZH_NAMES.get(code, code)


def _names(listed: re.Match[str]) -> str:
    parts = re.split(r"(, |; )", listed.group())
    return "".join(_SEPARATORS.get(part) or zh_name(part) for part in parts)


def plain_zh(text: str) -> str:
    """A Chinese message with the state, role and action codes it quotes or lists given their Chinese names."""
    return _LISTED.sub(_names, _QUOTED.sub(lambda quoted: f"“{zh_name(quoted.group(1))}”", text))
