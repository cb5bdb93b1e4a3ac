"""The safety measures of GB 30871-2022 Appendix A (G-02): each type's list, versioned, and the guards on it.

A permit keeps the list version it was filed under. Version 0 is the earlier practice (free-text measure lines,
each with its confirmer, kept by permits filed before the lists came in); version 1 is the standard's own lists,
in its Chinese wording with an English rendering beside it. On a version-1 permit every listed line is answered
involved / not involved (是否涉及) before submission, with the counts its blanks ask for; the applicant may add
lines under the list's last line, "其他安全措施"; every involved line, listed or added, is confirmed by a named
person (确认人) before approval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workflows.model import Context, Measure, PermitData
from workflows.rules import Violation

LEGACY = 0  # filed before the Appendix A lists: free-text lines, the old G-02
CURRENT = 1  # GB 30871-2022 Appendix A


@dataclass(frozen=True)
class Count:
    """A blank of a line that records a count (灭火器（ ）台): its name in the API, its label and unit."""

    name: str
    zh: str
    en: str
    unit: str
    minimum: int = 0


@dataclass(frozen=True)
class Line:
    """One safety-measure line of an Appendix A form; `other` marks "其他安全措施", where added lines go."""

    code: str
    zh: str
    en: str
    counts: tuple[Count, ...] = ()
    clauses: tuple[str, ...] = ()
    other: bool = False


@dataclass(frozen=True)
class MeasureList:
    """A type's measure list in one version: the form it comes from and its lines in the form's order."""

    type: str
    version: int
    form: str
    lines: tuple[Line, ...]

    @property
    def other(self) -> Line:
        """The list's "其他安全措施" line, under which added lines are printed."""
        return next(line for line in self.lines if line.other)

    def line(self, code: str) -> Line | None:
        """The listed line with this code (None: not on the list)."""
        return next((line for line in self.lines if line.code == code), None)

    def catalogue(self) -> dict[str, Any]:
        """The list as the catalogue publishes it."""
        return {
            "version": self.version,
            "source": f"GB 30871-2022 附录 {self.form}",
            "lines": [
                {
                    "code": line.code,
                    "zh": line.zh,
                    "en": line.en,
                    "counts": [
                        {"name": c.name, "zh": c.zh, "en": c.en, "unit": c.unit, "minimum": c.minimum}
                        for c in line.counts
                    ],
                    "clauses": list(line.clauses),
                    "other": line.other,
                }
                for line in self.lines
            ],
        }


def _lines(prefix: str, rows: Iterable[tuple[Any, ...]]) -> tuple[Line, ...]:
    """Number the rows of one form A<n>-01, A<n>-02, ...; the last row is always "其他安全措施"."""
    rows = list(rows)
    numbered = []
    for index, row in enumerate(rows, start=1):
        zh, en, *rest = row
        counts = rest[0] if rest else ()
        clauses = rest[1] if len(rest) > 1 else ()
        numbered.append(Line(f"{prefix}-{index:02d}", zh, en, tuple(counts), tuple(clauses)))
    numbered.append(
        Line(f"{prefix}-{len(rows) + 1:02d}", "其他安全措施", "other safety measures", other=True)
    )
    return tuple(numbered)


