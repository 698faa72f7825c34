"""The zoom provider end to end, driven as in production, against the local Zoom.

Every test builds `Settings(provider="zoom")` with `ZoomSettings(...)` from the fake's own environment,
loads the provider with `load_provider("zoom", settings, store)` on a real SQLite store,
imports people from a CSV written by the test and runs `sync_webinar`, as `webinar-ops sync`
does. The fake (webinar_ops.providers.zoom.standin) is a real HTTP server on loopback that keeps Zoom's
limits and can be told to misbehave; what it received and holds is what the tests check.
The last tests run the real command line, once against a fake in a separate process.
"""

from __future__ import annotations

import base64
import csv
import email
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import SAMPLE_CSV, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from zoom_openapi import SPEC_PATH, check_exchange, load_zoom_openapi

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.demo import demo_definition
from webinar_ops.errors import OperationError
from webinar_ops.jobs import sync_registrations
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom import ZoomSettings
from webinar_ops.providers.zoom import standin as fakezoom
from webinar_ops.providers.zoom.client import Credentials, ZoomClient, ZoomError, ZoomProvider
from webinar_ops.providers.zoom.standin import QPS_MESSAGE, FakeZoom, LoggedRequest, ZoomRefusal
from webinar_ops.registrants import add_person, apply_import, cancel_person, plan_import
from webinar_ops.store import Registrant, Store, WebinarRecord
from webinar_ops.sync import SyncReport, cancel_at_provider, sync_webinar

NOW = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)
FUTURE = {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'}  # 15:00 in Seoul
START_UTC = "2031-04-30T06:00:00Z"
SAMPLE = load_definition(SAMPLE_DEFINITION)
TITLE = SAMPLE.title
NEW_TITLE_LINE = {'title = "Strengthening': 'title = "Open Data in Practice: Strengthening'}
LATER_DATE = {'start = "2021-04-30 15:00"': 'start = "2031-05-07 15:00"'}
ADA = "ada.lovelace@example.org"
REPO = Path(__file__).resolve().parents[1]


# -- the local Zoom and the organiser's desk ------------------------------------------------------


@pytest.fixture
def make_zoom():
    """Start local Zooms with the given options; each one is stopped after the test."""
    started: list[FakeZoom] = []

    def make(fake_class: type[FakeZoom] = FakeZoom, **options: Any) -> FakeZoom:
        fake = fake_class(**options).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def zoom(make_zoom) -> FakeZoom:
    """A local Zoom on the Business plan, so that tests not about limits run quickly."""
    return make_zoom(plan="business", seed=7)


def zoom_settings(fake: FakeZoom, db_path: Path, **overrides: Any) -> Settings:
    """The settings an organiser writes in .env, with the values the fake prints. An override
    named `zoom_...` (zoom_plan, for ZOOM_PLAN) changes the zoom provider's own settings."""
    env = fake.environment()
    zoom = {
        "account_id": env["ZOOM_ACCOUNT_ID"],
        "client_id": env["ZOOM_CLIENT_ID"],
        "client_secret": env["ZOOM_CLIENT_SECRET"],
        "api_base_url": env["ZOOM_API_BASE_URL"],
        "oauth_url": env["ZOOM_OAUTH_URL"],
        "plan": env["ZOOM_PLAN"],
    }
    zoom |= {key.removeprefix("zoom_"): value for key, value in overrides.items() if key.startswith("zoom_")}
    core = {key: value for key, value in overrides.items() if not key.startswith("zoom_")}
    settings = Settings(db_path=db_path, secret_key=TEST_SECRET_KEY, provider="zoom", **core)
    return settings.with_plugin(ZoomSettings(**zoom))


def provider_with_timeout(settings: Settings, timeout: tuple[float, float]) -> ZoomProvider:
    """The zoom provider as create_provider builds it, but with a shorter patience."""
    zoom = settings.of(ZoomSettings)
    credentials = Credentials(zoom.account_id, zoom.client_id, zoom.client_secret)
    client = ZoomClient(credentials, zoom.api_base_url, zoom.oauth_url, zoom.plan, timeout=timeout)
    return ZoomProvider(client, zoom.user_id)


def people(count: int, start: int = 0) -> list[tuple[str, str, str]]:
    return [(f"person{i}@example.org", f"Person{i}", "Test") for i in range(start, start + count)]


@dataclass
class Desk:
    """An organiser's setup: settings, the store, the zoom provider, and the sample webinar."""

    fake: FakeZoom
    settings: Settings
    store: Store
    provider: Any
    folder: Path
    csv_files: int = 0

    def define(self, replacements: dict[str, str] | None = None) -> WebinarRecord:
        """Save the sample webinar, moved to 2031, with some text replaced (as `webinar add` does)."""
        changes = {**FUTURE, **(replacements or {})}
        path = definition_variant(self.folder, changes, name="webinar.toml")
        self.store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "zoom", NOW)
        return self.webinar

    def import_people(self, rows: list[tuple[str, str, str]], now: datetime = NOW) -> None:
        """Write a CSV of (email, first name, last name) and import it, as `registrants import` does."""
        self.csv_files += 1
        path = self.folder / f"people-{self.csv_files}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["email", "first_name", "last_name"])
            writer.writerows(rows)
        apply_import(self.store, self.webinar, plan_import(self.store, self.webinar, path), now)

    def sync(self, now: datetime = NOW, progress: Callable[[int, int], None] | None = None) -> SyncReport:
        return sync_webinar(self.store, self.provider, self.webinar, now, progress)

    @property
    def webinar(self) -> WebinarRecord:
        return self.store.webinar(SAMPLE_SLUG)

    @property
    def zoom_id(self) -> str:
        return self.webinar.provider_webinar_id

    def rows(self) -> dict[str, Registrant]:
        return {row.email: row for row in self.store.registrants(self.webinar.id)}

    def at_zoom(self) -> dict[str, dict]:
        """Whom Zoom holds for the webinar, by address."""
        return {r["email"].lower(): r for r in self.fake.registrants(self.zoom_id)}


@pytest.fixture
def open_desk(workdir: Path):
    """Open the organiser's desk against a local Zoom; the store is closed after the test."""
    stores: list[Store] = []

    def open_desk(fake: FakeZoom, timeout: tuple[float, float] | None = None, **overrides: Any) -> Desk:
        settings = zoom_settings(fake, workdir / "data" / "zoom.db", **overrides)
        store = Store.open(settings.db_path)
        stores.append(store)
        provider = provider_with_timeout(settings, timeout) if timeout else load_provider("zoom", settings, store)
        return Desk(fake, settings, store, provider, workdir)

    yield open_desk
    for store in stores:
        store.close()


