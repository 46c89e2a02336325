"""Numbers no stored id can have (above 2**63 - 1, below -2**63, 26 digits; above 2**31 - 1 for PostgreSQL
integer ids) answer 404 or 422 with a page or JSON body that says so, never a 500, and change nothing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.test_web_pages import client, csrf_of, sign_up  # noqa: F401 - the client fixture

HUGE = ["9223372036854775808", "-9223372036854775809", "12345678901234567890123456", "2147483648"]


@pytest.mark.parametrize("value", HUGE)
def test_out_of_range_ids_in_forms_and_paths_answer_404(client: TestClient, value: str) -> None:  # noqa: F811
    token = sign_up(client)
    client.post("/papers/2401.00002/save", data={"csrf_token": token})
    page = client.get("/account").text
    client.post("/account/tokens", data={"csrf_token": csrf_of(page), "name": "laptop"})
    tokens_before = re.findall(r"/account/tokens/(\d+)/revoke", client.get("/account").text)

    posts = [
        ("/papers/2401.00003/save", {"csrf_token": token, "collection": value}),
        (f"/account/tokens/{value}/revoke", {"csrf_token": token}),
        (f"/library/collections/{value}/delete", {"csrf_token": token}),
    ]
    for path, data in posts:
        r = client.post(path, data=data, follow_redirects=False)
        assert r.status_code in (404, 422), (path, r.status_code)
        assert "<html" in r.text.lower() and "Something went wrong" not in r.text, path
        assert re.search(r"does not exist|No such item|not valid", r.text), path
    assert client.get(f"/library?c={value}").status_code in (404, 422)
    assert client.get(f"/papers/2401.00002?c={value}").status_code in (200, 404, 422)

    library = client.get("/library").text  # nothing changed: still one saved paper, the token still listed
    assert "Graph Transformers at Scale" in library and "Yesterday" not in library
    assert re.findall(r"/account/tokens/(\d+)/revoke", client.get("/account").text) == tokens_before


@pytest.mark.parametrize("value", HUGE)
def test_out_of_range_numbers_in_the_api_answer_404_or_422_as_json(
    client: TestClient,  # noqa: F811
    value: str,
) -> None:
    sign_up(client)
    page = client.get("/account").text
    created = client.post("/account/tokens", data={"csrf_token": csrf_of(page), "name": "api"})
    api_token = re.search(r'id="new-token">(pf_[^<]+)<', created.text)
    assert api_token, "the account page shows the new token once"
    bearer = {"Authorization": f"Bearer {api_token.group(1)}"}
    for method, path in [
        ("PUT", f"/api/v1/library/2401.00002?collection={value}"),
        ("DELETE", f"/api/v1/library/2401.00002?collection={value}"),
        ("GET", f"/api/v1/library?collection={value}"),
        ("GET", f"/api/v1/search?q=graph&offset={value}"),
        ("GET", f"/api/daily_papers?limit={value}"),
    ]:
        r = client.request(method, path, headers=bearer)
        assert r.status_code in (404, 422), (method, path, r.status_code)
        body = r.json()
        assert isinstance(body["error"], str) and body["error"], (method, path, body)
    assert client.get("/api/v1/library", headers=bearer).json()["count"] == 0
