"""Gas catalogue, unit conversion, the pass/fail limits of HW-05 and CS-02 (GB 30871 5.3.2, 6.4; GBZ 2.1) and the
gas plan each testing type follows."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from workflows.model import GasReading, PermitData
from workflows.rules import Violation

MOLAR_VOLUME_L = 24.0  # L/mol at 20 °C, 101.3 kPa: the basis of ppm <-> mg/m3
PCT_VOL, PCT_LEL, PPM, MG_M3 = "%vol", "%LEL", "ppm", "mg/m3"
_UNIT_ALIASES = {
    "%vol": PCT_VOL,
    "vol%": PCT_VOL,
    "%v/v": PCT_VOL,
    "%lel": PCT_LEL,
    "lel%": PCT_LEL,
    "ppm": PPM,
    "mg/m3": MG_M3,
    "mg/m³": MG_M3,
}


@dataclass(frozen=True)
class Gas:
    """One gas: its kinds (flammable / oxygen / toxic), LEL in % vol and OELs in mg/m3 (GBZ 2.1)."""

    code: str
    zh: str
    en: str
    kinds: frozenset[str]
    molar_mass: float
    lel: float | None = None
    mac: float | None = None
    pc_twa: float | None = None
    pc_stel: float | None = None

    @property
    def oel(self) -> float | None:
        """The limit a spot reading is held to: MAC where GBZ 2.1 sets one, else PC-TWA (the stricter)."""
        return self.mac if self.mac is not None else self.pc_twa


def _gas(code: str, zh: str, en: str, kinds: str, molar_mass: float, **limits: float) -> Gas:
    return Gas(code, zh, en, frozenset(kinds.split()), molar_mass, **limits)


DEFAULT_GASES: Mapping[str, Gas] = {
    g.code: g
    for g in (
        _gas("O2", "氧气", "oxygen", "oxygen", 32.00),
        _gas("N2", "氮气", "nitrogen", "inert", 28.01),  # asphyxiant: the oxygen reading guards against it
        _gas("CH4", "甲烷", "methane", "flammable", 16.04, lel=5.0),
        _gas("C2H6", "乙烷", "ethane", "flammable", 30.07, lel=3.0),
        _gas("C3H8", "丙烷", "propane", "flammable", 44.10, lel=2.1),
        _gas("C4H10", "丁烷", "butane", "flammable", 58.12, lel=1.8),
        _gas("C2H4", "乙烯", "ethylene", "flammable", 28.05, lel=2.7),
        _gas("C3H6", "丙烯", "propylene", "flammable", 42.08, lel=2.0),
        _gas("C2H2", "乙炔", "acetylene", "flammable", 26.04, lel=2.5),
        _gas("H2", "氢气", "hydrogen", "flammable", 2.016, lel=4.0),
        _gas("H2S", "硫化氢", "hydrogen sulfide", "flammable toxic", 34.08, lel=4.0, mac=10),
        _gas("CO", "一氧化碳", "carbon monoxide", "flammable toxic", 28.01, lel=12.5, pc_twa=20, pc_stel=30),
        _gas("NH3", "氨", "ammonia", "flammable toxic", 17.03, lel=15.0, pc_twa=20, pc_stel=30),
        _gas("C6H6", "苯", "benzene", "flammable toxic", 78.11, lel=1.2, pc_twa=6, pc_stel=10),
        _gas("C7H8", "甲苯", "toluene", "flammable toxic", 92.14, lel=1.1, pc_twa=50, pc_stel=100),
        _gas("CH3OH", "甲醇", "methanol", "flammable toxic", 32.04, lel=6.0, pc_twa=25, pc_stel=50),
        _gas("HCN", "氰化氢", "hydrogen cyanide", "flammable toxic", 27.03, lel=5.6, mac=1),
        _gas("Cl2", "氯气", "chlorine", "toxic", 70.90, mac=1),
        _gas("SO2", "二氧化硫", "sulfur dioxide", "toxic", 64.07, pc_twa=5, pc_stel=10),
        _gas("NO2", "二氧化氮", "nitrogen dioxide", "toxic", 46.01, pc_twa=5, pc_stel=10),
    )
}


@dataclass(frozen=True)
class GasRule:
    """The limits one permit type applies to a sample (HW-05 or CS-02)."""

    rule: str
    enriched_fact: str  # the fact that declares an oxygen-enriched place
    oxygen_min: float | None = None
    oxygen_max: float | None = None
    oxygen_enriched_max: float = 23.5
    toxics: bool = False
    require_oxygen: bool = False
    # The kinds of media whose representative gas a sample must measure (HW-05: flammables; CS-02: flammables and
    # toxics): a sample without them is incomplete, refused rather than judged.
    representative: frozenset[str] = frozenset({"flammable"})

    def summary(self) -> dict[str, str]:
        """A human summary of the limits for the catalogue."""
        zh = "可燃气体：爆炸下限≥4%时≤0.5%(体积)，<4%时≤0.2%(体积)"
        en = "flammables: ≤ 0.5 % vol when LEL ≥ 4 %, ≤ 0.2 % vol when LEL < 4 %"
        if self.oxygen_min is not None:
            zh += f"；氧气{self.oxygen_min}%~{self.oxygen_max}%(富氧环境≤{self.oxygen_enriched_max}%)"
            en += f"; O2 {self.oxygen_min}-{self.oxygen_max} % vol (≤ {self.oxygen_enriched_max} % enriched)"
        else:
            zh += f"；富氧设备氧气≤{self.oxygen_enriched_max}%"
            en += f"; oxygen-enriched equipment O2 ≤ {self.oxygen_enriched_max} % vol"
        if self.toxics:
            zh += "；有毒物质不超过GBZ 2.1职业接触限值"
            en += "; toxics within the GBZ 2.1 occupational exposure limits"
        return {"rule": self.rule, "zh": zh, "en": en}


HOT_WORK = GasRule("HW-05", enriched_fact="oxygen_enriched_equipment")
CONFINED_SPACE = GasRule(
    "CS-02",
    enriched_fact="oxygen_enriched_environment",
    oxygen_min=19.5,
    oxygen_max=21.0,
    toxics=True,
    require_oxygen=True,
    representative=frozenset({"flammable", "toxic"}),
)


def gas_table(policy: Mapping[str, Any] | None = None) -> dict[str, Gas]:
    """The gas catalogue with overrides from policy['gas_limits']: code -> {lel, mac, pc_twa, pc_stel, ...}.

    A gas not in the default table needs at least `molar_mass` (and `kinds`, default toxic).
    """
    table = dict(DEFAULT_GASES)
    for code, limits in ((policy or {}).get("gas_limits") or {}).items():
        fields = {k: v for k, v in limits.items() if k != "kinds"}
        kinds = frozenset(limits.get("kinds", table[code].kinds if code in table else ("toxic",)))
        base = table.get(code) or Gas(code, code, code, kinds, limits["molar_mass"])
        table[code] = replace(base, kinds=kinds, **fields)
    return table


def _lookup(code: str, table: Mapping[str, Gas]) -> Gas:
    gas = table.get(code) or next((g for g in table.values() if code.lower() in (g.code.lower(), g.en)), None)
    if gas is None:
        raise ValueError(f"未知气体 {code!r} / unknown gas {code!r}")
    return gas


@functools.lru_cache(
    maxsize=64
)  # every conversion asks, a batch of readings 5 times per reading; raises are not kept
def _unit(unit: str) -> str:
    key = unit.replace(" ", "").lower()
    if key not in _UNIT_ALIASES:
        raise ValueError(f"未知单位 {unit!r} / unknown unit {unit!r}")
    return _UNIT_ALIASES[key]


def _to_ppm(gas: Gas, value: float, unit: str) -> float:
    if unit == PCT_VOL:
        return value * 1e4
    if unit == PCT_LEL:
        return value / 100 * (gas.lel or 0.0) * 1e4
    if unit == MG_M3:
        return value * MOLAR_VOLUME_L / gas.molar_mass
    return value


def _from_ppm(gas: Gas, ppm: float, to: str) -> float:
    if to == PCT_VOL:
        return ppm / 1e4
    if to == PCT_LEL:
        return ppm / 1e4 / (gas.lel or 1.0) * 100
    if to == MG_M3:
        return ppm * gas.molar_mass / MOLAR_VOLUME_L
    return ppm


def _units_apply(gas: Gas, *units: str) -> None:
    if PCT_LEL in units and not gas.lel:
        raise ValueError(f"{gas.zh}没有爆炸下限，不能用%LEL / {gas.en} has no LEL, %LEL does not apply")


def convert(gas: Gas, value: float, unit: str, to: str) -> float:
    """Convert a concentration between % vol, %LEL, ppm and mg/m3 (ppm = mg/m3 x 24.0 / M at 20 °C)."""
    unit, to = _unit(unit), _unit(to)
    _units_apply(gas, unit, to)
    return _from_ppm(gas, _to_ppm(gas, value, unit), to)


def _check_value(gas: Gas, value: Any) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{gas.zh}读数无效：{value!r} / invalid {gas.en} reading: {value!r}")


@dataclass(frozen=True)
class Sensor:
    """A gas and a unit resolved once, for the many readings of one detector: `normalise(value)` is what the
    module's `normalise(gas, value, unit)` returns, at a fraction of the cost (issue 14: a batch of 500)."""

    gas: Gas
    unit: str
    stored_unit: str

    @classmethod
    def of(cls, gas: Gas, unit: str) -> Sensor:
        """The sensor of `gas` reading in `unit`; ValueError for an unknown unit or a %LEL of a gas without LEL."""
        unit = _unit(unit)
        volumetric = unit in (PCT_VOL, PCT_LEL) or "toxic" not in gas.kinds
        stored = PCT_VOL if volumetric and gas.kinds & {"flammable", "oxygen"} else MG_M3
        _units_apply(gas, unit, stored)
        return cls(gas, unit, stored)

    def normalise(self, value: float) -> GasReading:
        """The reading in its stored unit (ValueError for NaN, infinite or negative values)."""
        _check_value(self.gas, value)
        ppm = _to_ppm(self.gas, float(value), self.unit)
        return GasReading(
            self.gas.code, round(_from_ppm(self.gas, ppm, self.stored_unit), 6), self.stored_unit
        )

    def beyond_range(self, value: float) -> bool:
        """Not a concentration at all: more than the whole volume, or past a %LEL sensor's full scale."""
        return _to_ppm(self.gas, value, self.unit) / 1e4 > 100 or (self.unit == PCT_LEL and value > 100)


