"""Gas-test guards: valid samples, freshness before work (HW-04, CS-01, TE-02), re-tests on resuming (HW-06, CS-04)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from workflows import gas
from workflows.facts import recorded
from workflows.model import Context, GasReading, GasTest, PermitData
from workflows.rules import Guard, Violation, reads_payload
from workflows.rules.general import aware, signed
from workflows.working_hours import SHANGHAI

BREACH_REASONS = frozenset({"gas_alarm"})  # suspension reason codes that mean the gas went over the limit


T = TypeVar("T")


def read_by_guards(tests: Sequence[T], passed: Callable[[T], bool]) -> tuple[T, ...]:
    """Of a permit's gas tests in sampling order (ties in recording order, as PermitData.gas_tests), the ones the
    guards and watches read: the latest, and the latest that passed (issue 14: a permit's history stays out of
    its judgement).

    Judged on these alone every guard answers as on the whole history: latest_gas_test() is the last of them,
    and a test passed on the current day exists exactly when the latest passing one was sampled that day, since
    nothing is sampled in the future (readings_valid). A guard that needs more of the history must widen this.
    """
    if not tests:
        return ()
    latest = tests[-1]
    last_pass = latest if passed(latest) else next((t for t in reversed(tests) if passed(t)), None)
    return (latest,) if last_pass is None or last_pass is latest else (last_pass, latest)


def latest_gas_test(permit: PermitData) -> GasTest | None:
    """The most recently sampled gas test (on a tie, the one recorded last)."""
    latest = None
    for test in permit.gas_tests:
        if latest is None or aware(test.sampled_at) >= aware(latest.sampled_at):
            latest = test
    return latest


def max_age(ctx: Context) -> timedelta:
    """How old a passing test may be before work starts (policy gas_test_max_age_minutes, default 30)."""
    return timedelta(minutes=ctx.policy.get("gas_test_max_age_minutes", 30))


def _fresh_pass(permit: PermitData, ctx: Context, since: datetime | None = None) -> bool:
    test = latest_gas_test(permit)
    if test is None or not test.passed:
        return False
    sampled = aware(test.sampled_at)
    return (
        sampled <= ctx.now
        and ctx.now - sampled <= max_age(ctx)
        and (since is None or sampled >= aware(since))
    )


def sampled_at(payload: Mapping[str, Any], ctx: Context) -> datetime:
    """When the sample was taken: payload `sampled_at` (datetime or ISO 8601), default now."""
    raw = payload.get("sampled_at")
    if raw is None:
        return ctx.now
    return aware(raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw)))


def readings_valid(limits: gas.GasRule) -> Guard:
    """A record_gas_test guard: readings are present and valid, the sample is not from the future, and it is
    complete: O2 where asked and the representative gas of every medium at the work location (HW-05, CS-02)."""
    rule = limits.rule

    @reads_payload
    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        readings = payload.get("readings") or ()
        problems = []
        if not readings:
            problems.append(("没有分析读数", "no readings given"))
        measured = set()
        for r in readings:
            try:
                measured.add(
                    gas.normalise(
                        str(r.get("gas", "")), r.get("value"), str(r.get("unit", "")), ctx.policy
                    ).gas
                )
            except (ValueError, AttributeError) as exc:
                zh, _, en = str(exc).partition(" / ")
                problems.append((zh, en or zh))
        if (
            readings
            and not problems
            and (gap := gas.incomplete(limits, measured, recorded(permit)["media"], ctx.policy))
        ):
            problems.append((gap.zh, gap.en))
        try:
            if sampled_at(payload, ctx) > ctx.now:
                problems.append(("取样时间晚于当前时间", "the sampling time is in the future"))
        except (TypeError, ValueError):
            problems.append(("取样时间格式无效", "sampled_at is not a valid date-time"))
        if not problems:
            return None
        return Violation(rule, "；".join(p[0] for p in problems), "; ".join(p[1] for p in problems))

    return guard


def gas_test_fresh(rule: str, applies: Callable[[PermitData], bool]) -> Guard:
    """An activate guard: the latest gas test passed and is fresh (HW-04 ignition, CS-01 entry, TE-02)."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        if not applies(permit) or _fresh_pass(permit, ctx):
            return None
        minutes = int(max_age(ctx).total_seconds() // 60)
        return Violation(
            rule,
            f"作业前{minutes}分钟内须有合格的气体分析",
            f"a passing gas test sampled within {minutes} min before work is required",
        )

    return guard


def retest_on_resume(
    rule: str,
    breach_rule: str,
    after_minutes: Mapping[str | None, int],
    applies: Callable[[PermitData], bool],
) -> Guard:
    """A resume guard: a long interruption (HW-06, CS-01) or a gas breach (HW-08, CS-04) needs a fresh pass."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        if not applies(permit):
            return None
        suspensions = signed(permit, "suspension")
        reason = suspensions[-1].evidence.get("reason_code") if suspensions else None
        latest = latest_gas_test(permit)
        breach = reason in BREACH_REASONS or (latest is not None and not latest.passed)
        since = permit.suspended_at
        limit = timedelta(minutes=after_minutes.get(permit.grade, after_minutes.get(None, 0)))
        long_break = since is None or ctx.now - aware(since) > limit
        if not (breach or long_break) or _fresh_pass(permit, ctx, since):
            return None
        if breach:
            return Violation(
                breach_rule,
                "气体超标后须重新分析合格才能恢复",
                "after a gas breach, a passing re-test is required",
            )
        return Violation(
            rule,
            f"中断超过{int(limit.total_seconds() // 60)}分钟，恢复前须重新分析",
            f"interrupted for more than {int(limit.total_seconds() // 60)} min: re-test the gas before resuming",
        )

    return guard


def daily_gas_test(rule: str) -> Guard:
    """A watch: active hot work needs a passing gas test each day of work (HW-04)."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        today = ctx.now.astimezone(SHANGHAI).date()
        if any(
            t.passed and aware(t.sampled_at).astimezone(SHANGHAI).date() == today for t in permit.gas_tests
        ):
            return None
        return Violation(
            rule, "每日动火前须重新进行气体分析", "the gas must be re-tested on each day of work"
        )

    return guard


def monitoring_gap(rule: str) -> Guard:
    """A watch: with people inside, a gas record at least every 2 h (policy cs_monitoring_interval_minutes)."""

    def guard(permit: PermitData, ctx: Context, payload: Mapping[str, Any]) -> Violation | None:
        interval = timedelta(minutes=ctx.policy.get("cs_monitoring_interval_minutes", 120))
        latest = latest_gas_test(permit)
        if permit.people_inside <= 0 or (
            latest is not None and ctx.now - aware(latest.sampled_at) <= interval
        ):
            return None
        return Violation(
            rule,
            "有人在内时气体监测记录间隔超过2小时，须暂停作业",
            "no gas record for over 2 h with people inside: suspend",
        )

    return guard


def plan_guards(plan: gas.GasPlan) -> dict[str, tuple[Guard, ...]]:
    """The guards a gas plan adds: valid samples, a fresh pass before work, a re-test on resuming."""
    return {
        "record_gas_test": (readings_valid(plan.limits),),
        "activate": (gas_test_fresh(plan.fresh_rule, plan.applies),),
        "resume": (
            retest_on_resume(plan.resume_rule, plan.breach_rule, plan.resume_after_minutes, plan.applies),
        ),
    }


def findings(
    plan: gas.GasPlan, facts: Mapping[str, Any], readings: tuple[GasReading, ...], ctx: Context
) -> list[Violation]:
    """What a sample breaks under the plan's limits (empty when it passes)."""
    return gas.evaluate(plan.limits, readings, facts, ctx.policy)[1]


def new_test(
    plan: gas.GasPlan, facts: Mapping[str, Any], ctx: Context, payload: Mapping[str, Any]
) -> GasTest:
    """The gas test a record_gas_test payload stands for, judged by the core (never by the client)."""
    readings = tuple(
        gas.normalise(str(r["gas"]), r["value"], str(r["unit"]), ctx.policy) for r in payload["readings"]
    )
    return GasTest(
        sampled_at(payload, ctx),
        ctx.actor.person_id,
        not findings(plan, facts, readings, ctx),
        readings,
        str(payload.get("point", "")),
    )


def evidence(plan: gas.GasPlan, facts: Mapping[str, Any], ctx: Context, test: GasTest) -> dict[str, Any]:
    """What the gas-test signature keeps: the verdict, its findings, the readings, when and where."""
    return {
        "passed": test.passed,
        "findings": [v.as_dict() for v in findings(plan, facts, test.readings, ctx)],
        "readings": [{"gas": r.gas, "value": r.value, "unit": r.unit} for r in test.readings],
        "sampled_at": test.sampled_at.isoformat(),
        "point": test.point,
    }
