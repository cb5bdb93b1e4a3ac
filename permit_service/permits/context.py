"""Context providers: other areas (freezes, high-risk jobs, presence) add what they know about a permit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from permit_service.permits.models import Permit

# A provider returns extra PermitData / Context fields for one permit, e.g. {"freezes": (...)}.
ContextProvider = Callable[[Session, Permit], dict[str, Any]]
_providers: list[ContextProvider] = []


def register_provider(provider: ContextProvider) -> ContextProvider:
    """Register a provider (idempotent); usable as a decorator at import time of a service module."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def provided_fields(session: Session, permit: Permit) -> dict[str, Any]:
    """Merge what every registered provider says about `permit`."""
    merged: dict[str, Any] = {}
    for provider in _providers:
        merged.update(provider(session, permit))
    return merged
