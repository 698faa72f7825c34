"""The local Zoom, over real HTTP, checked against Zoom's own OpenAPI document.

Every exchange a test makes goes through `Client.call`, which validates the request (unless
the test sends a bad one on purpose) and the response against the document; responses with a
status the document does not list (Zoom's 300, 401 and 429, and 5xx) are checked for Zoom's
error shape instead.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import openapi_core
import pytest
import requests
from zoom_openapi import SPEC_PATH, check_exchange, load_zoom_openapi

from webinar_ops.providers.zoom import standin as fakezoom
from webinar_ops.providers.zoom.standin import HEAVY, LIGHT, MEDIUM, FakeZoom, ZoomRefusal

REPO = Path(__file__).resolve().parents[1]
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,}")


@pytest.fixture(scope="module")
def openapi() -> openapi_core.OpenAPI:
    return load_zoom_openapi(SPEC_PATH)


# -- a client that checks everything --------------------------------------------------------------


class Client:
    """Talks to the fake over HTTP as a Zoom client would; every exchange is checked."""

    def __init__(self, fake: FakeZoom, openapi: openapi_core.OpenAPI):
        self.fake, self.openapi = fake, openapi
        self.session = requests.Session()
        self._token: str | None = None
        self._deferred: list | None = None

    @contextlib.contextmanager
    def burst(self):
        """Check the exchanges only after the block, so that a burst is not slowed by checking."""
        self._deferred = []
        try:
            yield
        finally:
            deferred, self._deferred = self._deferred, None
        for response, request_valid, undocumented in deferred:
            check_exchange(self.openapi, response, request_valid, undocumented)

    def fetch_token(self, **changes: str) -> requests.Response:
        data = {"grant_type": "account_credentials", "account_id": self.fake.account_id, **changes}
        auth = (self.fake.client_id, self.fake.client_secret)
        return self.session.post(self.fake.oauth_url, auth=auth, data=data, timeout=10)

    def token(self) -> str:
        if self._token is None:
            response = self.fetch_token()
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def call(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: dict | None = None,
        token: str | None = None,
        request_valid: bool | None = True,
        timeout: float = 10,
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token if token is not None else self.token()}"}
        response = self.session.request(
            method, self.fake.api_url + path, json=body, params=params, headers=headers, timeout=timeout
        )
        # The document lists no 400 for the registration questions, where Zoom refuses a bad form.
        undocumented = frozenset({400}) if path.endswith("/registrants/questions") else frozenset()
        if self._deferred is not None:
            self._deferred.append((response, request_valid, undocumented))
        else:
            check_exchange(self.openapi, response, request_valid, undocumented)
        return response

    def webinar(self, approval_type: int | None = 0, request_valid: bool | None = True, **fields: object) -> dict:
        body: dict = {"topic": "Open data", "type": 5, "start_time": "2031-04-30T06:00:00Z", "duration": 90, **fields}
        if approval_type is not None:
            body.setdefault("settings", {})["approval_type"] = approval_type
        response = self.call("POST", "/users/me/webinars", body=body, request_valid=request_valid)
        assert response.status_code == 201, response.text
        return response.json()

    def batch(self, webinar_id: int, people: list[dict], auto_approve: bool = False, **options) -> requests.Response:
        body = {"auto_approve": auto_approve, "registrants": people}
        return self.call("POST", f"/webinars/{webinar_id}/batch_registrants", body=body, **options)

    def add(self, webinar_id: int, email: str, first_name: str = "Ada", **options) -> requests.Response:
        body = {"email": email, "first_name": first_name, **options.pop("extra", {})}
        return self.call("POST", f"/webinars/{webinar_id}/registrants", body=body, **options)

    def questions(self, webinar_id: int | str, **options) -> requests.Response:
        return self.call("GET", f"/webinars/{webinar_id}/registrants/questions", **options)

    def ask(self, webinar_id: int | str, form: dict, **options) -> requests.Response:
        return self.call("PATCH", f"/webinars/{webinar_id}/registrants/questions", body=form, **options)

    def decide(self, webinar_id: int, action: str, registrants: list[dict], **options) -> requests.Response:
        body = {"action": action, "registrants": registrants}
        return self.call("PUT", f"/webinars/{webinar_id}/registrants/status", body=body, **options)

    def listing(self, webinar_id: int, **params: object) -> requests.Response:
        return self.call("GET", f"/webinars/{webinar_id}/registrants", params=params)

    def everyone(self, webinar_id: int, status: str, page_size: int = 300) -> list[dict]:
        """Every registrant with `status`, page by page through next_page_token."""
        found, token = [], ""
        while True:
            params = {"status": status, "page_size": page_size, **({"next_page_token": token} if token else {})}
            page = self.listing(webinar_id, **params).json()
            found += page["registrants"]
            token = page["next_page_token"]
            if not token:
                return found


def people(count: int, start: int = 0) -> list[dict]:
    return [
        {"email": f"person{i}@example.org", "first_name": f"Person{i}", "last_name": "Test"}
        for i in range(start, count)
    ]


def error(response: requests.Response, status: int, code: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    return body


def fresh_second() -> None:
    """Wait until the fake's sliding one-second window holds none of the requests made so far."""
    time.sleep(1.05)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: datetime):
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.timestamp()


@pytest.fixture
def make_zoom():
    """Start fakes with the given options; every one is stopped after the test."""
    started: list[FakeZoom] = []

    def make(**options: object) -> FakeZoom:
        fake = FakeZoom(**options).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def zoom(make_zoom) -> FakeZoom:
    return make_zoom(seed=1)


@pytest.fixture
def client(zoom: FakeZoom, openapi) -> Client:
    return Client(zoom, openapi)


# -- OAuth ----------------------------------------------------------------------------------------


def test_the_right_credentials_get_a_bearer_token(client, zoom):
    response = client.fetch_token()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert TOKEN_PATTERN.fullmatch(body["access_token"])
    assert "webinar:write:admin" in body["scope"].split()
    assert response.headers["x-zm-trackingid"]
    request = zoom.requests[-1]
    assert request.path == "/oauth/token"
    assert request.status == 200
    assert request.body == {"grant_type": "account_credentials", "account_id": zoom.account_id}
    assert "Authorization" not in request.headers  # the client secret never reaches the log


