"""Regulators' feed endpoints: the region's events in commit order (JSON or JSON Lines), and platform clients."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, current_app, jsonify, request

from permit_service.api.blueprint import Blueprint
from permit_service.auth import current_principal, require_roles
from permit_service.auth.principal import REGULATOR_PLATFORM_ROLE
from permit_service.db import get_session, transaction
from permit_service.feed import (
    clients,
    positions,  # noqa: F401 - its commit hook gives every event its feed position
    schemas,
    service,
)

blp = Blueprint(
    "feed",
    __name__,
    url_prefix="/regulator",
    description="监管平台事件流 / Regulators' event feed (plan measures 59-61; DC-04, AU-01)",
)
REGULATORS = ("regulator", "city_regulator")
JSONL_TYPES = ("application/x-ndjson", "application/jsonl")


def _wants_jsonl(args: dict[str, Any]) -> bool:
    if args["format"] is not None:
        return args["format"] == "jsonl"
    best = request.accept_mimetypes.best_match(["application/json", *JSONL_TYPES])
    return best in JSONL_TYPES


@blp.get("/events")
@require_roles(*REGULATORS, REGULATOR_PLATFORM_ROLE)
@blp.arguments(schemas.FeedArgs, location="query")
@blp.response(200, schemas.FeedPageOut)
@blp.doc(
    description="The events of the caller's region and below, in commit order: resume with `after=next_cursor` "
    "and nothing is skipped or repeated. `since` backfills from a date. JSON Lines (`format=jsonl` or "
    "`Accept: application/x-ndjson`): one FeedEvent a line; the resume cursor is in `X-Next-Cursor`.",
    responses={
        "200": {
            "description": "OK",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/FeedPageOut"}},
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "one FeedEvent (JSON) a line"}
                },
            },
        }
    },
)
def events(args: dict[str, Any]) -> Any:
    """Follow the region's permit events from a cursor or a date (JSON or JSON Lines)."""
    principal = current_principal()
    limit = args["limit"] or current_app.config["PAGE_SIZE_DEFAULT"]
    page = service.read(
        get_session(), principal=principal, after=int(args["after"]), since=args["since"], limit=limit
    )
    if not _wants_jsonl(args):
        return jsonify(schemas.dump_page(page))  # what @blp.response would answer, dumped compiled
    lines = "".join(schemas.encode(item) + "\n" for item in page.items)
    return Response(
        lines,
        mimetype="application/x-ndjson",
        headers={"X-Next-Cursor": page.next_cursor, "X-Has-More": "true" if page.has_more else "false"},
    )


@blp.route("/clients", methods=["POST"])
@require_roles(*REGULATORS)
@blp.arguments(schemas.RegulatorClientIn)
@blp.response(201, schemas.RegulatorClientOut)
@blp.alt_response(404, response="NOT_FOUND")  # a region_id that is not the caller's region or below it
def register_client(body: dict[str, Any]) -> dict[str, Any]:
    """Register the platform of the caller's region (or one below): it reads that region's events, nothing else."""
    principal = current_principal()
    with transaction() as session:
        client, secret = clients.register(
            session, principal=principal, name=body["name"], region_id=body["region_id"]
        )
        return {**_client_out(client), "client_secret": secret}


@blp.route("/clients", methods=["GET"])
@require_roles(*REGULATORS)
@blp.response(200, schemas.RegulatorClientList)
def list_clients() -> dict[str, Any]:
    """The platform clients of the caller's region and below."""
    items = clients.listing(get_session(), principal=current_principal())
    return {"items": [_client_out(c) for c in items]}


@blp.route("/clients/<uuid:client_id>", methods=["DELETE"])
@require_roles(*REGULATORS)
@blp.response(204)
def deactivate_client(client_id: uuid.UUID) -> None:
    """Deactivate a platform client: its tokens stop working at once."""
    principal = current_principal()
    with transaction() as session:
        clients.deactivate(session, principal=principal, client_id=client_id)


def _client_out(client: Any) -> dict[str, Any]:
    return {
        "id": client.id,
        "client_id": client.client_id,
        "name": client.name,
        "region_id": client.region_id,
        "active": client.active,
        "created_at": client.created_at,
    }
