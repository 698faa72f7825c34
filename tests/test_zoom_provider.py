"""The zoom provider against the local Zoom, driven as in production: settings, a real store, sync."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from conftest import SAMPLE_DEFINITION
from test_zoom import zoom_settings
from zoom_openapi import checked_zoom_provider, host_token

from webinar_ops.definition import load_definition
from webinar_ops.errors import OperationError
from webinar_ops.people import Person
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom.client import ZoomError
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar

NOW = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)
FUTURE = {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'}


@pytest.fixture
def zoom():
    with FakeZoom(plan="business", seed=7) as fake:
        yield fake


def webinar_at_zoom(store: Store, folder: Path, people: int, replacements: dict | None = None):
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8")
    for old, new in {**FUTURE, **(replacements or {})}.items():
        text = text.replace(old, new)
    path = folder / "webinar.toml"
    path.write_text(text, encoding="utf-8")
    webinar = store.save_webinar(load_definition(path), text, "zoom", NOW).record
    csv_path = folder / "people.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name"])
        writer.writerows([f"person{i}@example.org", f"Person{i}", "Test"] for i in range(people))
    apply_import(store, webinar, plan_import(store, webinar, csv_path), NOW)
    return webinar


def test_a_first_sync_creates_the_webinar_and_registers_everyone_once(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 1000)
        report = sync_webinar(store, load_provider("zoom", settings, store), webinar, NOW)
        rows = store.registrants(webinar.id)
        stored = store.webinar(webinar.slug)

    assert report.published == "created"
    assert report.registered == 1000
    assert report.failed == []
    assert set(zoom.newly_registered().values()) == {1}
    assert not zoom.re_added()
    links = {row.join_url for row in rows}
    assert len(links) == 1000
    assert all(link.startswith("https://") for link in links)
    created = [r for r in zoom.requests if r.method == "POST" and r.path.endswith("/webinars")]
    assert len(created) == 1
    body = created[0].body
    assert (body["type"], body["duration"], body["timezone"]) == (5, 90, "Asia/Seoul")
    assert body["start_time"] == "2031-04-30T06:00:00Z"
    assert body["settings"]["approval_type"] == 0
    assert "Country Case Presentation" in body["agenda"]
    assert all(len(r.body["registrants"]) <= 30 for r in zoom.requests if r.path.endswith("/batch_registrants"))
    assert stored.provider_webinar_id == str(zoom.state()["webinars"][0]["id"])
    assert b"zak=" not in settings.db_path.read_bytes(), "the host's start_url must not be stored"


def test_a_second_sync_sends_no_registration(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 40)
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, NOW)
        zoom.clear_requests()
        report = sync_webinar(store, provider, store.webinar(webinar.slug), NOW)

    assert not report.changed_anything
    assert not [r for r in zoom.requests if r.method in ("POST", "PATCH", "PUT")]


def test_someone_who_signed_up_on_zooms_page_is_pulled_in_not_registered_again(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 3)
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, NOW)
        webinar = store.webinar(webinar.slug)
        zoom.add_registrant_from_zoom_page(webinar.provider_webinar_id, "walk.in@example.org", "Walk", "In")
        report = sync_webinar(store, provider, webinar, NOW)
        pulled = store.registrant(webinar.id, "walk.in@example.org")

    assert report.pulled_new == 1
    assert pulled.source == "provider"
    assert pulled.join_url
    assert zoom.newly_registered()["walk.in@example.org"] == 1


def test_faults_lose_nobody_and_register_nobody_twice(zoom, tmp_path):
    zoom.set_faults(error_rate=0.1, drop_rate=0.05, lost_batch_next=2)
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 300)
        report = sync_webinar(store, load_provider("zoom", settings, store), webinar, NOW)

    assert report.registered == 300
    assert report.failed == []
    assert set(zoom.newly_registered().values()) == {1}
    assert zoom.faults_injected["lost_batch"] == 2


def test_a_faster_client_than_the_plan_waits_out_the_429s(tmp_path):
    with FakeZoom(plan="free") as slow_zoom:
        settings = zoom_settings(slow_zoom, tmp_path / "zoom.db", zoom_plan="pro")
        with Store.open(settings.db_path) as store:
            webinar = webinar_at_zoom(store, tmp_path, 90)
            report = sync_webinar(store, load_provider("zoom", settings, store), webinar, NOW)
        assert slow_zoom.throttled.get("QPS", 0) > 0
        assert report.registered == 90
        assert set(slow_zoom.newly_registered().values()) == {1}


def test_an_expired_token_is_replaced_once(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 60)
        provider = load_provider("zoom", settings, store)
        sync_webinar(store, provider, webinar, NOW)
        issued = zoom.state()["counters"]["tokens_issued"]
        zoom.expire_tokens()
        store.registrants(webinar.id)
        report = sync_webinar(store, provider, store.webinar(webinar.slug), NOW)

    assert report.failed == []
    assert zoom.state()["counters"]["tokens_issued"] == issued + 1


def test_a_wrong_secret_is_a_clear_error_that_repeats_no_secret(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db", zoom_client_secret="not-the-secret-0000")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 1)
        with pytest.raises(OperationError) as refused:
            sync_webinar(store, load_provider("zoom", settings, store), webinar, NOW)

    assert "ZOOM_CLIENT_SECRET" in str(refused.value)
    assert "not-the-secret-0000" not in str(refused.value)


def test_an_unknown_host_is_explained(zoom, tmp_path):
    settings = zoom_settings(zoom, tmp_path / "zoom.db", zoom_user_id="nobody@example.org")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 1)
        with pytest.raises(OperationError, match="ZOOM_USER_ID") as refused:
            sync_webinar(store, load_provider("zoom", settings, store), webinar, NOW)
    assert "x-zm-trackingid" in str(refused.value)


def webinar_created_on_zoom(zoom: FakeZoom) -> dict:
    """A webinar an organiser made on Zoom's site, with Zoom's default: no registration."""
    token = host_token(zoom)
    return requests.post(
        f"{zoom.api_url}/users/me/webinars",
        json={"topic": "Made on Zoom", "type": 5, "start_time": "2031-04-30T06:00:00Z", "duration": 60},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()


def test_registering_for_a_webinar_without_registration_says_what_to_set(zoom, tmp_path):
    existing = webinar_created_on_zoom(zoom)
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        provider = load_provider("zoom", settings, store)
        [result] = provider.register(str(existing["id"]), [Person("ana@example.org", "Ana")], approve=True)

    assert "approval" in result.error
    assert "3000" in result.error
    assert "x-zm-trackingid" in result.error


def test_attaching_to_an_existing_webinar_updates_it_once(zoom, tmp_path):
    existing = webinar_created_on_zoom(zoom)
    zoom.clear_requests()
    settings = zoom_settings(zoom, tmp_path / "zoom.db")
    with Store.open(settings.db_path) as store:
        webinar = webinar_at_zoom(store, tmp_path, 2, {'webinar_id = "create"': f'webinar_id = "{existing["id"]}"'})
        provider = load_provider("zoom", settings, store)
        report = sync_webinar(store, provider, webinar, NOW)
        sync_webinar(store, provider, store.webinar(webinar.slug), NOW)

    assert report.published == "updated"
    assert report.registered == 2
    assert not [r for r in zoom.requests if r.method == "POST" and r.path.endswith("/webinars")]
    assert len([r for r in zoom.requests if r.method == "PATCH"]) == 1


# -- the registration form, its answers, and decisions, each exchange against Zoom's document ------


@pytest.fixture
def checked_provider(zoom):
    """A provider talking to the local Zoom; after the test, every exchange it had must match
    Zoom's OpenAPI document (the project's copy, which holds the registration questions)."""
    with checked_zoom_provider(
        zoom, lambda url: frozenset({400} if "/registrants/questions" in url else ())
    ) as provider:
        yield provider


def manual_webinar(zoom: FakeZoom) -> str:
    """A webinar made on Zoom's site whose registrations wait for the host's approval."""
    made = webinar_created_on_zoom(zoom)
    token = host_token(zoom)
    requests.patch(
        f"{zoom.api_url}/webinars/{made['id']}",
        json={"settings": {"approval_type": 1}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).raise_for_status()
    return str(made["id"])


FORM = {
    "questions": [{"field_name": "org", "required": True}, {"field_name": "country", "required": False}],
    "custom_questions": [
        {"title": "What brings you here?", "type": "short", "required": True},
        {"title": "Which track?", "type": "single_dropdown", "required": False, "answers": ["Data", "Policy"]},
    ],
}


def test_the_registration_form_round_trips_through_zoom(zoom, checked_provider):
    webinar_id = manual_webinar(zoom)
    assert checked_provider.registration_questions(webinar_id) == {"questions": [], "custom_questions": []}

    checked_provider.set_registration_questions(webinar_id, FORM["questions"], FORM["custom_questions"])
    assert checked_provider.registration_questions(webinar_id) == FORM

    checked_provider.set_registration_questions(webinar_id, custom_questions=[])
    assert checked_provider.registration_questions(webinar_id) == {
        "questions": FORM["questions"],
        "custom_questions": [],
    }


def test_a_form_zoom_refuses_names_the_field(zoom, checked_provider):
    webinar_id = manual_webinar(zoom)
    with pytest.raises(ZoomError, match=r"custom_questions\[0\]\.answers") as refused:
        checked_provider.set_registration_questions(
            webinar_id, custom_questions=[{"title": "Which track?", "type": "single_radio"}]
        )
    assert refused.value.code == 300


def test_answers_given_on_zooms_page_come_back_by_address(zoom, checked_provider):
    webinar_id = manual_webinar(zoom)
    checked_provider.set_registration_questions(webinar_id, FORM["questions"], FORM["custom_questions"])
    answers = [{"title": "What brings you here?", "value": "Open budgets"}, {"title": "Which track?", "value": "Data"}]
    zoom.add_registrant_from_zoom_page(webinar_id, "Ines@Example.org", "Inês", org="Tesouro", custom_questions=answers)
    zoom.add_registrant_from_zoom_page(
        webinar_id, "joao@example.org", "João", org="Câmara", country="PT", custom_questions=answers[:1]
    )
    checked_provider.approve(webinar_id, [{"email": "joao@example.org"}])

    assert checked_provider.registration_answers(webinar_id) == {
        "ines@example.org": {"org": "Tesouro", "custom_questions": answers},
        "joao@example.org": {"org": "Câmara", "country": "PT", "custom_questions": answers[:1]},
    }


def test_approvals_and_denials_go_to_zoom_30_a_call(zoom, checked_provider):
    webinar_id = manual_webinar(zoom)
    people = [zoom.add_registrant_from_zoom_page(webinar_id, f"person{i}@example.org", f"P{i}") for i in range(75)]
    to_approve = [{"id": p["id"], "email": p["email"]} for p in people[:64]]
    to_deny = [{"email": p["email"]} for p in people[64:]]

    approved = checked_provider.approve(webinar_id, to_approve)
    denied = checked_provider.deny(webinar_id, to_deny)

    assert [(r.email, r.registrant_id, r.status, r.error) for r in approved] == [
        (p["email"], p["id"], "approved", None) for p in people[:64]
    ]
    assert [(r.email, r.status, r.ok) for r in denied] == [(p["email"], "denied", True) for p in people[64:]]
    puts = [r for r in zoom.requests if r.method == "PUT" and r.path.endswith("/registrants/status")]
    assert [(r.body["action"], len(r.body["registrants"])) for r in puts] == [
        ("approve", 30),
        ("approve", 30),
        ("approve", 4),
        ("deny", 11),
    ]
    statuses = {r["email"]: r["status"] for r in zoom.registrants(webinar_id)}
    assert statuses == {p["email"]: "approved" if i < 64 else "denied" for i, p in enumerate(people)}


def test_a_decision_zoom_refuses_fails_alone(zoom, checked_provider):
    webinar_id = manual_webinar(zoom)
    people = [zoom.add_registrant_from_zoom_page(webinar_id, f"person{i}@example.org", f"P{i}") for i in range(5)]
    checked_provider.approve(webinar_id, [{"email": people[0]["email"]}])
    zoom.clear_requests()
    wanted = [{"email": p["email"]} for p in people] + [{"id": "gone-registrant", "email": "gone@example.org"}]

    denied = checked_provider.deny(webinar_id, wanted)

    assert [r.ok for r in denied] == [False, True, True, True, True, False]
    assert "approved registration is cancelled" in denied[0].error
    assert denied[5].error.startswith("Zoom does not hold this registrant (Registrant gone-registrant was not found.)")
    assert "x-zm-trackingid" in denied[5].error
    statuses = [r["status"] for r in zoom.registrants(webinar_id)]
    assert statuses == ["approved", "denied", "denied", "denied", "denied"]
    puts = [r for r in zoom.requests if r.method == "PUT"]
    assert [len(r.body["registrants"]) for r in puts] == [6, 1, 1, 1, 1, 1, 1]
