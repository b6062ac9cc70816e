"""Labels used inside maps and briefings, in Simplified Chinese and English.

Pages use Flask-Babel; maps and exported files are rendered outside a request, so their few
labels live here.
"""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    "area": ("区域", "Area"), "community": ("社区", "Community"), "district": ("区", "District"),
    "coverage_pct": ("覆盖率 %", "Coverage %"), "overdue": ("逾期隐患", "Overdue hazards"),
    "gaps": ("巡逻盲区", "Gaps"), "gap": ("盲区", "Gap"), "streets": ("街道", "Streets"),
    "street": ("街道", "Street"), "days_since": ("距上次巡逻（天）", "Days since last patrol"),
    "never": ("期内未巡逻", "Not patrolled"), "patrol_passes": ("巡逻经过", "Patrol passes"),
    "passive_passes": ("职业途经", "Passive passes"), "hazards": ("隐患点", "Hazards"),
    "incidents": ("警情", "Incidents"), "priority": ("优先级", "Priority"),
    "name": ("名称", "Name"), "category": ("类别", "Category"), "status": ("状态", "Status"),
    "rule": ("巡查要求", "Visit rule"), "last_inspection": ("最近巡查", "Last inspection"),
    "inspector": ("巡查人", "Inspector"), "compliant": ("达标", "Compliant"),
    "never_visited": ("未巡查", "Never visited"),
    "cleared": ("已清除", "Cleared"), "volunteers": ("活跃义警", "Active volunteers"),
    "street_km": ("街道里程 km", "Street km"), "visited_km": ("已巡逻 km", "Patrolled km"),
    "period": ("统计期间", "Period"), "briefing": ("巡逻覆盖简报", "Patrol coverage briefing"),
    "summary": ("社区汇总", "Communities"), "top_gaps": ("优先盲区", "Priority gaps"),
    "generated": ("生成时间", "Generated"), "no_personal": (
        "本简报不含任何个人信息。", "This briefing contains no personal data."),
    "school": ("学校", "School"), "kindergarten": ("幼儿园", "Kindergarten"),
    "gas_lpg": ("燃气/液化气", "Gas / LPG"), "gas_station": ("加油站", "Gas station"),
    "dangerous_goods": ("危险品", "Dangerous goods"),
    "guns_explosives_knives": ("枪爆刀", "Guns / explosives / knives"),
    "rental_housing": ("出租房屋", "Rental housing"), "other": ("其他", "Other"),
    "patrol": ("巡逻", "Patrol"), "passive": ("职业途经", "Passive"),
    "day": ("白天", "Day"), "night": ("夜间", "Night"), "length_km": ("长度 km", "Length km"),
    "tracks": ("当日轨迹", "Tracks of the day"),
    "plan": ("巡逻勤务方案", "Patrol plan"), "zone": ("责任区", "Zone"),
    "zones": ("责任区", "Zones"), "post": ("巡逻岗点", "Patrol post"),
    "loop": ("巡逻路线", "Patrol loop"), "loop_km": ("路线 km", "Loop km"),
    "loop_min": ("用时（分钟）", "Minutes"), "loop_streets": ("重点街段", "Priority streets"),
    "loop_hazards": ("巡查隐患", "Hazard stops"), "workload": ("工作量", "Workload"),
    "crew": ("建议人员", "Proposed volunteers"), "slot": ("时段", "Time slot"),
    "number": ("编号", "Number"), "reason": ("理由", "Why"),
    "morning": ("早间 6-10 时", "Morning 6-10"), "midday": ("午间 10-14 时", "Midday 10-14"),
    "afternoon": ("下午 14-18 时", "Afternoon 14-18"),
    "evening": ("晚间 18-22 时", "Evening 18-22"),
    "before": ("上期实际", "Last period"), "after": ("按方案预计", "Expected with the plan"),
    "hazard_compliance": ("隐患巡查达标率 %", "Hazard compliance %"),
    "balance": ("工作量均衡（最大/平均）", "Workload balance (max / mean)"),
    "today_communities": ("现有社区划分", "Today's communities"),
}
#: a hazard's status (the same word as the count of overdue hazards in tables)
STATUS_LABELS = {"overdue": ("逾期", "Overdue")}


def label(key: str, lang: str = "zh") -> str:
    zh, en = LABELS.get(key, (key, key))
    return zh if lang.startswith("zh") else en


def status_label(status: str, lang: str = "zh") -> str:
    zh, en = STATUS_LABELS.get(status) or LABELS.get(status, (status, status))
    return zh if lang.startswith("zh") else en