HOT_WORK = _lines(
    "A1",
    [
        (
            "动火设备内部构件清洗干净，蒸汽吹扫或水洗、置换合格，达到动火条件",
            "internals of the equipment cleaned, steamed or water-washed and purged: ready for hot work",
        ),
        (
            "与动火设备相连接的所有管线已断开，加盲板（ ）块，未采取水封或仅关闭阀门的方式代替盲板",
            "every line connected to the equipment disconnected and blinded (number of blinds); no water seal "
            "or closed valve used instead of a blind",
            (Count("blinds", "盲板", "blinds", "块", minimum=1),),
            ("5.2.2",),
        ),
        (
            "动火点周围及附近的孔洞、窨井、地沟、水封设施、污水井等已清除易燃物，并已采取覆盖、铺沙等手段进行隔离",
            "holes, manholes, trenches, water seals and sewers around the hot spot cleared of flammables and "
            "isolated by covering or sanding",
            (),
            ("5.2.4",),
        ),
        (
            "油气罐区动火点同一防火堤内和防火间距内的油品储罐未进行脱水和取样作业",
            "in an oil or gas tank farm, no tank in the same dike or within the fire-separation distance is "
            "being dewatered or sampled",
            (),
            ("5.2.8",),
        ),
        (
            "高处作业已采取防火花飞溅措施，作业人员佩戴必要的个体防护装备",
            "at height, spatter of sparks prevented; the workers wear the protective equipment needed",
        ),
        (
            "在有可燃物构件和使用可燃物做防腐内衬的设备内部动火作业，已采取防火隔绝措施",
            "inside equipment with combustible parts or a combustible anti-corrosion lining, a fire barrier is "
            "in place",
            (),
            ("5.2.5",),
        ),
        (
            "乙炔气瓶直立放置，已采取防倾倒措施并安装防回火装置；乙炔气瓶、氧气瓶与火源间的距离不应小于10m，"
            "两气瓶相互间距不应小于5m",
            "acetylene cylinder upright, secured against tipping, with a flashback arrestor; acetylene and "
            "oxygen cylinders at least 10 m from the fire and at least 5 m apart",
            (),
            ("5.2.13",),
        ),
        (
            "现场配备灭火器（ ）台，灭火毯（ ）块，消防蒸汽带或消防水带（ ）",
            "on site: fire extinguishers, fire blankets, and fire steam or water hoses (numbers)",
            (
                Count("extinguishers", "灭火器", "fire extinguishers", "台"),
                Count("fire_blankets", "灭火毯", "fire blankets", "块"),
                Count("fire_hoses", "消防蒸汽带或消防水带", "fire steam or water hoses", "根"),
            ),
        ),
        (
            "电焊机所处位置已考虑防火防爆要求，且已可靠接地",
            "the welding machine is placed with fire and explosion prevention in mind and reliably earthed",
            (),
            ("5.2.12",),
        ),
        (
            "动火点周围规定距离内没有易燃易爆化学品的装卸、排放、喷漆等可能引起火灾爆炸的危险作业",
            "no loading, unloading, venting or spray-painting of flammable or explosive chemicals, or other "
            "work that could cause a fire or explosion, within the specified distance of the hot spot",
        ),
        (
            "动火点30m内垂直空间未排放可燃气体；15m内垂直空间未排放可燃液体；10m范围内及动火点下方未同时进行"
            "可燃溶剂清洗或喷漆等作业，10m范围内未见有可燃性粉尘清扫作业",
            "no flammable gas vented within 30 m, no flammable liquid discharged within 15 m, no solvent "
            "cleaning or painting within 10 m or below the hot spot, no combustible dust swept within 10 m",
            (),
            ("5.2.9",),
        ),
        (
            "已开展作业危害分析，制定相应的安全风险管控措施，交叉作业已明确协调人",
            "job hazard analysis done with its risk controls; a coordinator named for cross operations",
        ),
        (
            "用于连续检测的移动式可燃气体检测仪已配备到位",
            "a portable flammable-gas detector for continuous detection is on site",
        ),
        (
            "配备的摄录设备已到位，且防爆级别满足安全要求",
            "the recording equipment is on site and its explosion-proof rating is adequate",
            (),
            ("5.2.11",),
        ),
        (
            "其他相关特殊作业已办理相应安全作业票，作业现场四周已设立警戒区",
            "permits of the other special operations involved are issued; a warning zone surrounds the site",
        ),
    ],
)

