"""Regulators' platforms receive their region's events pushed, through the webhook outbox (DC-04; measures 59-61).

At commit, once the transaction's events have their feed positions (positions.py), every event a platform's
subscription asks for is queued in the same outbox as a plant portal's and in the same transaction: signed, in order
per permit, retried with back-off, replayable, never lost on a crash (permit_service.integrations.webhooks delivers
them). The body is the feed's payload with its cursor, so a platform handles a pushed event as a pulled one, and after
an outage resumes pulling from the last cursor it received. A platform follows what the pull feed shows it: the
events of its region's enterprises and its region's own (a freeze); its enterprise and risk-grade filters narrow the
enterprises' events, and a region's own events go to every subscription that asks for their kind.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from permit_service.audit.models import Event
from permit_service.auth.principal import region_subtree
from permit_service.directory.models import Enterprise
from permit_service.feed import schemas, service
from permit_service.feed.models import FeedPosition
from permit_service.integrations import webhooks
from permit_service.integrations.models import WebhookSubscription


def enqueue(session: Session, event_ids: Sequence[int]) -> None:
    """Queue the deliveries of these events (positioned in this transaction) to the platforms that want them."""
    subs = list(
        session.scalars(
            sa.select(WebhookSubscription).where(
                WebhookSubscription.region_id.is_not(None), WebhookSubscription.active.is_(True)
            )
        )
    )
    if not subs:
        return
    rows = session.execute(
        sa.select(FeedPosition, Event)
        .join(Event, Event.id == FeedPosition.event_id)
        .where(FeedPosition.event_id.in_(event_ids), Event.subject_type.in_(service.FEED_SUBJECTS))
        .order_by(FeedPosition.position)
    ).all()
    wanted = []
    for position, event in rows:
        enterprise = session.get(Enterprise, event.enterprise_id) if event.enterprise_id else None
        if takers := [sub for sub in subs if _wants(session, sub, event, enterprise)]:
            wanted.append(((position, event), takers))
    if not wanted:
        return
    for ((_, event), takers), item in zip(
        wanted, service.payloads(session, [row for row, _ in wanted]), strict=True
    ):
        webhooks.queue(session, event, takers, schemas.encode(item))


def _wants(session: Session, sub: WebhookSubscription, event: Event, enterprise: Enterprise | None) -> bool:
    assert sub.region_id is not None
    if not webhooks.matches(sub.event_kinds, event.kind):
        return False
    region = enterprise.region_id if enterprise is not None else event.region_id
    if region is None or region not in region_subtree(session, sub.region_id):
        return False  # another region's: the platform's feed does not show it either
    if enterprise is None:
        return True
    if sub.enterprise_codes and enterprise.credit_code not in sub.enterprise_codes:
        return False
    return not sub.risk_grades or enterprise.risk_grade in sub.risk_grades
