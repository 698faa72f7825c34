"""Capacity and the waitlist with Zoom, against the local Zoom, every exchange checked against
Zoom's OpenAPI document (the project's copy).

The queue is webinar-ops's: waitlisted people are not registered at Zoom until they get a
seat, and under a capacity the webinar asks for manual approval at Zoom, so that people who
sign up on Zoom's own page wait there as pending for webinar-ops to seat or waitlist them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from conftest import SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from test_zoom import zoom_settings
from web_server import serving
from zoom_openapi import checked_zoom_provider

from webinar_ops.definition import load_definition
from webinar_ops.plan import plan_webinar
from webinar_ops.providers.zoom.client import ZoomProvider
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import add_person, cancel_person
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.tokens import cancel_token
from webinar_ops.web import create_app

NOW = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)
FUTURE = {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'}
TWO_SEATS = {"[schedule]": "[registration]\ncapacity = 2\n\n[schedule]"}
ANA, BOB, CLEO, WALK_IN = "ana@example.org", "bob@example.org", "cleo@example.org", "walk.in@example.org"


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with FakeZoom(plan="business", seed=11) as fake:
        yield fake


@pytest.fixture
def provider(zoom: FakeZoom) -> Iterator[ZoomProvider]:
    """The zoom provider on the local Zoom; afterwards every exchange must match Zoom's document."""
    with checked_zoom_provider(zoom) as provider:
        yield provider


@pytest.fixture
def store(zoom: FakeZoom, tmp_path: Path) -> Iterator[Store]:
    with Store.open(zoom_settings(zoom, tmp_path / "zoom.db").db_path) as store:
        yield store


def save(store: Store, folder: Path, replacements: dict[str, str]) -> WebinarRecord:
    path = definition_variant(folder, {**FUTURE, **replacements}, name="webinar.toml")
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "zoom", NOW).record


def sync(store: Store, provider: ZoomProvider):
    report = sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), NOW, "example.org")
    return report


def at_zoom(zoom: FakeZoom) -> dict[str, str]:
    """Zoom's registrants: address -> status."""
    [webinar] = zoom.state()["webinars"]
    return {r["email"]: r["status"] for r in webinar["registrants"]}


def here(store: Store) -> dict[str, str]:
    return {row.email: row.status for row in store.registrants(store.webinar(SAMPLE_SLUG).id)}


def kinds_planned(store: Store, address: str) -> set[str]:
    sql = "SELECT d.kind FROM deliveries d JOIN registrants r ON r.id = d.registrant_id WHERE r.email = ?"
    return {row["kind"] for row in store.db.query(sql, [address])}


def add(store: Store, *addresses: str) -> None:
    webinar = store.webinar(SAMPLE_SLUG)
    for address in addresses:
        add_person(store, webinar, {"email": address, "first_name": address.split("@")[0].title()}, NOW)


def test_under_a_capacity_the_webinar_asks_for_manual_approval_at_zoom(zoom, store, provider, tmp_path):
    save(store, tmp_path, TWO_SEATS)

    sync(store, provider)

    [created] = [r for r in zoom.requests if r.method == "POST" and r.path.endswith("/webinars")]
    assert created.body["settings"]["approval_type"] == 1


def test_setting_a_capacity_later_switches_the_webinar_at_zoom_to_manual_approval(zoom, store, provider, tmp_path):
    save(store, tmp_path, {})
    sync(store, provider)
    zoom.clear_requests()

    save(store, tmp_path, TWO_SEATS)
    sync(store, provider)

    [update] = [r for r in zoom.requests if r.method == "PATCH"]
    assert update.body["settings"]["approval_type"] == 1


def test_waitlisted_people_are_not_registered_at_zoom_until_they_get_a_seat(zoom, store, provider, tmp_path):
    save(store, tmp_path, TWO_SEATS)
    add(store, ANA, BOB, CLEO)

    sync(store, provider)

    assert at_zoom(zoom) == {ANA: "approved", BOB: "approved"}
    assert here(store)[CLEO] == "waitlisted"
    assert kinds_planned(store, CLEO) == {"waitlisted"}

    cancel_person(store, store.webinar(SAMPLE_SLUG), ANA, NOW)
    report = sync(store, provider)

    assert report.cancelled == 1
    assert report.registered == 1
    assert at_zoom(zoom)[CLEO] == "approved"
    cleo = store.registrant(store.webinar(SAMPLE_SLUG).id, CLEO)
    assert cleo.status == "approved"
    assert cleo.join_url.startswith("https://")
    assert "confirmation" in kinds_planned(store, CLEO)
    assert zoom.newly_registered()[CLEO] == 1


