"""Attendance from Zoom, over real HTTP to the local Zoom, with the clock injected: the client
reads the past webinar's participants (or the report API where the plan refuses those), the
sync records them once Zoom's lists are ready, the job pulls them after the end, and every
exchange matches Zoom's OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from conftest import SAMPLE_DEFINITION
from test_zoom import SAMPLE, zoom_settings
from test_zoom_provider import NOW, webinar_at_zoom
from zoom_openapi import SPEC_PATH, check_exchange, load_zoom_openapi

from webinar_ops import times
from webinar_ops.demo import demo_definition
from webinar_ops.jobs import sync_registrations
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom import standin
from webinar_ops.providers.zoom.standin import REPORT_DELAY, FakeZoom
from webinar_ops.store import Store
from webinar_ops.sync import ATTENDANCE_WINDOW, FIRST_RETRY, LAST_RETRY, pull_attendance, retry_wait, sync_webinar

START = datetime(2031, 4, 30, 6, 0, tzinfo=UTC)  # the sample webinar, moved to 2031; 90 minutes
END = START + timedelta(minutes=90)
READY = END + timedelta(seconds=REPORT_DELAY)


class Clock:
    """The local Zoom's wall clock, moved by the test along with the `now` it passes."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now.timestamp()


class Desk:
    """A Zoom webinar in a real store, synced to the local Zoom; `pull` asks for attendance
    at an instant, the local Zoom's clock set to it. Every exchange is kept, to be checked."""

    def __init__(self, zoom: FakeZoom, clock: Clock, tmp_path: Path, people: int):
        self.zoom, self.clock = zoom, clock
        self.settings = zoom_settings(zoom, tmp_path / "zoom.db")
        self.store = Store.open(self.settings.db_path)
        self.provider = load_provider("zoom", self.settings, self.store)
        self.exchanges: list[requests.Response] = []
        self.provider.client.session.hooks["response"].append(lambda r, *args, **kwargs: self.exchanges.append(r))
        webinar = webinar_at_zoom(self.store, tmp_path, people)
        sync_webinar(self.store, self.provider, webinar, NOW)
        self.webinar = self.store.webinar(webinar.slug)
        self.zoom_id = self.webinar.provider_webinar_id

    def registrant_id(self, email: str) -> str:
        return next(r.provider_registrant_id for r in self.store.registrants(self.webinar.id) if r.email == email)

    def attended(self, email: str, minutes: tuple[int, int], **options: str) -> None:
        joined, left = (START + timedelta(minutes=m) for m in minutes)
        self.zoom.attend(self.zoom_id, email, joined, left, **options)

    def pull(self, now: datetime, force: bool = False):
        self.clock.now = now
        return pull_attendance(self.store, self.provider, self.store.webinar(self.webinar.slug), now, force)

    def by_email(self) -> dict:
        emails = {r.id: r.email for r in self.store.registrants(self.webinar.id)}
        return {emails[rid]: presence for rid, presence in self.store.attendance_of(self.webinar.id).items()}

    def check_every_exchange(self) -> set[str]:
        """Check every exchange with the API against Zoom's document; the paths asked."""
        openapi = load_zoom_openapi(SPEC_PATH)
        api = [r for r in self.exchanges if r.url.startswith(self.zoom.api_url)]
        for response in api:
            check_exchange(openapi, response, request_valid=True)
        return {r.url.split("/v2")[1].split("?")[0].replace(self.zoom_id, "{id}") for r in api}


@pytest.fixture
def open_desk(tmp_path):
    opened: list[tuple[FakeZoom, Desk]] = []

    def open_desk(people: int = 5, **options) -> Desk:
        clock = Clock()
        # Tokens live for months here: the clock jumps from the sync to the days after the end.
        zoom = FakeZoom(plan="business", seed=3, clock=clock, token_ttl=90 * 86400, **options).start()
        desk = Desk(zoom, clock, tmp_path, people)
        opened.append((zoom, desk))
        return desk

    yield open_desk
    for zoom, desk in opened:
        desk.store.close()
        zoom.stop()


