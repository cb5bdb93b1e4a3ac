"""ORM models of the feed: each committed event's position in commit order, and the counter handing them out."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.audit.models import BigId
from permit_service.db import Base


class FeedPosition(Base):
    """An event's place in the feed: positions follow commit order, with no gaps a reader could later see filled.

    A permit event also keeps what can still change after it, as it was at the event: its state and grade, the
    validity, location and work unit a draft edit changes, the area's code and name an administrator may change.
    So the feed tells the event as it was, not as the permit reads today. Rows are only ever inserted (a database
    trigger refuses the rest, AU-01).
    """

    __tablename__ = "event_feed"

    position: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("events.id"), unique=True)
    state: Mapped[str | None] = mapped_column(sa.String(16))
    grade: Mapped[str | None] = mapped_column(sa.String(16))
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    area_code: Mapped[str | None] = mapped_column(sa.String(50))  # an area's code and name may change later
    area_name: Mapped[str | None] = mapped_column(sa.String(200))
    location: Mapped[str | None] = mapped_column(sa.String(200))
    work_unit: Mapped[str | None] = mapped_column(sa.String(200))


class FeedCounter(Base):
    """The one row holding the last position given; its row lock, taken at commit, orders the commits.

    It also counts the active subscriptions of regulators' platforms: a commit reads the count with its positions
    and looks for platform subscriptions only when there are some.
    """

    __tablename__ = "event_feed_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_position: Mapped[int] = mapped_column(BigId)
    platform_subscriptions: Mapped[int] = mapped_column(server_default=sa.text("0"))
    # Moved by a trigger on every change to a webhook subscription: a process reads the plant portals'
    # subscriptions again only when the generation its commit reads here has moved (integrations.webhooks).
    webhook_generation: Mapped[int] = mapped_column(server_default=sa.text("0"))
