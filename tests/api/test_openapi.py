"""The OpenAPI document: the committed file equals what the code generates, and the service serves it and its docs."""

from __future__ import annotations

import difflib
import itertools
import re
from pathlib import Path

import pytest

from permit_service.openapi_export import generate_yaml

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"


def test_committed_openapi_yaml_matches_the_code():
    generated = generate_yaml()
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    if generated != committed:
        diff = difflib.unified_diff(
            committed.splitlines(), generated.splitlines(), "committed", "generated", lineterm="", n=2
        )
        pytest.fail(
            "openapi/openapi.yaml differs from what the code generates: run `make openapi` and commit it.\n"
            + "\n".join(itertools.islice(diff, 60)),
            pytrace=False,
        )


def test_openapi_json_is_served(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert any(path.startswith("/api/v1/") for path in spec["paths"])


def test_docs_use_only_assets_served_by_the_service(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    referenced = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert "/docs/assets/swagger-ui-bundle.js" in referenced
    # plant networks are often cut off from the internet: nothing may come from elsewhere
    assert all(url.startswith("/docs/assets/") for url in referenced), referenced
    for url in referenced:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.data) > 1000, url
