"""Zoom's own OpenAPI document, for the tests that check exchanges with Zoom against it.

tests/data/zoom-webinar-openapi.json is Zoom's export cut to the webinar operations, with the
operations a later feature needs taken from Zoom's published export unchanged (its
`info.x-extract` says which). ZOOM_OPENAPI_PATH points the tests at another copy.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import openapi_core
import pytest
import requests
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.templating.responses.exceptions import ResponseNotFound

from webinar_ops.providers.zoom.client import Credentials, ZoomClient, ZoomProvider

SPEC_PATH = Path(os.environ.get("ZOOM_OPENAPI_PATH", Path(__file__).parent / "data" / "zoom-webinar-openapi.json"))
# Statuses Zoom gives that its OpenAPI document does not list for the operation.
UNDOCUMENTED = frozenset({300, 401, 429, 500, 502, 503, 504})


def load_zoom_openapi(path: Path) -> openapi_core.OpenAPI:
    """Zoom's document, with its exporter's slips mended so that a validator accepts it.

    The export writes `style` and `in` in capitals (SIMPLE, FORM, HEADER) and adds a
    non-standard `extensions` key beside every enum; both are mended here, and the result
    must then pass the OpenAPI 3.0 validator. openapi-core cannot check oauth2, so security is
    reduced to the Authorization header being present. The server becomes loopback with a
    port variable, so paths are matched relative to /v2 on any fake.
    """
    spec = json.loads(path.read_text(encoding="utf-8"))
    _mend(spec)
    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "security" in operation:
                operation["security"] = [{"openapi_authorization": []}]
    spec["servers"] = [{"url": "http://127.0.0.1:{port}/v2", "variables": {"port": {"default": "80"}}}]
    return openapi_core.OpenAPI.from_dict(spec)  # validates the document itself first


def _mend(node: object, key: str | None = None) -> None:
    if isinstance(node, dict):
        if key != "properties":  # a schema's property may be called anything
            node.pop("extensions", None)
            if "name" in node:
                for name in ("style", "in"):
                    if isinstance(node.get(name), str):
                        node[name] = node[name].lower()
        for child_key, child in node.items():
            _mend(child, child_key)
    elif isinstance(node, list):
        for child in node:
            _mend(child)


def check_exchange(
    openapi: openapi_core.OpenAPI,
    response: requests.Response,
    request_valid: bool | None,
    undocumented: frozenset[int] = frozenset(),
) -> None:
    """Validate one exchange: the request (True: must be valid, False: must be invalid, None:
    not checked) and the response, or Zoom's error shape where the document is silent (on the
    statuses in UNDOCUMENTED, and `undocumented` for this exchange)."""
    request = RequestsOpenAPIRequest(response.request)
    if request_valid is True:
        openapi.validate_request(request)
    elif request_valid is False:
        with pytest.raises(Exception):  # noqa: B017, PT011 - any of openapi-core's validation errors
            openapi.validate_request(request)
    try:
        openapi.validate_response(request, RequestsOpenAPIResponse(response))
    except ResponseNotFound:
        expected = UNDOCUMENTED | undocumented
        assert response.status_code in expected, f"{response.status_code} is neither documented nor expected"
    if response.status_code >= 300:
        body = response.json()
        assert set(body) <= {"code", "message", "errors"}, body
        assert isinstance(body["code"], int)
        assert isinstance(body["message"], str)
        assert body["message"]
    assert response.headers["x-zm-trackingid"].startswith("v=2.0;")


@contextlib.contextmanager
def checked_zoom_provider(
    zoom, undocumented: Callable[[str], frozenset[int]] = lambda url: frozenset()
) -> Iterator[ZoomProvider]:
    """The zoom provider talking to the local Zoom `zoom`; when the block ends, every exchange
    it had must match Zoom's OpenAPI document, requests and answers alike, and there must have
    been one. `undocumented(url)` names the statuses Zoom gives there beyond its document."""
    openapi = load_zoom_openapi(SPEC_PATH)
    client = ZoomClient(Credentials(zoom.account_id, zoom.client_id, zoom.client_secret), zoom.api_url, zoom.oauth_url)
    exchanges: list[requests.Response] = []
    client.session.hooks["response"].append(lambda response, *args, **kwargs: exchanges.append(response))
    yield ZoomProvider(client)
    api = [r for r in exchanges if r.url.startswith(zoom.api_url)]
    assert api
    for response in api:
        check_exchange(openapi, response, request_valid=True, undocumented=undocumented(response.url))


def host_token(zoom) -> str:
    """An access token for the host's own calls to the local Zoom (what they do on Zoom's site),
    taken the way any server-to-server app takes one."""
    return requests.post(
        zoom.oauth_url,
        auth=(zoom.client_id, zoom.client_secret),
        data={"grant_type": "account_credentials", "account_id": zoom.account_id},
        timeout=5,
    ).json()["access_token"]