def a_webinar_some_came_to(desk: Desk) -> None:
    """person0 came twice, person1 from another address through their own link, person2
    once; person3 and person4 did not come; a guest nobody registered looked in."""
    desk.attended("person0@example.org", (0, 20))
    desk.attended("person0@example.org", (30, 90))
    desk.attended("p1.private@example.com", (5, 65), registrant_id=desk.registrant_id("person1@example.org"))
    desk.attended("person2@example.org", (60, 90))
    desk.attended("guest@example.net", (0, 5))
    desk.zoom.end_webinar(desk.zoom_id, END)


def test_attendance_is_recorded_once_zooms_lists_are_ready_and_not_asked_again(open_desk):
    desk = open_desk()
    a_webinar_some_came_to(desk)

    early = desk.pull(END + timedelta(minutes=5))
    assert early.outcome == "not ready"
    assert "3001" in early.reason
    assert early.retry_after == END + timedelta(minutes=5) + FIRST_RETRY
    check = desk.store.attendance_check(desk.webinar.id)
    assert (check.known, check.tries) == (False, 1)
    assert desk.by_email() == {}

    assert desk.pull(END + timedelta(minutes=10)).outcome == "skipped"  # before its retry_after
    second = desk.pull(END + timedelta(minutes=21))
    assert second.outcome == "not ready"
    assert second.retry_after == END + timedelta(minutes=21) + 2 * FIRST_RETRY  # the wait doubles

    pulled = desk.pull(READY + timedelta(minutes=30))
    assert pulled.outcome == "recorded"
    assert (pulled.figures.expected, pulled.figures.attended, pulled.figures.absent) == (5, 3, 2)
    assert pulled.figures.minutes == 80 + 60 + 30
    assert pulled.unmatched == 1
    assert pulled.summary() == "3 of 5 attended (60%); 1 session matched no registrant"
    came = desk.by_email()
    assert {email for email, p in came.items() if p.attended} == {f"person{i}@example.org" for i in range(3)}
    ana = came["person0@example.org"]
    assert (ana.joined_at, ana.left_at, ana.minutes) == (START, END, 80)
    assert came["person1@example.org"].minutes == 60
    check = desk.store.attendance_check(desk.webinar.id)
    assert (check.known, check.source, check.unmatched, check.error) == (True, "provider", 1, None)

    desk.exchanges.clear()
    assert desk.pull(READY + timedelta(hours=1)).outcome == "skipped"
    assert desk.exchanges == []


def test_the_wait_between_tries_doubles_up_to_six_hours():
    waits = [retry_wait(tries) for tries in (0, 1, 2, 4, 5, 1000)]
    assert waits == [FIRST_RETRY, 2 * FIRST_RETRY, 4 * FIRST_RETRY, timedelta(hours=4), LAST_RETRY, LAST_RETRY]


def test_every_exchange_of_a_pull_matches_zooms_document(open_desk):
    desk = open_desk()
    a_webinar_some_came_to(desk)
    desk.exchanges.clear()
    desk.pull(END + timedelta(minutes=1))
    desk.pull(READY)

    assert desk.check_every_exchange() == {"/past_webinars/{id}/participants", "/webinars/{id}"}


def test_more_sessions_than_a_page_are_read_page_by_page(open_desk):
    desk = open_desk(people=320)
    for i in range(320):
        desk.attended(f"person{i}@example.org", (0, 10 + i % 50))
    desk.zoom.end_webinar(desk.zoom_id, END)
    desk.exchanges.clear()

    pulled = desk.pull(READY)

    assert (pulled.figures.attended, pulled.figures.expected) == (320, 320)
    pages = [r for r in desk.exchanges if "/participants" in r.url]
    assert len(pages) == 2
    assert "next_page_token=" in pages[1].request.url
    desk.check_every_exchange()


