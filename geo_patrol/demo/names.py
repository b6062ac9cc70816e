"""Word lists for the demo's Chinese names (people, places, hazards)."""

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁龙林欣鑫波海峰亮成志新建国庆春梅兵利飞雪琴云莲"
#: Real community names of Baotou's urban districts, used first.
COMMUNITIES = ["万郡社区", "保利社区", "阿尔丁一号社区", "友谊大街社区", "团结社区", "钢铁大街社区",
               "青年路社区", "富强社区", "幸福路社区", "少先路社区", "民族东路社区", "北梁社区",
               "南门外社区", "东站社区", "巴彦塔拉社区", "沼潭社区", "胜利路社区", "建设路社区",
               "阳光社区", "和平社区"]
COMMUNITY_WORDS = ["锦绣", "明珠", "金桥", "绿都", "华苑", "丰产", "惠民", "安居", "兴胜", "富林",
                   "凯旋", "康乐", "阿尔丁", "乌兰", "赛汗", "青松", "紫荆", "滨河", "鹿城", "星光",
                   "瑞丰", "迎宾", "银河", "劳动", "文化", "工业", "光明", "新都", "佳园", "万达"]
NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]
STATIONS = ["阿尔丁", "友谊", "少先路", "鞍山道", "团结", "钢铁", "富强", "幸福", "兴胜", "青福",
            "先锋道", "东站", "西脑包", "南门外", "回民", "河东", "沙河", "哈林格尔", "麻池", "白音席勒"]
ARTERIALS = ["钢铁大街", "阿尔丁大街", "友谊大街", "团结大街", "民族东路", "巴彦塔拉大街", "黄河大街",
             "建设路", "青年路", "少先路", "林荫路", "市府东路", "富强路", "沼潭路", "呼得木林大街",
             "幸福路", "文化路", "劳动路", "包头大街", "银河大街"]
STREET_WORDS = ["兴华", "胜利", "光辉", "育才", "工业", "和平", "民主", "科学", "昆仑", "白云",
                "健康", "平安", "长青", "西河", "东河", "新光", "文明", "利民", "丰州", "瑞祥"]
TEAMS = {"taxi_driver": "出租车义警队", "delivery_rider": "骑手义警队",
         "security_guard": "保安义警队", "property_staff": "物业义警队",
         "sanitation": "环卫义警队", "retired_resident": "五老义警队"}
OCCUPATION_ZH = {"taxi_driver": "出租车司机", "delivery_rider": "外卖骑手", "security_guard": "保安",
                 "property_staff": "物业人员", "sanitation": "环卫工人",
                 "retired_resident": "退休居民"}
DUTIES = ["情报员", "调解员", "巡逻防控", "防疫救灾", "综合治理", "法治宣讲", "文明监督", "公益服务",
          "警情联动"]
SKILLS = ["急救", "驾驶", "调解", "消防", "外语", "电工", "心理疏导", "摄影", "法律咨询"]
HAZARDS = {
    "school": ["包头市第{n}小学", "钢铁大街第{n}中学", "青山区实验小学{n}分校"],
    "kindergarten": ["阳光幼儿园{n}园", "童心幼儿园", "小太阳幼儿园{n}部"],
    "gas_lpg": ["液化气供应站{n}号", "燃气瓶装供应点{n}"],
    "gas_station": ["中石油加油站{n}", "中石化加油站{n}"],
    "dangerous_goods": ["危化品仓库{n}号", "化工原料经营部{n}"],
    "guns_explosives_knives": ["五金刀具店{n}", "烟花爆竹销售点{n}", "户外用品店{n}"],
    "rental_housing": ["出租屋{n}号院", "群租房{n}栋"],
}
REPORTS = {
    "gas_refill": "发现有人在驾校内非法充装液化气",
    "dispute": "小区门口邻里纠纷，已劝解",
    "lost_person": "发现一名走失老人，已联系家属",
    "fire_hazard": "楼道堆放杂物，存在消防隐患",
    "suspicious": "有可疑人员在停车场查看车辆",
    "knife_sale": "店铺违规销售管制刀具",
}
#: Property crime (侵财) and the other incidents a city records.
PROPERTY_INCIDENTS = ["盗窃", "入室盗窃", "盗窃电动车", "扒窃", "盗窃车内财物", "诈骗"]
OTHER_INCIDENTS = ["纠纷", "交通事故", "寻衅滋事", "故意伤害", "噪音扰民"]
#: Courses of the training programme: (title, skill, duty it serves or None for everyone,
#: validity in months, how it is held, sessions a year, share of attendees who pass).
COURSES = [
    ("义警岗前培训", "patrol", None, 24, "现场", 12, 0.92),
    ("应急救护培训", "first_aid", None, 36, "现场", 8, 0.78),
    ("矛盾纠纷调解实务", "mediation", "调解员", 24, "现场", 4, 0.85),
    ("法治宣讲员培训", "law", "法治宣讲", 24, "线上", 4, 0.8),
    ("警情先期处置", "incident_response", "警情联动", 6, "跟班", 6, 0.88),
    ("危化品安全检查", "hazmat_inspection", "综合治理", 12, "现场", 4, 0.8),
    ("枪爆刀具管控检查", "weapons_inspection", "情报员", 12, "现场", 4, 0.8),
]
TRAINERS = ["刘警官", "马警官", "高警官", "红十字会王老师", "司法所赵老师", "消防站孙教官"]
TRAINING_PLACES = ["分局培训室", "社区警务室", "红十字会培训中心", "派出所会议室"]