CONFINED_SPACE = _lines(
    "A2",
    [
        (
            "盛装过有毒、可燃物料的受限空间，所有与受限空间有联系的阀门、管线已加盲板隔离，并落实盲板责任人，"
            "未采用水封或关闭阀门代替盲板",
            "for a space that held toxic or flammable material, every connected valve and line is blinded with "
            "a person responsible for the blinds; no water seal or closed valve instead of a blind",
        ),
        (
            "盛装过有毒、可燃物料的受限空间，设备已经过置换、吹扫或蒸煮",
            "for a space that held toxic or flammable material, the vessel is purged, blown through or steamed",
        ),
        (
            "设备通风孔已打开进行自然通风，温度适宜人员作业；必要时采用强制通风或佩戴隔绝式呼吸防护装备，"
            "不应采用直接通入氧气或富氧空气的方法补充氧",
            "vents open for natural ventilation at a temperature fit for work; forced ventilation or supplied-air "
            "respirators where needed; never oxygen or enriched air blown in to make up oxygen",
        ),
        (
            "转动设备已切断电源，电源开关处已加锁并悬挂“禁止合闸”标志牌",
            "rotating equipment is switched off, its switch locked and tagged “禁止合闸” (do not switch on)",
        ),
        (
            "受限空间内部已具备进人作业条件，易燃易爆物料容器内作业，作业人员未采用非防爆工具，"
            "手持电动工具符合作业安全要求",
            "the space is ready for entry; in a container of flammable or explosive material only explosion-"
            "proof tools are used; hand-held power tools are compliant",
        ),
        (
            "受限空间进出口通道畅通，无阻碍人员进出的障碍物",
            "the way in and out is clear of obstacles",
        ),
        (
            "盛装过可燃有毒液体、气体的受限空间，已分析其中的可燃、有毒有害气体和氧气含量，且在安全范围内",
            "for a space that held flammable or toxic liquids or gases, flammable, toxic and oxygen levels are "
            "analysed and within safe limits",
        ),
        ("存在大量扬尘的设备已停止扬尘", "equipment raising much dust has stopped"),
        (
            "用于连续检测的移动式可燃、有毒气体、氧气检测仪已配备到位",
            "portable flammable, toxic and oxygen detectors for continuous monitoring are on site",
        ),
        (
            "作业人员已佩戴必要的个体防护装备，清楚受限空间内存在的危险因素",
            "the workers wear the protective equipment needed and know the hazards in the space",
        ),
        (
            "已配备作业应急设施：消防器材（ ）、救生绳（ ）、气防装备（ ），盛有腐蚀性介质的容器作业现场"
            "已配备应急用冲洗水",
            "emergency equipment on site: fire equipment, lifelines, gas-protection equipment (numbers); "
            "flushing water where the container held a corrosive medium",
            (
                Count("fire_equipment", "消防器材", "fire equipment", "件"),
                Count("lifelines", "救生绳", "lifelines", "根"),
                Count("gas_protection", "气防装备", "gas-protection equipment", "套"),
            ),
        ),
        ("受限空间内作业已配备通信设备", "communication equipment for work inside the space"),
        ("受限空间出入口四周已设立警戒区", "a warning zone around the entrance"),
        (
            "其他相关特殊作业已办理相应安全作业票",
            "permits of the other special operations involved are issued",
        ),
    ],
)

