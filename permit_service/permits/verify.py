"""The public page an inspector opens by scanning a printed permit's QR code: is this paper live right now?

The token in the QR code is the permit's id with an HMAC of it under the service's secret, so it cannot be guessed
or forged and needs no column; it names one permit, so a re-issued permit (G-07) prints a new token and the old
paper's page says it was voided and re-issued. The page shows what the paper shows of the permit, never a person.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, render_template, request
from markupsafe import Markup

from permit_service import clock
from permit_service.api.fields import display_tz
from permit_service.db import get_session
from permit_service.directory.models import Enterprise
from permit_service.permits.models import Permit
from workflows import get_workflow
from workflows.states import State
from workflows.vocabulary import STATE_NAMES

# Keeps these MACs apart from anything else signed with the same secret.
_DOMAIN = b"permit-service/verify/v1:"
_MAC_BYTES = 16
_WINDOW = timedelta(minutes=1)
# What the page tells an inspector to do, by the verdict on the paper.
_VERDICTS: dict[str, tuple[str, str]] = {
    "live": ("有效，作业中", "VALID: work in progress"),
    "suspended": ("已暂停，不得作业", "SUSPENDED: no work allowed"),
    "pending": ("尚未开始作业", "NOT STARTED: no work yet"),
    "ended": ("已失效，不得作业", "NOT VALID: no work allowed"),
}


def _key() -> bytes:
    return current_app.config["PERMIT_CONFIG"].jwt_secret_key.encode()


def _mac(permit_id: uuid.UUID) -> bytes:
    return hmac.new(_key(), _DOMAIN + permit_id.bytes, hashlib.sha256).digest()[:_MAC_BYTES]


def token_for(permit_id: uuid.UUID) -> str:
    """The unguessable token of a permit's QR page (43 URL-safe characters)."""
    return base64.urlsafe_b64encode(permit_id.bytes + _mac(permit_id)).rstrip(b"=").decode()


def permit_id_of(token: str) -> uuid.UUID | None:
    """The permit a token names, or None for a token this service did not issue."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 16 + _MAC_BYTES:
        return None
    permit_id = uuid.UUID(bytes=raw[:16])
    return permit_id if hmac.compare_digest(raw[16:], _mac(permit_id)) else None


def verify_url(permit_id: uuid.UUID) -> str:
    """The absolute address of the permit's QR page (PUBLIC_BASE_URL, else the address the request came to)."""
    base = current_app.config["PERMIT_CONFIG"].public_base_url or request.host_url.rstrip("/")
    return f"{base}/v/{token_for(permit_id)}"


def qr_svg(url: str) -> Markup:
    """The QR code of `url` as an inline SVG element (no image file, no network)."""
    import segno  # 9 MB a worker needs only once it prints a form (issue 14)

    return Markup(segno.make(url, error="m").svg_inline(scale=3, border=2, omitsize=False))  # noqa: S704 - segno's own SVG


class FixedWindowLimiter:
    """At most `limit` hits per client in each window; memory holds one window's clients only."""

    def __init__(self, limit: int, window: timedelta = _WINDOW) -> None:
        self.limit, self.window = limit, window
        self._lock = threading.Lock()
        self._started: datetime | None = None
        self._hits: dict[str, int] = {}

    def wait(self, client: str, now: datetime) -> int:
        """Count a hit; 0 when allowed, else the seconds until the client may try again."""
        with self._lock:
            if self._started is None or now >= self._started + self.window:
                self._started, self._hits = now, {}
            self._hits[client] = self._hits.get(client, 0) + 1
            if self._hits[client] <= self.limit:
                return 0
            return max(1, math.ceil((self._started + self.window - now).total_seconds()))


def status_of(permit: Permit, now: datetime, reissued_as: str | None) -> dict[str, Any]:
    """What the page says of a permit at `now`: its facts, no person, and the verdict an inspector acts on."""
    workflow = get_workflow(permit.type)
    grade = next((g for g in workflow.grades if g.code == permit.grade and g.code), None)
    state = str(permit.state)
    if state not in {State.expired, State.voided, State.closed} and now > permit.valid_until:
        state = State.expired  # the scheduler may not have marked it yet; the paper is dead all the same
    if state == State.active and now >= permit.valid_from:
        verdict = "live"
    elif state == State.suspended:
        verdict = "suspended"
    elif state in {State.submitted, State.countersigned, State.approved, State.briefed, State.draft}:
        verdict = "pending"
    else:
        verdict = "ended"
    local = display_tz()
    return {
        "number": permit.number,
        "type": (workflow.zh, workflow.en),
        "grade": (grade.zh, grade.en) if grade else None,
        "area": f"{permit.area.name} ({permit.area.code})",
        "state": (STATE_NAMES.get(state, state), state),
        "verdict": verdict,
        "verdict_text": _VERDICTS[verdict],
        "reissued_as": reissued_as,
        "valid_from": permit.valid_from.astimezone(local).strftime("%Y-%m-%d %H:%M"),
        "valid_until": permit.valid_until.astimezone(local).strftime("%Y-%m-%d %H:%M"),
        "checked_at": now.astimezone(local).strftime("%Y-%m-%d %H:%M:%S"),
        "timezone": local.key,
    }


def _page(status: int, **context: Any) -> Response:
    return Response(
        render_template("permits/verify.html", **context),
        status=status,
        mimetype="text/html",
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "Cache-Control": "no-store",  # the answer is "right now"
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
    )


def verify_page(token: str) -> Response:
    """The public page of a permit's QR code; 404 for a token this service did not issue, 429 when flooded."""
    now = clock.now()
    wait = current_app.extensions["verify_limiter"].wait(request.remote_addr or "", now)
    if wait:
        response = _page(429, problem=("查询过于频繁，请稍后再试", "Too many checks; try again shortly"))
        response.headers["Retry-After"] = str(wait)
        return response
    permit_id = permit_id_of(token)
    session = get_session()
    permit = session.get(Permit, permit_id) if permit_id else None
    if permit is None:
        return _page(
            404,
            problem=("未找到该作业票：此票可能是伪造的", "No such permit: this copy may be forged"),
        )
    reissued_as = session.scalar(sa.select(Permit.number).where(Permit.reissued_from_id == permit.id))
    enterprise = session.get(Enterprise, permit.enterprise_id)
    return _page(
        200, permit=status_of(permit, now, reissued_as), enterprise=enterprise.name if enterprise else ""
    )


def register(app: Flask) -> None:
    """Serve /v/<token>, outside the API: no login, rate-limited per client address."""
    app.extensions["verify_limiter"] = FixedWindowLimiter(app.config["PERMIT_CONFIG"].verify_rate_per_minute)
    app.add_url_rule("/v/<token>", "verify_permit", verify_page, methods=["GET"])
