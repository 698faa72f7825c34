"""Keeping the store and the provider in step, with the real `local` provider on SQLite."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import (
    HOSTILE_NAMES,
    LEGITIMATE_NAMES,
    NOW,
    SAMPLE_CSV,
    SAMPLE_DEFINITION,
    SAMPLE_SLUG,
    TEST_SECRET_KEY,
    definition_variant,
)
from test_zoom import zoom_settings

from webinar_ops import times, tokens
from webinar_ops.config import Settings
from webinar_ops.definition import Definition, load_definition
from webinar_ops.deliver import send_due
from webinar_ops.people import Person
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import (
    HostedWebinar,
    Provider,
    ProviderError,
    Registration,
    RemoteRegistrant,
    load_provider,
)
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import add_person, apply_import, cancel_person, plan_import
from webinar_ops.store import Registrant, Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport

PEOPLE = 15
KWAME = "kwame.mensah@example.org"
LATER = NOW + timedelta(hours=1)
BASE_URL = "https://webinars.example.org"
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,}")


@pytest.fixture
def settings(workdir) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url=BASE_URL)


@pytest.fixture
def webinar(store: Store) -> WebinarRecord:
    """The sample webinar with the 15 sample registrants imported, not yet synced."""
    definition = load_definition(SAMPLE_DEFINITION)
    record = store.save_webinar(definition, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW).record
    apply_import(store, record, plan_import(store, record, SAMPLE_CSV), NOW)
    return store.webinar(SAMPLE_SLUG)


@pytest.fixture
def local(settings, store) -> Provider:
    return load_provider("local", settings, store)


def sync(store: Store, provider: Provider, now=NOW):
    return sync_webinar(store, provider, store.webinar(SAMPLE_SLUG), now)


def rows(store: Store, webinar: WebinarRecord) -> dict[str, Registrant]:
    return {row.email: row for row in store.registrants(webinar.id)}


def token_of(join_url: str) -> str:
    return join_url.rsplit("/", 1)[1]


def registrants_table(store: Store) -> list[tuple]:
    return [tuple(row) for row in store.db.execute("SELECT * FROM registrants ORDER BY id").fetchall()]


class RefusesOne:
    """A provider that refuses one address and hands everyone else to the real one."""

    def __init__(self, inner: Provider, refused: str, error: str = "refused by the provider", retry_after=None):
        self.inner, self.refused, self.error, self.retry_after = inner, refused, error, retry_after
        self.name, self.batch_size = inner.name, inner.batch_size

    def publish(self, definition: Definition, webinar_id: str | None) -> HostedWebinar:
        return self.inner.publish(definition, webinar_id)

    def register(self, webinar_id: str, people: Sequence[Person], approve: bool) -> list[Registration]:
        others = self.inner.register(webinar_id, [a for a in people if a.email != self.refused], approve)
        answers = {r.email: r for r in others}
        refusal = Registration(self.refused, error=self.error, retry_after=self.retry_after)
        return [answers.get(a.email, refusal) for a in people]

    def registrants(self, webinar_id: str) -> Iterator[RemoteRegistrant]:
        return self.inner.registrants(webinar_id)

    def cancel(self, webinar_id: str, registrant_id: str, email: str) -> None:
        self.inner.cancel(webinar_id, registrant_id, email)


class FailsTheBatchOf(RefusesOne):
    """A provider taking five people at a time that fails every batch holding one address."""

    def __init__(self, inner: Provider, address: str):
        super().__init__(inner, address)
        self.batch_size = 5

    def register(self, webinar_id: str, people: Sequence[Person], approve: bool) -> list[Registration]:
        if any(a.email == self.refused for a in people):
            raise ProviderError("the provider is unavailable (HTTP 503)")
        return self.inner.register(webinar_id, people, approve)


# -- the first sync ---------------------------------------------------------------------------


def test_the_first_sync_creates_the_webinar_and_registers_everyone(store, local, webinar, settings):
    report = sync(store, local)
    assert report.published == "created"
    assert report.registered == PEOPLE
    assert report.failed == []
    assert report.changed_anything
    hosted = store.webinar(SAMPLE_SLUG)
    assert hosted.provider_webinar_id is not None
    assert hosted.join_url == f"{BASE_URL}/w/{hosted.provider_webinar_id}"
    assert not hosted.needs_publishing
    assert store.sync_counts(webinar.id) == {"registered": PEOPLE, "waiting": 0, "failed": 0}
    for row in rows(store, webinar).values():
        assert row.provider_registrant_id
        assert row.provider_status == "approved"
        assert row.join_url.startswith(settings.base_url + "/j/")
        assert row.sync_error is None


def test_each_person_gets_their_own_unguessable_link(store, local, webinar):
    sync(store, local)
    webinar_id = store.webinar(SAMPLE_SLUG).provider_webinar_id
    links = {email: row.join_url for email, row in rows(store, webinar).items()}
    assert len(set(links.values())) == PEOPLE
    for email, link in links.items():
        token = token_of(link)
        assert TOKEN.fullmatch(token)
        assert tokens.verify(TEST_SECRET_KEY, token, "join", webinar_id, email)
        assert tokens.sign("another-secret-key-of-at-least-32-chars", "join", webinar_id, email) != token


def test_registering_the_same_person_again_gives_the_same_link(store, local, webinar):
    sync(store, local)
    webinar_id = store.webinar(SAMPLE_SLUG).provider_webinar_id
    ana = Person("ana@example.org", "Ana")
    [first] = local.register(webinar_id, [ana], approve=True)
    [again] = local.register(webinar_id, [ana], approve=True)
    assert first.ok
    assert again == first


def test_a_person_cancelled_and_added_again_keeps_their_link(store, local, webinar):
    sync(store, local)
    before = rows(store, webinar)[KWAME]
    cancel_person(store, webinar, KWAME, NOW)
    assert sync(store, local, LATER).cancelled == 1
    outcome = add_person(store, webinar, {"email": KWAME, "first_name": "Kwame"}, LATER)
    assert outcome == (KWAME, "re-activated")
    assert sync(store, local, LATER).registered == 1
    after = rows(store, webinar)[KWAME]
    assert after.status == "approved"
    assert after.provider_status == "approved"
    assert after.join_url == before.join_url
    assert after.provider_registrant_id == before.provider_registrant_id


# -- a second sync ----------------------------------------------------------------------------


def test_a_second_sync_changes_nothing(store, local, webinar):
    sync(store, local)
    before = registrants_table(store)
    report = sync(store, local, LATER)
    assert not report.changed_anything
    assert (report.published, report.registered, report.failed, report.deferred) == (None, 0, [], 0)
    assert registrants_table(store) == before


# -- people who registered at the provider --------------------------------------------------------


def register_at_provider_page(store: Store, local: Provider, webinar_id: str) -> None:
    store.db["local_registrants"].insert(
        {
            "webinar_id": webinar_id,
            "email": "Walk.In@Example.org",
            "registrant_id": "page-0001",
            "first_name": "Walk",
            "last_name": "In",
            "status": "approved",
            "join_url": f"{BASE_URL}/j/page-0001-token-abcdefghij",
            "created_at": times.iso_utc(NOW),
        }
    )


def register_through_the_provider(store: Store, local: Provider, webinar_id: str) -> None:
    [result] = local.register(webinar_id, [Person("walk.in@example.org", "Walk", "In")], approve=True)
    assert result.ok


@pytest.mark.parametrize("sign_up", [register_at_provider_page, register_through_the_provider])
def test_people_who_signed_up_at_the_provider_are_pulled_in(store, local, webinar, sign_up):
    sync(store, local)
    sign_up(store, local, store.webinar(SAMPLE_SLUG).provider_webinar_id)
    report = sync(store, local, LATER)
    assert report.pulled_new == 1
    assert report.changed_anything
    walk_in = rows(store, webinar)["walk.in@example.org"]
    assert walk_in.source == "provider"
    assert (walk_in.first_name, walk_in.last_name) == ("Walk", "In")
    assert walk_in.status == "approved"
    assert walk_in.provider_registrant_id
    assert walk_in.join_url
    assert store.sync_counts(webinar.id)["registered"] == PEOPLE + 1
    assert not sync(store, local, LATER + timedelta(hours=1)).changed_anything


def test_a_name_from_the_provider_that_fails_the_checks_is_not_trusted(store, local, webinar):
    sync(store, local)
    webinar_id = store.webinar(SAMPLE_SLUG).provider_webinar_id
    local.register(webinar_id, [Person("mallory@example.org", "<script>alert(1)</script>")], approve=True)
    sync(store, local, LATER)
    assert rows(store, webinar)["mallory@example.org"].first_name == "mallory"


# -- names from Zoom's own page ----------------------------------------------------------------------

IN_2031 = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    with FakeZoom(plan="business", seed=11) as fake:
        yield fake


@pytest.fixture
def zoom_settings_(zoom: FakeZoom, workdir: Path) -> Settings:
    settings = zoom_settings(zoom, workdir / "data" / "zoom.db", base_url=BASE_URL)
    return settings.with_plugin(MaildirSettings(outbox_dir=workdir / "out"))


@pytest.fixture
def at_zoom(zoom_settings_: Settings, workdir: Path) -> Iterator[Store]:
    """The sample webinar, moved to 2031 and published to the local Zoom by the real sync."""
    path = definition_variant(workdir, {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'})
    with Store.open(zoom_settings_.db_path) as store:
        store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "zoom", IN_2031)
        sync_at_zoom(store, zoom_settings_)
        yield store


def sync_at_zoom(store: Store, settings: Settings) -> None:
    sync_webinar(store, load_provider("zoom", settings, store), store.webinar(SAMPLE_SLUG), IN_2031)


def sign_up_at_zoom(zoom: FakeZoom, store: Store, people: dict[str, tuple[str, str]]) -> None:
    """Each address signs up on Zoom's own page with its (first name, last name)."""
    zoom_id = store.webinar(SAMPLE_SLUG).provider_webinar_id
    for address, (first_name, last_name) in people.items():
        zoom.add_registrant_from_zoom_page(zoom_id, address, first_name, last_name)


