"""Gunicorn's own refusals as problem+json: a request it will not hand to the app never gets an HTML page.

Gunicorn answers a request line over `limit_request_line` (414), too many or too large header fields (431) and a
malformed request (400) itself, before the app sees anything, through `gunicorn.util.write_error`, which writes
HTML. `install()` (called from gunicorn.conf.py) puts `write_problem` in its place.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

from permit_service.errors import HTTP_MESSAGES, PROBLEM_MIME


def problem_bytes(status: int, reason: str) -> bytes:
    """A complete HTTP/1.1 response: the problem+json body for `status`, closing the connection."""
    zh, en = HTTP_MESSAGES.get(status, ("请求无法处理", reason))
    body = json.dumps(
        {
            "type": f"/problems/http-{status}",
            "title": en,
            "status": status,
            "detail": f"{zh} / {en}",
            "message_zh": zh,
            "message_en": en,
        },
        ensure_ascii=False,
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: {PROBLEM_MIME}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's replacement (its `mesg` may echo the request: it is logged, not sent)."""
    util.write_nonblock(sock, problem_bytes(status_int, reason))


def install() -> None:
    """Make gunicorn write its own error answers as problem+json."""
    util.write_error = write_problem
