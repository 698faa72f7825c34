"""The local provider's attendance: its join page records each opening, and whoever opened
their link from half an hour before the start to the end attended, joined at their first
opening in that window. Over real HTTP to the web service, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from web_server import serving

from webinar_ops.attendance import match
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.providers import AttendanceNotReady
from webinar_ops.providers.local.provider import LocalProvider
from webinar_ops.registrants import add_person
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.web import create_app

START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # the sample: 15:00 in Seoul, for 90 minutes
END = START + timedelta(minutes=90)
ANA, BEN, CHO = "ana.silva@example.org", "ben.okafor@example.org", "cho.min@example.org"


class Clock:
    """The time the web service and the provider see; a test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url="https://w.example.org")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def provider(store: Store, settings: Settings, clock: Clock) -> LocalProvider:
    """Ana, Ben and Cho registered with the local provider for the sample webinar."""
    store.save_webinar(load_definition(SAMPLE_DEFINITION), SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW)
    for address in (ANA, BEN, CHO):
        add_person(store, store.webinar(SAMPLE_SLUG), {"email": address, "first_name": address[:3].title()}, NOW)
    local = LocalProvider(store, settings.base_url, TEST_SECRET_KEY, clock=clock)
    sync_webinar(store, local, store.webinar(SAMPLE_SLUG), NOW)
    return local


@pytest.fixture
def site(settings: Settings, clock: Clock, provider: LocalProvider) -> Iterator[str]:
    with serving(create_app(settings, clock=clock)) as base_url:
        yield base_url


def open_link(store: Store, site: str, address: str) -> requests.Response:
    return requests.get(site + join_path(store, address), timeout=10)


def join_path(store: Store, address: str) -> str:
    (row,) = store.db.query("SELECT join_url FROM registrants WHERE email = ?", [address])
    return urlsplit(row["join_url"]).path


def webinar_id(store: Store) -> str:
    return store.webinar(SAMPLE_SLUG).provider_webinar_id


def test_a_person_who_opens_their_link_during_the_webinar_attended_from_that_moment(store, provider, site, clock):
    clock.at = START + timedelta(minutes=4)
    assert open_link(store, site, ANA).status_code == 200
    clock.at = END

    (join,) = provider.attendance(webinar_id(store))

    assert (join.email, join.joined_at, join.left_at, join.minutes) == (ANA, START + timedelta(minutes=4), None, None)
    assert join.provider_registrant_id == store.registrant(store.webinar(SAMPLE_SLUG).id, ANA).provider_registrant_id


def test_opening_the_link_a_week_early_to_test_it_is_not_attendance(store, provider, site, clock):
    clock.at = START - timedelta(days=7)
    open_link(store, site, ANA)
    clock.at = START - timedelta(minutes=31)
    open_link(store, site, BEN)
    clock.at = START - timedelta(minutes=20)  # a little early, to be on time: that counts
    open_link(store, site, CHO)
    clock.at = END + timedelta(hours=1)

    assert [j.email for j in provider.attendance(webinar_id(store))] == [CHO]


def test_someone_who_tested_the_link_early_and_came_joined_at_their_first_opening_in_the_window(
    store, provider, site, clock
):
    for at in (START - timedelta(days=7), START + timedelta(minutes=10), START + timedelta(minutes=50)):
        clock.at = at
        open_link(store, site, ANA)
    clock.at = END

    (join,) = provider.attendance(webinar_id(store))

    assert join.joined_at == START + timedelta(minutes=10)
    (opens,) = store.db.query("SELECT * FROM local_join_opens")
    assert (opens["opens"], opens["first_opened_at"], opens["last_opened_at"]) == (
        3,
        "2021-04-23T06:00:00Z",
        "2021-04-30T06:50:00Z",
    )


def test_two_opens_are_one_attendee_and_recorded_through_the_store_as_the_join_page(store, provider, site, clock):
    for minutes in (2, 40):
        clock.at = START + timedelta(minutes=minutes)
        open_link(store, site, BEN)
    clock.at = END
    record = store.webinar(SAMPLE_SLUG)

    matched = match(store.attendance_candidates(record.id), provider.attendance(webinar_id(store)))
    store.record_attendance(record.id, matched.present, "join page", clock.at, matched.unmatched)

    figures = store.attendance_figures(record.id)
    assert (figures.expected, figures.attended, figures.absent, figures.mean_minutes) == (3, 1, 2, None)
    check = store.attendance_check(record.id)
    assert (check.known, check.source, check.unmatched) == (True, "join page", 0)
    ben = store.registrant(record.id, BEN)
    assert store.attendance_of(record.id)[ben.id].joined_at == START + timedelta(minutes=2)


def test_before_the_end_attendance_is_not_ready_and_says_to_ask_again_at_the_end(store, provider, site, clock):
    clock.at = START + timedelta(minutes=5)
    open_link(store, site, ANA)

    with pytest.raises(AttendanceNotReady) as raised:
        provider.attendance(webinar_id(store))

    assert raised.value.retry_after == END


def test_opens_at_the_same_moment_all_count(store, provider, site, clock):
    clock.at = START + timedelta(minutes=1)
    link = site + join_path(store, ANA)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: requests.get(link, timeout=10).status_code, range(24)))

    assert answers == [200] * 24
    (opens,) = store.db.query("SELECT opens FROM local_join_opens")
    assert opens["opens"] == 24


def test_a_closed_link_records_no_opening_and_the_token_is_kept_nowhere(store, provider, site, clock):
    clock.at = START + timedelta(minutes=1)
    open_link(store, site, ANA)
    record = store.webinar(SAMPLE_SLUG)
    store.db.execute("UPDATE registrants SET status = 'cancelled' WHERE email = ?", [BEN])
    store.db.conn.commit()

    assert open_link(store, site, BEN).status_code == 410
    (row,) = store.db.query("SELECT * FROM local_join_opens")
    token = urlsplit(store.registrant(record.id, ANA).join_url).path.rpartition("/")[2]
    assert row["email"] == ANA
    assert token not in repr(row)


def test_deleting_the_webinar_deletes_its_openings(store, provider, site, clock):
    clock.at = START + timedelta(minutes=1)
    open_link(store, site, ANA)

    with store.transaction():
        provider.delete_webinar(webinar_id(store))

    assert store.db["local_join_opens"].count == 0


def test_a_database_that_cannot_take_the_write_still_opens_the_page(store, provider, site, clock, monkeypatch, caplog):
    clock.at = START + timedelta(minutes=1)
    connect = sqlite3.connect  # as on a read-only file (see tests/faulty_db.py): the write fails, reading works
    monkeypatch.setattr(
        sqlite3, "connect", lambda path, *a, **k: connect(f"{Path(path).resolve().as_uri()}?mode=ro", *a, uri=True, **k)
    )

    answer = open_link(store, site, ANA)

    monkeypatch.undo()
    assert answer.status_code == 200
    assert "<strong>Ana</strong>" in answer.text
    assert store.db["local_join_opens"].count == 0
    (warning,) = [r.getMessage() for r in caplog.records if "join page" in r.getMessage()]
    assert "was not recorded" in warning
    assert join_path(store, ANA).rpartition("/")[2] not in warning


def test_a_head_request_is_no_person_opening_the_page(store, provider, site, clock):
    clock.at = START + timedelta(minutes=1)

    assert requests.head(site + join_path(store, ANA), timeout=10).status_code == 200
    assert store.db["local_join_opens"].count == 0