def normalise(
    gas: str,
    value: float,
    unit: str,
    policy: Mapping[str, Any] | None = None,
    *,
    table: Mapping[str, Gas] | None = None,
) -> GasReading:
    """A reading in its stored unit: % vol for flammables and O2 (%LEL converted with the LEL), else mg/m3.

    Raises ValueError (bilingual message) for an unknown gas or unit and for NaN, infinite or negative values.
    `table`: the policy's `gas_table`, when the caller normalises many readings.
    """
    g = _lookup(gas, gas_table(policy) if table is None else table)
    _check_value(g, value)  # before the unit's errors, as it always came
    return Sensor.of(g, unit).normalise(value)


def _finding(rule: GasRule, zh: str, en: str) -> Violation:
    return Violation(rule.rule, zh, en)


def _check(rule: GasRule, g: Gas, r: GasReading, facts: Mapping[str, Any]) -> list[Violation]:
    out = []
    if "oxygen" in g.kinds:
        o2 = convert(g, r.value, r.unit, PCT_VOL)
        high = rule.oxygen_enriched_max if facts.get(rule.enriched_fact) else rule.oxygen_max
        if high is not None and o2 > high:
            out.append(_finding(rule, f"氧气{o2:.2f}%高于{high}%", f"O2 {o2:.2f} % vol above {high} % vol"))
        if rule.oxygen_min is not None and o2 < rule.oxygen_min:
            low = rule.oxygen_min
            out.append(_finding(rule, f"氧气{o2:.2f}%低于{low}%", f"O2 {o2:.2f} % vol below {low} % vol"))
    if "flammable" in g.kinds and g.lel:
        vol = convert(g, r.value, r.unit, PCT_VOL)
        limit = 0.5 if g.lel >= 4 else 0.2  # HW-05: the limit depends on the gas's LEL
        if vol > limit:
            out.append(
                _finding(
                    rule, f"{g.zh}{vol:.3f}%(体积)超过{limit}%", f"{g.en} {vol:.3f} % vol over {limit} % vol"
                )
            )
    if rule.toxics and "toxic" in g.kinds and g.oel is not None:
        mg = convert(g, r.value, r.unit, MG_M3)
        if mg > g.oel:
            out.append(
                _finding(
                    rule, f"{g.zh}{mg:.2f}mg/m³超过限值{g.oel}", f"{g.en} {mg:.2f} mg/m3 over OEL {g.oel}"
                )
            )
    return out


