"""ORM models of the feed: each committed event's position in commit order, and the counter handing them out."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.audit.models import BigId
from permit_service.db import Base


class FeedPosition(Base):
    """An event's place in the feed: positions follow commit order, with no gaps a reader could later see filled."""

    __tablename__ = "event_feed"

    position: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("events.id"), unique=True)


class FeedCounter(Base):
    """The one row holding the last position given; its row lock, taken at commit, orders the commits."""

    __tablename__ = "event_feed_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_position: Mapped[int] = mapped_column(BigId)
