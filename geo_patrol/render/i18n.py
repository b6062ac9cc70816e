"""Words in Simplified Chinese and English: the labels of maps and briefings, and the
vocabularies (occupations, time slots, area levels, statuses, roles...) that pages, maps,
exports and briefings all show through :func:`term`.

Pages' own sentences use Flask-Babel; maps and exported files are rendered outside a request,
so their labels live here. Hazard categories are configuration (``rules.toml``) and carry their
own names.
"""

from __future__ import annotations

import re

LABELS: dict[str, tuple[str, str]] = {
    "area": ("区域", "Area"), "community": ("社区", "Community"), "district": ("区", "District"),
    # the box's placeholder fits a phone's map (about 230 px); the full sentence is its title
    "search_places": ("搜索街道、路口、社区、隐患或坐标", "Street, place, hazard or coordinates"),
    "search_places_long": ("搜索社区、街道、路口、隐患，或粘贴高德、百度、GPS 坐标",
                           "Search communities, streets, crossings, hazards, or paste "
                           "coordinates from AMap, Baidu or a GPS"),
    "search_none": ("没有找到", "Nothing found"),
    # a map's corner: its legend's button and its credits (OpenStreetMap's data, Leaflet)
    "legend": ("图例", "Legend"),
    "osm_credit": ("地图数据 © OpenStreetMap 贡献者", "Map data © OpenStreetMap contributors"),
    "leaflet_title": ("绘制本地图的开源程序库", "A JavaScript library for interactive maps"),
    "hours_unit": ("小时", "hours"), "km": ("公里", "km"), "metres": ("米", "m"),
    "km_per_h": ("公里/小时", "km/h"), "hazards_axis": ("隐患（处）", "Hazards"),
    "place": ("所在街道", "Where"),
    "task_site": ("任务地点", "Task site"), "navigate_to": ("导航到：{place}", "Navigate to: {place}"),
    "navigate": ("导航", "Directions"),
    "navigate_amap": ("用高德地图导航", "Open in AMap"),
    "navigate_baidu": ("用百度地图导航", "Open in Baidu Maps"),
    "my_position": ("显示我的位置", "Show my position"),
    "walk_hazards": ("途经隐患点（按步行顺序编号）", "Hazards on the way (numbered in walking order)"),
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
    "street_km": ("街道里程（公里）", "Street km"),
    "visited_km": ("已巡逻（公里）", "Patrolled km"),
    "period": ("统计期间", "Period"), "briefing": ("巡逻覆盖简报", "Patrol coverage briefing"),
    "summary": ("社区汇总", "Communities"), "top_gaps": ("优先盲区", "Priority gaps"),
    "generated": ("生成时间", "Generated"), "no_personal": (
        "本简报不含任何个人信息。", "This briefing contains no personal data."),
    "day": ("白天", "Day"), "night": ("夜间", "Night"),
    "length_km": ("长度（公里）", "Length km"),
    "tracks": ("当日轨迹", "Tracks of the day"),
    "plan": ("巡逻勤务方案", "Patrol plan"), "zone": ("责任区", "Zone"),
    "zones": ("责任区", "Zones"), "post": ("巡逻岗点", "Patrol post"),
    "loop": ("巡逻路线", "Patrol loop"), "loop_km": ("路线（公里）", "Loop km"),
    "loop_min": ("用时（分钟）", "Minutes"), "loop_streets": ("重点街段", "Priority streets"),
    "loop_hazards": ("巡查隐患", "Hazard stops"), "workload": ("工作量（折合公里）", "Workload (km equivalent)"),
    "crew": ("建议人员", "Proposed volunteers"), "slot": ("时段", "Time slot"),
    "number": ("编号", "Number"), "reason": ("推荐理由", "Why"),
    "crew_size": ("建议人数", "Volunteers proposed"),
    "before": ("上期实际", "Last period"), "after": ("按方案预计", "Expected with the plan"),
    "hazard_compliance": ("隐患巡查达标率 %", "Hazard compliance %"),
    "balance": ("工作量均衡（最大/平均）", "Workload balance (max / mean)"),
    "today_communities": ("现有社区划分", "Today's communities"),
    "live_state": ("在线状态", "State"), "covered_today": ("今日已巡街道", "Streets patrolled today"),
    "incident_point": ("警情位置", "Incident"),
    "hot_spot": ("热点街段", "Hot spot"), "cold_spot": ("冷点街段", "Cold spot"),
    "gi_z": ("高出随机水平的程度", "How far above chance"), "density": ("警情密度（起/平方公里）",
                                              "Incident density (per km²)"),
    "alert": ("近重复预警区", "Near-repeat alert"), "alert_until": ("预警截止", "Alert until"),
    "hot_spots": ("警情热点", "Crime hot spots"),
    "crime_section": ("侵财警情热点", "Property crime hot spots"),
    "campaign_section": ("专项行动进度", "Campaign progress"),
    "report_section": ("群众线索（随手拍）", "Reports from the street"),
    "reports_intro": ("本期义警上报线索 {n} 条；已处理线索中核实属实 {share}；处理用时中位数 {time}；"
                      "列入隐患台账 {hazards} 处。",
                      "{n} reports from volunteers in the period; {share} of those triaged "
                      "verified; median time to triage {time}; {hazards} hazards added to the "
                      "register."),
    "reports": ("线索数", "Reports"), "hazards_added": ("新增隐患", "Hazards added"),
    "triage_hours": ("处理用时中位数（小时）", "Median hours to triage"),
    "concentration": ("警情集中度曲线", "Concentration curve"),
    "length_share": ("街道长度累计占比（由热到冷）", "Share of street length, hottest first"),
    "incident_share": ("警情累计占比", "Share of incidents"),
    "campaign_intro": ("{name}（{start} 至 {end}）：截至 {through} 排查隐患 {found} 处，已走访 {visited} 处，"
                       "已整改 {rectified} 处，已销号 {cleared} 处，尚余 {open} 处未清零；{never} 处从未走访。",
                       "{name} ({start} – {end}): by {through}, {found} hazards found, {visited} "
                       "visited, {rectified} rectified, {cleared} cleared, {open} still open; "
                       "{never} never visited."),
    "found": ("排查发现", "Found"), "visited": ("已走访", "Visited"),
    "rectified": ("已整改", "Rectified"), "still_open": ("未清零", "Still open"),
    "never_visited_units": ("从未走访的单位", "Units never visited"),
    "campaign_units": ("专项行动单位", "Campaign units"),
    "campaign_state": ("行动进度", "In the campaign"),
    "campaign_area": ("行动范围", "Campaign area"),
    "campaign_area_line": ("行动涉及的社区", "Its communities"),
    "last_check": ("最近走访", "Last checked"),
    "crime_intro": ("{start} 至 {end} 侵财警情 {n} 起，其中 {top5}% 集中在最热的 5% 街道上；"
                    "明显的热点街段 {hot} 条。",
                    "{n} property incidents from {start} to {end}, {top5}% of them on the "
                    "hottest 5% of street length; {hot} street segments are clear hot spots."),
    "crime_risk": ("近重复风险：警情发生后 {d} 天内、{m} 米范围内风险升高；当前预警区 {a} 处。",
                   "Near-repeat risk: within {m} m for {d} days after an incident; {a} alert "
                   "areas open."),
    "rota": ("巡逻排班表", "Patrol rota"), "walk": ("巡逻任务", "Walk"),
    "walks": ("巡逻任务明细", "The walks"), "walk_start": ("出发", "Starts"),
    "walk_kind": ("任务类型", "Kind"), "walk_streets": ("街道巡逻", "Street loop"),
    "walk_hotspot": ("热点驻巡", "Hot-spot visit"), "date": ("日期", "Day"),
    "week": ("每日排班（任务数 · 工时）", "Day by day (walks · hours)"),
    "week_note": ("括号内为不排班时的数值。街道按规定间隔计，隐患按各类巡查要求计。",
                  "In brackets: the same without the rota. Streets count within the revisit "
                  "interval, hazards within their rule."),
    "streets_fresh": ("街道按期巡到 %", "Streets within interval %"),
    "hazards_in_rule": ("隐患按要求巡查 %", "Hazards within rule %"),
    "shortfall": ("警力缺口", "Shortfall"), "hours": ("缺少工时", "Hours missing"),
    "volunteers_a_day": ("每天还需义警（人）", "More volunteers a day"),
    "idle_on_duty": ("有巡逻职责、近 4 周未巡逻（人）",
                     "On the roster to patrol, no patrol in 4 weeks"),
    "rota_coverage": ("街道覆盖率：上期 → 单次路线方案 / 本排班",
                      "Street coverage: last period → single-loop plan / this rota"),
    "rota_due_met": ("到期街道按期巡到", "Due streets met within the interval"),
    "rota_hazards": ("按规定到期的隐患巡查（完成 / 应查）",
                     "Hazard inspections due by rule (met / due)"),
    "rota_hotspots": ("热点驻巡（每次 15 分钟）", "Hot-spot stops (15 minutes each)"),
    "rota_hotspot_force": ("热点驻巡：计划与现有力量", "Hot-spot stops: plan and force"),
    "hotspot_force_short": ("计划 {due} 次热点驻巡，现有力量可完成 {given} 次，缺 {missing} 次"
                            "（约 {h} 人·小时，每次驻巡连同巡逻约 {m} 分钟）",
                            "{due} hot-spot stops planned, the force at hand can make {given}: "
                            "{missing} missing (about {h} volunteer-hours, some {m} minutes "
                            "each with its walk)"),
    "hotspot_force_met": ("计划 {due} 次热点驻巡，现有力量都能完成",
                          "{due} hot-spot stops planned: the force at hand can make them all"),
    "rota_promise": ("风险时段内每 2 小时至少一次（做到的时段 / 有驻巡的时段）",
                     "At least every 2 hours in risk slots (kept / slots visited)"),
    "rota_entropy": ("时刻难以预料的程度：驻巡时刻 / 出发时刻",
                     "How hard the times are to foresee: visit times / start times"),
    "of_most_random": ("（相对完全随机）", "of fully random"),
    "entropy_tech": ("信息熵（比特）", "Entropy (bits)"),
    "solver_gap_plain": ("与最佳方案至多相差 {p}%", "at most {p}% from the best plan"),
    "unit_s": ("秒", "seconds"), "unit_h": ("小时", "hours"), "unit_min": ("分钟", "min"),
    "worked_s": ("计算用时 {s} 秒", "worked out in {s} seconds"),
    "worked_1s": ("计算用时 1 秒", "worked out in a second"),
    "worked_0s": ("计算用时不到 1 秒", "worked out in under a second"),
    "at_most": ("上限", "at most"),
    "coverage_fill": ("区域填色：街道巡逻覆盖率", "Area fill: share of streets patrolled"),
    "no_streets": ("无街道", "No streets"),
    "incidents_shaded": ("警情（六边形，越深越多）", "Incidents (hexagons, darker: more)"),
    "other_layers": ("其他图层", "Other layers"),
    "coverage_axis": ("覆盖率（%）", "Coverage (%)"),
    "day_axis": ("日期", "Day"),
    "no_hot_spots": ("本区域无侵财警情热点", "No property-crime hot spot in the area"),
    "rota_hours": ("义警工时（已排 / 可用）", "Volunteer-hours (used / available)"),
    "rota_assigned": ("已落实到人的任务", "Walks given to a volunteer"),
    "rota_solver": ("方案好坏", "How good the plan is"), "solver_gap": ("最优性差距", "optimality gap"),
    "revisit_every": ("每条街道 {n} 天内至少巡逻一次", "every street within {n} days"),
    "no_names": ("本简报只含义警编号，不含姓名、电话、证件号等个人信息。",
                 "This briefing carries roster numbers only: no names, phones or ID numbers."),
    "crime_no_risk": ("未发现近重复规律。", "No near-repeat pattern."),
    "crime_predicts": ("按留出各周检验，热点的预测优于基准。",
                       "Tested on held-out weeks, the hot spots predict better than the "
                       "baselines."),
    "crime_not_predicts": ("按留出各周检验，热点的预测并不优于基准：仅作为过去情况的描述。",
                           "Tested on held-out weeks, the hot spots do not predict better than "
                           "the baselines: a description of the past only."),
    "evidence_section": ("巡防成效：预测、巡逻时长与试验",
                         "Evidence: forecasts, patrol time and trials"),
    "forecast_heading": ("热点从哪里来", "Where the hot spots come from"),
    "forecast_chosen": ("排班热点的来源：{method}。在留作检验的 {weeks} 周里，它选出的最热 5% "
                        "街道长度上发生的警情是其长度占比的 {pai} 倍，随机选择为 {random} 倍。",
                        "Where rotas take their hot spots: {method}. In the {weeks} weeks "
                        "held out for testing, its hottest 5% of the street length caught "
                        "{pai}× its share of incidents, against {random}× for a random "
                        "choice."),
    "forecast_none": ("在留作检验的各周里，没有一种预测好于随机选择：排班采用以往的热点街段。",
                      "No forecast did better than a random choice in the weeks held out for "
                      "testing: rotas take the hot spots of the past."),
    "forecast_too_few": ("警情太少，无法比较各种预测：排班采用以往的热点街段。",
                         "Too few incidents to compare forecasts: rotas take the hot spots "
                         "of the past."),
    "forecast_stats": ("检验 {a} 至 {b}，警情 {n} 起；每种方法只用该周之前的警情预测该周。"
                       "PAI（最热 5% 街道长度上的警情占比除以 5%）：{method} {pai}，"
                       "{runner} {second}，随机选择 {random}。",
                       "Tested on {a} – {b}, {n} incidents; every method forecast each week "
                       "from the weeks before it. PAI (the share of incidents on the hottest "
                       "5% of the street length over 5%): {method} {pai}, {runner} {second}, "
                       "random choice {random}."),
    "stats_behind": ("统计依据", "The statistics behind it"),
    "dose_heading": ("热点的巡逻时长", "Patrol time at the hot spots"),
    "dose_none": ("统计期间本区的排班没有安排热点驻巡。",
                  "No rota planned a stop at a hot spot of the district in the period."),
    "dose_summary": ("统计期间，义警在排班的 {n} 个热点驻留 {got} 分钟，排班计划 {planned} 分钟"
                     "（{share}%）。",
                     "In the period volunteers were at the rotas' {n} hot spots for {got} of "
                     "the {planned} minutes planned ({share}%)."),
    "dose_rule": ("驻留指在热点中点 {m} 米内停留 {min} 分钟以上（与隐患巡查、任务驻点同一规则），"
                  "由义警的有效定位点计算；超出计划或不在计划时段的时间不计入完成。"
                  "在场共 {minutes} 分钟；其中 {koper} 次驻留为 10–15 分钟（Koper 曲线："
                  "这样的驻留威慑最久）。",
                  "A stay is {min} minutes or more within {m} m of the hot spot's middle (the "
                  "rule of a hazard inspection and a task's stop), from the volunteers' clean "
                  "fixes; time beyond a planned stop, or in a slot without one, is not "
                  "counted as delivered. {minutes} minutes present in all; {koper} stays of "
                  "10 to 15 minutes (Koper's curve: such a stop deters longest)."),
    "hot_spot_place": ("热点", "Hot spot"), "planned_min": ("计划分钟", "Planned minutes"),
    "delivered_min": ("完成分钟", "Minutes delivered"), "share": ("完成比例", "Share"),
    "minutes_present": ("在场分钟", "Minutes present"),
    "dose_against_plan": ("完成 / 计划", "Delivered / planned"),
    "dose_spots": ("热点（按完成比例着色）", "Hot spots (coloured by share delivered)"),
    "dose_map": ("热点驻巡时间（完成 / 计划）", "Patrol time at the hot spots (delivered / planned)"),
    "dose_full": ("基本完成（80% 及以上）", "Delivered (80% or more)"),
    "dose_part": ("部分完成（40%–80%）", "Partly (40% to 80%)"),
    "dose_low": ("很少或没有（不到 40%）", "Little or none (under 40%)"),
    "dose_unplanned": ("尚未安排驻巡", "No stop planned yet"),
    "trials_heading": ("试验：巡逻带来改变了吗？", "Trials: did the patrols change anything?"),
    "trials_none": ("本区没有试验。", "The district has no trial."),
    "trial_head": ("试验 {id}：{area}，{start} 至 {end}，热点 {n} 个（巡逻组 {p} 个，对照组 {c} 个）。",
                   "Trial {id}: {area}, {start} to {end}, {n} hot spots ({p} patrolled, {c} "
                   "control)."),
    "trial_not_started": ("将于 {start} 开始：热点、分组和统计口径均已固定；尚无可报告的内容。",
                          "It starts on {start}: its hot spots, their arms and what it counts "
                          "are fixed; nothing to report yet."),
    "trial_interim": ("进行中，截至 {until}：结论待试验结束后得出。",
                      "Under way, read up to {until}: the verdict comes when it ends."),
    "trial_too_small": ("规模太小，无法判断：{n} 个热点分成 {b} 组，即使差别再明显也可能只是抽签造成的。",
                        "Too small to tell: with {n} hot spots in {b} blocks even the clearest "
                        "difference could come from the draw alone."),
    "trial_cannot_tell": ("无法判断巡逻是否带来改变：巡逻组热点 {pa} 起警情，对照组 {ca} 起（{change}），"
                          "这一差别在偶然因素的范围之内。",
                          "Cannot tell whether the patrols changed anything: {pa} incidents at "
                          "the patrolled hot spots against {ca} at the control ones ({change}) "
                          "is within what chance alone gives."),
    "trial_fell": ("巡逻组热点的警情下降了：{pa} 起，对照组 {ca} 起（{change}），不能用偶然解释。",
                   "Incidents fell at the patrolled hot spots: {pa} against {ca} at the "
                   "control ones ({change}), more than chance alone gives."),
    "trial_rose": ("巡逻组热点的警情上升了：{pa} 起，对照组 {ca} 起（{change}），不能用偶然解释。",
                   "Incidents rose at the patrolled hot spots: {pa} against {ca} at the "
                   "control ones ({change}), more than chance alone gives."),
    "trial_dose": ("轨迹显示的巡逻时长：每个巡逻组热点每周 {p} 分钟，每个对照组热点 {c} 分钟。",
                   "Patrol time from the tracks: {p} minutes a week at each patrolled hot "
                   "spot, {c} at each control one."),
    "trial_not_delivered": ("巡逻没有按设计进行：本试验无法说明巡逻是否有效。",
                            "The patrols did not happen as designed: this trial cannot say "
                            "whether patrols work."),
    "trial_stats": ("{days} 天内每个热点的变化（各组内巡逻组减对照组）：{effect} 起；95% 区间 {lo} 至 "
                    "{hi}；p = {p}（与同组内抽签可能产生的 {draws} 种分配相比较，显著性水平 {alpha}；"
                    "本试验能得到的最小 p 值为 {smallest}）。",
                    "Change per hot spot over {days} days, patrolled less control within each "
                    "block: {effect} incidents; 95% interval {lo} to {hi}; p = {p} (against "
                    "{draws} assignments the draw could have made within the same blocks, at "
                    "{alpha}; the least p-value this trial can give is {smallest})."),
    "arm": ("分组", "Arm"), "arm_spots": ("热点数", "Hot spots"),
    "arm_patrolled": ("巡逻组", "patrolled"), "arm_control": ("对照组", "control"),
    "incidents_before": ("试验前警情", "Incidents before"),
    "incidents_during": ("试验中警情", "Incidents during"),
    "minutes_week": ("每个热点每周巡逻分钟", "Minutes a week per hot spot"),
    "ring": ("巡逻组热点周边街道", "Streets around the patrolled hot spots"),
    "ring_m": ("{a}–{b} 米", "{a}–{b} m"),
    "wdq": ("加权转移商数", "Weighted displacement quotient"),
    "whole_city": ("全市", "the whole city"),
}
#: Stored values, by vocabulary, as (Chinese, English).
VOCAB: dict[str, dict[str, tuple[str, str]]] = {
    "occupation": {
        "taxi_driver": ("出租车司机", "Taxi driver"),
        "delivery_rider": ("外卖骑手", "Delivery rider"),
        "security_guard": ("保安", "Security guard"),
        "property_staff": ("物业人员", "Property staff"),
        "sanitation": ("环卫工人", "Sanitation worker"),
        "retired_resident": ("退休居民", "Retired resident"), "other": ("其他", "Other")},
    "slot": {
        "morning": ("早间 6–10 时", "Morning 6–10"), "midday": ("午间 10–14 时", "Midday 10–14"),
        "afternoon": ("下午 14–18 时", "Afternoon 14–18"),
        "evening": ("晚间 18–22 时", "Evening 18–22"),
        "passive": ("职业途经", "At work (passive)")},
    "level": {
        "city": ("市", "City"), "district": ("区（旗、县）", "District"),
        "station": ("派出所辖区", "Police station area"), "community": ("社区", "Community"),
        "grid": ("网格", "Grid cell")},
    "compliance": {
        "compliant": ("达标", "Compliant"), "overdue": ("逾期", "Overdue"),
        "never_visited": ("未巡查", "Never visited"), "cleared": ("已销号", "Cleared")},
    "campaign_state": {
        "open_never_visited": ("未清零，从未走访", "Still open, never visited"),
        "open_visited": ("未清零，已走访", "Still open, visited"),
        "rectified": ("已整改", "Rectified"), "cleared": ("已销号", "Cleared")},
    "hazard_status": {
        "open": ("未整改", "Open"), "rectified": ("已整改", "Rectified"),
        "cleared": ("已销号", "Cleared")},
    "verification": {
        "pending": ("待核实", "Pending"), "verified": ("已核实", "Verified"),
        "rejected": ("未采纳", "Rejected"), "merged": ("已合并", "Merged")},
    "outcome": {
        "verified": ("已核实", "Verified"), "hazard": ("已核实，列入隐患台账", "Verified, hazard added"),
        "station": ("已核实，移交派出所", "Verified, handed to the police station"),
        "rejected": ("未采纳", "Rejected"), "merged": ("已合并", "Merged")},
    "exif_check": {
        "matches": ("照片位置与本人轨迹相符", "Photo's place matches the reporter's track"),
        "far": ("照片位置与本人轨迹不符", "Photo's place is far from the reporter's track"),
        "no_track": ("拍摄时无本人轨迹", "No track of the reporter when taken"),
        "none": ("照片无位置信息", "Photo without a place")},
    "role": {
        "command": ("分局指挥", "District command"), "officer": ("社区民警", "Community officer"),
        "planner": ("勤务规划员", "Planner"), "volunteer": ("义警", "Volunteer"),
        "admin": ("系统管理员", "Administrator")},
    "kind": {"patrol": ("巡逻", "Patrol"), "passive": ("职业途经", "Passive")},
    "upload": {
        "boundaries": ("辖区边界", "Boundaries"), "streets": ("街道路网", "Streets"),
        "volunteers": ("义警名册", "Volunteer roster"), "tracks": ("巡逻轨迹", "Patrol tracks"),
        "hazards": ("隐患台账", "Hazard ledger"), "reports": ("上报线索", "Reports"),
        "incidents": ("警情", "Incidents"), "live": ("实时定位", "Live positions"),
        "training": ("培训签到表", "Training sign-in sheet")},
    "skill": {
        "patrol": ("巡逻勤务", "Patrol duty"), "first_aid": ("应急救护", "First aid"),
        "mediation": ("矛盾纠纷调解", "Mediation"), "law": ("法律知识", "Law"),
        "incident_response": ("警情先期处置", "Incident first response"),
        "fire_safety": ("消防安全", "Fire safety"),
        "hazmat_inspection": ("危化品安全检查", "Dangerous-goods inspection"),
        "weapons_inspection": ("枪爆刀具管控检查", "Guns/explosives/knives inspection")},
    "training_mode": {
        "classroom": ("集中授课", "Classroom"), "online": ("线上直播", "Online (live-streamed)"),
        "shadowing": ("跟班带教", "Shadowing on duty")},
    "attendance": {
        "present": ("出勤", "Present"), "absent": ("缺勤", "Absent"),
        "passed": ("考核合格", "Passed")},
    "standing": {
        "untrained": ("未培训", "Untrained"), "expired": ("证书已过期", "Expired"),
        "expiring": ("即将到期", "Expiring"), "current": ("有效", "Current")},
    "live_state": {
        "patrolling": ("巡逻中", "Patrolling"), "passive": ("职业途经", "At work (passive)"),
        "idle": ("静止", "Idle"), "offline": ("离线", "Offline")},
    "callout_status": {
        "waiting": ("待下一轮", "Waiting for their ring"), "sent": ("已派发", "Sent"),
        "accepted": ("已接受", "Accepted"), "on_way": ("正在赶往", "On the way"),
        "declined": ("已拒绝", "Declined"), "arrived": ("已到达", "Arrived")},
    "callout_kind": {
        "callout": ("警情联动", "Call-out"), "sos": ("SOS 求救", "SOS"),
        "still": ("巡逻中长时间未移动", "Not moving on patrol")},
    "callout_outcome": {
        "resolved": ("已处置", "Resolved"), "false_alarm": ("误报", "False alarm"),
        "handed_over": ("已移交民警", "Handed to the police"),
        "cancelled": ("已取消", "Cancelled")},
    "left_out": {
        "too_far": ("超出时限", "Too far"), "off_duty": ("不在岗", "Off duty"),
        "stale": ("位置过旧", "Stale position"), "no_skill": ("无所需资质", "Lacks the skill"),
        "unreachable": ("道路不通", "No way by the streets")},
    "travel_mode": {
        "walk": ("步行", "On foot"), "ride": ("骑行", "Riding"), "drive": ("驾车", "Driving")},
    "refusal": {
        "no_id": ("缺少设备号", "No device id"), "no_position": ("缺少位置", "No position"),
        "bad_number": ("数值无效", "Not a number"), "out_of_range": ("坐标越界", "Out of range"),
        "bad_time": ("时间无效", "Bad time"), "future_time": ("时间超前", "Time in the future"),
        "too_large": ("请求过大", "Too large"), "malformed": ("格式错误", "Malformed"),
        "unknown_device": ("未登记设备", "Unknown device"),
        "ambiguous_device": ("设备在多个城市登记", "Device registered in several cities"),
        "wrong_secret": ("设备密钥错误", "Wrong device secret"),
        "outside_areas": ("远离辖区", "Far outside the areas"),
        "rate_limited": ("请求过于频繁", "Too many requests")},
    "report": {
        "gas_refill": ("非法充装液化气", "Illegal gas refilling"),
        "dispute": ("矛盾纠纷", "Dispute"), "lost_person": ("走失人员", "Lost person"),
        "fire_hazard": ("消防隐患", "Fire hazard"), "suspicious": ("可疑人员", "Suspicious person"),
        "knife_sale": ("违规销售管制刀具", "Illegal knife sale"), "hazard": ("隐患", "Hazard"),
        "incident": ("警情线索", "Incident"), "sos": ("SOS 求救", "SOS")},
    "layer": {
        "communities": ("社区覆盖", "Communities"), "gaps": ("巡逻盲区", "Gaps"),
        "hazards": ("隐患巡查", "Hazards")},
    "actor": {"system": ("系统", "system")},
    # the nine duties and the teams, stored in Chinese as the roster writes them
    "duty": {
        "情报员": ("情报员", "Intelligence"), "调解员": ("调解员", "Mediation"),
        "巡逻防控": ("巡逻防控", "Patrol"), "防疫救灾": ("防疫救灾", "Emergency relief"),
        "综合治理": ("综合治理", "Governance"), "法治宣讲": ("法治宣讲", "Legal outreach"),
        "文明监督": ("文明监督", "Civility watch"), "公益服务": ("公益服务", "Public service"),
        "警情联动": ("警情联动", "Incident liaison")},
    "team": {
        "出租车义警队": ("出租车义警队", "Taxi drivers' team"),
        "骑手义警队": ("骑手义警队", "Delivery riders' team"),
        "保安义警队": ("保安义警队", "Security guards' team"),
        "物业义警队": ("物业义警队", "Property staff team"),
        "环卫义警队": ("环卫义警队", "Sanitation workers' team"),
        "五老义警队": ("五老义警队", "Retired residents' team")},
    "declared_skill": {
        "急救": ("急救", "First aid"), "驾驶": ("驾驶", "Driving"), "调解": ("调解", "Mediation"),
        "消防": ("消防", "Fire safety"), "外语": ("外语", "Foreign language"),
        "电工": ("电工", "Electrician"), "心理疏导": ("心理疏导", "Counselling"),
        "摄影": ("摄影", "Photography"), "法律咨询": ("法律咨询", "Legal advice")},
    "task_state": {
        "offered": ("待认领", "Offered"), "accepted": ("已认领", "Accepted"),
        "delivered": ("已完成", "Delivered"), "partly": ("部分完成", "Partly delivered"),
        "missed": ("未完成", "Missed"), "withdrawn": ("已撤回", "Withdrawn"),
        "expired": ("已过期（未认领）", "Expired (not taken)")},
    "solver_status": {
        "Optimal": ("已是最佳方案", "The best plan there is"),
        "Time limit reached": ("限定时间内找到的最好方案", "The best plan found in the time allowed"),
        "Empty": ("无可选路线", "No loops to choose"),
        "Infeasible": ("无法同时满足所有要求", "No plan meets every requirement")},
    "weekday": {
        "mon": ("周一", "Monday"), "tue": ("周二", "Tuesday"), "wed": ("周三", "Wednesday"),
        "thu": ("周四", "Thursday"), "fri": ("周五", "Friday"), "sat": ("周六", "Saturday"),
        "sun": ("周日", "Sunday")},
    "crime_class": {
        "property": ("侵财类", "Property crime"), "violence": ("暴力伤害类", "Violence"),
        "dispute": ("矛盾纠纷类", "Disputes"), "traffic": ("交通类", "Traffic"),
        "public_order": ("治安秩序类", "Public order"), "other": ("其他", "Other")},
    # ways of choosing hot spots in plain words; ``method_tech`` names them as statisticians do
    # (shown on hover)
    "method": {
        "gi_star": ("以往热点街段", "Past hot spots"), "kde": ("警情密集处", "Where incidents cluster"),
        "last_period": ("上期警情", "Last period's incidents"),
        "sepp": ("近期警情带动的风险", "Risk following recent incidents"),
        "random": ("随机选择", "Random choice")},
    "method_tech": {
        "gi_star": ("Getis–Ord Gi* 热点", "Getis–Ord Gi* hot spots"),
        "kde": ("核密度估计", "Kernel density estimate"),
        "last_period": ("上期警情数", "Last period's count"),
        "sepp": ("自激点过程（SEPP）预测", "Self-exciting point process (SEPP) forecast"),
        "random": ("随机基准", "Random baseline")},
    "action": {
        "user_add": ("新增账号", "Account added"), "user_disable": ("停用账号", "Account disabled"),
        "user_enable": ("启用账号", "Account enabled"),
        "user_password": ("修改密码", "Password changed"),
        "token_issue": ("签发令牌", "Token issued"),
        "unmask": ("查看明文", "Unmasked"), "unmask_refused": ("拒绝查看明文", "Unmask refused"),
        "login_failed": ("登录失败", "Sign-in failed"), "retention": ("数据清理", "Retention"),
        "hazard_accept": ("采纳提报隐患", "Proposal accepted"),
        "hazard_reject": ("驳回提报隐患", "Proposal rejected"),
        "callout": ("警情联动派警", "Call-out sent"),
        "callout_answer": ("义警响应派警", "Call-out answered"),
        "callout_ring": ("派警扩大呼叫", "Next ring called"),
        "callout_escalate": ("派警上报指挥", "Call-out escalated"),
        "callout_close": ("派警结束", "Call-out closed"),
        "sos": ("义警 SOS 求救", "SOS raised"),
        "sos_acknowledge": ("认领 SOS", "SOS acknowledged"),
        "sos_escalate": ("SOS 未认领上报", "SOS escalated"),
        "device_add": ("登记定位设备", "Device registered"),
        "device_remove": ("停用定位设备", "Device disabled"),
        "training_session": ("录入培训记录", "Training session entered"),
        "campaign_create": ("新建专项行动", "Campaign created"),
        "force_set": ("设定可用警力", "Force hours set"),
        "reports_credit": ("线索积分入账", "Reports paid in points"),
        "report_verified": ("核实线索", "Report verified"),
        "report_rejected": ("不采纳线索", "Report rejected"),
        "report_merged": ("合并线索", "Report merged"),
        "report_hazard": ("线索列入隐患台账", "Report added as a hazard"),
        "report_station": ("线索移交派出所", "Report handed to a station"),
        "device_rotate": ("更换设备密钥", "Device secret renewed"),
        "force_load": ("导入可用警力", "Force hours loaded"),
        "payout": ("积分兑付", "Points paid out"),
        "rota_create": ("生成排班", "Rota made"),
        "task_make": ("新建任务", "Task made"),
        "task_accept": ("义警认领任务", "Task taken"),
        "task_decline": ("义警放弃任务", "Task turned down"),
        "tasks_check": ("核验任务完成情况", "Tasks checked"),
        "tasks_offer": ("排班下发为任务", "Rota offered as tasks")},
}


