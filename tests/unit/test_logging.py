"""The service's JSON logs: what an operator reads on stderr."""

from __future__ import annotations

import json
import logging

import pytest

from permit_service.observability import configure_logging
from workflows.states import State

from .factories import fire, permit


@pytest.fixture
def service_logging():
    """configure_logging as a worker runs it, the process's logging put back afterwards."""
    root, chatter = logging.getLogger(), logging.getLogger("transitions")
    handlers, level, chatter_level = root.handlers[:], root.level, chatter.level
    yield configure_logging
    root.handlers[:] = handlers
    root.setLevel(level)
    chatter.setLevel(chatter_level)


def _lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_a_permit_transition_logs_no_state_machine_chatter_at_info(service_logging, capsys):
    service_logging("INFO")
    fire(permit("hot_work", State.active), "suspend")
    logging.getLogger("permit_service.access").info("POST /suspend 200")
    logging.getLogger("transitions.core").warning("a warning of the state machine")

    lines = _lines(capsys.readouterr().err)

    assert [(line["logger"], line["msg"]) for line in lines] == [
        ("permit_service.access", "POST /suspend 200"),
        ("transitions.core", "a warning of the state machine"),
    ]


def test_debug_level_shows_the_state_machine_too(service_logging, capsys):
    service_logging("DEBUG")
    fire(permit("hot_work", State.active), "suspend")

    assert any(line["logger"].startswith("transitions") for line in _lines(capsys.readouterr().err))