def test_where_the_plan_refuses_past_participants_the_report_api_answers(open_desk):
    desk = open_desk(past_participants=False)
    a_webinar_some_came_to(desk)
    desk.exchanges.clear()

    pulled = desk.pull(READY)

    assert pulled.outcome == "recorded"
    assert pulled.figures.attended == 3
    assert desk.by_email()["person1@example.org"].attended  # matched by the registrant id the report was asked for
    asked = desk.check_every_exchange()
    assert asked == {"/past_webinars/{id}/participants", "/report/webinars/{id}/participants"}
    report = next(r for r in desk.exchanges if "/report/" in r.url)
    assert "include_fields=registrant_id" in report.request.url


def test_without_the_report_scope_the_refusal_names_the_scope_and_is_tried_again_later(open_desk):
    desk = open_desk(past_participants=False, scopes="webinar:read:admin webinar:write:admin")
    a_webinar_some_came_to(desk)

    pulled = desk.pull(READY)

    assert pulled.outcome == "failed"
    assert "add report:read:admin to the app's scopes" in pulled.reason
    assert pulled.retry_after == READY + FIRST_RETRY
    assert not desk.store.attendance_check(desk.webinar.id).known
    assert desk.zoom.client_secret not in pulled.reason


def test_a_spent_daily_limit_waits_for_its_reset(open_desk, monkeypatch):
    desk = open_desk(past_participants=False)  # the report API is a Heavy call, capped per day
    a_webinar_some_came_to(desk)
    monkeypatch.setitem(standin.PER_DAY["business"], standin.HEAVY, 0)

    pulled = desk.pull(READY)

    assert pulled.outcome == "not ready"
    assert pulled.retry_after == datetime(2031, 5, 1, tzinfo=UTC)  # Zoom's Retry-After: the next 00:00 UTC
    assert "daily limit" in pulled.reason


def test_a_refresh_that_finds_nothing_keeps_what_was_known(open_desk):
    desk = open_desk()
    a_webinar_some_came_to(desk)
    desk.pull(READY)
    desk.zoom.scopes = "webinar:write:admin"  # someone took the app's read scope away meanwhile

    refreshed = desk.pull(READY + timedelta(hours=1), force=True)

    assert refreshed.outcome == "failed"
    assert "webinar:read:admin" in refreshed.reason
    assert desk.store.attendance_check(desk.webinar.id).known
    assert desk.store.attendance_figures(desk.webinar.id).attended == 3


def test_a_webinar_gone_from_zoom_is_a_failure_not_a_wait(open_desk):
    desk = open_desk()
    a_webinar_some_came_to(desk)
    desk.provider.delete_webinar(desk.zoom_id)

    pulled = desk.pull(READY)

    assert pulled.outcome == "failed"
    assert "does not exist at Zoom" in pulled.reason


def test_zoom_is_not_asked_before_the_end_nor_after_the_window_unless_forced(open_desk):
    desk = open_desk()
    a_webinar_some_came_to(desk)

    asked = len(desk.zoom.requests)
    assert desk.pull(END - timedelta(minutes=1)).reason.startswith("the webinar ends at")
    late = END + ATTENDANCE_WINDOW + timedelta(minutes=1)
    assert "days after the end" in desk.pull(late).reason
    assert len(desk.zoom.requests) == asked
    assert desk.pull(late, force=True).outcome == "recorded"


def test_a_forced_pull_replaces_what_was_known(open_desk):
    desk = open_desk()
    a_webinar_some_came_to(desk)
    desk.pull(READY)
    desk.attended("person3@example.org", (80, 90))  # Zoom's fuller list, later

    refreshed = desk.pull(READY + timedelta(hours=2), force=True)

    assert refreshed.figures.attended == 4
    assert desk.by_email()["person3@example.org"].minutes == 10