def label(key: str, lang: str = "zh") -> str:
    zh, en = LABELS.get(key, (key, key))
    return zh if lang.startswith("zh") else en


def duration_text(hours: object, lang: str = "zh") -> str:
    """A length of time in the reader's words: whole minutes under an hour, else hours to
    one decimal ("35 分钟", "2.5 hours"); "—" when there is none."""
    if hours is None or (isinstance(hours, float) and hours != hours):
        return "—"
    h = float(hours)  # type: ignore[arg-type]
    zh = lang.startswith("zh")
    if h < 1:
        minutes = round(h * 60)
        return f"{minutes} 分钟" if zh else f"{minutes} minute{'' if minutes == 1 else 's'}"
    return f"{h:.1f} 小时" if zh else f"{h:.1f} hours"


def within_sentence(text: str, lang: str) -> str:
    """A vocabulary's name inside an English sentence: its first letter in lower case
    ("Past hot spots" → "past hot spots"); Chinese as it is."""
    if lang.startswith("zh") or not text:
        return text
    return text[0].lower() + text[1:]


def term(group: str, value: object, lang: str = "zh") -> str:
    """A stored value of a vocabulary in the reader's language (the value itself, when the
    vocabulary does not know it: a Chinese team or skill name, for instance)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    zh, en = VOCAB.get(group, {}).get(str(value), (str(value), str(value)))
    return zh if lang.startswith("zh") else en


def terms(group: str, joined: object, lang: str = "zh", sep: str = "、") -> str:
    """A list stored as one text joined by ``sep`` (a volunteer's duties, teams or declared
    skills), each item in the reader's language."""
    if not isinstance(joined, str) or not joined:
        return ""
    return (sep if lang.startswith("zh") else ", ").join(
        term(group, item, lang) for item in joined.split(sep))