BLIND_PLATE = _lines(
    "A3",
    [
        (
            "在管道、设备上作业时，降低系统压力，作业点应为常压或微正压",
            "the system pressure is lowered: atmospheric or slightly positive at the work point",
        ),
        (
            "在有毒介质的管道、设备上作业时，作业人员应穿戴适合的个体防护装备",
            "on lines or equipment with a toxic medium, the workers wear suitable protective equipment",
        ),
        (
            "火灾爆炸危险场所，作业人员穿防静电工作服、工作鞋；作业时使用防爆灯具和防爆工具",
            "in a fire-explosion area, anti-static clothing and shoes; explosion-proof lamps and tools",
        ),
        (
            "火灾爆炸危险场所的气体管道，距作业地点30m内无其他动火作业",
            "on a gas line in a fire-explosion area, no other hot work within 30 m of the work point",
        ),
        (
            "在强腐蚀性介质的管道、设备上作业时，作业人员已采取防止酸碱化学灼伤的措施",
            "on lines or equipment with a strongly corrosive medium, protection against acid and alkali burns",
        ),
        (
            "介质温度较高、可能造成烫伤的情况下，作业人员已采取防烫措施",
            "where a hot medium could scald, protection against scalding",
        ),
        (
            "介质温度较低、可能造成人员冻伤的情况下，作业人员已采取防冻伤措施",
            "where a cold medium could cause frostbite, protection against freezing",
        ),
        (
            "同一管道上未同时进行两处及两处以上的盲板抽堵作业",
            "no second blind-plate job at the same time on the same line",
        ),
        (
            "其他相关特殊作业已办理相应安全作业票",
            "permits of the other special operations involved are issued",
        ),
        ("作业现场四周已设警戒区", "a warning zone surrounds the site"),
    ],
)

HEIGHT = _lines(
    "A4",
    [
        ("作业人员身体条件符合要求", "the workers are physically fit for the work"),
        ("作业人员着装符合作业要求", "the workers' clothing suits the work"),
        (
            "作业人员佩戴符合标准要求的安全帽、安全带，有可能散发有毒气体的场所携带正压式空气呼吸器或面罩备用",
            "standard helmets and harnesses worn; where toxic gas may be given off, positive-pressure breathing "
            "apparatus or masks are carried",
        ),
        ("作业人员携带有工具袋及安全绳", "the workers carry tool bags and safety ropes"),
        (
            "现场搭设的脚手架、防护网、围栏符合安全规定",
            "scaffolds, safety nets and fences on site are compliant",
        ),
        ("垂直分层作业中间有隔离设施", "a separation between vertical layers of work"),
        ("梯子、绳子符合安全规定", "ladders and ropes are compliant"),
        (
            "轻型棚的承重梁、柱能承重作业过程最大负荷的要求",
            "the beams and columns of a light roof bear the largest load of the work",
        ),
        (
            "作业人员在不承重物处作业所搭设的承重板稳定牢固",
            "boards laid to work on non-load-bearing surfaces are stable and secure",
        ),
        ("采光、夜间作业照明符合作业要求", "daylight and night lighting suit the work"),
        (
            "30m以上高处作业时，作业人员已配备通信、联络工具",
            "above 30 m, the workers have communication equipment",
        ),
        ("作业现场四周已设警戒区", "a warning zone surrounds the site"),
        ("露天作业，风力满足作业安全要求", "outdoors, the wind allows safe work"),
        (
            "其他相关特殊作业已办理相应安全作业票",
            "permits of the other special operations involved are issued",
        ),
    ],
)

