"""/docs renders the OpenAPI 3.1 document in a real headless Chromium, with no request leaving the machine."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from tests.integration.browser import chromium, needs_chromium

pytestmark = needs_chromium


def page_requests(net_log: Path, site: str) -> set[str]:
    """Every URL the page of `site` asked for, from Chromium's NetLog.

    The browser's own background calls (update and time checks, which the resolver rules send nowhere) carry
    another network isolation key; whatever the page loads, from any host, carries the page's site.
    """
    text = net_log.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
    if not text.endswith("}"):  # a log cut short at exit lacks its closing brackets
        text += "]}"
    log = json.loads(text)
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return {
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start_job and site in event.get("params", {}).get("network_isolation_key", "")
    }


def test_docs_render_every_operation_offline(app, live_url, tmp_path):
    spec = app.test_client().get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    operations = sum(
        1
        for item in spec["paths"].values()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )
    net_log = tmp_path / "netlog.json"

    run = chromium(f"{live_url}/docs", tmp_path / "profile", "--dump-dom", f"--log-net-log={net_log}")

    dom = run.stdout
    assert "Unable to render this definition" not in dom
    assert spec["info"]["title"] in dom
    rendered = re.findall(r'<div class="opblock opblock-(get|post|put|patch|delete)\b', dom)
    assert len(rendered) == operations, (len(rendered), operations, run.stderr[-2000:])
    assert 'data-path="/api/v1/permits/{permit_id}/approve"' in dom
    urls = page_requests(net_log, "http://127.0.0.1")
    assert {f"{live_url}/openapi.json", f"{live_url}/docs/assets/swagger-ui-bundle.js"} <= urls, urls
    elsewhere = sorted(url for url in urls if urlsplit(url).hostname != "127.0.0.1")
    assert not elsewhere, f"the page asked for something off this machine: {elsewhere}"