def evaluate(
    rule: GasRule,
    readings: Iterable[GasReading | Mapping[str, Any]],
    facts: Mapping[str, Any],
    policy: Mapping[str, Any] | None = None,
) -> tuple[bool, list[Violation]]:
    """Judge a sample against a type's gas rule: (passed, findings); invalid readings are findings too."""
    table = gas_table(policy)
    findings: list[Violation] = []
    seen: set[str] = set()
    for raw in readings:
        gas, value, unit = (
            (raw.gas, raw.value, raw.unit)
            if isinstance(raw, GasReading)
            else (raw.get("gas", ""), raw.get("value"), raw.get("unit", ""))
        )
        try:
            reading = normalise(str(gas), value, str(unit), table=table)
        except ValueError as exc:
            zh, _, en = str(exc).partition(" / ")
            findings.append(_finding(rule, zh, en or zh))
            continue
        seen.add(reading.gas)
        findings += _check(rule, table[reading.gas], reading, facts)
    if not seen and not findings:
        findings.append(_finding(rule, "没有有效的分析读数", "the sample has no valid reading"))
    return not findings, findings


def incomplete(
    rule: GasRule, measured: Iterable[str], media: Iterable[str], policy: Mapping[str, Any] | None = None
) -> Violation | None:
    """HW-05 / CS-02: a sample measures O2 where the rule asks for it and the representative gas of every medium
    at the work location of the kinds the rule tests (or, with no such medium on record, at least one gas of
    those kinds). The refusal names what is missing."""
    table = gas_table(policy)
    measured = set(measured)
    wanted = [table[c] for c in dict.fromkeys(media) if c in table and table[c].kinds & rule.representative]
    missing = [table["O2"]] if rule.require_oxygen and "O2" not in measured else []
    missing += [g for g in wanted if g.code not in measured]
    names_zh = "、".join(f"{g.zh}({g.code})" for g in missing)
    names_en = ", ".join(f"{g.en} ({g.code})" for g in missing)
    kinds_zh = "或".join(_KIND_ZH[k] for k in sorted(rule.representative))
    kinds_en = " or ".join(sorted(rule.representative))
    if not wanted and not any(table[c].kinds & rule.representative for c in measured if c in table):
        return _finding(
            rule,
            f"气体分析不完整：未分析{kinds_zh}气体{'，也未分析' + names_zh if missing else ''}"
            f"（作业部位未记录此类介质时至少分析一种{kinds_zh}气体）",
            f"incomplete gas test: no {kinds_en} gas measured{', nor ' + names_en if missing else ''} (with no such "
            f"media on record for the work location, measure at least one {kinds_en} gas)",
        )
    if not missing:
        return None
    return _finding(
        rule,
        f"气体分析不完整，未分析代表性气体：{names_zh}",
        f"incomplete gas test, not measured: {names_en}",
    )


_KIND_ZH = {"flammable": "可燃", "toxic": "有毒", "oxygen": "氧"}


@dataclass(frozen=True)
class GasPlan:
    """How a type tests gas: limits, the freshness rule before work, and when resuming needs a re-test."""

    limits: GasRule
    fresh_rule: str
    resume_rule: str
    breach_rule: str
    resume_after_minutes: Mapping[str | None, int]
    applies: Callable[[PermitData], bool] = lambda permit: True
    breach_effects: tuple[str, ...] = ("suspend_permit",)

    def catalogue(self) -> dict[str, str]:
        """The plan as the catalogue publishes it."""
        return {**self.limits.summary(), "fresh_rule": self.fresh_rule}