class ZoomSite:
    """What an organiser or a colleague does by hand on Zoom's website, done through the fake's API."""

    def __init__(self, fake: FakeZoom):
        self.fake = fake
        self.session = requests.Session()
        answer = self.session.post(
            fake.oauth_url,
            auth=(fake.client_id, fake.client_secret),
            data={"grant_type": "account_credentials", "account_id": fake.account_id},
            timeout=10,
        )
        self.token = answer.json()["access_token"]

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        response = self.session.request(
            method, self.fake.api_url + path, json=body, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def create_webinar(self, **fields: Any) -> dict:
        return self.call("POST", "/users/me/webinars", fields)

    def update_webinar(self, webinar_id: str | int, **fields: Any) -> None:
        self.call("PATCH", f"/webinars/{webinar_id}", fields)


class Clock:
    """A wall clock for the fake that the test moves by hand (daily caps and token lifetimes)."""

    def __init__(self, start: datetime):
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.timestamp()


def sent(fake: FakeZoom, method: str, path: str) -> list[LoggedRequest]:
    """The requests the fake received with this method and path (under /v2)."""
    return [r for r in fake.requests if r.method == method and r.path == f"/v2{path}"]


def batches(fake: FakeZoom) -> list[LoggedRequest]:
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/batch_registrants")]


def registrations(fake: FakeZoom) -> list[LoggedRequest]:
    """Every request that asks Zoom to register someone, in a batch or alone."""
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith(("/batch_registrants", "/registrants"))]


def addresses(request: LoggedRequest) -> list[str]:
    body = request.body or {}
    if "registrants" in body:
        return [entry.get("email", "").lower() for entry in body["registrants"]]
    return [body["email"].lower()] if "email" in body else []


def webinar_writes(fake: FakeZoom) -> list[LoggedRequest]:
    return [
        r
        for r in fake.requests
        if (r.method == "POST" and r.path.endswith("/webinars"))
        or (r.method == "PATCH" and "/registrants" not in r.path)
    ]


def tokens_issued(fake: FakeZoom) -> int:
    return fake.state()["counters"]["tokens_issued"]


def wait_for_slow_answers(fake: FakeZoom, limit: float = 10.0) -> None:
    """Slow requests the client gave up on are still being handled: wait until the fake has answered them."""
    deadline = time.monotonic() + limit
    while any(r.fault == "slow" and r.status is None for r in fake.requests):
        assert time.monotonic() < deadline, "the fake never answered its slow requests"
        time.sleep(0.05)


def assert_each_registered_once(desk: Desk, expected: set[str]) -> None:
    """Everyone expected is registered at Zoom exactly once, and the store holds Zoom's id and link for each."""
    newly = desk.fake.newly_registered(desk.zoom_id)
    assert set(newly) == expected
    assert set(newly.values()) == {1}, {e: n for e, n in newly.items() if n != 1}
    held = desk.at_zoom()
    rows = desk.rows()
    for address in expected:
        row = rows[address]
        assert row.sync_error is None, (address, row.sync_error)
        assert row.provider_registrant_id == held[address]["id"], address
        assert row.join_url == held[address]["join_url"], address


# -- creating the webinar ------------------------------------------------------------------------


def test_the_first_sync_creates_a_scheduled_webinar_at_zoom(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(3))

    report = desk.sync()

    assert report.published == "created"
    [create] = sent(zoom, "POST", "/users/me/webinars")
    body = create.body
    assert body["topic"] == TITLE
    assert body["type"] == 5
    assert body["start_time"] == START_UTC  # 15:00 in Seoul, in UTC with a Z
    assert body["duration"] == 90
    assert body["timezone"] == "Asia/Seoul"
    assert body["settings"]["approval_type"] == 0
    assert body["settings"]["registrants_email_notification"] is False
    assert body["settings"]["contact_name"] == "Ms. Jihyun (Jenny) Jeoung"
    assert body["settings"]["contact_email"] == "jihyun.joung@un.org"

    agenda = body["agenda"]
    assert len(agenda) <= 2000
    assert "<" not in agenda  # plain text, not HTML
    assert "&amp;" not in agenda
    positions = [agenda.index(item.title) for item in SAMPLE.agenda]
    assert positions == sorted(positions), "the agenda lists the items in order"
    assert "15:45–16:05 Country Case Presentation" in agenda
    assert "Mr. Sung Joo Son" in agenda

    held = zoom.webinar(desk.zoom_id)
    stored = desk.webinar
    assert stored.provider_webinar_id == str(held["id"])
    assert stored.provider_join_url == held["join_url"]
    assert report.registered == 3


def test_the_hosts_start_url_is_stored_nowhere(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(3))
    desk.sync()
    start_url = zoom.webinar(desk.zoom_id)["start_url"]
    zak = start_url.split("zak=")[1]
    desk.store.db.execute("PRAGMA wal_checkpoint(FULL)")

    for path in desk.settings.db_path.parent.glob(f"{desk.settings.db_path.name}*"):  # the file, -wal, -shm
        data = path.read_bytes()
        assert start_url.encode() not in data, path
        assert zak.encode() not in data, path
    for row in desk.store.db["webinars"].rows:
        assert not [k for k, v in row.items() if isinstance(v, str) and zak in v], row["slug"]


