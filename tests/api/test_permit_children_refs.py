"""A permit's children leave no reference cycle behind (issue 14: `documents rebuild` segfaulted on CPython 3.11.7
while its cyclic GC collected permits that held their children, which held them)."""

from __future__ import annotations

import gc
import uuid
import weakref

import sqlalchemy as sa

from permit_service.permits import children, documents
from permit_service.permits.models import Permit
from permit_service.permits.service import load_options
from tests.api.permit_flows import PermitFlow


def test_a_rendered_permit_is_freed_without_the_cyclic_gc(client, factory, db_session):
    flow = PermitFlow(client, factory, factory.world())
    flow.file("hot_work").to_closed()
    stmt = sa.select(Permit).where(Permit.id == uuid.UUID(flow.id)).options(*load_options())
    gc.collect()
    gc.disable()
    try:
        permit = db_session.scalars(stmt).unique().one()
        assert children.of(permit).signatures and documents.render(permit)
        gone = weakref.ref(permit)
        db_session.expunge_all()  # not expired: what the permit holds stays
        del permit
        assert gone() is None, [type(r).__name__ for r in gc.get_referrers(gone())]
    finally:
        gc.enable()
