"""Zoom webhooks at `POST /zoom/webhook` of the web service, over real HTTP, on a real SQLite file.

The webinar is published to the local Zoom by the real sync. People then sign up on "Zoom's
page" and the host decides on "Zoom's site" (the fake), and the fake posts the signed
webhooks to the web service running in waitress, as Zoom would. Other requests are signed
here by hand, with hmac straight from Zoom's description (not with webhooks.signature), to
forge, tamper with, replay and reorder them. The confirmations leave through the real sender
into a real Maildir. One clock drives the service and the fake; the tests move it.
"""

from __future__ import annotations

import dataclasses
import email
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
import requests
from conftest import HOSTILE_NAMES, LEGITIMATE_NAMES, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from web_server import serving

from webinar_ops.config import Settings, load_settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom import ZoomSettings
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import add_person
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport
from webinar_ops.web import create_app

NOW = datetime(2031, 4, 1, 9, 0, tzinfo=UTC)
START = datetime(2031, 4, 30, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
FUTURE = {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'}
MANUAL = {'approval = "automatic"': 'approval = "manual"'}
SECRET = "zoom-webhook-secret-tOkEn-4f1c9a"
INES, JOAO = "ines.duarte@example.org", "joao.pereira@example.org"


class Clock:
    """The service's and the fake's clock, moved by the test."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def zoom(clock: Clock) -> Iterator[FakeZoom]:
    """The local Zoom, signing its webhooks with the app's secret token."""
    with FakeZoom(plan="business", seed=5, clock=lambda: clock().timestamp(), webhook_secret_token=SECRET) as fake:
        yield fake


@pytest.fixture
def settings(workdir: Path, zoom: FakeZoom) -> Settings:
    env = zoom.environment()
    return Settings(
        db_path=workdir / "data" / "test.db",
        secret_key=TEST_SECRET_KEY,
        base_url="https://webinars.example.org",
        provider="zoom",
    ).with_plugin(
        MaildirSettings(outbox_dir=workdir / "out"),
        ZoomSettings(
            account_id=env["ZOOM_ACCOUNT_ID"],
            client_id=env["ZOOM_CLIENT_ID"],
            client_secret=env["ZOOM_CLIENT_SECRET"],
            api_base_url=env["ZOOM_API_BASE_URL"],
            oauth_url=env["ZOOM_OAUTH_URL"],
            plan=env["ZOOM_PLAN"],
            webhook_secret_token=SECRET,
        ),
    )


def serve(settings: Settings, clock: Clock) -> Iterator[str]:
    with serving(create_app(settings, clock=clock)) as base_url:
        yield base_url + "/zoom/webhook"


@pytest.fixture
def hook(settings: Settings, clock: Clock, zoom: FakeZoom) -> Iterator[str]:
    """The webhook URL of the web service in waitress; the fake posts its webhooks there."""
    for url in serve(settings, clock):
        zoom.webhook_url = url
        yield url


def publish(store: Store, settings: Settings, folder: Path, replacements: dict[str, str] | None = None) -> str:
    """Save the sample webinar, moved to 2031, and create it at the local Zoom by the real
    sync; returns Zoom's webinar id."""
    path = definition_variant(folder, {**FUTURE, **(replacements or {})}, name="webinar.toml")
    store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "zoom", NOW)
    sync_webinar(store, load_provider("zoom", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    return store.webinar(SAMPLE_SLUG).provider_webinar_id


@pytest.fixture
def zoom_id(store: Store, settings: Settings, workdir: Path, hook: str) -> str:
    """A webinar that approves sign-ups automatically, published to the local Zoom."""
    return publish(store, settings, workdir)


# -- signing by hand, from Zoom's description ---------------------------------------------------


def signed_headers(body: bytes, at: datetime, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "x-zm-request-timestamp": stamp, "x-zm-signature": f"v0={digest}"}


def signed_headers_at(body: bytes, stamp: str, secret: str = SECRET) -> dict[str, str]:
    """Signed with a timestamp as written, however odd."""
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "x-zm-request-timestamp": stamp, "x-zm-signature": f"v0={digest}"}


def post(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=10)


def registration_event(name: str, zoom_id: str | int, at: datetime, **registrant: str) -> bytes:
    """A registration event in Zoom's envelope, with odd spacing: a server that signed its
    own re-serialisation of the JSON would not match it."""
    envelope = {
        "event": name,
        "event_ts": int(at.timestamp() * 1000),
        "payload": {
            "account_id": "fake-account-id",
            "object": {"id": int(zoom_id), "uuid": "7oQhE2hTQkiRsn0kZ1xBVg==", "topic": "T", "registrant": registrant},
        },
    }
    return json.dumps(envelope, indent=3).encode()


# -- reading the store and the Maildir -------------------------------------------------------------


def people(store: Store) -> dict[str, dict]:
    return {row["email"]: row for row in store.db.query("SELECT * FROM registrants ORDER BY email")}


def mails(store: Store, address: str) -> dict[str, tuple[str, str | None]]:
    """The person's deliveries: kind -> (state, reason)."""
    sql = (
        "SELECT d.kind, d.state, d.reason FROM deliveries d JOIN registrants r ON r.id = d.registrant_id "
        "WHERE r.email = ?"
    )
    return {row["kind"]: (row["state"], row["reason"]) for row in store.db.query(sql, [address])}


def everything(store: Store) -> tuple[list, list]:
    return list(store.db.query("SELECT * FROM registrants ORDER BY id")), list(
        store.db.query("SELECT * FROM deliveries ORDER BY id")
    )


def send(store: Store, settings: Settings, at: datetime):
    return send_due(store, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: at)


def received(settings: Settings, address: str) -> list[email.message.EmailMessage]:
    folder = settings.of(MaildirSettings).outbox_dir / "new"
    found = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*"))]
    return [m for m in found if address in str(m["To"])]


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


# -- the happy path ---------------------------------------------------------------------------------


def test_a_sign_up_on_zooms_page_reaches_the_person_as_a_confirmation_with_their_join_link(
    zoom, zoom_id, store, settings, clock
):
    at_zoom = zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês", "Duarte")

    [sent] = zoom.webhooks_sent
    assert (sent.event, sent.status) == ("webinar.registration_created", 200)
    row = people(store)[INES]
    assert (row["status"], row["source"], row["first_name"], row["last_name"]) == (
        "approved",
        "provider",
        "Inês",
        "Duarte",
    )
    assert (row["provider_registrant_id"], row["join_url"]) == (at_zoom["id"], at_zoom["join_url"])
    assert mails(store, INES)["confirmation"] == ("pending", None), "planned at once, due now"
    assert {kind: state for kind, (state, _) in mails(store, INES).items()} == {
        "confirmation": "pending",
        "reminder-7d": "pending",
        "reminder-1d": "pending",
        "reminder-1h": "pending",
    }

    assert send(store, settings, clock()).sent == 1

    [confirmation] = received(settings, INES)
    assert at_zoom["join_url"] in text_of(confirmation)
    assert "Inês" in text_of(confirmation)


def test_the_next_sync_does_not_register_them_again_at_zoom(zoom, zoom_id, store, settings, clock):
    zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês", "Duarte")

    report = sync_webinar(store, load_provider("zoom", settings, store), store.webinar(SAMPLE_SLUG), clock())

    assert (report.registered, report.pulled_new, report.pulled_updated) == (0, 0, 0)
    assert zoom.newly_registered(zoom_id)[INES] == 1
    assert zoom.re_added(zoom_id)[INES] == 0


def test_someone_already_registered_here_is_found_by_address_and_takes_zooms_registration(
    zoom_id, store, settings, clock, hook
):
    add_person(store, store.webinar(SAMPLE_SLUG), {"email": JOAO, "first_name": "João"}, NOW)  # not synced yet
    link = f"https://us06web.zoom.us/w/{zoom_id}?tk=joao-token"
    body = registration_event(
        "webinar.registration_created",
        zoom_id,
        clock(),
        id="zr-joao",
        email=JOAO.upper(),
        first_name="J",
        status="approved",
        join_url=link,
    )

    answer = post(hook, body, signed_headers(body, clock()))

    assert (answer.status_code, answer.json()) == (200, {"status": "updated"})
    [row] = people(store).values()
    assert (row["email"], row["first_name"], row["source"]) == (JOAO, "João", "cli"), "their own details stay"
    assert (row["provider_registrant_id"], row["join_url"]) == ("zr-joao", link)
    assert mails(store, JOAO)["confirmation"] == ("pending", None)


def test_url_validation_is_answered_with_the_hmac_of_the_plain_token(hook, clock):
    body = b'{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,'
    body += b'"event":"endpoint.url_validation"}'

    answer = post(hook, body, signed_headers(body, clock()))

    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def test_an_unsigned_url_validation_gets_no_hmac(hook):
    # Answered, it would sign any text the caller chose: "v0:{time}:{a forged event}" too.
    forged = '{"event": "webinar.registration_created", "payload": {}}'
    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": f"v0:1900000000:{forged}"}})

    answer = post(hook, body.encode(), {"Content-Type": "application/json"})

    assert answer.status_code == 401
    assert "encryptedToken" not in answer.text


# -- approval, cancellation, denial -----------------------------------------------------------------


def test_a_pending_registrant_is_only_told_their_request_awaits_approval_until_the_host_approves_them_on_zoom(
    zoom, store, settings, workdir, clock, hook
):
    zoom_id = publish(store, settings, workdir, MANUAL)
    zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês")

    assert people(store)[INES]["status"] == "pending"
    assert mails(store, INES) == {"awaiting": ("pending", None)}
    assert send(store, settings, clock()).sent == 1
    [awaiting] = received(settings, INES)
    assert "awaits their approval" in " ".join(text_of(awaiting).split())
    assert people(store)[INES]["join_url"] not in awaiting.as_string()

    clock.now += timedelta(hours=2)
    zoom.decide_on_zoom_site(zoom_id, INES, "approve")

    assert [(s.event, s.status) for s in zoom.webhooks_sent] == [
        ("webinar.registration_created", 200),
        ("webinar.registration_approved", 200),
    ]
    row = people(store)[INES]
    assert (row["status"], row["approved_at"]) == ("approved", "2031-04-01T11:00:00Z")
    assert send(store, settings, clock()).sent == 1
    _, confirmation = received(settings, INES)
    assert row["join_url"] in text_of(confirmation)


def test_a_request_the_host_denies_on_zoom_brings_the_denial_at_once(zoom, store, settings, workdir, clock, hook):
    zoom_id = publish(store, settings, workdir, MANUAL)
    zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês")
    clock.now += timedelta(hours=1)

    zoom.decide_on_zoom_site(zoom_id, INES, "deny")

    assert zoom.webhooks_sent[-1].event == "webinar.registration_denied"
    assert zoom.webhooks_sent[-1].status == 200
    assert people(store)[INES]["status"] == "denied"
    assert mails(store, INES) == {"awaiting": ("skipped", "registration denied"), "denial": ("pending", None)}
    assert send(store, settings, clock()).sent == 1
    [denial] = received(settings, INES)
    assert str(denial["Subject"]).startswith("About your registration")
    assert people(store)[INES]["join_url"] not in denial.as_string()


@pytest.mark.parametrize(("action", "status"), [("cancel", "cancelled"), ("deny", "denied")])
def test_a_cancelled_or_denied_registrant_gets_no_more_reminders(zoom, zoom_id, store, settings, clock, action, status):
    zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês")
    zoom.add_registrant_from_zoom_page(zoom_id, JOAO, "João")
    assert send(store, settings, clock()).sent == 2

    clock.now += timedelta(days=1)
    zoom.decide_on_zoom_site(zoom_id, INES, action)

    assert zoom.webhooks_sent[-1].status == 200
    assert people(store)[INES]["status"] == status
    assert mails(store, INES) == {
        "confirmation": ("sent", None),
        "reminder-7d": ("skipped", f"registration {status}"),
        "reminder-1d": ("skipped", f"registration {status}"),
        "reminder-1h": ("skipped", f"registration {status}"),
    }
    assert send(store, settings, START - timedelta(days=7)).sent == 1
    assert len(received(settings, INES)) == 1, "only the confirmation, before the change"
    assert len(received(settings, JOAO)) == 2, "the others' reminders go on"


def test_a_cancellation_that_overtakes_the_sign_up_keeps_the_person_cancelled(zoom_id, store, settings, clock, hook):
    signed_up = registration_event(
        "webinar.registration_created", zoom_id, clock(), id="zr-j", email=JOAO, first_name="João", status="approved"
    )
    clock.now += timedelta(seconds=30)
    cancelled = registration_event("webinar.registration_cancelled", zoom_id, clock(), id="zr-j", email=JOAO)

    post(hook, cancelled, signed_headers(cancelled, clock()))
    late = post(hook, signed_up, signed_headers(signed_up, clock()))  # Zoom's retry of the earlier event

    assert late.json()["status"] == "ignored"
    assert people(store)[JOAO]["status"] == "cancelled"
    assert send(store, settings, clock()).sent == 0, "no confirmation for someone who cancelled"


def test_an_event_dated_in_the_future_changes_nothing(zoom_id, store, clock, hook):
    body = registration_event(
        "webinar.registration_created",
        zoom_id,
        clock() + timedelta(days=365 * 200),
        id="zr-j",
        email=JOAO,
        first_name="João",
        status="approved",
    )

    answer = post(hook, body, signed_headers(body, clock()))

    assert answer.status_code == 200
    assert people(store) == {}


def test_a_timestamp_past_the_year_9999_is_refused_not_a_crash(hook):
    body = b'{"event": "webinar.registration_created"}'

    answer = post(hook, body, signed_headers_at(body, "999999999999"))

    assert answer.status_code == 401


# -- replays and order ------------------------------------------------------------------------------


def test_a_replayed_event_creates_no_second_registrant_and_no_second_confirmation(
    zoom, zoom_id, store, settings, clock
):
    zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês")
    [first] = zoom.webhooks_sent
    assert send(store, settings, clock()).sent == 1
    before = everything(store)

    for _ in range(2):
        again = post(zoom.webhook_url, first.body, first.headers)
        assert (again.status_code, again.json()["status"]) == (200, "ignored")

    assert everything(store) == before
    assert send(store, settings, clock()).sent == 0
    assert len(received(settings, INES)) == 1


def test_an_older_event_arriving_late_does_not_undo_a_newer_one(zoom, store, settings, workdir, clock, hook):
    # Zoom retries a delivery that failed: the sign-up (pending) may come again after the approval.
    zoom_id = publish(store, settings, workdir, MANUAL)
    zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês")
    clock.now += timedelta(minutes=1)
    zoom.decide_on_zoom_site(zoom_id, INES, "approve")
    created, _ = zoom.webhooks_sent
    clock.now += timedelta(minutes=1)

    late = post(zoom.webhook_url, created.body, signed_headers(created.body, clock()))

    assert late.status_code == 200
    assert people(store)[INES]["status"] == "approved"
    assert mails(store, INES)["confirmation"] == ("pending", None)


# -- what is refused --------------------------------------------------------------------------------


def bad_signings(body: bytes, now: datetime) -> dict[str, dict[str, str]]:
    good = signed_headers(body, now)
    return {
        "unsigned": {"Content-Type": "application/json"},
        "no timestamp": {k: v for k, v in good.items() if k != "x-zm-request-timestamp"},
        "no signature": {k: v for k, v in good.items() if k != "x-zm-signature"},
        "another secret": signed_headers(body, now, secret="not-the-secret-token"),
        "signature of another timestamp": {**good, "x-zm-request-timestamp": str(int(now.timestamp()) + 1)},
        "bare hex": {**good, "x-zm-signature": good["x-zm-signature"].removeprefix("v0=")},
        "upper-case hex": {**good, "x-zm-signature": good["x-zm-signature"].upper()},
        "not ascii": {**good, "x-zm-signature": "v0=é"},
        "stale, 5 minutes and 1 second old": signed_headers(body, now - timedelta(minutes=5, seconds=1)),
        "future, 5 minutes and 1 second ahead": signed_headers(body, now + timedelta(minutes=5, seconds=1)),
        "stale by a day": signed_headers(body, now - timedelta(days=1)),
    }


def test_unsigned_wrongly_signed_stale_and_future_requests_are_refused_and_change_nothing(
    zoom, zoom_id, store, clock, caplog
):
    caplog.set_level(logging.INFO)
    zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês")
    before = everything(store)
    forged = {
        "cancel Inês": registration_event(
            "webinar.registration_cancelled",
            zoom_id,
            clock(),
            id=people(store)[INES]["provider_registrant_id"],
            email=INES,
        ),
        "add Mallory": registration_event(
            "webinar.registration_created", zoom_id, clock(), id="zr-m", email="mallory@example.org", status="approved"
        ),
    }
    answers = []

    for what, body in forged.items():
        for how, headers in bad_signings(body, clock()).items():
            answer = post(zoom.webhook_url, body, headers)
            assert answer.status_code == 401, (what, how)
            answers.append(answer.text)

    assert everything(store) == before
    shown = "\n".join(answers) + caplog.text
    assert SECRET not in shown
    assert signed_headers(forged["add Mallory"], clock())["x-zm-signature"] not in shown
    assert "mallory" not in shown


def test_a_request_four_minutes_old_or_ahead_is_accepted(zoom_id, store, clock, hook):
    for minutes, who in ((-4, INES), (4, JOAO)):
        body = registration_event("webinar.registration_created", zoom_id, clock(), id=f"zr-{who}", email=who)
        answer = post(hook, body, signed_headers(body, clock() + timedelta(minutes=minutes)))
        assert answer.status_code == 200, minutes

    assert set(people(store)) == {INES, JOAO}


def test_a_body_changed_after_signing_is_refused(zoom_id, store, clock, hook):
    body = registration_event(
        "webinar.registration_created", zoom_id, clock(), id="zr-1", email=INES, status="approved"
    )
    headers = signed_headers(body, clock())
    tampered = {
        "another address": body.replace(INES.encode(), b"mallory@example.org"),
        "the same JSON re-serialised": json.dumps(json.loads(body)).encode(),
        "a space more": body + b" ",
    }

    for what, changed in tampered.items():
        assert post(hook, changed, headers).status_code == 401, what

    assert people(store) == {}
    assert post(hook, body, headers).status_code == 200, "the body as signed is taken"


def test_without_a_secret_token_the_endpoint_says_it_is_not_configured_and_takes_nothing(
    settings, store, clock, zoom_id
):
    unconfigured = settings.with_plugin(dataclasses.replace(settings.of(ZoomSettings), webhook_secret_token=None))
    body = registration_event("webinar.registration_created", zoom_id, clock(), id="zr-1", email=INES)

    for url in serve(unconfigured, clock):
        for headers in ({"Content-Type": "application/json"}, signed_headers(body, clock())):
            answer = post(url, body, headers)
            assert answer.status_code == 503
            assert "ZOOM_WEBHOOK_SECRET_TOKEN" in answer.json()["error"]

    assert people(store) == {}


def test_a_signed_body_that_is_not_zooms_json_gets_400(zoom_id, store, clock, hook):
    bodies = {
        "not JSON": b"{not json",
        "not UTF-8": b'{"event": "\xff"}',
        "a list": b"[]",
        "no registrant": json.dumps(
            {"event": "webinar.registration_created", "payload": {"object": {"id": 1}}}
        ).encode(),
        "no address": registration_event("webinar.registration_created", zoom_id, clock(), id="zr-1"),
        "no registrant id": registration_event("webinar.registration_created", zoom_id, clock(), email=INES),
        "a webinar id that is not one": registration_event(
            "webinar.registration_created", zoom_id, clock(), id="zr-1", email=INES
        ).replace(f'"id": {zoom_id}'.encode(), b'"id": "81; DROP TABLE"'),
        "no plain token": b'{"event": "endpoint.url_validation", "payload": {}}',
    }

    for what, body in bodies.items():
        answer = post(hook, body, signed_headers(body, clock()))
        assert answer.status_code == 400, what
        assert answer.json()["error"], what

    assert people(store) == {}


def test_a_body_over_64_kilobytes_is_refused_unread(hook, clock):
    body = b'{"event": "x", "padding": "' + b"x" * 70_000 + b'"}'

    assert post(hook, body, signed_headers(body, clock())).status_code == 413


# -- what is acknowledged and ignored ----------------------------------------------------------------


def test_an_event_for_a_webinar_not_held_here_is_acknowledged_and_logged_without_personal_data(
    zoom_id, store, clock, hook, caplog
):
    caplog.set_level(logging.INFO, logger="webinar_ops.webhooks")
    body = registration_event(
        "webinar.registration_created",
        89999999999,
        clock(),
        id="zr-1",
        email=INES,
        first_name="Inês",
        status="approved",
    )

    answer = post(hook, body, signed_headers(body, clock()))

    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    assert people(store) == {}
    [line] = [r.getMessage() for r in caplog.records if r.name == "webinar_ops.webhooks"]
    assert "89999999999" in line
    assert "no webinar here" in line
    assert "ines" not in line.lower()
    assert "zr-1" not in line


def test_an_event_webinar_ops_does_not_use_is_acknowledged(zoom_id, store, clock, hook):
    body = json.dumps({"event": "webinar.started", "payload": {"object": {"id": int(zoom_id)}}}).encode()

    answer = post(hook, body, signed_headers(body, clock()))

    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")


def test_a_cancelled_webinar_takes_no_more_registrations(zoom_id, store, clock, hook):
    store.cancel_webinar(store.webinar(SAMPLE_SLUG), None, NOW)
    body = registration_event(
        "webinar.registration_created", zoom_id, clock(), id="zr-1", email=INES, status="approved"
    )

    answer = post(hook, body, signed_headers(body, clock()))

    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    assert people(store) == {}


# -- names --------------------------------------------------------------------------------------------


def test_a_name_with_a_line_break_or_html_breaks_nothing(zoom_id, store, settings, clock, hook):
    body = registration_event(
        "webinar.registration_created",
        zoom_id,
        clock(),
        id="zr-eve",
        email=INES,
        first_name="Eve\r\nBcc: victim@example.net",
        last_name="<script>alert(1)</script>",
        status="approved",
        join_url=f"https://us06web.zoom.us/w/{zoom_id}?tk=eve",
    )

    assert post(hook, body, signed_headers(body, clock())).status_code == 200

    row = people(store)[INES]
    assert (row["first_name"], row["last_name"]) == ("ines.duarte", None), "names that fail the checks are dropped"
    assert send(store, settings, clock()).sent == 1
    [mail] = received(settings, INES)
    raw = mail.as_bytes()
    assert b"victim" not in raw
    assert b"<script>" not in raw
    assert mail["Bcc"] is None


def readable(message: email.message.EmailMessage) -> str:
    """What a reader can see of a mail: its headers and the text of every part."""
    parts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join([*(str(value) for value in message.values()), *parts])


# Where the name is typed on Zoom's page, what is kept of the two names, and what the log says stood in.
HOSTILE_FIRST = ("first_name", ("ines.duarte", "Duarte"), "the part of their address before the @")
HOSTILE_LAST = ("last_name", ("Inês", None), "nothing")


@pytest.mark.parametrize(("column", "kept", "replacement"), [HOSTILE_FIRST, HOSTILE_LAST], ids=["first", "last"])
@pytest.mark.parametrize(("name", "shown"), HOSTILE_NAMES.items())
def test_a_name_from_zooms_page_carrying_a_link_is_replaced_and_the_confirmation_does_not_show_it(
    zoom, zoom_id, store, settings, clock, caplog, name, shown, column, kept, replacement
):
    caplog.set_level(logging.INFO)
    names = {"first_name": "Inês", "last_name": "Duarte", column: name}
    at_zoom = zoom.add_registrant_from_zoom_page(zoom_id, INES, **names)

    row = people(store)[INES]
    assert (row["status"], row["first_name"], row["last_name"]) == ("approved", *kept), "kept, the name replaced"
    assert send(store, settings, clock()).sent == 1
    [confirmation] = received(settings, INES)
    assert f"Dear {kept[0]}," in text_of(confirmation)
    assert shown not in readable(confirmation)
    what = column.replace("_", " ")
    assert [r.getMessage() for r in caplog.records if r.name == "webinar_ops.sync"] == [
        f"Registrant {at_zoom['id']} of {SAMPLE_SLUG}, from zoom: the {what} looks like a link or an address, "
        f"so it was replaced by {replacement}"
    ]
    assert INES not in caplog.text
    assert at_zoom["join_url"] not in caplog.text


@pytest.mark.parametrize("name", LEGITIMATE_NAMES)
def test_a_real_name_from_zooms_page_with_dots_or_in_any_script_is_kept_and_greets_them(
    zoom, zoom_id, store, settings, clock, name
):
    zoom.add_registrant_from_zoom_page(zoom_id, INES, name, name)

    row = people(store)[INES]
    assert (row["first_name"], row["last_name"]) == (name, name)
    assert send(store, settings, clock()).sent == 1
    [confirmation] = received(settings, INES)
    assert f"Dear {name}," in text_of(confirmation)


def test_the_language_given_on_zooms_form_chooses_the_language_of_the_confirmation(
    zoom_id, store, settings, clock, hook
):
    body = registration_event(
        "webinar.registration_created",
        zoom_id,
        clock(),
        id="zr-ines",
        email=INES,
        first_name="Inês",
        status="approved",
        language="fr-FR",
        join_url=f"https://us06web.zoom.us/w/{zoom_id}?tk=ines",
    )

    assert post(hook, body, signed_headers(body, clock())).status_code == 200

    assert people(store)[INES]["language"] == "fr-FR"
    assert send(store, settings, clock()).sent == 1
    [mail] = received(settings, INES)
    assert text_of(mail).startswith("Bonjour Inês,")


# -- the setting ---------------------------------------------------------------------------------------


def test_the_secret_token_is_read_from_the_environment_and_never_shown(tmp_path):
    settings = load_settings(env_file=tmp_path / "none.env", environ={"ZOOM_WEBHOOK_SECRET_TOKEN": SECRET})

    assert settings.of(ZoomSettings).webhook_secret_token == SECRET
    assert SECRET not in repr(settings)


# -- capacity and the waitlist ----------------------------------------------------------------------


def test_a_sign_up_on_zooms_page_past_the_capacity_is_waitlisted_at_once_and_seated_when_one_frees(
    zoom, store, settings, workdir, hook, clock
):
    zoom_id = publish(store, settings, workdir, {"[schedule]": "[registration]\ncapacity = 1\n\n[schedule]"})

    zoom.add_registrant_from_zoom_page(zoom_id, INES, "Inês", "Duarte")
    zoom.add_registrant_from_zoom_page(zoom_id, JOAO, "João", "Pereira")

    assert [sent.status for sent in zoom.webhooks_sent] == [200, 200]
    assert (people(store)[INES]["status"], people(store)[INES]["provider_status"]) == ("approved", "pending")
    assert people(store)[JOAO]["status"] == "waitlisted"
    assert mails(store, INES)["confirmation"] == ("pending", None)
    assert mails(store, JOAO) == {"waitlisted": ("pending", None)}

    clock.now += timedelta(minutes=5)
    zoom.decide_on_zoom_site(zoom_id, INES, "cancel")

    assert people(store)[INES]["status"] == "cancelled"
    assert people(store)[JOAO]["status"] == "approved"
    assert mails(store, JOAO)["waitlisted"] == ("skipped", "registration approved")
    assert mails(store, JOAO)["confirmation"] == ("pending", None)