LIFTING = _lines(
    "A5",
    [
        (
            "一、二级吊装作业已编制吊装作业方案，已经审查批准；吊装物体形状复杂、刚度小、长径比大、精密贵重，"
            "作业条件特殊的三级吊装作业，已编制吊装作业方案，已经审查批准",
            "a lifting plan is prepared, reviewed and approved for level 1 and 2 lifts, and for level 3 lifts "
            "of complex, flexible, slender, precise or valuable loads or in special conditions",
        ),
        (
            "吊装场所如有含危险物料的设备、管道时，应制定详细吊装方案，并对设备、管道采取有效防护措施，"
            "必要时停车，放空物料，置换后再进行吊装作业",
            "where equipment or lines holding hazardous material are nearby, a detailed plan protects them; "
            "where needed they are shut down, emptied and purged before lifting",
        ),
        ("作业人员已按规定佩戴个体防护装备", "the workers wear the required protective equipment"),
        (
            "已对起重吊装设备、钢丝绳、揽风绳、链条、吊钩等各种机具进行检查，安全可靠",
            "cranes, wire ropes, guy ropes, chains, hooks and other gear are inspected and safe",
        ),
        (
            "已明确各自分工、坚守岗位，并统一规定联络信号",
            "everyone's task is defined, everyone stays at post, and the signals are agreed",
        ),
        (
            "将建筑物、构筑物作为锚点，应经所属单位工程管理部门审查核算并批准",
            "a building or structure is used as an anchor only when reviewed, calculated and approved by its "
            "owner's engineering department",
        ),
        (
            "吊装绳索、揽风绳、拖拉绳等不应与带电线路接触，并保持安全距离",
            "lifting ropes, guy ropes and tow ropes keep a safe distance from live lines",
        ),
        (
            "不应利用管道、管架、电杆、机电设备等作吊装锚点",
            "no pipe, pipe rack, pole or machine is used as a lifting anchor",
        ),
        (
            "吊物捆扎坚固，未见绳打结、绳不齐现象，棱角吊物已采取衬垫措施",
            "the load is firmly slung, ropes neither knotted nor uneven; sharp edges are padded",
        ),
        ("起重机安全装置灵活好用", "the crane's safety devices work"),
        ("吊装作业人员持有有效的法定资格证书", "the lifting crew hold valid statutory certificates"),
        (
            "地下通信电（光）缆、局域网络电（光）缆、排水沟的盖板，承重吊装机械的负重量已确认，保护措施已落实",
            "buried communication and network cables and drain covers are checked against the crane's ground "
            "load, and protected",
        ),
        (
            "起吊物的质量（ t）经确认，在吊装机械的承重范围内",
            "the load mass (t) is confirmed within the crane's capacity",
        ),
        ("在吊装高度的管线、电缆桥架已做好防护措施", "lines and cable trays at lifting height are protected"),
        (
            "作业现场围栏、警戒线、警告牌、夜间警示灯已按要求设置",
            "fences, warning lines, signs and night warning lights are set as required",
        ),
        ("作业高度和转臂范围内无架空线路", "no overhead line within the working height and slewing range"),
        (
            "在爆炸危险场所内的作业，机动车排气管已装阻火器",
            "in an explosion-hazard area, vehicle exhausts carry spark arrestors",
        ),
        ("露天作业，环境风力满足作业安全要求", "outdoors, the wind allows safe work"),
        (
            "其他相关特殊作业已办理相应安全作业票",
            "permits of the other special operations involved are issued",
        ),
    ],
)

TEMPORARY_POWER = _lines(
    "A6",
    [
        ("作业人员持有电工作业操作证", "the workers hold electrician's certificates"),
        (
            "在防爆场所使用的临时电源、元器件和线路达到相应的防爆等级要求",
            "temporary supplies, components and lines in explosion-proof areas meet the required rating",
        ),
        ("上级开关已断电、加锁，并挂安全警示标牌", "the upstream switch is off, locked and tagged"),
        (
            "临时用电的单相和混用线路要求按照TN-S三相五线制方式接线",
            "single-phase and mixed temporary circuits are wired as TN-S three-phase five-wire",
        ),
        (
            "临时用电线路如架高敷设，在作业现场敷设高度应不低于2.5m，跨越道路高度应不低于5m",
            "overhead temporary lines run at least 2.5 m high on site and 5 m over roads",
        ),
        (
            "临时用电线路如沿墙面或地面敷设，已沿建筑物墙体根部敷设，穿越道路或其他易受机械损伤的区域，"
            "已采取防机械损伤的措施；在电缆敷设路径附近，已采取防止火花损伤电缆的措施",
            "lines along walls or the ground run at the foot of the walls, are protected where they cross roads "
            "or other places of mechanical damage, and against sparks near their route",
        ),
        ("临时用电线路架空进线不应采用裸线", "no bare conductor is used for an overhead incoming line"),
        (
            "暗管埋设及地下电缆线路敷设时，已备好“走向标志”和“安全标志”等标志桩，电缆埋深要求大于0.7m",
            "buried conduits and cables have route and safety marker posts; cables are buried deeper than 0.7 m",
        ),
        (
            "现场临时用配电盘、箱配备有防雨措施，并可靠接地",
            "temporary distribution boards and boxes are rain-proof and reliably earthed",
        ),
        (
            "临时用电设施已装配漏电保护器，移动工具、手持工具已采取防漏电的安全措施（一机一闸一保护）",
            "residual-current protection is fitted; portable and hand tools are protected against leakage "
            "(one machine, one switch, one protector)",
        ),
        ("用电设备、线路容量、负荷符合要求", "equipment, line capacity and load are within limits"),
        (
            "其他相关特殊作业已办理相应安全作业票",
            "permits of the other special operations involved are issued",
        ),
        ("作业场所已进行气体检测且符合作业安全要求", "gas detection done at the workplace and compliant"),
    ],
)

