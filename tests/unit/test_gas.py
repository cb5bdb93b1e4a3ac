"""Gas catalogue, unit conversion and the HW-05 / CS-02 limits."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows import evaluate_gas
from workflows.gas import (
    CONFINED_SPACE,
    DEFAULT_GASES,
    HOT_WORK,
    Sensor,
    convert,
    evaluate,
    incomplete,
    normalise,
)


def test_normalise_converts_lel_to_percent_volume() -> None:
    assert normalise("CH4", 10, "%LEL").value == pytest.approx(0.5)
    assert normalise("C3H8", 10, "% LEL").unit == "%vol"


def test_normalise_ppm_to_mg_m3_at_20_degrees() -> None:
    reading = normalise("H2S", 10, "ppm")
    assert reading.unit == "mg/m3" and reading.value == pytest.approx(10 * 34.08 / 24.0, rel=1e-4)
    assert convert(DEFAULT_GASES["CO"], 30, "mg/m3", "ppm") == pytest.approx(30 * 24.0 / 28.01)


@pytest.mark.parametrize("value", [math.nan, math.inf, -0.1, True])
def test_normalise_rejects_nan_inf_negative(value: float) -> None:
    with pytest.raises(ValueError, match="invalid"):
        normalise("CH4", value, "%vol")


def test_normalise_rejects_unknown_gas_unit_and_lel_of_non_flammable() -> None:
    for gas, unit in (("XX", "%vol"), ("CH4", "bar"), ("Cl2", "%LEL")):
        with pytest.raises(ValueError):
            normalise(gas, 1, unit)


@given(
    st.sampled_from(sorted(DEFAULT_GASES)),
    st.sampled_from(["%vol", "%LEL", "ppm", "mg/m3", "vol%"]),
    st.floats(min_value=0, max_value=1e7) | st.integers(min_value=0, max_value=10**6),
)
def test_DC_01_a_detectors_readings_normalise_as_any_reading_of_its_gas_and_unit(code, unit, value) -> None:
    gas = DEFAULT_GASES[code]
    try:
        expected = normalise(code, value, unit)
    except ValueError as exc:  # a %LEL of a gas without LEL: the detector's every reading is refused alike
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            Sensor.of(gas, unit).normalise(value)
        return
    sensor = Sensor.of(gas, unit)
    assert sensor.normalise(value) == expected
    beyond = convert(gas, value, unit, "%vol") > 100 or (unit == "%LEL" and value > 100)
    assert sensor.beyond_range(value) is beyond


@pytest.mark.parametrize(
    ("gas", "value", "passed"),
    [
        ("CH4", 0.5, True),
        ("CH4", 0.51, False),
        ("C3H8", 0.2, True),
        ("C3H8", 0.21, False),
        ("C6H6", 0.25, False),
    ],
)
def test_HW_05_limits_by_lel(gas: str, value: float, passed: bool) -> None:
    ok, findings = evaluate(HOT_WORK, [{"gas": gas, "value": value, "unit": "%vol"}], {})
    assert ok is passed
    assert all(f.rule_id == "HW-05" for f in findings)


def test_HW_05_oxygen_enriched_equipment_limit() -> None:
    o2 = [{"gas": "O2", "value": 24, "unit": "%vol"}]
    assert evaluate(HOT_WORK, o2, {})[0] is True
    assert evaluate(HOT_WORK, o2, {"oxygen_enriched_equipment": True})[0] is False


def test_HW_05_invalid_reading_is_a_finding() -> None:
    ok, findings = evaluate(HOT_WORK, [{"gas": "CH4", "value": math.nan, "unit": "%vol"}], {})
    assert not ok and findings[0].rule_id == "HW-05"
    assert evaluate(HOT_WORK, [], {})[0] is False


@pytest.mark.parametrize(("o2", "passed"), [(19.4, False), (19.5, True), (20.9, True), (21.5, False)])
def test_CS_02_oxygen_range(o2: float, passed: bool) -> None:
    assert evaluate(CONFINED_SPACE, [{"gas": "O2", "value": o2, "unit": "%vol"}], {})[0] is passed


def test_CS_02_enriched_environment_allows_up_to_23_5() -> None:
    reading = [{"gas": "O2", "value": 23, "unit": "%vol"}]
    assert evaluate(CONFINED_SPACE, reading, {"oxygen_enriched_environment": True})[0] is True
    assert (
        evaluate(
            CONFINED_SPACE,
            [{"gas": "O2", "value": 24, "unit": "%vol"}],
            {"oxygen_enriched_environment": True},
        )[0]
        is False
    )


def test_CS_02_toxics_within_oel() -> None:
    air = {"gas": "O2", "value": 20.9, "unit": "%vol"}
    assert evaluate(CONFINED_SPACE, [air, {"gas": "H2S", "value": 6, "unit": "ppm"}], {})[0] is True
    ok, findings = evaluate(CONFINED_SPACE, [air, {"gas": "H2S", "value": 8, "unit": "ppm"}], {})
    assert not ok and "hydrogen sulfide" in findings[0].en
    assert evaluate(CONFINED_SPACE, [air, {"gas": "Cl2", "value": 1.5, "unit": "mg/m3"}], {})[0] is False


def test_CS_02_a_sample_needs_oxygen_and_every_flammable_and_toxic_medium() -> None:
    gap = incomplete(CONFINED_SPACE, {"CH4"}, ["CH4"])
    assert gap is not None and gap.rule_id == "CS-02" and "oxygen (O2)" in gap.en
    gap = incomplete(CONFINED_SPACE, {"O2", "CH4"}, ["CH4", "H2S", "Cl2"])
    assert gap is not None and "hydrogen sulfide (H2S)" in gap.en and "chlorine (Cl2)" in gap.en
    assert "methane" not in gap.en and "氯气(Cl2)" in gap.zh
    assert incomplete(CONFINED_SPACE, {"O2", "CH4", "H2S", "Cl2"}, ["CH4", "H2S", "Cl2"]) is None


def test_CS_02_with_no_media_on_record_oxygen_alone_is_incomplete() -> None:
    gap = incomplete(CONFINED_SPACE, {"O2"}, [])
    assert gap is not None and "no flammable or toxic gas measured" in gap.en
    assert incomplete(CONFINED_SPACE, {"O2", "H2S"}, []) is None


def test_HW_05_a_sample_needs_the_representative_flammable_gas_of_each_medium() -> None:
    assert "no flammable gas measured" in incomplete(HOT_WORK, {"O2"}, []).en
    assert "no flammable gas measured" in incomplete(HOT_WORK, {"NO2"}, []).en
    gap = incomplete(
        HOT_WORK, {"O2", "CH4"}, ["CH4", "H2", "Cl2"]
    )  # Cl2 is toxic only: not asked in hot work
    assert gap is not None and gap.rule_id == "HW-05" and gap.en.endswith("not measured: hydrogen (H2)")
    assert incomplete(HOT_WORK, {"CH4", "H2"}, ["CH4", "H2", "Cl2"]) is None
    assert incomplete(HOT_WORK, {"CH4"}, []) is None


def test_CS_02_policy_overrides_gas_limits() -> None:
    air = {"gas": "O2", "value": 20.9, "unit": "%vol"}
    co = {"gas": "CO", "value": 25, "unit": "mg/m3"}
    assert evaluate(CONFINED_SPACE, [air, co], {})[0] is False
    assert evaluate(CONFINED_SPACE, [air, co], {}, {"gas_limits": {"CO": {"pc_twa": 30}}})[0] is True
    custom = {
        "gas_limits": {
            "C2H4O": {"molar_mass": 44.05, "kinds": ["flammable", "toxic"], "lel": 3.0, "pc_twa": 2}
        }
    }
    assert (
        evaluate(CONFINED_SPACE, [air, {"gas": "C2H4O", "value": 3, "unit": "mg/m3"}], {}, custom)[0] is False
    )


def test_evaluate_gas_by_permit_type() -> None:
    assert evaluate_gas("temporary_power", [{"gas": "CH4", "value": 0.6, "unit": "%vol"}], {})[0] is False
    with pytest.raises(KeyError):
        evaluate_gas("height", [], {})
