"""ORM models of the scheduler: its ledger (what a job has already done to an item, so that it acts once) and
when each job last finished a run (the scheduler-lag metric)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from permit_service.db import Base


class JobMark(Base):
    """One job's act on one subject under one key (e.g. the freeze that suspended a permit, FZ-03)."""

    __tablename__ = "job_marks"

    job: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(sa.String(32), default="done")


class SchedulerRun(Base):
    """When a job last finished a run and the interval it runs at: past finished_at + interval it is late."""

    __tablename__ = "scheduler_runs"

    job: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    finished_at: Mapped[datetime]
    interval_seconds: Mapped[int]