def what_readers_see(settings: Settings) -> dict[str, str]:
    """Each mail written to the outbox, by its recipient's address: its headers and the text of every part."""
    seen = {}
    for path in (settings.of(MaildirSettings).outbox_dir / "new").iterdir():
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        parts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
        seen[message["To"].addresses[0].addr_spec] = "\n".join([*(str(v) for v in message.values()), *parts])
    return seen


@pytest.mark.parametrize("column", ["first name", "last name"])
def test_a_name_from_zoom_carrying_a_link_is_replaced_and_no_mail_shows_the_link(zoom, at_zoom, zoom_settings_, column):
    people = {
        f"ana.lima{n}@example.org": (name, "Lima") if column == "first name" else ("Ana", name)
        for n, name in enumerate(HOSTILE_NAMES)
    }
    sign_up_at_zoom(zoom, at_zoom, people)

    sync_at_zoom(at_zoom, zoom_settings_)
    plan_webinar(at_zoom, at_zoom.webinar(SAMPLE_SLUG), IN_2031, zoom_settings_.mail_domain)
    sent = send_due(
        at_zoom, zoom_settings_, MaildirTransport(zoom_settings_.of(MaildirSettings).outbox_dir), clock=lambda: IN_2031
    )

    stored = {
        row.email: (row.first_name, row.last_name) for row in at_zoom.registrants(at_zoom.webinar(SAMPLE_SLUG).id)
    }
    expected = {
        address: (address.split("@")[0], "Lima") if column == "first name" else ("Ana", None) for address in people
    }
    assert stored == expected, "nobody is dropped: the name is replaced"
    assert sent.sent == len(HOSTILE_NAMES)
    seen = what_readers_see(zoom_settings_)
    for address, shown in zip(people, HOSTILE_NAMES.values(), strict=True):
        assert f"Dear {expected[address][0]}," in seen[address]
        assert shown not in seen[address]


