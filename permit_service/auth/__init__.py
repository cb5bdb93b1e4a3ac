"""Authentication (JWT: passwords, refresh, logout, client credentials, external RS256) and tenant scoping."""

from permit_service.auth.principal import (
    SYSTEM,
    Principal,
    current_principal,
    enterprise_scope,
    get_enterprise_for,
    region_scope,
    require_roles,
)

__all__ = [
    "SYSTEM",
    "Principal",
    "current_principal",
    "enterprise_scope",
    "get_enterprise_for",
    "region_scope",
    "require_roles",
]