EXCAVATION = _lines(
    "A7",
    [
        (
            "地下电力电缆、通信电（光）缆、局域网络电（光）缆已确认，保护措施已落实",
            "buried power, communication and network cables are located and protected",
        ),
        (
            "地下供排水、消防管线、工艺管线已确认，保护措施已落实",
            "buried water, drainage, fire-water and process lines are located and protected",
        ),
        ("已按作业方案图划线和立桩", "the work is marked out and staked by the plan drawing"),
        (
            "作业现场围栏、警戒线、警告牌、夜间警示灯已按要求设置",
            "fences, warning lines, signs and night warning lights are set as required",
        ),
        ("已进行放坡处理和固壁支撑", "the sides are sloped or shored"),
        (
            "道路施工作业已报：交通、消防、安全监督部门、应急中心",
            "road works are reported to the traffic, fire and safety-supervision departments and the "
            "emergency centre",
        ),
        (
            "现场夜间有充足照明：A.36V、24V、12V防水型灯；B.36V、24V、12V防爆型灯",
            "enough light at night: A. 36/24/12 V waterproof lamps; B. 36/24/12 V explosion-proof lamps",
        ),
        ("作业人员配备有必要的个人防护装备", "the workers have the protective equipment needed"),
        (
            "易燃易爆、有毒气体存在的场所动土深度超过1.2m，已按照受限空间作业要求采取了措施",
            "deeper than 1.2 m where flammable, explosive or toxic gas may be present, the confined-space "
            "measures are taken",
        ),
        (
            "其他相关特殊作业已办理相应安全作业票",
            "permits of the other special operations involved are issued",
        ),
    ],
)

ROAD_CLOSURE = _lines(
    "A8",
    [
        (
            "作业前，制定交通组织方案，并已通知相关部门或单位",
            "before the work, a traffic plan is made and the departments or units concerned notified",
        ),
        (
            "作业前，在断路的路口和相关道路上设置交通警示标志，在作业区域附近设置路栏、道路作业警示灯、"
            "导向标等交通警示设施",
            "before the work, warning signs at the closed junctions and roads; barriers, road-work warning "
            "lights and direction signs near the work area",
        ),
        ("夜间作业设置警示灯", "warning lights for night work"),
    ],
)

LISTS: Mapping[str, Mapping[int, MeasureList]] = {
    permit_type: {CURRENT: MeasureList(permit_type, CURRENT, form, lines)}
    for permit_type, form, lines in (
        ("hot_work", "A.1", HOT_WORK),
        ("confined_space", "A.2", CONFINED_SPACE),
        ("blind_plate", "A.3", BLIND_PLATE),
        ("height", "A.4", HEIGHT),
        ("lifting", "A.5", LIFTING),
        ("temporary_power", "A.6", TEMPORARY_POWER),
        ("excavation", "A.7", EXCAVATION),
        ("road_closure", "A.8", ROAD_CLOSURE),
    )
}


def current(permit_type: str) -> MeasureList:
    """The list a permit of this type is filed under today."""
    return LISTS[permit_type][CURRENT]


def list_of(permit_type: str, version: int) -> MeasureList | None:
    """The list a permit was filed under (None: the earlier practice, version 0, or a version never published)."""
    return LISTS.get(permit_type, {}).get(version)