def test_the_part_of_the_address_standing_in_for_a_name_is_checked_too(zoom, at_zoom, zoom_settings_, caplog):
    caplog.set_level(logging.WARNING, logger="webinar_ops.sync")
    sign_up_at_zoom(zoom, at_zoom, {"evil.com@example.org": ("Visit bit.ly now", "Lima")})

    sync_at_zoom(at_zoom, zoom_settings_)

    [row] = at_zoom.registrants(at_zoom.webinar(SAMPLE_SLUG).id)
    assert (row.first_name, row.last_name) == ("", "Lima")
    [line] = [r.getMessage() for r in caplog.records if r.name == "webinar_ops.sync"]
    assert line == (
        f"Registrant {row.provider_registrant_id} of {SAMPLE_SLUG}, from zoom: the first name looks like a link "
        "or an address, so it was replaced by nothing"
    )


def test_replacing_a_name_is_logged_without_the_address_the_name_or_the_join_link(
    zoom, at_zoom, zoom_settings_, caplog
):
    caplog.set_level(logging.DEBUG)
    sign_up_at_zoom(zoom, at_zoom, {"ana.lima@example.org": ("Visit evil.com now", "www.evil")})

    sync_at_zoom(at_zoom, zoom_settings_)

    [row] = at_zoom.registrants(at_zoom.webinar(SAMPLE_SLUG).id)
    assert (row.first_name, row.last_name) == ("ana.lima", None)
    lines = [r.getMessage() for r in caplog.records if r.name == "webinar_ops.sync"]
    assert lines == [
        f"Registrant {row.provider_registrant_id} of {SAMPLE_SLUG}, from zoom: the first name looks like a link "
        "or an address, so it was replaced by the part of their address before the @",
        f"Registrant {row.provider_registrant_id} of {SAMPLE_SLUG}, from zoom: the last name looks like a link "
        "or an address, so it was replaced by nothing",
    ]
    for secret in ("ana.lima", "evil", row.join_url, TOKEN.search(row.join_url).group()):
        assert secret not in caplog.text


def test_real_names_from_zoom_with_dots_or_in_any_script_are_kept_as_typed(zoom, at_zoom, zoom_settings_):
    people = {f"person{n}@example.org": (name, name) for n, name in enumerate(LEGITIMATE_NAMES)}
    sign_up_at_zoom(zoom, at_zoom, people)

    sync_at_zoom(at_zoom, zoom_settings_)

    stored = {
        row.email: (row.first_name, row.last_name) for row in at_zoom.registrants(at_zoom.webinar(SAMPLE_SLUG).id)
    }
    assert stored == people


