"""The authenticated caller, role checks and the tenant scope every query is filtered by."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from sqlalchemy.orm import Session

from permit_service.directory.models import Enterprise, Region
from permit_service.errors import Forbidden, NotFound
from workflows.model import Actor

F = TypeVar("F", bound=Callable[..., Any])

ENTERPRISE_ROLES = frozenset(
    {
        "applicant", "work_leader", "worker", "guardian", "analyst", "shift_leader", "unit_leader",
        "specialist_dept", "safety_dept", "plant_manager", "leader_in_charge", "principal",
        "power_supplier", "countersigner", "enterprise_admin",
    }
)  # fmt: skip
REGULATOR_ROLES = frozenset({"regulator", "city_regulator"})
INTEGRATION_ROLE = "integration"
# A regulator's platform (city or provincial system) reading its region's events: it reads, it never acts.
REGULATOR_PLATFORM_ROLE = "regulator_platform"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_ROLES = ENTERPRISE_ROLES | REGULATOR_ROLES | {INTEGRATION_ROLE}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person of an enterprise, a regulator of a region, an integration client or the system."""

    id: str
    kind: str  # person | integration | system
    name: str
    roles: frozenset[str]
    enterprise_id: uuid.UUID | None = None
    region_id: uuid.UUID | None = None
    token_generation: int = 0  # a person's: tokens name it and are refused once the password changes
    card_id: str | None = (
        None  # a person's positioning card, read with the person (G-06 takes only their own)
    )
    departments: frozenset[str] = frozenset()  # a person's departments: they countersign for those (EX-01)

    @property
    def is_regulator(self) -> bool:
        return bool(self.roles & REGULATOR_ROLES)

    @property
    def is_regulator_platform(self) -> bool:
        return REGULATOR_PLATFORM_ROLE in self.roles

    def has_any(self, roles: Iterable[str]) -> bool:
        """Whether the caller holds at least one of `roles`."""
        return bool(self.roles & set(roles))

    def actor(self) -> Actor:
        """The caller as the workflow core sees it."""
        return Actor(
            person_id=self.id,
            roles=self.roles,
            enterprise_id=str(self.enterprise_id) if self.enterprise_id else None,
            name=self.name,
            card_id=self.card_id,
            departments=self.departments,
        )


SYSTEM = Principal(id=Actor.SYSTEM_ID, kind="system", name="系统 / system", roles=frozenset({"system"}))


def current_principal(*, refresh: bool = False) -> Principal:
    """The authenticated caller of this request (401 if there is none); `refresh`: the bearer is a refresh token.

    The token is verified once per request; later calls return the same caller.
    """
    principal: Principal | None = g.get("principal")
    if principal is None:
        verify_jwt_in_request(refresh=refresh)
        principal = current_user
        g.principal = principal
        g.principal_id = principal.id
    if (
        principal.is_regulator_platform
        and request.method not in _READS
        and not _handler_marked("platform_writes")
    ):
        # DC-04: a regulator's platform client follows its region; it acts on nothing (its own subscriptions aside).
        raise Forbidden(
            "监管平台客户端只能读取和管理自己的订阅，不能办理任何操作",
            "A regulator's platform client only reads and manages its own subscriptions; it cannot act on anything",
        )
    return principal


def authenticates_itself(view: F) -> F:
    """Mark a view that establishes its caller itself (login, client token, refresh): no access token first."""
    view.authenticates_itself = True  # type: ignore[attr-defined]
    return view


def platform_writes(view: F) -> F:
    """Mark a view that changes only the calling platform client's own subscriptions: open to it (DC-04)."""
    view.platform_writes = True  # type: ignore[attr-defined]
    return view


def _handler_marked(mark: str) -> bool:
    """Whether the view handling this request (a MethodView's method, or the function) carries `mark`."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return False
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, request.method.lower(), view) if view_class else view
    return bool(getattr(handler, mark, False))


def init_app(app: Flask) -> None:
    """Check the caller's token before any API view reads its input: without one the answer is 401, never 422."""

    @app.before_request
    def _identity_before_input() -> None:
        if request.method == "OPTIONS" or not request.path.startswith("/api/"):
            return
        if request.endpoint in app.view_functions and not _handler_marked("authenticates_itself"):
            current_principal()


def require_roles(*roles: str) -> Callable[[F], F]:
    """Allow the view only to callers holding one of `roles` (403 otherwise); no roles: any authenticated caller."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if roles and not principal.has_any(roles):
                raise Forbidden(
                    f"需要以下角色之一：{', '.join(roles)}",
                    f"This needs one of the roles: {', '.join(roles)}",
                )
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def region_subtree(session: Session, region_id: uuid.UUID) -> set[uuid.UUID]:
    """A region and every region below it (districts and zones of a city, zones of a district).

    Cached for the request (or app context); outside one (a worker committing events) it is read each time.
    """
    cache: dict[uuid.UUID, set[uuid.UUID]] = g.setdefault("region_subtrees", {}) if has_app_context() else {}
    if region_id not in cache:
        children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
        for rid, parent in session.execute(sa.select(Region.id, Region.parent_id)):
            children.setdefault(parent, []).append(rid)
        found, stack = set(), [region_id]
        while stack:
            rid = stack.pop()
            if rid not in found:
                found.add(rid)
                stack.extend(children.get(rid, []))
        cache[region_id] = found
    return cache[region_id]


def own_enterprise(principal: Principal) -> uuid.UUID | None:
    """The one enterprise a caller of an enterprise sees (its people and plant clients); None for any other."""
    return principal.enterprise_id if principal.kind != "system" else None


def enterprise_scope(session: Session, principal: Principal, column: Any) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting `column` (an enterprise id column) to what the caller may see."""
    if principal.kind == "system":
        return sa.true()
    if (enterprise_id := own_enterprise(principal)) is not None:
        return column == enterprise_id
    if principal.region_id is not None and (principal.is_regulator or principal.is_regulator_platform):
        regions = region_subtree(session, principal.region_id)
        return column.in_(sa.select(Enterprise.id).where(Enterprise.region_id.in_(regions)))
    return sa.false()


def region_scope(session: Session, principal: Principal, column: Any) -> sa.ColumnElement[bool]:
    """A WHERE clause limiting `column` (a region id column) to the caller's region and below."""
    if principal.kind == "system":
        return sa.true()
    if principal.region_id is not None:
        return column.in_(region_subtree(session, principal.region_id))
    return sa.false()


def get_enterprise_for(session: Session, principal: Principal, enterprise_id: uuid.UUID) -> Enterprise:
    """The enterprise if the caller may see it; 404 otherwise (never reveal another tenant's objects)."""
    enterprise = session.scalar(
        sa.select(Enterprise).where(
            Enterprise.id == enterprise_id, enterprise_scope(session, principal, Enterprise.id)
        )
    )
    if enterprise is None:
        raise NotFound("企业不存在", "No such enterprise")
    return enterprise