def added_code(mlist: MeasureList, number: int) -> str:
    """The code of the applicant's `number`-th added line: printed under "其他安全措施" as A1-16.1, A1-16.2, ..."""
    return f"{mlist.other.code}.{number}"


def is_added(mlist: MeasureList, code: str) -> bool:
    """Whether a code names an added line of this list."""
    return code.startswith(f"{mlist.other.code}.")


# --- what a permit still owes -------------------------------------------------------------------------


def _answers(permit: PermitData) -> dict[str, Measure]:
    return {m.code: m for m in permit.measures}


def unanswered(mlist: MeasureList, permit: PermitData) -> list[str]:
    """Listed lines without an answer 是否涉及 (the "other" line is answered by the lines added under it)."""
    answers = _answers(permit)
    return [
        line.code
        for line in mlist.lines
        if not line.other and (line.code not in answers or answers[line.code].involved is None)
    ]


def counts_missing(mlist: MeasureList, permit: PermitData) -> list[str]:
    """Involved lines lacking a count their blanks ask for, as `code (count names)`."""
    missing = []
    for m in permit.measures:
        line = mlist.line(m.code)
        if line is None or not m.involved:
            continue
        names = [c.name for c in line.counts if not isinstance(m.counts.get(c.name), int)]
        if names:
            missing.append(f"{m.code} ({', '.join(names)})")
    return missing


def unconfirmed(permit: PermitData) -> list[str]:
    """Involved lines, listed or added, without a named confirmer."""
    return [m.code for m in permit.measures if m.involved and not m.confirmed_by]


def open_lines(permit: PermitData) -> list[str]:
    """Everything G-02 still asks before approval, line by line (empty: nothing; a legacy permit: its unconfirmed
    lines)."""
    mlist = list_of(permit.type, permit.measure_list)
    if mlist is None:
        return unconfirmed(permit)
    return [*unanswered(mlist, permit), *counts_missing(mlist, permit), *unconfirmed(permit)]


# --- the guards (G-02) ----------------------------------------------------------------------------------


def measures_answered(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-02 at submission: every listed line answered involved / not involved, with the counts it asks for."""
    mlist = list_of(permit.type, permit.measure_list)
    if mlist is None:
        return None  # the earlier practice: G-01 asks for measure lines, approval for their confirmers
    missing = unanswered(mlist, permit)
    counts = counts_missing(mlist, permit)
    if not missing and not counts:
        return None
    zh, en = [], []
    if missing:
        zh.append(f"未回答是否涉及：{', '.join(missing)}")
        en.append(f"not answered involved / not involved: {', '.join(missing)}")
    if counts:
        zh.append(f"未填写数量：{'; '.join(counts)}")
        en.append(f"counts not recorded: {'; '.join(counts)}")
    return Violation(
        "G-02",
        f"附录 {mlist.form} 安全措施{'；'.join(zh)}",
        f"Appendix {mlist.form} safety measures {'; '.join(en)}",
    )


def measures_confirmed(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
    """G-02 at approval: every line answered, and every involved line confirmed by a named person."""
    mlist = list_of(permit.type, permit.measure_list)
    if mlist is None:
        return _legacy_confirmed(permit)
    missing = open_lines(permit)
    if not missing:
        return None
    codes = ", ".join(missing)
    return Violation(
        "G-02",
        f"附录 {mlist.form} 安全措施未逐项回答并确认：{codes}",
        f"Appendix {mlist.form} safety measures not answered and confirmed line by line: {codes}",
    )


def _legacy_confirmed(permit: PermitData) -> Violation | None:
    """G-02 as it was before the Appendix A lists: the free-text lines exist and each involved one is confirmed."""
    open_codes = unconfirmed(permit)
    if permit.measures and not open_codes:
        return None
    codes = ", ".join(open_codes) or "—"
    return Violation(
        "G-02", f"安全措施未逐项确认：{codes}", f"safety measures not confirmed by a named person: {codes}"
    )