def report_label(category: object, lang: str, rules: object) -> str:
    """A report's category: a report or hazard category's configured name, else the report
    vocabulary (a category no vocabulary knows is shown as written, e.g. a Chinese one from
    a ledger)."""
    key = str(category)
    named = rules.report_label(key, lang) if hasattr(rules, "report_label") else None
    return named if named is not None else term("report", key, lang)


def status_label(status: str, lang: str = "zh") -> str:
    """A hazard's compliance status."""
    return term("compliance", status, lang)


def crew_reason(row: object, lang: str = "zh") -> str:
    """Why a volunteer was proposed for a zone and slot (a row of the proposed crew)."""
    zh = lang.startswith("zh")
    get = (lambda k: row.get(k)) if isinstance(row, dict) else (lambda k: getattr(row, k, None))
    if get("slot") == "passive":
        occupation = term("occupation", get("occupation"), lang)
        km = float(get("arterial_km"))
        return (f"{occupation}：职业途经主干道 {km:.1f} 公里" if zh else
                f"{occupation}: passive coverage of {km:.1f} km of arterials")
    parts = [f"本人 {int(get('slot_pct'))}% 的巡逻在此时段" if zh else
             f"{int(get('slot_pct'))}% of their patrols in this slot",
             f"居住地距 {float(get('distance_km')):.1f} 公里" if zh else
             f"home {float(get('distance_km')):.1f} km away"]
    if get("patrol_duty"):
        parts.append("承担巡逻防控职责" if zh else "patrol duty")
    if get("first_aid"):
        parts.append("持有效急救证书" if zh else "first-aid certificate")
    held = [s for s in str(get("certified_for") or "").split(",") if s]
    if held:
        names = ("、" if zh else ", ").join(term("skill", s, lang) for s in held)
        parts.append(f"持{names}资质（本路线需要）" if zh else f"certified for {names} (this loop needs it)")
    return ("；" if zh else "; ").join(parts)


_HAN = re.compile(r"[\u3400-\u9fff]")


def in_language(text: object, lang: str) -> str:
    """A text stored in both languages as ``中文 · English`` (a message's title) in the
    reader's language only; any other text as it is."""
    if not isinstance(text, str):
        return ""
    parts = text.split(" · ")
    if len(parts) == 2 and _HAN.search(parts[0]) and not _HAN.search(parts[1]):
        return parts[0] if lang.startswith("zh") else parts[1]
    return text