def test_a_cancel_link_tells_zoom_at_once_and_registers_the_first_in_line_there(zoom, store, provider, tmp_path):
    save(store, tmp_path, TWO_SEATS)
    add(store, ANA, BOB, CLEO)
    sync(store, provider)
    ana = store.registrant(store.webinar(SAMPLE_SLUG).id, ANA)
    settings = zoom_settings(zoom, store.path)

    with serving(create_app(settings, clock=lambda: NOW)) as base:
        answer = requests.post(
            f"{base}/c/{cancel_token(TEST_SECRET_KEY, ana.id, ANA)}",
            headers={"Sec-Fetch-Site": "same-origin"},
            timeout=30,
        )

    assert answer.status_code == 200
    assert here(store) == {ANA: "cancelled", BOB: "approved", CLEO: "approved"}
    assert at_zoom(zoom)[ANA] != "approved", "Zoom was told before the page answered"
    assert store.registrant(store.webinar(SAMPLE_SLUG).id, ANA).provider_status == "cancelled"
    assert at_zoom(zoom)[CLEO] == "approved"
    assert store.registrant(store.webinar(SAMPLE_SLUG).id, CLEO).join_url.startswith("https://")
    assert "confirmation" in kinds_planned(store, CLEO)


def test_a_sign_up_on_zooms_page_with_a_free_seat_gets_it_here(zoom, store, provider, tmp_path):
    save(store, tmp_path, TWO_SEATS)
    add(store, ANA)
    sync(store, provider)
    zoom_id = store.webinar(SAMPLE_SLUG).provider_webinar_id

    zoom.add_registrant_from_zoom_page(zoom_id, WALK_IN, "Walk", "In")
    report = sync(store, provider)

    walk_in = store.registrant(store.webinar(SAMPLE_SLUG).id, WALK_IN)
    assert report.pulled_new == 1
    assert at_zoom(zoom)[WALK_IN] == "pending", "Zoom approves nobody by itself under a capacity"
    assert (walk_in.status, walk_in.provider_status) == ("approved", "pending")
    assert "confirmation" in kinds_planned(store, WALK_IN)


def test_a_sign_up_on_zooms_page_past_the_capacity_is_waitlisted_here_and_seated_when_one_frees(
    zoom, store, provider, tmp_path
):
    save(store, tmp_path, TWO_SEATS)
    add(store, ANA, BOB)
    sync(store, provider)
    zoom_id = store.webinar(SAMPLE_SLUG).provider_webinar_id

    zoom.add_registrant_from_zoom_page(zoom_id, WALK_IN, "Walk", "In")
    sync(store, provider)

    assert here(store)[WALK_IN] == "waitlisted"
    assert at_zoom(zoom)[WALK_IN] == "pending"
    assert kinds_planned(store, WALK_IN) == {"waitlisted"}

    zoom.decide_on_zoom_site(zoom_id, BOB, "cancel")  # Bob cancels on Zoom's side
    sync(store, provider)

    assert here(store)[BOB] in ("cancelled", "denied")  # Zoom lists a cancelled registration as denied
    assert here(store)[WALK_IN] == "approved"
    assert "confirmation" in kinds_planned(store, WALK_IN)
    assert zoom.newly_registered()[WALK_IN] == 1, "already at Zoom: not registered a second time"


def test_a_second_sync_under_a_capacity_changes_nothing(zoom, store, provider, tmp_path):
    save(store, tmp_path, TWO_SEATS)
    add(store, ANA, BOB, CLEO)
    sync(store, provider)
    zoom.add_registrant_from_zoom_page(store.webinar(SAMPLE_SLUG).provider_webinar_id, WALK_IN, "Walk", "In")
    sync(store, provider)
    before = here(store)
    zoom.clear_requests()

    report = sync(store, provider)

    assert not report.changed_anything
    assert here(store) == before
    assert not [r for r in zoom.requests if r.method in ("POST", "PATCH", "PUT")]