# -- cancellations ---------------------------------------------------------------------------------


def test_cancelling_tells_the_provider(store, local, webinar):
    sync(store, local)
    cancel_person(store, webinar, KWAME, LATER)
    report = sync(store, local, LATER)
    assert report.cancelled == 1
    at_provider = {r.email: r.status for r in local.registrants(store.webinar(SAMPLE_SLUG).provider_webinar_id)}
    assert at_provider[KWAME] == "cancelled"
    assert list(at_provider.values()).count("approved") == PEOPLE - 1
    row = rows(store, webinar)[KWAME]
    assert (row.status, row.provider_status) == ("cancelled", "cancelled")
    assert sync(store, local, LATER).cancelled == 0


# -- failures ----------------------------------------------------------------------------------------


def test_a_refusal_for_one_person_is_recorded_against_them_alone(store, local, webinar):
    report = sync(store, RefusesOne(local, KWAME, "address refused"))
    assert report.registered == PEOPLE - 1
    assert report.failed == [(KWAME, "address refused")]
    kwame = rows(store, webinar)[KWAME]
    assert kwame.sync_error == "address refused"
    assert kwame.provider_registrant_id is None
    assert kwame.join_url is None
    assert store.sync_counts(webinar.id) == {"registered": PEOPLE - 1, "waiting": 0, "failed": 1}

    healed = sync(store, local, LATER)
    assert healed.registered == 1
    kwame = rows(store, webinar)[KWAME]
    assert kwame.sync_error is None
    assert kwame.provider_registrant_id
    assert kwame.join_url
    assert store.sync_counts(webinar.id) == {"registered": PEOPLE, "waiting": 0, "failed": 0}


def test_a_failed_batch_does_not_stop_the_other_batches(store, local, webinar):
    report = sync(store, FailsTheBatchOf(local, KWAME))
    failed = [email for email, _ in report.failed]
    assert KWAME in failed
    assert len(failed) == 5
    assert report.registered == PEOPLE - 5
    for email, row in rows(store, webinar).items():
        if email in failed:
            assert row.sync_error == "the provider is unavailable (HTTP 503)"
            assert row.provider_registrant_id is None
        else:
            assert row.sync_error is None
            assert row.provider_registrant_id

    assert sync(store, local, LATER).registered == 5
    assert store.sync_counts(webinar.id) == {"registered": PEOPLE, "waiting": 0, "failed": 0}


def test_a_person_the_provider_defers_waits_until_retry_after(store, local, webinar):
    tomorrow = NOW + timedelta(days=1)
    report = sync(store, RefusesOne(local, KWAME, "daily registration limit reached", retry_after=tomorrow))
    assert report.failed == [(KWAME, "daily registration limit reached")]
    assert rows(store, webinar)[KWAME].sync_retry_after == times.iso_utc(tomorrow)

    too_soon = sync(store, local, tomorrow - timedelta(minutes=1))
    assert too_soon.registered == 0
    assert too_soon.deferred == 1
    assert rows(store, webinar)[KWAME].provider_registrant_id is None

    on_time = sync(store, local, tomorrow)
    assert on_time.registered == 1
    assert on_time.deferred == 0
    kwame = rows(store, webinar)[KWAME]
    assert kwame.provider_registrant_id
    assert (kwame.sync_error, kwame.sync_retry_after) == (None, None)


def test_a_deferred_person_who_cancels_is_not_counted_as_waiting(store, local, webinar):
    tomorrow = NOW + timedelta(days=1)
    sync(store, RefusesOne(local, KWAME, "daily registration limit reached", retry_after=tomorrow))
    cancel_person(store, webinar, KWAME, LATER)
    report = sync(store, local, LATER)
    assert report.deferred == 0
    assert report.registered == 0


# -- through the command line ----------------------------------------------------------------------


def test_the_sample_flow_registers_everyone_at_the_provider(run):
    assert run("init").code == 0
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml").code == 0
    assert run("registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv").code == 0
    synced = run("sync", SAMPLE_SLUG)
    assert synced.code == 0, synced.stderr
    assert f"{PEOPLE} registered, 0 failed" in synced.stdout
    [status] = run("status", "--json").json()
    assert status["slug"] == SAMPLE_SLUG
    assert status["provider"] == "local"
    assert status["registrants"]["approved"] == PEOPLE
    assert status["sync"] == {"registered": PEOPLE, "waiting": 0, "failed": 0}

    again = run("sync", SAMPLE_SLUG)
    assert again.code == 0, again.stderr
    assert "Already in step" in again.stdout
