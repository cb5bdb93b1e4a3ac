"""Prometheus metrics: request counts that add up across gunicorn workers, and service gauges read at scrape time.

Each gunicorn worker is a process with its own counters. With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn.conf.py
sets it) prometheus_client keeps every worker's values in files there and a scrape, whichever worker answers it,
sums them (the client library's multiprocess mode). The service gauges are counted from the database when
scraped, with one grouped query each, so they are the same whichever worker answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime

import sqlalchemy as sa
from flask import Flask
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from permit_service import clock
from permit_service.integrations.models import Feed, WebhookDelivery
from permit_service.permits.models import Permit, Signature
from permit_service.scheduling.models import SchedulerRun
from workflows import WORKFLOWS
from workflows.states import TERMINAL
from workflows.vocabulary import SUSPENSION_REASONS

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger(__name__)


def suspension_rule(permit_type: str, reason_kind: str | None) -> str:
    """The rule ID a suspension of a permit of `permit_type` with `reason_kind` was made under."""
    _zh, _en, rule = SUSPENSION_REASONS.get(reason_kind or "", ("", "", "G-08"))
    if rule is not None:
        return rule
    plan = WORKFLOWS[permit_type].gas_plan if permit_type in WORKFLOWS else None
    return plan.breach_rule if plan is not None else "G-08"


class ServiceCollector(Collector):
    """Gauges of the service's state, counted from the database at each scrape."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Every service gauge; none when the database does not answer (the scrape still succeeds)."""
        try:
            with self.sessions() as session:
                yield from self._gauges(session, clock.now())
        except sa.exc.SQLAlchemyError:
            log.warning("metrics: the database did not answer; service gauges left out", exc_info=True)

    def _gauges(self, session: Session, now: datetime) -> Iterator[GaugeMetricFamily]:
        permits = GaugeMetricFamily(
            "permit_open_permits",
            "Permits not yet ended, by state, type and grade",
            labels=["state", "type", "grade"],
        )
        rows = session.execute(
            sa.select(Permit.state, Permit.type, Permit.grade, sa.func.count())
            .where(Permit.state.not_in([str(s) for s in TERMINAL]))
            .group_by(Permit.state, Permit.type, Permit.grade)
        )
        for state, permit_type, grade, count in rows:
            permits.add_metric([state, permit_type, grade or ""], count)
        yield permits

        suspensions = GaugeMetricFamily(
            "permit_suspensions",
            "Suspensions ever recorded, by the rule they were made under",
            labels=["rule"],
        )
        kind = Signature.evidence["reason_code"].as_string()
        by_rule: dict[str, int] = {}
        rows = session.execute(
            sa.select(Permit.type, kind, sa.func.count())
            .join(Permit, Permit.id == Signature.permit_id)
            .where(Signature.kind == "suspension")
            .group_by(Permit.type, kind)
        )
        for permit_type, reason_kind, count in rows:
            rule = suspension_rule(permit_type, reason_kind)
            by_rule[rule] = by_rule.get(rule, 0) + count
        for rule, count in sorted(by_rule.items()):
            suspensions.add_metric([rule], count)
        yield suspensions

        pending, oldest = session.execute(
            sa.select(sa.func.count(), sa.func.min(WebhookDelivery.created_at)).where(
                WebhookDelivery.status == "pending"
            )
        ).one()
        yield GaugeMetricFamily(
            "permit_webhook_outbox_pending", "Webhook deliveries waiting in the outbox (DC-04)", value=pending
        )
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "permit_webhook_outbox_oldest_seconds",
            "Age of the oldest pending webhook delivery (0 when none waits)",
            value=max(age, 0.0),
        )

        silent = GaugeMetricFamily(
            "permit_silent_feeds",
            "Plant feeds silent past their interval and alarmed (DC-03), by kind",
            labels=["kind"],
        )
        rows = session.execute(
            sa.select(Feed.kind, sa.func.count())
            .where(Feed.silence_alarmed_at.is_not(None))
            .group_by(Feed.kind)
        )
        for feed_kind, count in rows:
            silent.add_metric([feed_kind], count)
        yield silent

        lag = GaugeMetricFamily(
            "permit_scheduler_lag_seconds",
            "How far past its interval a scheduled job's next run is (0: on time), by job",
            labels=["job"],
        )
        for job, finished_at, interval in session.execute(
            sa.select(SchedulerRun.job, SchedulerRun.finished_at, SchedulerRun.interval_seconds)
        ):
            lag.add_metric([job], max((now - finished_at).total_seconds() - interval, 0.0))
        yield lag


def scrape(app: Flask) -> bytes:
    """The metrics text: every worker's request metrics summed (multiprocess mode) or this process's, plus
    the service gauges."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = app.extensions["metrics_registry"]
    service = CollectorRegistry()
    service.register(app.extensions["service_collector"])
    return generate_latest(registry) + generate_latest(service)