def test_wrong_credentials_and_grants_are_refused_as_zoom_does(client, zoom):
    wrong_secret = client.session.post(
        zoom.oauth_url, auth=(zoom.client_id, "nope"), data={"grant_type": "account_credentials"}, timeout=10
    )
    assert wrong_secret.status_code == 400
    assert wrong_secret.json() == {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    no_auth = client.session.post(zoom.oauth_url, data={"grant_type": "account_credentials"}, timeout=10)
    assert no_auth.json()["error"] == "invalid_client"

    wrong_grant = client.fetch_token(grant_type="client_credentials")
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    wrong_account = client.fetch_token(account_id="someone-else")
    assert wrong_account.status_code == 400
    assert wrong_account.json()["error"] == "invalid_request"


def test_the_grant_must_be_in_a_form_body_not_the_query_string(client, zoom):
    params = {"grant_type": "account_credentials", "account_id": zoom.account_id}
    response = client.session.post(zoom.oauth_url, auth=(zoom.client_id, zoom.client_secret), params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_the_api_refuses_missing_unknown_and_query_string_tokens(client, zoom):
    webinar = client.webinar()
    path = f"/webinars/{webinar['id']}"
    assert error(client.call("GET", path, token=""), 401, 124)["message"] == "Invalid access token."
    error(client.call("GET", path, token="not-a-token"), 401, 124)
    in_query = requests.get(zoom.api_url + path, params={"access_token": client.token()}, timeout=10)
    error(in_query, 401, 124)


def test_tokens_expire_after_their_lifetime(make_zoom, openapi):
    clock = Clock(datetime(2031, 1, 1, 12, 0, tzinfo=UTC))
    fake = make_zoom(token_ttl=600, clock=clock)
    client = Client(fake, openapi)
    assert client.fetch_token().json()["expires_in"] == 600
    webinar = client.webinar()
    clock.now += 599
    assert client.call("GET", f"/webinars/{webinar['id']}").status_code == 200
    clock.now += 1
    error(client.call("GET", f"/webinars/{webinar['id']}"), 401, 124)
    fresh = client.fetch_token().json()["access_token"]
    assert client.call("GET", f"/webinars/{webinar['id']}", token=fresh).status_code == 200


def test_expire_tokens_ends_every_token_now(client, zoom):
    webinar = client.webinar()
    assert zoom.expire_tokens() == 1
    error(client.call("GET", f"/webinars/{webinar['id']}"), 401, 124)


# -- webinars -------------------------------------------------------------------------------------


def test_create_answers_with_zoom_shape_and_secret_links(client, zoom):
    webinar = client.webinar(
        approval_type=1,
        start_time="2031-04-30T15:00:00",  # local time, in the zone below
        timezone="Asia/Seoul",
        # Zoom's API takes local time without Z, but the document's `format: date-time` does not.
        request_valid=False,
        agenda="Opening\nCase study",
    )
    assert isinstance(webinar["id"], int)
    assert len(str(webinar["id"])) == 11
    assert webinar["start_time"] == "2031-04-30T06:00:00Z"  # Zoom answers in UTC
    assert webinar["timezone"] == "Asia/Seoul"
    assert webinar["duration"] == 90
    assert webinar["type"] == 5
    assert webinar["topic"] == "Open data"
    assert webinar["agenda"] == "Opening\nCase study"
    assert webinar["settings"]["approval_type"] == 1
    assert base64.b64decode(webinar["uuid"])
    assert webinar["join_url"] == f"https://us06web.zoom.us/j/{webinar['id']}"
    start = urlsplit(webinar["start_url"])
    assert TOKEN_PATTERN.fullmatch(start.query.removeprefix("zak="))
    assert webinar["registration_url"].startswith("https://us06web.zoom.us/webinar/register/WN_")
    assert zoom.webinar(webinar["id"]) == webinar


def test_create_without_approval_type_means_no_registration(client):
    webinar = client.webinar(approval_type=None)
    assert webinar["settings"]["approval_type"] == 2
    assert "registration_url" not in webinar
    refused = client.add(webinar["id"], "ada@example.org")
    assert (
        error(refused, 400, 3000)["message"] == f"This webinar does not have registration as required: {webinar['id']}."
    )
    error(client.batch(webinar["id"], people(2)), 400, 3000)
    assert client.everyone(webinar["id"], "approved") == []


def test_the_host_may_be_named_me_by_id_or_by_email(make_zoom, openapi):
    fake = make_zoom(user_id="KDcuGIm1QgePTO8WbOqwIQ", host_email="host@example.org")
    client = Client(fake, openapi)
    for user in ("me", "KDcuGIm1QgePTO8WbOqwIQ", "HOST@example.org"):
        assert client.call("POST", f"/users/{user}/webinars", body={"topic": user}).status_code == 201
    unknown = client.call("POST", "/users/nobody@example.org/webinars", body={"topic": "x"})
    assert "nobody@example.org" in error(unknown, 404, 1001)["message"]
    error(client.call("GET", "/users/nobody/webinars"), 404, 1001)


def test_get_and_patch_a_webinar(client):
    webinar = client.webinar()
    patched = client.call(
        "PATCH",
        f"/webinars/{webinar['id']}",
        body={"topic": "Open data, revised", "duration": 120, "settings": {"approval_type": 1}},
    )
    assert patched.status_code == 204
    assert patched.content == b""
    got = client.call("GET", f"/webinars/{webinar['id']}").json()
    assert got["topic"] == "Open data, revised"
    assert got["duration"] == 120
    assert got["settings"]["approval_type"] == 1
    assert got["settings"]["audio"] == webinar["settings"]["audio"]  # settings merge, not replace
    assert got["start_time"] == webinar["start_time"]
    assert got["start_url"] == webinar["start_url"]


def test_a_users_webinars_are_listed(client):
    made = {client.webinar(topic=f"Session {n}")["id"] for n in range(3)}
    listing = client.call("GET", "/users/me/webinars", params={"page_size": 300}).json()
    assert {w["id"] for w in listing["webinars"]} == made
    assert listing["total_records"] == 3
    assert listing["next_page_token"] == ""


def test_a_topic_over_200_characters_fails_validation(client):
    response = client.call("POST", "/users/me/webinars", body={"topic": "x" * 201})
    body = error(response, 400, 300)
    assert body["message"] == "Validation Failed."
    assert [e["field"] for e in body["errors"]] == ["topic"]
    assert client.call("POST", "/users/me/webinars", body={"topic": "x" * 200}).status_code == 201


def test_bad_webinar_fields_are_reported_each(client):
    body = {"type": 7, "duration": -1, "timezone": "Mars/Olympus", "settings": {"approval_type": 3}}
    response = client.call("POST", "/users/me/webinars", body=body, request_valid=False)
    fields = {e["field"] for e in error(response, 400, 300)["errors"]}
    assert fields == {"type", "duration", "timezone", "settings.approval_type"}


def test_an_unknown_webinar_is_3001_and_an_impossible_id_is_http_300(client):
    webinar = client.webinar()
    unknown = webinar["id"] + 1
    assert str(unknown) in error(client.call("GET", f"/webinars/{unknown}"), 404, 3001)["message"]
    error(client.call("PATCH", f"/webinars/{unknown}", body={"topic": "x"}), 404, 3001)
    error(client.listing(unknown), 404, 3001)
    error(client.add(unknown, "ada@example.org"), 404, 3001)
    error(client.batch(unknown, people(1)), 404, 3001)
    # Zoom's document lists no 404 for deleting a registrant: there it is a 400.
    error(client.call("DELETE", f"/webinars/{unknown}/registrants/abc"), 400, 3001)

    impossible = client.call("GET", "/webinars/not-a-number")
    assert error(impossible, 300, 300)["message"] == "Invalid webinar ID."
    assert "Location" not in impossible.headers  # not a redirect, whatever the number says
    error(client.add("99999999999999999999", "ada@example.org", request_valid=False), 300, 300)


def test_a_webinar_can_be_deleted(client):
    webinar = client.webinar()
    assert client.call("DELETE", f"/webinars/{webinar['id']}").status_code == 204
    error(client.call("GET", f"/webinars/{webinar['id']}"), 404, 3001)


# -- registrants ----------------------------------------------------------------------------------


def test_adding_a_registrant_gives_a_personal_secret_join_link(client, zoom):
    webinar = client.webinar()
    response = client.add(webinar["id"], "ada@example.org", extra={"last_name": "Lovelace", "org": "Analytical"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "registrant_id", "join_url", "topic", "start_time"}
    assert body["id"] == webinar["id"]
    assert body["topic"] == webinar["topic"]
    assert body["start_time"] == webinar["start_time"]
    link = urlsplit(body["join_url"])
    assert (link.scheme, link.netloc, link.path) == ("https", "us06web.zoom.us", f"/w/{webinar['id']}")
    assert link.query.startswith("tk=")
    assert TOKEN_PATTERN.fullmatch(link.query[3:])
    assert len(body["registrant_id"]) >= 20
    [listed] = client.everyone(webinar["id"], "approved")
    assert listed["email"] == "ada@example.org"
    assert listed["org"] == "Analytical"
    assert listed["last_name"] == "Lovelace"
    assert listed["status"] == "approved"


def test_adding_the_same_address_again_returns_the_same_registrant(client, zoom):
    webinar = client.webinar()
    first = client.add(webinar["id"], "ada@example.org").json()
    again = client.add(webinar["id"], "Ada@Example.org").json()
    assert again["registrant_id"] == first["registrant_id"]
    assert again["join_url"] == first["join_url"]
    assert len(zoom.registrants(webinar["id"])) == 1
    assert zoom.newly_registered(webinar["id"]) == {"ada@example.org": 1}
    assert zoom.re_added(webinar["id"]) == {"ada@example.org": 1}


def test_registrant_ids_and_links_are_random(client):
    webinar = client.webinar()
    added = [client.add(webinar["id"], f"p{n}@example.org").json() for n in range(5)]
    assert len({a["registrant_id"] for a in added}) == 5
    assert len({a["join_url"] for a in added}) == 5


def test_a_registrant_without_email_or_first_name_fails_validation(client):
    webinar = client.webinar()
    path = f"/webinars/{webinar['id']}/registrants"
    for body, field in (
        ({"first_name": "Ada"}, "email"),
        ({"email": "ada@example.org"}, "first_name"),
        ({"email": "ada@example.org", "first_name": "x" * 65}, "first_name"),
    ):
        response = client.call("POST", path, body=body, request_valid=False)
        assert [e["field"] for e in error(response, 400, 300)["errors"]] == [field]
    not_an_address = client.call("POST", path, body={"email": "ada", "first_name": "Ada"}, request_valid=None)
    assert [e["field"] for e in error(not_an_address, 400, 300)["errors"]] == ["email"]
    assert client.everyone(webinar["id"], "approved") == []


def test_a_manual_webinar_holds_api_registrants_as_pending(client):
    webinar = client.webinar(approval_type=1)
    client.add(webinar["id"], "ada@example.org")
    assert [r["email"] for r in client.everyone(webinar["id"], "pending")] == ["ada@example.org"]
    assert client.everyone(webinar["id"], "approved") == []


def test_a_batch_of_30_registers_everyone(client, zoom):
    webinar = client.webinar(approval_type=1)
    response = client.batch(webinar["id"], people(30), auto_approve=True)
    assert response.status_code == 201
    answered = response.json()["registrants"]
    assert [a["email"] for a in answered] == [p["email"] for p in people(30)]
    assert all(set(a) == {"email", "join_url", "registrant_id"} for a in answered)
    assert len({a["registrant_id"] for a in answered}) == 30
    assert len(client.everyone(webinar["id"], "approved")) == 30  # auto_approve overrides manual approval

    pending = client.batch(webinar["id"], people(35, start=30), auto_approve=False)
    assert pending.status_code == 201
    assert len(client.everyone(webinar["id"], "pending")) == 5
    assert max(zoom.newly_registered(webinar["id"]).values()) == 1


def test_a_batch_over_30_is_refused_whole(client, zoom):
    webinar = client.webinar()
    # Zoom's document sets no maxItems here, so the request itself passes its schema.
    response = client.batch(webinar["id"], people(31))
    assert [e["field"] for e in error(response, 400, 300)["errors"]] == ["registrants"]
    assert zoom.registrants(webinar["id"]) == []


def test_a_batch_with_one_bad_entry_is_refused_whole(client, zoom):
    webinar = client.webinar()
    batch = [*people(3), {"email": "no-name@example.org"}]
    response = client.batch(webinar["id"], batch, request_valid=False)
    assert [e["field"] for e in error(response, 400, 300)["errors"]] == ["registrants[3].first_name"]
    assert zoom.registrants(webinar["id"]) == []


def test_batches_are_for_scheduled_webinars_only(client):
    webinar = client.webinar(type=9, recurrence={"type": 1, "repeat_interval": 1, "end_times": 2})
    response = client.batch(webinar["id"], people(2))
    assert "type 5" in error(response, 400, 300)["message"]
    assert client.add(webinar["id"], "ada@example.org").status_code == 201  # one by one still works


@pytest.mark.parametrize("status", ["approved", "pending", "denied"])
def test_listing_pages_through_next_page_token_for_each_status(client, status):
    webinar = client.webinar(approval_type=1)
    for start in range(0, 65, 30):
        client.batch(webinar["id"], people(min(start + 30, 65), start), auto_approve=status == "approved")
    if status == "denied":
        emails = [{"email": p["email"]} for p in people(65)]
        for start in range(0, 65, 30):
            body = {"action": "deny", "registrants": emails[start : start + 30]}
            client.call("PUT", f"/webinars/{webinar['id']}/registrants/status", body=body)

    first = client.listing(webinar["id"], status=status, page_size=30).json()
    assert (first["page_size"], first["total_records"], first["page_count"]) == (30, 65, 3)
    assert len(first["registrants"]) == 30
    assert first["next_page_token"]
    paged = client.everyone(webinar["id"], status, page_size=30)
    assert [r["email"] for r in paged] == [p["email"] for p in people(65)]
    assert {r["status"] for r in paged} == {status}

    whole = client.listing(webinar["id"], status=status, page_size=300).json()
    assert len(whole["registrants"]) == 65
    assert whole["next_page_token"] == ""
    assert whole["page_count"] == 1


def test_the_listing_shows_approved_people_by_default(client):
    webinar = client.webinar(approval_type=1)
    client.batch(webinar["id"], people(2), auto_approve=True)
    client.batch(webinar["id"], people(5, 2), auto_approve=False)
    listing = client.listing(webinar["id"]).json()
    assert listing["page_size"] == 30
    assert listing["total_records"] == 2


def test_a_page_size_over_300_is_refused(client):
    webinar = client.webinar()
    response = client.call(
        "GET", f"/webinars/{webinar['id']}/registrants", params={"page_size": 301}, request_valid=False
    )
    assert [e["field"] for e in error(response, 400, 300)["errors"]] == ["page_size"]


def test_a_stale_or_foreign_page_token_is_refused(client):
    webinar = client.webinar()
    client.batch(webinar["id"], people(3))
    token = client.listing(webinar["id"], page_size=1).json()["next_page_token"]
    error(client.listing(webinar["id"], status="pending", page_size=1, next_page_token=token), 400, 300)
    error(client.listing(webinar["id"], page_size=1, next_page_token="made-up"), 400, 300)


def test_status_update_approves_denies_and_cancels(client, zoom):
    webinar = client.webinar(approval_type=1)
    ids = {a["email"]: a["registrant_id"] for a in client.batch(webinar["id"], people(3)).json()["registrants"]}
    path = f"/webinars/{webinar['id']}/registrants/status"
    approve = {
        "action": "approve",
        "registrants": [{"id": ids["person0@example.org"]}, {"email": "person1@example.org"}],
    }
    assert client.call("PUT", path, body=approve).status_code == 204
    deny = {"action": "deny", "registrants": [{"email": "person2@example.org"}]}
    assert client.call("PUT", path, body=deny).status_code == 204
    cancel = {"action": "cancel", "registrants": [{"id": ids["person0@example.org"], "email": "person0@example.org"}]}
    assert client.call("PUT", path, body=cancel).status_code == 204

    assert [r["email"] for r in client.everyone(webinar["id"], "approved")] == ["person1@example.org"]
    denied = client.everyone(webinar["id"], "denied")
    assert sorted(r["email"] for r in denied) == ["person0@example.org", "person2@example.org"]
    cancelled = {r["email"]: r["cancelled"] for r in zoom.registrants(webinar["id"])}
    assert cancelled == {"person0@example.org": True, "person1@example.org": False, "person2@example.org": False}


def test_status_update_refuses_bad_actions_and_more_than_30(client):
    webinar = client.webinar()
    path = f"/webinars/{webinar['id']}/registrants/status"
    error(client.call("PUT", path, body={"action": "ban"}, request_valid=False), 400, 300)
    too_many = {"action": "cancel", "registrants": [{"email": p["email"]} for p in people(31)]}
    # The document writes `maximum: 30` on the array, which limits nothing: the request passes it.
    error(client.call("PUT", path, body=too_many), 400, 300)


def test_re_adding_a_cancelled_registrant_opens_the_registration_again(client):
    webinar = client.webinar()
    first = client.add(webinar["id"], "ada@example.org").json()
    body = {"action": "cancel", "registrants": [{"id": first["registrant_id"]}]}
    client.call("PUT", f"/webinars/{webinar['id']}/registrants/status", body=body)
    again = client.add(webinar["id"], "ada@example.org").json()
    assert again["registrant_id"] == first["registrant_id"]
    assert [r["email"] for r in client.everyone(webinar["id"], "approved")] == ["ada@example.org"]


def test_deleting_a_registrant(client, zoom):
    webinar = client.webinar()
    added = client.add(webinar["id"], "ada@example.org").json()
    path = f"/webinars/{webinar['id']}/registrants/{added['registrant_id']}"
    assert client.call("GET", path).json()["email"] == "ada@example.org"
    assert client.call("DELETE", path).status_code == 204
    assert client.everyone(webinar["id"], "approved") == []
    assert added["registrant_id"] in error(client.call("DELETE", path), 400, 3000)["message"]
    # Registered again after a delete, they are new: a second registration, honestly counted.
    assert client.add(webinar["id"], "ada@example.org").json()["registrant_id"] != added["registrant_id"]
    assert zoom.newly_registered(webinar["id"]) == {"ada@example.org": 2}


def test_status_update_refuses_unknown_registrants_and_changes_nobody(client, zoom):
    webinar = client.webinar(approval_type=1)
    client.batch(webinar["id"], people(2))
    response = client.decide(webinar["id"], "approve", [{"email": "person0@example.org"}, {"id": "not-a-registrant"}])
    assert "not-a-registrant" in error(response, 400, 3000)["message"]
    response = client.decide(webinar["id"], "cancel", [{"email": "nobody@example.org"}])
    assert "nobody@example.org" in error(response, 400, 3000)["message"]
    assert {r["status"] for r in zoom.registrants(webinar["id"])} == {"pending"}


def test_an_approved_registration_is_cancelled_not_denied(client, zoom):
    webinar = client.webinar(approval_type=1)
    client.batch(webinar["id"], people(3))
    assert client.decide(webinar["id"], "approve", [{"email": "person1@example.org"}]).status_code == 204
    deny = [{"email": "person0@example.org"}, {"email": "person1@example.org"}]
    refused = error(client.decide(webinar["id"], "deny", deny), 400, 300)
    assert [e["field"] for e in refused["errors"]] == ["registrants[1]"]
    statuses = {r["email"]: r["status"] for r in zoom.registrants(webinar["id"])}
    assert statuses == {
        "person0@example.org": "pending",
        "person1@example.org": "approved",
        "person2@example.org": "pending",
    }
    # Deciding again what is already decided changes nothing and is no error: a retry is safe.
    assert client.decide(webinar["id"], "approve", [{"email": "person1@example.org"}]).status_code == 204
    assert client.decide(webinar["id"], "deny", [{"email": "person0@example.org"}]).status_code == 204
    assert client.decide(webinar["id"], "deny", [{"email": "person0@example.org"}]).status_code == 204
    # A denied registration may still be approved, as on Zoom's site.
    assert client.decide(webinar["id"], "approve", [{"email": "person0@example.org"}]).status_code == 204
    assert {r["email"] for r in client.everyone(webinar["id"], "approved")} == {
        "person0@example.org",
        "person1@example.org",
    }


# -- registration questions -----------------------------------------------------------------------

FORM = {
    "questions": [{"field_name": "org", "required": True}, {"field_name": "job_title", "required": False}],
    "custom_questions": [
        {"title": "What do you hope to learn?", "type": "short", "required": True},
        {"title": "Which session?", "type": "single_radio", "required": False, "answers": ["Morning", "Evening"]},
        {"title": "Topics", "type": "multiple", "required": False, "answers": ["Data", "Maps", "Law"]},
    ],
}


def test_a_new_webinar_asks_nothing_beyond_email_and_first_name(client):
    webinar = client.webinar()
    response = client.questions(webinar["id"])
    assert response.status_code == 200
    assert response.json() == {"questions": [], "custom_questions": []}


def test_registration_questions_are_replaced_and_read_back_in_zooms_shapes(client):
    webinar = client.webinar()
    assert client.ask(webinar["id"], FORM).status_code == 204
    assert client.questions(webinar["id"]).json() == FORM

    fewer = {"custom_questions": [{"title": "Which city?", "type": "single_dropdown", "answers": ["Oslo", "Lima"]}]}
    assert client.ask(webinar["id"], fewer).status_code == 204
    now = client.questions(webinar["id"]).json()
    assert now["questions"] == FORM["questions"], "a list left out of the update stays"
    assert now["custom_questions"] == [
        {"title": "Which city?", "type": "single_dropdown", "required": False, "answers": ["Oslo", "Lima"]}
    ]
    assert client.ask(webinar["id"], {"questions": [], "custom_questions": []}).status_code == 204
    assert client.questions(webinar["id"]).json() == {"questions": [], "custom_questions": []}


def test_registration_questions_of_an_unknown_webinar_are_3001(client):
    error(client.questions(12345678901), 404, 3001)
    error(client.ask(12345678901, FORM), 404, 3001)
    error(client.questions("not-an-id", request_valid=False), 300, 300)


def test_a_bad_registration_form_is_refused_field_by_field_and_changes_nothing(client):
    webinar = client.webinar()
    client.ask(webinar["id"], FORM)
    for form, request_valid, fields in (
        ({"questions": [{"field_name": "email", "required": True}]}, False, ["questions[0].field_name"]),
        ({"questions": [{"field_name": "org", "required": "yes"}]}, False, ["questions[0].required"]),
        ({"custom_questions": [{"title": "Why?", "type": "essay"}]}, False, ["custom_questions[0].type"]),
        ({"custom_questions": "Why?"}, False, ["custom_questions"]),
        ({"custom_questions": [{"type": "short"}]}, True, ["custom_questions[0].title"]),
        (
            {"custom_questions": [{"title": "Why?", "type": "short", "answers": ["Because"]}]},
            True,
            ["custom_questions[0].answers"],
        ),
        ({"custom_questions": [{"title": "Which?", "type": "single_radio"}]}, True, ["custom_questions[0].answers"]),
        ({"questions": [{"field_name": "org"}, {"field_name": "org"}]}, True, ["questions[1]"]),
        ({"questions": [{"field_name": ["org"]}]}, False, ["questions[0].field_name"]),
        (
            {"custom_questions": [{"title": "Which?", "type": "multiple", "answers": 5}]},
            False,
            ["custom_questions[0].answers"],
        ),
    ):
        response = client.ask(webinar["id"], form, request_valid=request_valid)
        assert [e["field"] for e in error(response, 400, 300)["errors"]] == fields, form
    assert client.questions(webinar["id"]).json() == FORM


def test_registration_questions_need_registration_on(client):
    webinar = client.webinar(approval_type=None)
    assert "registration" in error(client.ask(webinar["id"], FORM), 400, 3000)["message"]


def test_answers_to_the_questions_come_back_with_the_registrant(client):
    webinar = client.webinar()
    client.ask(webinar["id"], FORM)
    answers = [
        {"title": "What do you hope to learn?", "value": "How others publish budgets"},
        {"title": "Which session?", "value": "Evening"},
        {"title": "Topics", "value": "Data,Law"},
    ]
    added = client.add(webinar["id"], "ada@example.org", extra={"org": "Analytical", "custom_questions": answers})
    assert added.status_code == 201, added.text
    [listed] = client.everyone(webinar["id"], "approved")
    assert listed["custom_questions"] == answers
    assert listed["org"] == "Analytical"
    one = client.call("GET", f"/webinars/{webinar['id']}/registrants/{added.json()['registrant_id']}").json()
    assert one["custom_questions"] == answers


def test_a_registration_must_answer_what_the_form_requires(client, zoom):
    webinar = client.webinar()
    client.ask(webinar["id"], FORM)
    learn = {"title": "What do you hope to learn?", "value": "Maps"}
    for extra, fields in (
        ({"custom_questions": [learn]}, ["org"]),
        ({"org": "Analytical"}, ["custom_questions.What do you hope to learn?"]),
        (
            {"org": "Analytical", "custom_questions": [learn, {"title": "Which session?", "value": "Noon"}]},
            ["custom_questions.Which session?"],
        ),
    ):
        response = client.add(webinar["id"], "ada@example.org", extra=extra)
        assert [e["field"] for e in error(response, 400, 300)["errors"]] == fields
    with pytest.raises(ZoomRefusal) as refused:
        zoom.add_registrant_from_zoom_page(webinar["id"], "walk.in@example.org", "Walk", org="Walkers")
    assert [e["field"] for e in refused.value.errors] == ["custom_questions.What do you hope to learn?"]
    assert zoom.registrants(webinar["id"]) == []
    # A batch's entries carry no answers: it is not held to the form.
    assert client.batch(webinar["id"], people(2)).status_code == 201


# -- rate limits ----------------------------------------------------------------------------------


def _request_of(client: Client, category: str, webinar_id: int) -> requests.Response:
    if category == LIGHT:
        return client.call("GET", f"/webinars/{webinar_id}")
    if category == MEDIUM:
        return client.listing(webinar_id)
    return client.batch(webinar_id, [])


@pytest.mark.parametrize("category", [LIGHT, MEDIUM, HEAVY])
def test_over_the_per_second_rate_gives_429_with_zoom_headers(make_zoom, openapi, category):
    fake = make_zoom(plan="free")
    client = Client(fake, openapi)
    webinar = client.webinar()
    limit = fakezoom.PER_SECOND["free"][category]
    fresh_second()
    with client.burst():
        answers = [_request_of(client, category, webinar["id"]) for _ in range(limit + 1)]
    assert [a.status_code for a in answers[:limit]] == [answers[0].status_code] * limit
    assert answers[0].status_code < 300
    over = answers[-1]
    body = error(over, 429, 429)
    assert body["message"] == "You have reached the maximum per-second rate limit for this API. Try again later."
    assert over.headers["X-RateLimit-Category"] == category
    assert over.headers["X-RateLimit-Type"] == "QPS"
    assert over.headers["X-RateLimit-Limit"] == str(limit)
    assert over.headers["X-RateLimit-Remaining"] == "0"
    assert fake.throttled == {"QPS": 1}


def test_under_the_per_second_rate_nothing_is_refused(make_zoom, openapi):
    fake = make_zoom(plan="pro")
    client = Client(fake, openapi)
    webinar = client.webinar()
    fresh_second()
    with client.burst():
        answers = [client.call("GET", f"/webinars/{webinar['id']}") for _ in range(30)]
        answers += [client.batch(webinar["id"], []) for _ in range(10)]
        answers += [client.listing(webinar["id"]) for _ in range(20)]
    assert {a.status_code for a in answers} == {200, 201}
    assert fake.throttled == {}
    fresh_second()  # a new second, a new allowance
    assert client.batch(webinar["id"], []).status_code == 201


def test_the_free_plans_daily_cap_per_category(make_zoom, openapi, monkeypatch):
    # The real cap (1,000 heavy calls a day at 1 a second) would take a quarter of an hour.
    monkeypatch.setitem(fakezoom.PER_DAY["free"], HEAVY, 1)
    fake = make_zoom(plan="free")
    client = Client(fake, openapi)
    webinar = client.webinar()
    assert client.batch(webinar["id"], []).status_code == 201
    fresh_second()  # past the per-second limit, so that only the daily one speaks
    over = client.batch(webinar["id"], [])
    assert error(over, 429, 429)["message"].startswith("You have reached the maximum daily rate limit")
    assert over.headers["X-RateLimit-Type"] == "Daily-limit"
    assert over.headers["X-RateLimit-Category"] == HEAVY
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", over.headers["Retry-After"])


def test_an_address_may_be_added_three_times_a_day(make_zoom, openapi):
    clock = Clock(datetime(2020, 5, 30, 15, 0, tzinfo=UTC))
    fake = make_zoom(clock=clock)
    client = Client(fake, openapi)
    webinar = client.webinar()
    for _ in range(2):
        assert client.add(webinar["id"], "ada@example.org").status_code == 201
    assert client.batch(webinar["id"], [{"email": "ada@example.org", "first_name": "Ada"}]).status_code == 201

    fourth = client.add(webinar["id"], "ada@example.org")
    assert error(fourth, 429, 429)["message"] == (
        "You have exceeded the daily rate limit (3) for Add a webinar registrant API requests for the "
        "registrant (ada@example.org). You can resume these API requests at GMT 00:00:00."
    )
    assert fourth.headers["X-RateLimit-Type"] == "Daily-limit"
    assert fourth.headers["Retry-After"] == "2020-05-31T00:00:00Z"
    assert fourth.headers["X-RateLimit-Limit"] == "3"
    assert fourth.headers["X-RateLimit-Remaining"] == "0"

    # A batch holding that address is refused whole: nobody else in it is registered.
    batch = client.batch(webinar["id"], [*people(2), {"email": "ada@example.org", "first_name": "Ada"}])
    assert error(batch, 429, 429)["message"].startswith("You have exceeded the daily rate limit (3) for Perform batch")
    assert batch.headers["X-RateLimit-Category"] == HEAVY
    assert [r["email"] for r in fake.registrants(webinar["id"])] == ["ada@example.org"]
    assert fake.throttled == {"Daily-limit": 2}

    clock.set(datetime(2020, 5, 31, 0, 0, 1, tzinfo=UTC))
    client._token = None  # the old token's hour is over too
    assert client.add(webinar["id"], "ada@example.org").status_code == 201


def test_a_host_may_create_or_update_100_times_a_day(make_zoom, openapi):
    fake = make_zoom(plan="business")
    client = Client(fake, openapi)
    webinar = client.webinar()
    fresh_second()
    for n in range(99):
        if n % 70 == 69:
            fresh_second()  # stay under Business's 80 light calls a second
        assert client.call("PATCH", f"/webinars/{webinar['id']}", body={"duration": n}).status_code == 204
    over = client.call("PATCH", f"/webinars/{webinar['id']}", body={"duration": 1})
    assert "(100) of Create/Update webinar" in error(over, 429, 429)["message"]
    assert over.headers["X-RateLimit-Type"] == "Daily-limit"
    error(client.call("POST", "/users/me/webinars", body={"topic": "one more"}), 429, 429)
    assert client.call("GET", f"/webinars/{webinar['id']}").json()["duration"] == 98


def test_3000_registrations_in_batches_go_through_quickly(make_zoom, openapi):
    fake = make_zoom(plan="business")
    client = Client(fake, openapi)
    webinar = client.webinar()
    batches = [people(start + 30, start) for start in range(0, 3000, 30)]
    heavy = fakezoom.PER_SECOND["business"][HEAVY]
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for start in range(0, len(batches), heavy):
            fresh_second()
            group = batches[start : start + heavy]
            statuses = list(pool.map(lambda b: client.batch(webinar["id"], b, request_valid=None).status_code, group))
            assert set(statuses) == {201}
    assert time.monotonic() - began < 10
    assert len(client.everyone(webinar["id"], "approved")) == 3000
    assert set(fake.newly_registered(webinar["id"]).values()) == {1}
    assert fake.throttled == {}


# -- faults ---------------------------------------------------------------------------------------


def test_server_errors_by_countdown_apply_nothing(client, zoom):
    webinar = client.webinar()
    zoom.set_faults(error_next=2, error_statuses=[503])
    for _ in range(2):
        body = error(client.add(webinar["id"], "ada@example.org"), 503, 503)
        assert "try again" in body["message"].lower()
    assert zoom.registrants(webinar["id"]) == []
    assert client.add(webinar["id"], "ada@example.org").status_code == 201
    assert zoom.faults_injected == {"error": 2}
    assert zoom.faults["error_next"] == 0
    assert [r.fault for r in zoom.requests[-3:]] == ["error", "error", None]


def test_server_errors_by_probability_are_500_or_503(make_zoom, openapi):
    fake = make_zoom(seed=3, faults={"error_rate": 1.0})
    client = Client(fake, openapi)
    statuses = {client.call("GET", "/users/me/webinars").status_code for _ in range(20)}
    assert statuses == {500, 503}


def test_the_same_seed_gives_the_same_faults(make_zoom, openapi):
    def statuses(seed: int) -> list[int]:
        fake = make_zoom(seed=seed, faults={"error_rate": 0.5})
        client = Client(fake, openapi)
        return [client.call("GET", "/users/me/webinars").status_code for _ in range(16)]

    first = statuses(7)
    assert first == statuses(7)
    assert 200 in first
    assert set(first) - {200}


def test_a_slow_answer_may_outlast_the_clients_patience_and_still_apply(client, zoom):
    webinar = client.webinar()
    zoom.set_faults(slow_next=1, slow_seconds=0.4)
    began = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        client.add(webinar["id"], "ada@example.org", timeout=0.1)
    assert time.monotonic() - began < 0.4
    time.sleep(0.5)
    assert [r["email"] for r in zoom.registrants(webinar["id"])] == ["ada@example.org"]

    zoom.set_faults(slow_next=1, slow_seconds=0.3)
    began = time.monotonic()
    assert client.call("GET", f"/webinars/{webinar['id']}").status_code == 200
    assert time.monotonic() - began >= 0.3


def test_a_dropped_connection_answers_nothing_and_applies_nothing(client, zoom):
    webinar = client.webinar()
    zoom.set_faults(drop_next=1)
    with pytest.raises(requests.ConnectionError):
        client.add(webinar["id"], "ada@example.org")
    assert zoom.registrants(webinar["id"]) == []
    last = zoom.requests[-1]
    assert (last.status, last.fault, last.tracking_id) == (None, "drop", None)
    assert client.add(webinar["id"], "ada@example.org").status_code == 201


def test_a_lost_batch_answer_still_registers_everyone(client, zoom):
    webinar = client.webinar()
    zoom.set_faults(lost_batch_next=1)
    with pytest.raises(requests.ConnectionError):
        client.batch(webinar["id"], people(30))
    assert len(zoom.registrants(webinar["id"])) == 30  # the client saw nothing, Zoom holds them all
    assert zoom.requests[-1].fault == "lost_batch"
    assert zoom.requests[-1].status is None

    again = client.batch(webinar["id"], people(30))  # what a naive client does next
    assert again.status_code == 201
    by_email = {r["email"]: r["id"] for r in zoom.registrants(webinar["id"])}
    assert {a["email"]: a["registrant_id"] for a in again.json()["registrants"]} == by_email
    assert set(zoom.newly_registered(webinar["id"]).values()) == {1}
    assert set(zoom.re_added(webinar["id"]).values()) == {1}


def test_lost_batch_faults_spare_other_operations(client, zoom):
    webinar = client.webinar()
    zoom.set_faults(lost_batch_rate=1.0)
    assert client.add(webinar["id"], "ada@example.org").status_code == 201
    assert client.listing(webinar["id"]).status_code == 200
    assert zoom.faults_injected == {}


def test_faults_never_touch_oauth_or_the_admin_endpoints(client, zoom):
    zoom.set_faults(error_rate=1.0, drop_rate=1.0)
    assert client.fetch_token().status_code == 200
    assert requests.get(f"{zoom.url}/_fake/state", timeout=10).status_code == 200


def test_faults_set_at_construction_and_reset(make_zoom, openapi):
    fake = make_zoom(faults={"error_next": 1, "error_statuses": [500]})
    client = Client(fake, openapi)
    error(client.call("GET", "/users/me/webinars"), 500, 500)
    fake.set_faults(error_rate=1.0)
    fake.set_faults(reset=True)
    assert client.call("GET", "/users/me/webinars").status_code == 200
    with pytest.raises(ValueError, match="unknown fault"):
        fake.set_faults(eror_rate=1.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        fake.set_faults(error_rate=2)


# -- the admin endpoints --------------------------------------------------------------------------


def test_faults_are_steered_over_http(client, zoom):
    answer = requests.post(f"{zoom.url}/_fake/faults", json={"error_next": 1, "error_statuses": [503]}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["faults"]["error_next"] == 1
    assert requests.get(f"{zoom.url}/_fake/faults", timeout=10).json()["faults"]["error_statuses"] == [503]
    error(client.call("GET", "/users/me/webinars"), 503, 503)
    bad = requests.post(f"{zoom.url}/_fake/faults", json={"drop_next": -1}, timeout=10)
    assert bad.status_code == 400
    reset = requests.post(f"{zoom.url}/_fake/faults", json={"reset": True, "seed": 4}, timeout=10)
    assert reset.json()["faults"]["error_next"] == 0


def test_sign_ups_on_zooms_own_page(client, zoom):
    automatic, manual, closed = client.webinar(0), client.webinar(1), client.webinar(None)
    signup = {"email": "grace@example.org", "first_name": "Grace", "last_name": "Hopper"}
    made = requests.post(f"{zoom.url}/_fake/webinars/{automatic['id']}/registrants", json=signup, timeout=10)
    assert made.status_code == 201
    assert made.json()["status"] == "approved"
    assert made.headers["x-zm-trackingid"]
    assert zoom.add_registrant_from_zoom_page(manual["id"], "linus@example.org", "Linus")["status"] == "pending"

    assert [r["email"] for r in client.everyone(automatic["id"], "approved")] == ["grace@example.org"]
    assert [r["email"] for r in client.everyone(manual["id"], "pending")] == ["linus@example.org"]
    refused = requests.post(f"{zoom.url}/_fake/webinars/{closed['id']}/registrants", json=signup, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["code"] == 3000
    with pytest.raises(ZoomRefusal) as caught:
        zoom.add_registrant_from_zoom_page(closed["id"], "ada@example.org", "Ada")
    assert caught.value.code == 3000
    missing = requests.post(f"{zoom.url}/_fake/webinars/{automatic['id']}/registrants", json={}, timeout=10)
    assert missing.status_code == 400


def test_state_shows_webinars_registrants_and_counters(client, zoom):
    webinar = client.webinar()
    client.batch(webinar["id"], people(2))
    client.add(webinar["id"], "person0@example.org")
    state = requests.get(f"{zoom.url}/_fake/state", timeout=10).json()
    [held] = state["webinars"]
    assert held["id"] == webinar["id"]
    assert [r["email"] for r in held["registrants"]] == [
        "person0@example.org",
        "person1@example.org",
    ]
    counters = state["counters"]
    assert counters["newly_registered"] == {str(webinar["id"]): {"person0@example.org": 1, "person1@example.org": 1}}
    assert counters["re_added"] == {str(webinar["id"]): {"person0@example.org": 1}}
    assert counters["tokens_issued"] == 1
    assert counters["requests"] == len(zoom.requests)
    assert state["plan"] == "pro"
    assert state["faults"]["error_rate"] == 0.0


def test_tokens_are_expired_over_http(client, zoom):
    webinar = client.webinar()
    answer = requests.post(f"{zoom.url}/_fake/expire-tokens", timeout=10)
    assert answer.json() == {"expired": 1}
    error(client.call("GET", f"/webinars/{webinar['id']}"), 401, 124)


def test_every_request_is_logged_without_its_authorization(client, zoom):
    webinar = client.webinar()
    client.listing(webinar["id"], status="pending", page_size=5)
    logged = zoom.requests[-1]
    assert (logged.method, logged.path, logged.status) == ("GET", f"/v2/webinars/{webinar['id']}/registrants", 200)
    assert logged.query == {"status": "pending", "page_size": "5"}
    assert all(name.lower() != "authorization" for name in logged.headers)
    created = zoom.requests[-2]
    assert created.body["topic"] == "Open data"
    assert created.status == 201
    zoom.clear_requests()
    assert zoom.requests == []


def test_stop_closes_kept_alive_connections(make_zoom, openapi):
    fake = make_zoom()
    client = Client(fake, openapi)
    state_url = f"{fake.url}/_fake/state"
    assert client.session.get(state_url, timeout=10).status_code == 200  # leaves a kept-alive connection
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        client.session.get(state_url, timeout=10)


def test_threads_share_the_fake_safely(client, zoom):
    webinar = client.webinar()
    emails = [f"p{n}@example.org" for n in range(20)]
    barrier = threading.Barrier(len(emails))

    def add(email: str) -> int:
        session = Client(zoom, client.openapi)
        session._token = client.token()
        barrier.wait()
        return session.add(webinar["id"], email).status_code

    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        assert set(pool.map(add, emails)) == {201}
    assert sorted(r["email"] for r in zoom.registrants(webinar["id"])) == sorted(emails)


# -- the command ------------------------------------------------------------------------------


def test_the_fake_zoom_command_serves_until_sigterm(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "webinar_ops", "fake-zoom", "--port", "0", "--plan", "free", "--seed", "5"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        printed = dict(process.stdout.readline().strip().split("=", 1) for _ in range(6))
        assert set(printed) == {
            "ZOOM_API_BASE_URL",
            "ZOOM_OAUTH_URL",
            "ZOOM_ACCOUNT_ID",
            "ZOOM_CLIENT_ID",
            "ZOOM_CLIENT_SECRET",
            "ZOOM_PLAN",
        }
        assert printed["ZOOM_PLAN"] == "free"
        token = requests.post(
            printed["ZOOM_OAUTH_URL"],
            auth=(printed["ZOOM_CLIENT_ID"], printed["ZOOM_CLIENT_SECRET"]),
            data={"grant_type": "account_credentials", "account_id": printed["ZOOM_ACCOUNT_ID"]},
            timeout=10,
        )
        assert token.status_code == 200
        listing = requests.get(
            f"{printed['ZOOM_API_BASE_URL']}/users/me/webinars",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=10,
        )
        assert listing.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "GET /v2/users/me/webinars 200" in stderr
    assert "has stopped" in stderr


# -- after the end: participants, absentees and the report --------------------------------------

START = datetime(2031, 4, 30, 6, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """An instant so many minutes after the start."""
    return START + timedelta(minutes=minutes)


@pytest.fixture
def past(make_zoom, openapi):
    """A client, and a webinar of three approved registrants that ended at minute 90: Ana came
    twice, Bob once through his own link from another address, Cy not at all."""
    clock = Clock(at(-60))
    fake = make_zoom(seed=2, clock=clock, token_ttl=7 * 86400)  # the clock moves by hours
    client = Client(fake, openapi)
    webinar = client.webinar(0)
    ids = {
        email: client.add(webinar["id"], email).json()["registrant_id"]
        for email in ("ana@x.org", "bob@x.org", "cy@x.org")
    }
    fake.attend(webinar["id"], "ana@x.org", at(0), at(20))
    fake.attend(webinar["id"], "ana@x.org", at(30), at(90))
    fake.attend(webinar["id"], "bob@home.example", at(5), at(65), registrant_id=ids["bob@x.org"])
    fake.end_webinar(webinar["id"], at(90))
    clock.set(at(90) + timedelta(seconds=fakezoom.REPORT_DELAY))
    return client, clock, webinar["id"], ids


def test_past_participants_list_each_session_once_the_report_is_ready(past):
    client, _, webinar_id, ids = past
    listed = client.call("GET", f"/past_webinars/{webinar_id}/participants").json()

    rows = [(p["user_email"], p.get("registrant_id"), p["join_time"], p["duration"]) for p in listed["participants"]]
    assert rows == [
        ("ana@x.org", ids["ana@x.org"], "2031-04-30T06:00:00Z", 20 * 60),
        ("ana@x.org", ids["ana@x.org"], "2031-04-30T06:30:00Z", 60 * 60),
        ("bob@home.example", ids["bob@x.org"], "2031-04-30T06:05:00Z", 60 * 60),
    ]
    assert (listed["total_records"], listed["page_count"], listed["next_page_token"]) == (3, 1, "")


def test_participant_lists_answer_3001_until_some_time_after_the_end(past):
    client, clock, webinar_id, _ = past
    for moment in (at(60), at(90), at(90) + timedelta(seconds=fakezoom.REPORT_DELAY - 1)):
        clock.set(moment)
        for path in (
            "/past_webinars/{}/participants",
            "/past_webinars/{}/absentees",
            "/report/webinars/{}/participants",
        ):
            body = error(client.call("GET", path.format(webinar_id)), 404, 3001)
            assert body["message"] == "Meeting ID is invalid or not end."


def test_participant_lists_page_through_next_page_token(past):
    client, _, webinar_id, _ = past
    found, token, pages = [], "", 0
    while True:
        params = {"page_size": 2, **({"next_page_token": token} if token else {})}
        page = client.call("GET", f"/past_webinars/{webinar_id}/participants", params=params).json()
        found += [p["user_email"] for p in page["participants"]]
        pages, token = pages + 1, page["next_page_token"]
        if not token:
            break
    assert (pages, found) == (2, ["ana@x.org", "ana@x.org", "bob@home.example"])
    over = client.call(
        "GET", f"/past_webinars/{webinar_id}/participants", params={"page_size": 301}, request_valid=False
    )
    error(over, 400, 300)


def test_absentees_are_the_approved_registrants_who_never_came(past):
    client, _, webinar_id, ids = past
    listed = client.call("GET", f"/past_webinars/{webinar_id}/absentees").json()
    assert [(r["id"], r["email"]) for r in listed["registrants"]] == [(ids["cy@x.org"], "cy@x.org")]

    closed = client.webinar(None)
    client.fake.end_webinar(closed["id"], at(0))
    error(client.call("GET", f"/past_webinars/{closed['id']}/absentees"), 400, 3000)


def test_the_report_names_registrant_ids_only_when_asked(past):
    client, _, webinar_id, ids = past
    path = f"/report/webinars/{webinar_id}/participants"
    plain = client.call("GET", path).json()["participants"]
    asked = client.call("GET", path, params={"include_fields": "registrant_id"}).json()["participants"]

    assert [p.get("registrant_id") for p in plain] == [None, None, None]
    assert [p["registrant_id"] for p in asked] == [ids["ana@x.org"], ids["ana@x.org"], ids["bob@x.org"]]
    assert [p["duration"] for p in asked] == [1200, 3600, 3600]
    error(client.call("GET", path, params={"include_fields": "everything"}, request_valid=False), 400, 300)


def test_the_report_needs_the_report_scope(make_zoom, openapi):
    fake = make_zoom(scopes="webinar:read:admin webinar:write:admin")
    client = Client(fake, openapi)
    webinar = client.webinar(0)
    body = error(client.call("GET", f"/report/webinars/{webinar['id']}/participants"), 400, 4711)
    assert "report:read:admin" in body["message"]


def test_a_plan_without_past_participants_is_refused_them_but_not_the_report(make_zoom, openapi):
    clock = Clock(at(0))
    fake = make_zoom(clock=clock, token_ttl=86400, past_participants=False)
    client = Client(fake, openapi)
    webinar = client.webinar(0)
    client.add(webinar["id"], "ana@x.org")
    fake.attend(webinar["id"], "ana@x.org", at(0), at(30))
    fake.end_webinar(webinar["id"], at(60))
    clock.set(at(60 + 31))

    for path in ("/past_webinars/{}/participants", "/past_webinars/{}/absentees"):
        assert error(client.call("GET", path.format(webinar["id"])), 400, 200)["message"].startswith("No permission.")
    report = client.call("GET", f"/report/webinars/{webinar['id']}/participants").json()
    assert [p["user_email"] for p in report["participants"]] == ["ana@x.org"]


def test_participant_lists_of_an_unknown_webinar_are_3001(client):
    for path in ("/past_webinars/{}/participants", "/past_webinars/{}/absentees", "/report/webinars/{}/participants"):
        error(client.call("GET", path.format(12345678901)), 404, 3001)


def test_who_attended_is_told_over_http(make_zoom, openapi):
    clock = Clock(at(0))
    fake = make_zoom(clock=clock, token_ttl=86400, report_delay=0)
    client = Client(fake, openapi)
    webinar = client.webinar(0)
    client.add(webinar["id"], "ana@x.org")
    session = {"email": "ana@x.org", "join_time": "2031-04-30T06:00:00Z", "leave_time": "2031-04-30T07:00:00+00:00"}
    told = requests.post(f"{fake.url}/_fake/webinars/{webinar['id']}/participants", json=session, timeout=10)
    assert told.status_code == 201
    assert told.json()["duration"] == 3600
    wrong = {**session, "leave_time": "2031-04-30 05:00"}
    assert (
        requests.post(f"{fake.url}/_fake/webinars/{webinar['id']}/participants", json=wrong, timeout=10).status_code
        == 400
    )
    ended = requests.post(
        f"{fake.url}/_fake/webinars/{webinar['id']}/end", json={"at": "2031-04-30T07:30:00Z"}, timeout=10
    )
    assert ended.status_code == 200

    clock.set(at(90))
    listed = client.call("GET", f"/past_webinars/{webinar['id']}/participants").json()["participants"]
    assert [p["leave_time"] for p in listed] == ["2031-04-30T07:00:00Z"]
    assert fake.state()["webinars"][0]["ended_at"] == "2031-04-30T07:30:00Z"


def test_the_fake_zoom_command_is_told_who_attended_and_lists_them_after_its_report_delay(tmp_path, openapi):
    command = [sys.executable, "-m", "webinar_ops", "fake-zoom", "--port", "0", "--report-delay", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        printed = dict(process.stdout.readline().strip().split("=", 1) for _ in range(6))
        api, base = printed["ZOOM_API_BASE_URL"], printed["ZOOM_API_BASE_URL"].removesuffix("/v2")
        token = requests.post(
            printed["ZOOM_OAUTH_URL"],
            auth=(printed["ZOOM_CLIENT_ID"], printed["ZOOM_CLIENT_SECRET"]),
            data={"grant_type": "account_credentials", "account_id": printed["ZOOM_ACCOUNT_ID"]},
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {"topic": "Open data", "type": 5, "start_time": "2031-04-30T06:00:00Z", "settings": {"approval_type": 0}}
        webinar = requests.post(f"{api}/users/me/webinars", json=body, headers=headers, timeout=10).json()
        session = {"email": "ana@x.org", "join_time": "2031-04-30T06:00:00Z", "leave_time": "2031-04-30T06:45:00Z"}
        told = requests.post(f"{base}/_fake/webinars/{webinar['id']}/participants", json=session, timeout=10)
        assert told.status_code == 201, told.text
        assert requests.post(f"{base}/_fake/webinars/{webinar['id']}/end", json={}, timeout=10).status_code == 200

        path = f"{api}/past_webinars/{webinar['id']}/participants"
        waiting = requests.get(path, headers=headers, timeout=10)
        time.sleep(1.1)
        listed = requests.get(path, headers=headers, timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)

    for response in (waiting, listed):
        check_exchange(openapi, response, request_valid=True)
    error(waiting, 404, 3001)
    assert [(p["user_email"], p["duration"]) for p in listed.json()["participants"]] == [("ana@x.org", 45 * 60)]