def test_manual_approval_asks_zoom_for_approval_type_1(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define({'approval = "automatic"': 'approval = "manual"'})
    desk.import_people(people(2))

    desk.sync()

    [create] = sent(zoom, "POST", "/users/me/webinars")
    assert create.body["settings"]["approval_type"] == 1
    assert zoom.webinar(desk.zoom_id)["settings"]["approval_type"] == 1
    assert all(w.body["settings"]["approval_type"] in (0, 1) for w in webinar_writes(zoom))  # never 2
    # Imported people are approved by the organiser: Zoom is told to approve them too.
    assert {r["status"] for r in zoom.registrants(desk.zoom_id)} == {"approved"}


def test_a_long_agenda_is_cut_to_zooms_2000_characters(zoom, open_desk):
    long_role = "Senior Adviser on Data Governance, Statistics and Open Government " * 4
    speakers = "".join(f'\n[[agenda.speakers]]\nname = "Speaker {n}"\nrole = "{long_role.strip()}"' for n in range(8))
    desk = open_desk(zoom)
    desk.define({'title = "Q&A"': f'title = "Q&A"{speakers}'})

    desk.sync()

    [create] = sent(zoom, "POST", "/users/me/webinars")
    agenda = create.body["agenda"]
    assert len(agenda) == 2000
    assert agenda.endswith("…")
    assert agenda.startswith("15:00 Opening by the Moderator")
    assert zoom.webinar(desk.zoom_id)["agenda"] == agenda


def test_attaching_to_an_existing_webinar_updates_it_only_when_its_title_or_time_change(zoom, open_desk):
    existing = ZoomSite(zoom).create_webinar(
        topic=TITLE, type=5, start_time=START_UTC, duration=90, timezone="Asia/Seoul", settings={"approval_type": 0}
    )
    attach = {'webinar_id = "create"': f'webinar_id = "{existing["id"]}"'}
    zoom.clear_requests()
    desk = open_desk(zoom)
    desk.define(attach)
    desk.import_people(people(5))

    report = desk.sync()

    assert not sent(zoom, "POST", "/users/me/webinars")
    assert len(sent(zoom, "GET", f"/webinars/{existing['id']}")) == 1
    assert not sent(zoom, "PATCH", f"/webinars/{existing['id']}"), "nothing differed: no update"
    assert desk.zoom_id == str(existing["id"])
    assert desk.webinar.provider_join_url == existing["join_url"]
    assert report.registered == 5

    # A new title: one update.
    zoom.clear_requests()
    desk.define({**attach, **NEW_TITLE_LINE})
    desk.sync()
    [patch] = sent(zoom, "PATCH", f"/webinars/{existing['id']}")
    assert patch.body["topic"] == "Open Data in Practice: " + TITLE
    assert zoom.webinar(existing["id"])["topic"] == "Open Data in Practice: " + TITLE

    # A new date: one update.
    zoom.clear_requests()
    desk.define({**attach, **NEW_TITLE_LINE, **LATER_DATE})
    desk.sync()
    [patch] = sent(zoom, "PATCH", f"/webinars/{existing['id']}")
    assert patch.body["start_time"] == "2031-05-07T06:00:00Z"
    assert zoom.webinar(existing["id"])["start_time"] == "2031-05-07T06:00:00Z"

    # Nothing changed: no update, and Zoom is not even asked.
    zoom.clear_requests()
    report = desk.sync()
    assert not sent(zoom, "PATCH", f"/webinars/{existing['id']}")
    assert report.published is None
    assert len(zoom.state()["webinars"]) == 1


def test_attaching_to_a_webinar_without_registration_switches_registration_on(zoom, open_desk):
    # Zoom's default, when the organiser made the webinar by hand: approval type 2, nobody can register.
    existing = ZoomSite(zoom).create_webinar(topic=TITLE, type=5, start_time=START_UTC, duration=90)
    assert existing["settings"]["approval_type"] == 2
    desk = open_desk(zoom)
    desk.define({'webinar_id = "create"': f'webinar_id = "{existing["id"]}"'})
    desk.import_people(people(4))

    report = desk.sync()

    [patch] = sent(zoom, "PATCH", f"/webinars/{existing['id']}")
    assert patch.body["settings"]["approval_type"] == 0
    assert report.failed == []
    assert_each_registered_once(desk, {p[0] for p in people(4)})


# -- a thousand people ------------------------------------------------------------------------------


def test_a_thousand_people_are_each_registered_once_with_their_own_join_link(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    everyone = people(1000)
    desk.import_people(everyone)

    began = time.monotonic()
    report = desk.sync()
    took = time.monotonic() - began

    assert report.registered == 1000
    assert report.failed == []
    assert took < 15, f"1,000 people took {took:.1f} s"
    assert_each_registered_once(desk, {p[0] for p in everyone})
    assert not zoom.re_added()
    links = [row.join_url for row in desk.rows().values()]
    assert len(set(links)) == 1000
    assert all(link.startswith(f"https://{zoom.join_host}/w/{desk.zoom_id}?tk=") for link in links)
    sizes = [len(addresses(r)) for r in batches(zoom)]
    assert max(sizes) <= 30
    assert sum(sizes) == 1000
    assert len(sizes) == 34

    zoom.clear_requests()
    before = desk.rows()
    again = desk.sync()
    assert not again.changed_anything
    assert again.failed == []
    assert not [r for r in zoom.requests if r.method != "GET"], "a second sync only reads"
    assert not batches(zoom)
    assert desk.rows() == before


# -- people who signed up on Zoom's own page ------------------------------------------------------------


def test_people_who_signed_up_on_zooms_own_page_are_pulled_in(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(3))
    desk.sync()
    walk_in = zoom.add_registrant_from_zoom_page(desk.zoom_id, "walk.in@example.org", "Walk", "In")
    shouty = zoom.add_registrant_from_zoom_page(desk.zoom_id, "Grace.Hopper@Example.org", "Grace", "Hopper")
    zoom.clear_requests()

    report = desk.sync()

    assert report.pulled_new == 2
    assert not registrations(zoom), "people Zoom holds are not registered again"
    rows = desk.rows()
    for address, signed_up in (("walk.in@example.org", walk_in), ("grace.hopper@example.org", shouty)):
        row = rows[address]
        assert row.source == "provider"
        assert row.status == "approved"
        assert row.provider_registrant_id == signed_up["id"]
        assert row.join_url == signed_up["join_url"]
    assert (rows["walk.in@example.org"].first_name, rows["walk.in@example.org"].last_name) == ("Walk", "In")
    assert set(zoom.newly_registered().values()) == {1}
    assert not zoom.re_added()


def test_someone_imported_who_had_already_signed_up_on_zoom_is_adopted_not_registered_again(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(2))
    desk.sync()
    grace = zoom.add_registrant_from_zoom_page(desk.zoom_id, "grace@example.org", "Grace", "Hopper")
    desk.import_people([("grace@example.org", "Grace", "Hopper"), *people(4)])
    zoom.clear_requests()

    report = desk.sync()

    row = desk.rows()["grace@example.org"]
    assert row.source == "import"
    assert row.provider_registrant_id == grace["id"]
    assert row.join_url == grace["join_url"]
    assert not [r for r in registrations(zoom) if "grace@example.org" in addresses(r)]
    assert report.registered == 2  # person2 and person3, who were new
    assert zoom.newly_registered()["grace@example.org"] == 1
    assert "grace@example.org" not in zoom.re_added()
    assert_each_registered_once(desk, {"grace@example.org", *(p[0] for p in people(4))})


# -- cancelling -------------------------------------------------------------------------------------------


def test_a_cancellation_is_sent_to_zoom_at_the_next_sync(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(3))
    desk.sync()
    leaving = desk.rows()["person1@example.org"]

    cancel_person(desk.store, desk.webinar, "person1@example.org", NOW)
    zoom.clear_requests()
    report = desk.sync()

    assert report.cancelled == 1
    [put] = sent(zoom, "PUT", f"/webinars/{desk.zoom_id}/registrants/status")
    assert put.status == 204
    assert put.body == {
        "action": "cancel",
        "registrants": [{"id": leaving.provider_registrant_id, "email": "person1@example.org"}],
    }
    held = desk.at_zoom()["person1@example.org"]
    assert (held["status"], held["cancelled"]) == ("denied", True)  # Zoom lists a cancel as denied
    row = desk.rows()["person1@example.org"]
    assert (row.status, row.provider_status, row.sync_error) == ("cancelled", "cancelled", None)
    assert desk.at_zoom()["person0@example.org"]["status"] == "approved"

    zoom.clear_requests()
    assert not desk.sync().changed_anything
    assert not sent(zoom, "PUT", f"/webinars/{desk.zoom_id}/registrants/status"), "a cancellation is sent once"


def test_a_cancellation_can_be_sent_at_once_as_the_command_line_does(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(2))
    desk.sync()
    zoom.clear_requests()

    row = cancel_person(desk.store, desk.webinar, "person0@example.org", NOW)
    told = cancel_at_provider(desk.store, desk.provider, desk.webinar, row, NOW)

    assert told
    [put] = sent(zoom, "PUT", f"/webinars/{desk.zoom_id}/registrants/status")
    assert put.body["action"] == "cancel"
    assert desk.at_zoom()["person0@example.org"]["cancelled"] is True
    assert desk.rows()["person0@example.org"].provider_status == "cancelled"


def test_cancelling_the_webinar_deletes_it_at_zoom_once_without_zooms_own_mail(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(2))
    desk.sync()
    zoom.clear_requests()

    desk.store.cancel_webinar(desk.webinar, "Postponed.", NOW)
    report = desk.sync()

    assert report.webinar_cancelled
    [delete] = sent(zoom, "DELETE", f"/webinars/{desk.zoom_id}")
    assert delete.status == 204
    assert delete.query == {"cancel_webinar_reminder": "false"}, "webinar-ops sends the cancellation itself"
    assert sent(zoom, "GET", f"/webinars/{desk.zoom_id}") == [], "nothing else is asked about a cancelled webinar"
    zoom.clear_requests()
    assert not desk.sync().changed_anything
    assert zoom.requests == [], "cancelled once"


def test_someone_cancelled_and_added_again_is_registered_at_zoom_again(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people([(ADA, "Ada", "Lovelace"), *people(2)])
    desk.sync()
    cancel_person(desk.store, desk.webinar, ADA, NOW)
    desk.sync()
    assert desk.at_zoom()[ADA]["status"] == "denied"

    outcome = add_person(desk.store, desk.webinar, {"email": ADA, "first_name": "Ada"}, NOW)
    assert outcome == (ADA, "re-activated")
    zoom.clear_requests()
    report = desk.sync()

    row = desk.rows()[ADA]
    assert row.status == "approved", (
        f"Ada, added again after a cancellation, is now {row.status!r} in the store; the sync took Zoom's "
        f"listing of her old, cancelled registration ({desk.at_zoom()[ADA]['status']!r}) for a decision"
    )
    assert [r for r in registrations(zoom) if ADA in addresses(r)], "Zoom was not asked to register her again"
    assert desk.at_zoom()[ADA]["status"] == "approved"
    assert row.provider_registrant_id == desk.at_zoom()[ADA]["id"]
    assert report.failed == []


# -- tokens ---------------------------------------------------------------------------------------------------


def test_a_token_that_expired_between_syncs_is_fetched_again_once(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(60))
    desk.sync()
    assert tokens_issued(zoom) == 1

    zoom.expire_tokens()
    desk.import_people(people(60, start=60))
    report = desk.sync()

    assert tokens_issued(zoom) == 2
    assert report.failed == []
    assert_each_registered_once(desk, {p[0] for p in people(120)})


def test_a_token_that_expires_in_the_middle_of_a_sync_is_fetched_again_once_per_expiry(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(1000))
    expiries = []

    def expire_between_batches(done: int, total: int) -> None:
        if done < total:
            expiries.append(zoom.expire_tokens())

    report = desk.sync(progress=expire_between_batches)

    assert len(expiries) == 3  # after 300, 600 and 900 people
    assert report.failed == []
    assert_each_registered_once(desk, {p[0] for p in people(1000)})
    assert tokens_issued(zoom) == 1 + len(expiries), (
        f"{tokens_issued(zoom)} tokens fetched for {len(expiries)} expiries: each batch in flight fetched its own"
    )


# -- faults ---------------------------------------------------------------------------------------------------


def test_server_errors_are_retried_and_nobody_is_registered_twice(make_zoom, open_desk):
    fake = make_zoom(plan="business", seed=11, faults={"error_next": 2, "error_statuses": [500, 503]})
    desk = open_desk(fake)
    desk.define()
    desk.import_people(people(300))
    fake.set_faults(error_rate=0.15)  # the first two requests (the create) fail for sure, then 15 %

    report = desk.sync()

    assert fake.faults_injected["error"] > 2
    assert report.failed == []
    assert len(fake.state()["webinars"]) == 1
    assert_each_registered_once(desk, {p[0] for p in people(300)})
    assert {r.status for r in fake.requests if r.fault == "error"} <= {500, 503}


def test_dropped_connections_are_retried_and_nobody_is_registered_twice(make_zoom, open_desk):
    fake = make_zoom(plan="business", seed=5, faults={"drop_next": 1})  # the create's connection drops
    desk = open_desk(fake)
    desk.define()
    desk.import_people(people(600))

    def drop_the_next_two(done: int, total: int) -> None:
        if done == 300:
            fake.set_faults(drop_next=2)  # batches then on their way

    report = desk.sync(progress=drop_the_next_two)

    dropped = [r for r in fake.requests if r.fault == "drop"]
    assert len(dropped) == 3
    assert (dropped[0].method, dropped[0].path) == ("POST", "/v2/users/me/webinars")
    assert dropped[1].path.endswith("/batch_registrants")
    assert len(fake.state()["webinars"]) == 1, "the provider looked before creating again"
    assert report.failed == []
    assert_each_registered_once(desk, {p[0] for p in people(600)})


def test_slow_answers_past_the_clients_timeout_are_retried_and_nobody_is_registered_twice(make_zoom, open_desk):
    fake = make_zoom(plan="business", seed=3)
    desk = open_desk(fake, timeout=(1, 1))
    desk.define()
    desk.sync()  # the webinar exists
    desk.import_people(people(600))

    def slow_down_the_second_half(done: int, total: int) -> None:
        if done == 300:
            fake.set_faults(slow_next=2, slow_seconds=1.6)  # the next two batches outlast the timeout

    fake.set_faults(slow_next=1, slow_seconds=1.6)  # the first listing too
    report = desk.sync(progress=slow_down_the_second_half)
    wait_for_slow_answers(fake)

    assert fake.faults_injected["slow"] == 3
    slow = [r for r in fake.requests if r.fault == "slow"]
    assert slow[0].method == "GET"
    assert [r.path.endswith("/batch_registrants") for r in slow[1:]] == [True, True]
    assert report.failed == []
    assert_each_registered_once(desk, {p[0] for p in people(600)})


def test_a_create_answered_after_the_timeout_leaves_one_webinar_at_zoom(make_zoom, open_desk):
    fake = make_zoom(plan="business", seed=3, faults={"slow_next": 1, "slow_seconds": 1.6})
    desk = open_desk(fake, timeout=(1, 1))
    desk.define()
    desk.import_people(people(3))

    desk.sync()
    wait_for_slow_answers(fake)

    held = fake.state()["webinars"]
    assert len(held) == 1, (
        f"Zoom now holds {len(held)} copies of the webinar: the provider looked for the first one before "
        "Zoom had finished creating it, and created another"
    )
    assert desk.zoom_id == str(held[0]["id"])


def test_a_lost_batch_answer_is_checked_against_zoom_before_anyone_is_sent_again(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(300))
    zoom.set_faults(lost_batch_next=1)

    report = desk.sync()

    assert zoom.faults_injected == {"lost_batch": 1}
    log = zoom.requests
    [lost_at] = [n for n, r in enumerate(log) if r.fault == "lost_batch"]
    lost = set(addresses(log[lost_at]))
    assert len(lost) == 30
    listed_after = [r for r in log[lost_at:] if r.method == "GET" and r.path.endswith("/registrants")]
    assert listed_after, "after a lost answer the provider lists whom Zoom holds"
    sent_again = [r for r in log[lost_at + 1 :] if r.method == "POST" and lost & set(addresses(r))]
    assert not sent_again, "the lost batch had gone through: nobody in it is sent again"
    assert report.failed == []
    assert_each_registered_once(desk, {p[0] for p in people(300)})
    assert not zoom.re_added()


def test_a_client_faster_than_the_accounts_plan_waits_out_the_429s(make_zoom, open_desk):
    fake = make_zoom(plan="pro", seed=2)
    desk = open_desk(fake, zoom_plan="business")  # the organiser said Business; the account is Pro
    desk.define()
    desk.import_people(people(1000))

    began = time.monotonic()
    report = desk.sync()
    took = time.monotonic() - began

    assert fake.throttled.get("QPS", 0) > 0
    assert "Daily-limit" not in fake.throttled
    assert report.failed == []
    assert report.registered == 1000
    assert_each_registered_once(desk, {p[0] for p in people(1000)})
    assert took < 40, f"{took:.1f} s"


def test_an_address_over_zooms_daily_cap_waits_for_the_reset_and_the_others_go_on(make_zoom, open_desk):
    clock = Clock(NOW)
    fake = make_zoom(plan="business", seed=4, clock=clock)
    desk = open_desk(fake)
    desk.define()
    desk.sync()
    # A colleague added and removed Ada by hand three times today: her three adds are spent.
    site = ZoomSite(fake)
    for _ in range(3):
        added = site.call("POST", f"/webinars/{desk.zoom_id}/registrants", {"email": ADA, "first_name": "Ada"})
        site.call("DELETE", f"/webinars/{desk.zoom_id}/registrants/{added['registrant_id']}")
    desk.import_people([*people(20), (ADA, "Ada", "Lovelace"), *people(39, start=20)])

    report = desk.sync()

    assert fake.throttled["Daily-limit"] >= 1
    assert [email for email, _ in report.failed] == [ADA]
    row = desk.rows()[ADA]
    assert "daily limit" in row.sync_error
    assert "x-zm-trackingid" in row.sync_error
    assert row.sync_retry_after == "2031-04-02T00:00:00Z"
    assert row.provider_registrant_id is None
    assert report.registered == 59
    others = {p[0] for p in people(59)}
    newly = fake.newly_registered(desk.zoom_id)
    assert all(newly[address] == 1 for address in others)
    assert newly[ADA] == 3  # the colleague's three, none from the sync

    # Before the reset, the sync does not ask Zoom about her.
    fake.clear_requests()
    later = desk.sync(now=NOW + timedelta(hours=2))
    assert later.deferred == 1
    assert later.failed == []
    assert not [r for r in fake.requests if ADA in json.dumps(r.body)]

    # After the reset she is registered.
    clock.set(datetime(2031, 4, 2, 0, 0, 5, tzinfo=UTC))
    after = desk.sync(now=datetime(2031, 4, 2, 0, 0, 5, tzinfo=UTC))
    assert after.registered == 1
    row = desk.rows()[ADA]
    assert row.sync_error is None
    assert row.sync_retry_after is None
    assert row.join_url == desk.at_zoom()[ADA]["join_url"]


def test_cancelling_and_adding_someone_again_and_again_meets_zooms_daily_cap(make_zoom, open_desk):
    clock = Clock(NOW)
    fake = make_zoom(plan="business", seed=4, clock=clock)
    desk = open_desk(fake)
    desk.define()
    desk.import_people([(ADA, "Ada", "Lovelace"), *people(5)])
    desk.sync()  # Ada's first add of the day

    for nth_add in (2, 3, 4):
        cancel_person(desk.store, desk.webinar, ADA, NOW)
        desk.sync()
        add_person(desk.store, desk.webinar, {"email": ADA, "first_name": "Ada", "last_name": "Lovelace"}, NOW)
        report = desk.sync()
        row = desk.rows()[ADA]
        if nth_add < 4:
            assert row.status == "approved", f"add {nth_add}: Ada is {row.status!r}, not registered again"
            assert row.provider_registrant_id, f"add {nth_add}: {row.sync_error}"
            assert desk.at_zoom()[ADA]["status"] == "approved"

    assert fake.throttled.get("Daily-limit", 0) >= 1
    assert [email for email, _ in report.failed] == [ADA]
    assert "daily limit" in row.sync_error
    assert row.sync_retry_after == "2031-04-02T00:00:00Z"
    assert all(desk.rows()[p[0]].provider_registrant_id for p in people(5))
    fake.clear_requests()
    assert desk.sync(now=NOW + timedelta(hours=1)).deferred == 1
    assert not [r for r in fake.requests if ADA in json.dumps(r.body)]


# -- errors become sentences --------------------------------------------------------------------------------


def test_registration_switched_off_at_zoom_is_explained_for_each_registrant(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(2))
    desk.sync()
    ZoomSite(zoom).update_webinar(desk.zoom_id, settings={"approval_type": 2})  # someone, on Zoom's site
    desk.import_people(people(3, start=2))

    report = desk.sync()

    assert sorted(email for email, _ in report.failed) == [p[0] for p in people(3, start=2)]
    for address in (p[0] for p in people(3, start=2)):
        error = desk.rows()[address].sync_error
        assert "registration is not enabled" in error
        assert "approval" in error
        assert "Zoom 3000" in error
        assert re.search(r"\[x-zm-trackingid v=2\.0;[^\]]+\]$", error)


def test_republishing_switches_registration_on_again_and_the_waiting_people_go_through(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(2))
    desk.sync()
    ZoomSite(zoom).update_webinar(desk.zoom_id, settings={"approval_type": 2})
    desk.import_people(people(3, start=2))
    assert len(desk.sync().failed) == 3

    desk.store.republish(desk.webinar)  # what `webinar-ops sync SLUG --republish` does first
    report = desk.sync()

    assert report.published == "updated"
    assert zoom.webinar(desk.zoom_id)["settings"]["approval_type"] == 0
    assert report.failed == []
    assert_each_registered_once(desk, {p[0] for p in people(5)})


def test_a_changed_definition_is_compared_with_zoom_but_sent_only_when_it_differs(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.sync()

    desk.define({'approval = "automatic"': 'approval = "manual"'})  # no new revision: calendars are untouched
    zoom.clear_requests()
    assert desk.sync().published == "updated"
    [patch] = sent(zoom, "PATCH", f"/webinars/{desk.zoom_id}")
    assert patch.body["settings"]["approval_type"] == 1

    desk.define(
        {'approval = "automatic"': 'approval = "manual"', "What is data governance": "What is governance of data"}
    )  # not at Zoom
    zoom.clear_requests()
    desk.sync()
    assert not sent(zoom, "PATCH", f"/webinars/{desk.zoom_id}")


def test_a_webinar_id_zoom_does_not_know_is_explained(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define({'webinar_id = "create"': 'webinar_id = "81234567890"'})
    desk.import_people(people(2))

    with pytest.raises(OperationError) as refused:
        desk.sync()

    message = str(refused.value)
    assert "check [provider] webinar_id" in message
    assert "Zoom 3001" in message
    assert "x-zm-trackingid v=2.0;" in message
    assert desk.webinar.provider_error in message
    assert not registrations(zoom)


def test_an_unknown_zoom_user_is_explained(zoom, open_desk):
    desk = open_desk(zoom, zoom_user_id="nobody@example.org")
    desk.define()

    with pytest.raises(OperationError) as refused:
        desk.sync()

    message = str(refused.value)
    assert "check ZOOM_USER_ID" in message
    assert "Zoom 1001" in message
    assert "x-zm-trackingid v=2.0;" in message


def test_an_address_zoom_finds_too_long_is_refused_alone_and_the_field_is_named(zoom, open_desk):
    long_address = f"{'a' * 64}@{'b' * 60}.example.org"  # fine for mail, over Zoom's 128 characters
    desk = open_desk(zoom)
    desk.define()
    desk.import_people([*people(10), (long_address, "Long", "Address"), *people(10, start=10)])

    report = desk.sync()

    assert [email for email, _ in report.failed] == [long_address]
    error = desk.rows()[long_address].sync_error
    assert "Zoom refused a field: email: Length must be less than or equal to 128." in error
    assert "x-zm-trackingid" in error
    assert_each_registered_once(desk, {p[0] for p in people(20)})


def test_a_field_zoom_refuses_is_named_in_the_error(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.sync()

    with pytest.raises(ZoomError) as refused:
        desk.provider.client.call(
            "PATCH", f"/webinars/{desk.zoom_id}", "light", body={"duration": -5, "settings": {"approval_type": 3}}
        )

    message = str(refused.value)
    assert refused.value.code == 300
    assert message.startswith("Zoom refused a field: ")
    assert "duration: Invalid field." in message
    assert "settings.approval_type: Invalid field." in message
    assert "x-zm-trackingid" in message


def test_a_wrong_client_secret_is_explained_without_repeating_it(zoom, open_desk):
    wrong = "wrong-secret-" + secrets.token_hex(8)
    desk = open_desk(zoom, zoom_client_secret=wrong)
    desk.define()

    with pytest.raises(OperationError) as refused:
        desk.sync()

    message = str(refused.value)
    assert "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in message
    assert "x-zm-trackingid" in message
    basic = base64.b64encode(f"{zoom.client_id}:{wrong}".encode()).decode()
    for secret in (wrong, zoom.client_secret, basic):
        assert secret not in message
        assert secret not in (desk.webinar.provider_error or "")
    assert tokens_issued(zoom) == 0


def test_a_secret_revoked_after_the_first_sync_is_explained_as_an_operation_error(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(2))
    desk.sync()
    revoked = zoom_settings(zoom, desk.settings.db_path, zoom_client_secret="rotated-" + secrets.token_hex(8))
    provider = load_provider("zoom", revoked, desk.store)

    with pytest.raises(OperationError) as refused:  # as sync explains every other refusal
        sync_webinar(desk.store, provider, desk.webinar, NOW)

    assert "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in str(refused.value)
    assert revoked.of(ZoomSettings).client_secret not in str(refused.value)


def test_the_background_sync_logs_a_zoom_refusal_and_goes_on(zoom, open_desk, caplog):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(2))
    desk.sync()
    revoked = zoom_settings(zoom, desk.settings.db_path, zoom_client_secret="rotated-" + secrets.token_hex(8))

    with caplog.at_level(logging.INFO, logger="webinar_ops.jobs.sync"):
        sync_registrations.run(revoked, clock=lambda: NOW)  # what `webinar-ops run` does every few minutes

    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "sync failed" in warning.getMessage()
    assert "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in warning.getMessage()


# -- secrets -------------------------------------------------------------------------------------------------


class RecordingZoom(FakeZoom):
    """The local Zoom, keeping every access token it hands out, to look for them afterwards."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.issued: list[str] = []

    def handle(self, incoming):
        reply = super().handle(incoming)
        if incoming.path == "/oauth/token" and isinstance(reply.body, dict) and "access_token" in reply.body:
            self.issued.append(reply.body["access_token"])
        return reply


def secret_values(fake: RecordingZoom) -> dict[str, str]:
    found = {"client secret": fake.client_secret}
    found["Basic credentials"] = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    found.update({f"access token {n}": token for n, token in enumerate(fake.issued)})
    for webinar in fake.state()["webinars"]:
        found[f"start_url of {webinar['id']}"] = webinar["start_url"]
        found[f"zak of {webinar['id']}"] = webinar["start_url"].split("zak=")[1]
    return found


def leaks(secrets_by_name: dict[str, str], places: dict[str, bytes | str]) -> list[str]:
    """Which secret turns up where (names only, so that a failure does not print the secret)."""
    found = []
    for where, content in places.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8", "replace")
        found += [f"{name} in {where}" for name, value in secrets_by_name.items() if value.encode() in data]
    return found


def every_file(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def every_value(store: Store) -> dict[str, str]:
    return {
        f"table {table}": "\n".join(repr(tuple(row)) for row in store.db.execute(f"SELECT * FROM [{table}]"))
        for table in store.db.table_names()
    }


def test_no_secret_token_or_start_url_reaches_the_store_or_the_logs(make_zoom, open_desk, workdir, caplog):
    caplog.set_level(logging.DEBUG)
    fake = make_zoom(
        RecordingZoom,
        plan="business",
        seed=9,
        client_id="client-" + secrets.token_hex(6),
        client_secret="secret-" + secrets.token_hex(16),
        faults={"error_rate": 0.05, "lost_batch_next": 1},
    )
    desk = open_desk(fake)
    desk.define()
    long_address = f"{'a' * 64}@{'b' * 60}.example.org"  # refused by Zoom: an error is stored
    desk.import_people([*people(400), (long_address, "Long", "Address")])

    reports = [desk.sync(progress=lambda done, total: fake.expire_tokens())]
    fake.add_registrant_from_zoom_page(desk.zoom_id, "walk.in@example.org", "Walk", "In")
    cancel_person(desk.store, desk.webinar, "person3@example.org", NOW)
    reports.append(desk.sync())
    wrong = zoom_settings(fake, desk.settings.db_path, zoom_client_id="someone-else")
    desk.define(NEW_TITLE_LINE)
    with pytest.raises(OperationError) as refused:
        sync_webinar(desk.store, load_provider("zoom", wrong, desk.store), desk.webinar, NOW)
    desk.store.db.execute("PRAGMA wal_checkpoint(FULL)")

    assert len(fake.issued) >= 2
    assert reports[0].failed
    assert (reports[1].pulled_new, reports[1].cancelled) == (1, 1)
    places: dict[str, bytes | str] = {**every_file(workdir), **every_value(desk.store)}
    places["log records"] = caplog.text + "\n".join(f"{r.msg} {r.args}" for r in caplog.records)
    places["sync reports"] = repr(reports)
    places["the error"] = str(refused.value)
    assert any("/oauth/token" in r.getMessage() for r in caplog.records), "urllib3's debug lines were captured"
    assert leaks(secret_values(fake), places) == []


def test_the_command_line_prints_and_stores_no_secret(make_zoom, run, workdir):
    fake = make_zoom(RecordingZoom, plan="business", seed=1, client_secret="cli-secret-" + secrets.token_hex(16))
    env = {"WEBINAR_OPS_PROVIDER": "zoom", **fake.environment()}
    definition = definition_variant(workdir, FUTURE, name="webinar.toml")
    outputs: dict[str, str] = {}

    def step(*args: str, expect: int = 0, extra: dict | None = None) -> None:
        ran = run(*args, env={**env, **(extra or {})})
        assert ran.code == expect, (args, ran.stdout, ran.stderr)
        outputs[f"stdout of {' '.join(args)}"] = ran.stdout
        outputs[f"stderr of {' '.join(args)}"] = ran.stderr

    step("init")
    step("webinar", "add", str(definition))
    step("registrants", "import", SAMPLE_SLUG, str(SAMPLE_CSV))
    wrong_secret = "rotated-" + secrets.token_hex(16)
    step("sync", SAMPLE_SLUG, expect=1, extra={"ZOOM_CLIENT_SECRET": wrong_secret})
    assert "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in outputs[f"stderr of sync {SAMPLE_SLUG}"]
    step("--debug", "sync", SAMPLE_SLUG)
    fake.expire_tokens()
    state = fake.state()
    fake.add_registrant_from_zoom_page(state["webinars"][0]["id"], "walk.in@example.org", "Walk", "In")
    step("sync", SAMPLE_SLUG, "--json")
    step("registrants", "cancel", SAMPLE_SLUG, "kwame.mensah@example.org")
    step("registrants", "list", SAMPLE_SLUG, "--show-links")
    step("status", SAMPLE_SLUG, "--json")
    step("webinar", "show", SAMPLE_SLUG, "--json")
    step("run", "--once")
    step("outbox", SAMPLE_SLUG)

    assert len(fake.issued) >= 2
    assert len(list((workdir / "data" / "outbox" / "new").iterdir())) == 15
    secrets_by_name = {**secret_values(fake), "the wrong secret": wrong_secret}
    assert leaks(secrets_by_name, {**outputs, **every_file(workdir)}) == []


# -- what the provider sends, against Zoom's own OpenAPI document ------------------------------------------


def test_every_exchange_of_a_full_sync_matches_zooms_openapi_document(zoom, open_desk):
    openapi = load_zoom_openapi(SPEC_PATH)
    desk = open_desk(zoom)
    exchanges: list[requests.Response] = []
    desk.provider.client.session.hooks["response"].append(lambda response, *args, **kwargs: exchanges.append(response))
    desk.define({'approval = "automatic"': 'approval = "manual"'})
    desk.import_people(people(95))

    desk.sync()  # create, list, register in batches
    zoom.add_registrant_from_zoom_page(desk.zoom_id, "walk.in@example.org", "Walk", "In")
    cancel_person(desk.store, desk.webinar, "person7@example.org", NOW)
    desk.import_people([(ADA, "Ada", "Lovelace")])
    zoom.set_faults(error_next=1, error_statuses=[503])
    desk.sync()  # a 503, a pull, a batch, a cancellation
    desk.define({'approval = "automatic"': 'approval = "manual"', **NEW_TITLE_LINE})
    zoom.expire_tokens()
    desk.sync()  # a 401 and a fresh token, a get and an update

    api = [r for r in exchanges if r.url.startswith(zoom.api_url)]
    operations = {(r.request.method, re.sub(r"/\d+", "/{id}", r.url.split("/v2")[1].split("?")[0])) for r in api}
    assert operations >= {
        ("POST", "/users/me/webinars"),
        ("GET", "/webinars/{id}"),
        ("PATCH", "/webinars/{id}"),
        ("GET", "/webinars/{id}/registrants"),
        ("POST", "/webinars/{id}/batch_registrants"),
        ("PUT", "/webinars/{id}/registrants/status"),
    }
    assert {r.status_code for r in api} >= {200, 201, 204, 401, 503}
    for response in api:
        check_exchange(openapi, response, request_valid=True)


# -- docs/zoom.md's flow, through the command line, with the local Zoom in its own process -------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_in_about_two_hours(zone: str) -> datetime:
    """A wall time about two hours from now in `zone`, whose 90 minutes do not cross midnight."""
    start = times.in_zone(datetime.now(UTC) + timedelta(hours=2), zone).replace(tzinfo=None, second=0, microsecond=0)
    if (start + timedelta(minutes=90)).date() != start.date():
        start = (start + timedelta(minutes=90)).replace(hour=0, minute=5)
    return start


def test_the_zoom_pages_flow_through_the_command_line_with_fake_zoom_in_its_own_process(run, workdir):
    port = free_port()
    fake_zoom = subprocess.Popen(
        [sys.executable, "-m", "webinar_ops", "fake-zoom", "--port", str(port), "--plan", "business"],
        cwd=workdir,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        printed = dict(fake_zoom.stdout.readline().strip().split("=", 1) for _ in range(6))
        assert printed["ZOOM_API_BASE_URL"] == f"http://127.0.0.1:{port}/v2"
        env = {"WEBINAR_OPS_PROVIDER": "zoom", **printed}
        start_wall = start_in_about_two_hours(SAMPLE.time_zone)
        path = workdir / "data" / "webinars" / "zoom-readme.toml"
        path.write_text(
            demo_definition(SAMPLE_DEFINITION.read_text(encoding="utf-8"), "zoom-readme", start_wall, [60]),
            encoding="utf-8",
        )

        for args in (
            ("init",),
            ("webinar", "add", "data/webinars/zoom-readme.toml"),
            ("registrants", "import", "zoom-readme", "data/registrants-sample.csv"),
        ):
            ran = run(*args, env=env)
            assert ran.code == 0, (args, ran.stdout, ran.stderr)
        synced = run("sync", "zoom-readme", env=env)
        assert synced.code == 0, synced.stderr
        assert "Webinar created at zoom." in synced.stdout
        assert "zoom-readme: 15 registered, 0 failed" in synced.stdout
        once = run("run", "--once", env=env)
        assert once.code == 0, once.stderr
        assert "Sent 15," in once.stdout

        base = printed["ZOOM_API_BASE_URL"].removesuffix("/v2")
        [webinar] = requests.get(f"{base}/_fake/state", timeout=10).json()["webinars"]
    finally:
        fake_zoom.terminate()
        _, fake_log = fake_zoom.communicate(timeout=10)

    assert "POST /v2/users/me/webinars 201" in fake_log
    assert "POST /v2/webinars/" in fake_log
    links = {r["email"]: r["join_url"] for r in webinar["registrants"]}
    assert len(links) == 15
    mails = sorted((workdir / "data" / "outbox" / "new").iterdir())
    assert len(mails) == 15
    seen = set()
    for path in mails:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        to = message["To"].addresses[0].addr_spec
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        link = links[to]
        assert link.startswith(f"https://us06web.zoom.us/w/{webinar['id']}?tk=")
        assert link in text, to
        assert link in html, to
        assert webinar["start_url"] not in text + html
        seen.add(to)
    assert seen == set(links)


# -- under a stricter Zoom ----------------------------------------------------------------------


class OneBatchAlwaysThrottledZoom(FakeZoom):
    """A Zoom that answers every batch holding `person0@example.org` with a per-second 429,
    without its rate-limit headers and with Retry-After 0, so the client retries at once."""

    def _api(self, incoming, entry):
        if incoming.path.endswith("/batch_registrants") and b"person0@example.org" in incoming.body:
            raise ZoomRefusal(429, 429, QPS_MESSAGE, headers={"Retry-After": "0"})
        return super()._api(incoming, entry)


def test_a_batch_that_zoom_keeps_refusing_fails_alone_and_the_others_are_stored(make_zoom, open_desk):
    fake = make_zoom(OneBatchAlwaysThrottledZoom, plan="business", seed=3)
    desk = open_desk(fake)
    desk.define()
    desk.import_people(people(90))

    report = desk.sync()

    assert report.registered == 60
    assert len(report.failed) == 30
    assert all("429" in message for _, message in report.failed)
    everyone = sorted(f"person{i}@example.org" for i in range(90))  # batches go by address
    assert {email for email, _ in report.failed} == set(everyone[:30])
    assert_each_registered_once(desk, set(everyone[30:]))


def test_a_batch_answered_with_a_5xx_after_zoom_applied_it_is_checked_before_anyone_is_sent_again(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.sync()  # the webinar exists at Zoom
    desk.import_people(people(90))
    zoom.clear_requests()
    zoom.set_faults(late_error_next=1)

    report = desk.sync()

    assert zoom.faults_injected["late_error"] == 1
    assert report.registered == 90
    assert_each_registered_once(desk, {f"person{i}@example.org" for i in range(90)})
    submitted = [address for request in registrations(zoom) for address in addresses(request)]
    assert len(submitted) == len(set(submitted)) == 90, "nobody is submitted twice: each submission counts at Zoom"


def test_a_sync_within_zooms_published_limits_meets_no_429(make_zoom, open_desk):
    fake = make_zoom(plan="free", seed=5)  # one batch a second: every window is full
    desk = open_desk(fake)
    desk.define()
    desk.import_people(people(150))
    # Requests reach Zoom after uneven delays on the way, as over any network.
    fake.set_faults(slow_rate=0.5, slow_seconds=0.08)

    report = desk.sync()

    assert report.registered == 150
    assert fake.throttled == {}


def test_a_token_that_lives_less_than_a_minute_is_not_fetched_before_every_call(make_zoom, open_desk):
    fake = make_zoom(plan="business", seed=5, token_ttl=30)
    desk = open_desk(fake)
    desk.define()
    desk.import_people(people(300))

    report = desk.sync()

    assert report.registered == 300
    assert tokens_issued(fake) == 1


def test_attaching_to_an_existing_webinar_keeps_the_hosts_agenda_and_contact(zoom, open_desk):
    existing = ZoomSite(zoom).create_webinar(
        topic="The host's own title",
        type=5,
        start_time=START_UTC,
        duration=90,
        timezone="Asia/Seoul",
        agenda="The host's agenda",
        settings={"approval_type": 0, "contact_name": "Host Person", "contact_email": "host.person@example.org"},
    )
    zoom.clear_requests()
    desk = open_desk(zoom)
    desk.define({'webinar_id = "create"': f'webinar_id = "{existing["id"]}"'})

    desk.sync()

    [patch] = sent(zoom, "PATCH", f"/webinars/{existing['id']}")
    assert "agenda" not in patch.body
    assert not {"contact_name", "contact_email"} & set(patch.body["settings"])
    now_at_zoom = zoom.webinar(existing["id"])
    assert now_at_zoom["topic"] == TITLE
    assert now_at_zoom["agenda"] == "The host's agenda"
    assert now_at_zoom["settings"]["contact_email"] == "host.person@example.org"


def test_republishing_with_nothing_changed_says_so_and_sends_no_update(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.sync()
    desk.store.republish(desk.webinar)
    zoom.clear_requests()

    report = desk.sync()

    assert report.published == "unchanged"
    assert not report.changed_anything
    assert not webinar_writes(zoom)


def test_tokens_revoked_twice_in_a_row_are_retried_and_the_sync_goes_through(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    desk.import_people(people(40))
    zoom.set_faults(revoke_next=2)

    report = desk.sync()

    assert zoom.faults_injected["revoke"] == 2
    assert report.registered == 40


def test_tokens_revoked_again_and_again_say_what_happened_not_scopes(zoom, open_desk):
    desk = open_desk(zoom)
    desk.define()
    zoom.set_faults(revoke_rate=1.0)

    with pytest.raises(OperationError) as refused:
        desk.sync()

    message = str(refused.value)
    assert "revoked" in message
    assert "try again" in message
    assert "scope" not in message
    assert "refused the webinar" not in message


def test_a_spent_daily_update_limit_holds_back_only_the_update(make_zoom, open_desk, monkeypatch):
    fake = make_zoom(plan="business", seed=5)
    desk = open_desk(fake)
    desk.define()
    desk.sync()
    monkeypatch.setattr(fakezoom, "HOST_WRITES_PER_DAY", 1)  # the create spent the host's day
    desk.define(NEW_TITLE_LINE)
    desk.import_people(people(30))
    fake.add_registrant_from_zoom_page(desk.zoom_id, "walk.in@example.org", "Walk", "In")

    today = datetime.now(UTC)  # the fake's daily limits follow the real clock
    report = desk.sync(today)

    assert report.published == "waiting"
    assert report.registered == 30
    assert report.pulled_new == 1
    fake.clear_requests()
    again = desk.sync(today)  # before the reset: Zoom is not asked to update, the rest goes on
    assert again.published == "waiting"
    assert not webinar_writes(fake)


def test_a_missing_scope_is_named(make_zoom, open_desk):
    fake = make_zoom(plan="business", seed=5, scopes="webinar:read:admin")
    desk = open_desk(fake)
    desk.define()

    with pytest.raises(OperationError) as refused:
        desk.sync()

    assert "add webinar:write:admin to the app's scopes" in str(refused.value)
    assert "4711" in str(refused.value)


def test_refused_credentials_say_which_settings_to_check(zoom, open_desk):
    desk = open_desk(zoom, zoom_client_secret="not-the-secret-1234")
    desk.define()

    with pytest.raises(OperationError) as refused:
        desk.sync()

    message = str(refused.value)
    assert "refused the webinar" not in message
    assert "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in message
    assert "not-the-secret-1234" not in message


def test_the_command_line_says_when_there_is_nothing_to_change_and_when_credentials_are_refused(
    make_zoom, run, workdir
):
    fake = make_zoom(plan="business", seed=2)
    env = {"WEBINAR_OPS_PROVIDER": "zoom", **fake.environment()}
    definition = definition_variant(workdir, FUTURE, name="webinar.toml")
    assert run("init", env=env).code == 0
    assert run("webinar", "add", str(definition), env=env).code == 0
    assert run("sync", SAMPLE_SLUG, env=env).stdout.startswith("Webinar created at zoom.")
    fake.clear_requests()

    republished = run("sync", SAMPLE_SLUG, "--republish", env=env)
    refused = run("sync", SAMPLE_SLUG, "--republish", env={**env, "ZOOM_CLIENT_SECRET": "rotated-0000"})

    assert republished.code == 0
    assert "Nothing to change at zoom." in republished.stdout
    assert "Webinar updated" not in republished.stdout
    assert not sent(fake, "PATCH", f"/webinars/{fake.state()['webinars'][0]['id']}")
    assert refused.code != 0
    assert "did not publish the webinar" in refused.stderr
    assert "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in refused.stderr
    assert "rotated-0000" not in refused.stderr + refused.stdout