def test_the_sync_job_pulls_attendance_after_the_end(open_desk):
    desk = open_desk()
    a_webinar_some_came_to(desk)
    desk.clock.now = READY

    sync_registrations.run(desk.settings, clock=lambda: READY)

    assert desk.store.attendance_figures(desk.webinar.id).attended == 3
    asked = [r for r in desk.zoom.requests if r.path.startswith("/v2/past_webinars/")]
    sync_registrations.run(desk.settings, clock=lambda: READY + timedelta(hours=1))
    assert [r for r in desk.zoom.requests if r.path.startswith("/v2/past_webinars/")] == asked  # known: not asked


# -- `webinar-ops attendance pull`, a separate process against the local Zoom -----------------------


def ended_an_hour_ago(zone: str) -> datetime:
    """A wall time in `zone` for a 90-minute webinar that ended about an hour ago, its day's
    agenda not crossing midnight."""
    start = times.in_zone(datetime.now(UTC) - timedelta(minutes=150), zone).replace(
        tzinfo=None, second=0, microsecond=0
    )
    if (start + timedelta(minutes=90)).date() != start.date():
        start = (start - timedelta(days=1)).replace(hour=22, minute=5)
    return start


def test_attendance_pull_says_not_yet_then_prints_who_came(run, workdir):
    with FakeZoom(plan="business", report_delay=0) as zoom:
        env = {"WEBINAR_OPS_PROVIDER": "zoom", **zoom.environment()}
        path = workdir / "data" / "webinars" / "zoom-past.toml"
        start = ended_an_hour_ago(SAMPLE.time_zone)
        path.write_text(demo_definition(SAMPLE_DEFINITION.read_text(encoding="utf-8"), "zoom-past", start, [60]))
        for args in (
            ("init",),
            ("webinar", "add", "data/webinars/zoom-past.toml"),
            ("registrants", "import", "zoom-past", "data/registrants-sample.csv", "--force"),
            ("sync", "zoom-past"),
        ):
            ran = run(*args, env=env)
            assert ran.code == 0, (args, ran.stdout, ran.stderr)
        [webinar] = zoom.state()["webinars"]
        first, second = webinar["registrants"][:2]

        early = run("attendance", "pull", "zoom-past", env=env)
        assert early.code == 1
        assert "not ready" in early.stderr
        assert "Zoom 3001" in early.stderr

        began = datetime.fromisoformat(webinar["start_time"].replace("Z", "+00:00"))
        zoom.attend(webinar["id"], first["email"], began, began + timedelta(minutes=90))
        zoom.attend(webinar["id"], second["email"], began + timedelta(minutes=30), began + timedelta(minutes=60))
        zoom.end_webinar(webinar["id"], began + timedelta(minutes=90))
        pulled = run("attendance", "pull", "zoom-past", "--json", env=env)
        shown = run("attendance", "pull", "zoom-past", env=env)

    assert pulled.code == 0, pulled.stderr
    figures = pulled.json()
    assert (figures["outcome"], figures["attended"], figures["expected"], figures["minutes"]) == (
        "recorded",
        2,
        15,
        120,
    )
    assert figures["rate"] == pytest.approx(2 / 15)
    assert shown.code == 0
    assert shown.stdout.strip() == "zoom-past: 2 of 15 attended (13%)"
    assert zoom.client_secret not in early.stderr + pulled.stdout + shown.stdout


def test_a_provider_plugin_that_does_not_report_attendance_is_not_asked(open_desk):
    desk = open_desk()

    class WrittenBeforeAttendance:  # a third-party provider plugin of an older interface
        name = "older"

    pulled = pull_attendance(desk.store, WrittenBeforeAttendance(), desk.webinar, READY)

    assert (pulled.outcome, pulled.reason) == ("skipped", "older does not report attendance")
    assert desk.store.attendance_check(desk.webinar.id).tries == 0
