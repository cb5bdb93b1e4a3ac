"""Identity before input: every API operation answers a request without a valid token 401, whatever its body
or query, except the three that establish the caller themselves."""

from __future__ import annotations

from tests.api.checks import PROBLEM, assert_problem, bearer, url_of

SELF_AUTHENTICATING = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
}


def _operations(app) -> list[tuple[str, str]]:
    """(method, URL) of every API operation, its path parameters filled with made-up values."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        url = url_of(rule)
        found.extend((method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return found


def test_every_operation_answers_401_before_it_reads_an_invalid_body_or_query(app, client):
    operations = _operations(app)
    assert len(operations) > 50
    answered = {}
    for method, url in operations:
        if (method, url) in SELF_AUTHENTICATING:
            continue
        for headers in ({}, bearer("not-a-token")):
            resp = client.open(
                f"{url}?no_such_parameter=1", method=method, json={"no_such_field": [1]}, headers=headers
            )
            answered[(method, url, bool(headers))] = (resp.status_code, resp.content_type)
    wrong = {op: answer for op, answer in answered.items() if answer != (401, PROBLEM)}
    assert not wrong


def test_the_self_authenticating_operations_read_their_input(client):
    problem = assert_problem(client.post("/api/v1/auth/login", json={"no_such_field": 1}), 422)
    assert "no_such_field" in problem["errors"]
    assert_problem(client.post("/api/v1/auth/token", json={}), 422)
    assert_problem(client.post("/api/v1/auth/refresh", json={}), 401)
