"""Weather observed on site (WH-02, LF-03, HW-03): what the approver or the work leader sees is judged, not the
forecast declared at filing.

An approval, an activation or a resumption may carry `weather: {wind_level, conditions}`. For that event the observation
replaces every weather fact the permit declared (a calm day clears a windy forecast, a storm overrides a calm
one), so the weather guards, the grade (HW-03 wind upgrade, WH-01 rain or snow floor) and the approvers follow
what is really there. The signature keeps the observation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from workflows.model import Context, PermitData
from workflows.rules import Guard, Violation

MAX_WIND_LEVEL = 17  # the Beaufort scale as China's weather service extends it (GB/T 28591)
# condition -> the permit facts it makes true (the rest are false while the observation stands)
CONDITIONS: Mapping[str, tuple[str, ...]] = {
    "rain": ("snow_or_rain",),
    "snow": ("snow_or_rain",),
    "rainstorm": ("rainstorm", "snow_or_rain"),  # 暴雨 (LF-03)
    "heavy_snow": ("heavy_snow", "snow_or_rain"),  # 大雪 (LF-03)
    "heavy_fog": ("heavy_fog",),  # 大雾, visibility under 1 km (LF-03)
    "dense_fog": ("dense_fog", "heavy_fog"),  # 浓雾, under 500 m: also heavy fog (WH-02, LF-03)
}
CONDITION_NAMES: Mapping[str, tuple[str, str]] = {
    "rain": ("雨", "rain"),
    "snow": ("雪", "snow"),
    "rainstorm": ("暴雨", "rainstorm"),
    "heavy_snow": ("大雪", "heavy snow"),
    "heavy_fog": ("大雾", "heavy fog"),
    "dense_fog": ("浓雾", "dense fog"),
}
WEATHER_FACTS = frozenset(fact for facts in CONDITIONS.values() for fact in facts) | {"wind_level"}


def observed_facts(weather: Mapping[str, Any]) -> dict[str, Any]:
    """The weather facts an observation stands for: its wind level and each condition's flags."""
    seen = set(weather.get("conditions") or ())
    facts: dict[str, Any] = {name: False for name in WEATHER_FACTS}
    facts["wind_level"] = weather.get("wind_level") or 0
    for condition in seen & CONDITIONS.keys():
        facts.update(dict.fromkeys(CONDITIONS[condition], True))
    return facts


def as_observed(permit: PermitData, payload: Mapping[str, Any]) -> PermitData:
    """The permit as the event sees it: with the payload's observed weather laid over its declared facts."""
    weather = payload.get("weather")
    if not weather:
        return permit
    return replace(permit, facts={**permit.facts, **observed_facts(weather)})


def observation_required(rule: str, applies: Callable[[PermitData], bool] = lambda permit: True) -> Guard:
    """A guard: starting or resuming weather-bound work needs the weather seen on site now, because a forecast
    declared at filing or an earlier observation may no longer hold (the wind that stopped the work, G-08)."""

    def weather_reported(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        if payload.get("weather") or not applies(permit):
            return None
        return Violation(
            rule,
            "开始或恢复作业须填报现场观测的天气（风力、雾、雨雪）",
            "report the weather observed on site (wind level, fog, rain or snow) to start or resume the work",
        )

    return weather_reported
