"""The web service (`webinar-ops serve`) over real HTTP: one-click unsubscribe (RFC 8058),
the local provider's join pages and /healthz.

Ana and Ben are registered and sent their confirmations into a real Maildir; each mail's
List-Unsubscribe header gives the link that a mail client would POST to. The app runs in
waitress, the production server `serve` uses, on a free port of loopback.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from urllib.parse import quote, urlsplit

import icalendar
import pytest
import requests
import vobject
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from web_server import serving

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import add_person
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport
from webinar_ops.web import create_app

START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)
ANA, BEN = "ana.silva@example.org", "ben.okafor@example.org"


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db",
        secret_key=TEST_SECRET_KEY,
        base_url="https://webinars.example.org",
    ).with_plugin(MaildirSettings(outbox_dir=workdir / "out"))


@pytest.fixture
def confirmed(store: Store, settings: Settings) -> Store:
    """Ana and Ben registered with the local provider, and sent their confirmations."""
    store.save_webinar(load_definition(SAMPLE_DEFINITION), SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW)
    for address in (ANA, BEN):
        add_person(store, store.webinar(SAMPLE_SLUG), {"email": address, "first_name": address[:3].title()}, NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)
    assert send(store, settings, NOW).sent == 2
    return store


@pytest.fixture
def site(settings: Settings) -> Iterator[str]:
    """The web service on a free port of loopback; yields its base URL."""
    with serving(create_app(settings)) as base_url:
        yield base_url


def send(store: Store, settings: Settings, at: datetime):
    return send_due(store, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: at)


def mail_to(settings: Settings, address: str) -> email.message.EmailMessage:
    for path in sorted((settings.of(MaildirSettings).outbox_dir / "new").iterdir()):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in str(message["To"]):
            return message
    raise AssertionError(f"no mail to {address}")


def one_click_path(settings: Settings, address: str) -> str:
    """The path of the https link in the person's List-Unsubscribe header."""
    message = mail_to(settings, address)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [link] = re.findall(r"<(https://[^>]+)>", str(message["List-Unsubscribe"]))
    assert link.startswith("https://webinars.example.org/u/")
    assert "<mailto:" in str(message["List-Unsubscribe"]), "the mailto stays, for clients without one-click"
    return urlsplit(link).path


def unsubscribed(store: Store) -> dict[str, str | None]:
    return {row["email"]: row["unsubscribed_at"] for row in store.db.query("SELECT * FROM registrants")}


def test_a_one_click_post_stops_the_reminders_for_that_person_only(confirmed, settings, site):
    answer = requests.post(
        site + one_click_path(settings, ANA), data={"List-Unsubscribe": "One-Click"}, allow_redirects=False, timeout=10
    )

    assert answer.status_code == 200
    assert "no more reminders" in answer.text
    assert unsubscribed(confirmed)[ANA] is not None
    assert unsubscribed(confirmed)[BEN] is None
    send(confirmed, settings, START - timedelta(days=7))
    reasons = {
        (row["email"], row["state"], row["reason"])
        for row in confirmed.db.query(
            "SELECT r.email, d.state, d.reason FROM deliveries d JOIN registrants r ON r.id = d.registrant_id "
            "WHERE d.kind = 'reminder-7d'"
        )
    }
    assert reasons == {(ANA, "skipped", "they unsubscribed from the reminders"), (BEN, "sent", None)}


def test_a_one_click_post_that_a_mail_client_sends_from_another_site_still_unsubscribes(confirmed, settings, site):
    # RFC 8058: the mail client posts from its own site (or none), with no form and no token.
    cross_site = {"Origin": "https://mail.example.com", "Sec-Fetch-Site": "cross-site"}

    answer = requests.post(
        site + one_click_path(settings, ANA), data={"List-Unsubscribe": "One-Click"}, headers=cross_site, timeout=10
    )

    assert answer.status_code == 200
    assert unsubscribed(confirmed)[ANA] is not None


def test_opening_the_link_only_shows_a_button(confirmed, settings, site):
    answer = requests.get(site + one_click_path(settings, ANA), timeout=10)

    assert answer.status_code == 200
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in answer.text
    assert "<button" in answer.text
    assert unsubscribed(confirmed)[ANA] is None, "a link checker opening the link unsubscribes nobody"


def test_a_forged_or_borrowed_token_unsubscribes_nobody(confirmed, settings, site):
    path = one_click_path(settings, ANA)
    registrant_id, signature = path.rsplit("/", 1)[1].split(".")
    ben_id = next(r["id"] for r in confirmed.db.query("SELECT id FROM registrants WHERE email = ?", [BEN]))
    forged = [
        f"/u/{registrant_id}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # one character changed
        f"/u/{ben_id}.{signature}",  # Ana's signature on Ben's registration
        f"/u/{registrant_id}",
        "/u/..%2F..%2Fetc%2Fpasswd",
    ]

    for bad in forged:
        answer = requests.post(site + bad, data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert answer.status_code == 404, bad

    assert set(unsubscribed(confirmed).values()) == {None}


def test_a_post_without_the_one_click_body_is_refused(confirmed, settings, site):
    answer = requests.post(site + one_click_path(settings, ANA), data={"unsubscribe": "yes"}, timeout=10)

    assert answer.status_code == 400
    assert unsubscribed(confirmed)[ANA] is None


def test_the_unsubscribe_link_is_only_in_its_owners_mail(confirmed, settings):
    ana_path = one_click_path(settings, ANA)

    assert (
        ana_path.encode()
        not in (settings.of(MaildirSettings).outbox_dir / "new")
        .joinpath(
            next(
                p.name
                for p in (settings.of(MaildirSettings).outbox_dir / "new").iterdir()
                if BEN.encode() in p.read_bytes()
            )
        )
        .read_bytes()
    )


def test_status_counts_the_people_who_unsubscribed(confirmed, settings, site):
    requests.post(site + one_click_path(settings, BEN), data={"List-Unsubscribe": "One-Click"}, timeout=10)

    assert confirmed.unsubscribed_count(confirmed.webinar(SAMPLE_SLUG).id) == 1


def calendar_file_path(settings: Settings, address: str) -> str:
    """The path of the person's "Download the invitation (.ics)" link in their mail's HTML."""
    html = mail_to(settings, address).get_body(("html",)).get_content()
    [link] = re.findall(r'href="(https://webinars\.example\.org/c/[^"]+/invite\.ics)"', html)
    return urlsplit(link).path


def test_the_calendar_file_link_gives_the_same_event_as_the_mails_invite(confirmed, settings, site):
    answer = requests.get(site + calendar_file_path(settings, ANA), timeout=10)

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/calendar")
    assert answer.headers["Cache-Control"] == "no-store", "it holds the personal join link"
    assert requests.get(site + one_click_path(settings, ANA), timeout=10).headers["Cache-Control"] == "no-store"
    event = icalendar.Calendar.from_ical(answer.content).walk("VEVENT")[0]
    webinar = confirmed.webinar(SAMPLE_SLUG)
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (webinar.calendar_uid, webinar.revision)
    assert str(event["ATTENDEE"]) == f"mailto:{ANA}"


def test_after_a_cancellation_the_calendar_file_cancels_the_event(confirmed, settings, site):
    path = calendar_file_path(settings, ANA)
    confirmed.cancel_webinar(confirmed.webinar(SAMPLE_SLUG), None, NOW)

    calendar = icalendar.Calendar.from_ical(requests.get(site + path, timeout=10).content)

    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(calendar.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"


def test_the_calendar_file_of_a_cancelled_registration_cancels_the_event(confirmed, settings, site):
    path = calendar_file_path(settings, ANA)
    confirmed.db.execute("UPDATE registrants SET status = 'cancelled' WHERE email = ?", [ANA])
    confirmed.db.conn.commit()

    calendar = icalendar.Calendar.from_ical(requests.get(site + path, timeout=10).content)

    assert str(calendar["METHOD"]) == "CANCEL"


def test_an_error_is_logged_without_the_token_in_the_path(confirmed, settings, caplog):
    path = calendar_file_path(settings, ANA)
    app = create_app(settings)
    app.testing = False  # errors are logged and answered 500, as in production
    confirmed.db.execute("UPDATE webinars SET definition_toml = 'title = '")  # a row damaged by hand
    confirmed.db.conn.commit()

    answer = app.test_client().get(path)

    assert answer.status_code == 500
    assert "calendar_file" in caplog.text
    assert path.split("/")[2] not in caplog.text, "the token opens Ana's invite"


def test_a_calendar_file_link_opens_only_its_owners_invite(confirmed, settings, site):
    registrant_id, signature = calendar_file_path(settings, ANA).split("/")[2].split(".")
    ben_id = next(r["id"] for r in confirmed.db.query("SELECT id FROM registrants WHERE email = ?", [BEN]))
    unsubscribe_signature = one_click_path(settings, ANA).rsplit(".", 1)[1]

    for bad in (f"{ben_id}.{signature}", f"{registrant_id}.{unsubscribe_signature}", f"{registrant_id}.x"):
        assert requests.get(f"{site}/c/{bad}/invite.ics", timeout=10).status_code == 404, bad


def test_a_local_join_link_says_whose_it_is_and_for_which_webinar(confirmed, site):
    [join_url] = [r["join_url"] for r in confirmed.db.query("SELECT join_url FROM registrants WHERE email = ?", [ANA])]

    answer = requests.get(site + urlsplit(join_url).path, timeout=10)
    unknown = requests.get(site + "/j/not-a-token-of-ours", timeout=10)

    assert answer.status_code == 200
    assert "<strong>Ana</strong>" in answer.text
    assert "Strengthening Data Governance" in answer.text
    assert unknown.status_code == 404


def test_a_join_link_issued_before_tokens_had_a_column_of_their_own_still_opens(confirmed, site):
    [join_url] = [r["join_url"] for r in confirmed.db.query("SELECT join_url FROM registrants WHERE email = ?", [ANA])]
    confirmed.db.execute("DROP INDEX idx_local_registrants_join_token")  # as a database of an earlier release
    confirmed.db.execute("ALTER TABLE local_registrants DROP COLUMN join_token")
    confirmed.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_join_tokens'")
    confirmed.db.conn.commit()

    answer = requests.get(site + urlsplit(join_url).path, timeout=10)

    assert answer.status_code == 200
    assert "<strong>Ana</strong>" in answer.text
    assert "join_token" in confirmed.db["local_registrants"].columns_dict


def test_healthz_answers_when_the_database_does(confirmed, site):
    answer = requests.get(site + "/healthz", timeout=10)

    assert (answer.status_code, answer.text) == (200, "ok\n")


def test_webinar_ops_serve_listens_on_the_base_urls_port(workdir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY, "WEBINAR_OPS_BASE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "webinar_ops", "serve"],
        cwd=workdir,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, process.stderr.read1().decode() if process.poll() else "no answer"
                time.sleep(0.1)
        assert answer.text == "ok\n"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_token_with_a_non_ascii_digit_is_an_unknown_link(confirmed, site):
    for path in ("/u/%C2%B2.abc", "/c/%C2%B2.abc/invite.ics", "/j/%EF%BC%A1%EF%BC%A2%D9%A3"):  # ＡＢ٣
        assert requests.get(site + path, timeout=10).status_code == 404, path


# -- cancelled registrations ---------------------------------------------------------------


@pytest.fixture
def from_the_command_line(run, workdir: Path) -> Settings:
    """The sample webinar, moved to 2031, added, its 15 registrants imported and synced with
    the local provider, and their confirmations written to the Maildir, all through the
    command line."""
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    definition_variant(workdir, {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'}, "future.toml")
    for command in (
        ("webinar", "add", "future.toml"),
        ("registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"),
        ("sync", SAMPLE_SLUG),
        ("run", "--once"),
    ):
        ran = run(*command, env=env)
        assert ran.code == 0, ran.stderr
    return Settings(
        db_path=workdir / "data" / "webinar_ops.db",
        secret_key=TEST_SECRET_KEY,
    ).with_plugin(MaildirSettings(outbox_dir=workdir / "data" / "outbox"))


def join_urls(settings: Settings) -> dict[str, str]:
    with Store.open(settings.db_path) as store:
        return {row["email"]: row["join_url"] for row in store.db.query("SELECT email, join_url FROM registrants")}


def mails(settings: Settings) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted((settings.of(MaildirSettings).outbox_dir / "new").iterdir())
    ]


def assert_closed(answer: requests.Response, why: str, join_url: str) -> None:
    assert answer.status_code == 410
    assert answer.headers["Cache-Control"] == "no-store"
    assert why in answer.text
    assert urlsplit(join_url).path not in answer.text


def test_a_cancelled_persons_join_link_answers_410_gone_while_the_others_still_open(run, from_the_command_line):
    settings = from_the_command_line
    links = join_urls(settings)
    [ana, ben, *_] = sorted(links)

    cancelled = run("registrants", "cancel", SAMPLE_SLUG, ana, env={"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY})

    assert cancelled.code == 0, cancelled.stderr
    with serving(create_app(settings)) as site:
        closed = requests.get(site + urlsplit(links[ana]).path, timeout=10)
        still_open = requests.get(site + urlsplit(links[ben]).path, timeout=10)
    assert_closed(closed, "This registration was cancelled.", links[ana])
    assert still_open.status_code == 200


def test_a_registration_the_organiser_cancelled_closes_its_join_link_before_the_provider_is_told(
    from_the_command_line,
):
    settings = from_the_command_line
    links = join_urls(settings)
    ana = min(links)
    with Store.open(settings.db_path) as store:  # as `registrants cancel` leaves it when the provider is away
        store.db.execute("UPDATE registrants SET status = 'cancelled' WHERE email = ?", [ana])
        store.db.conn.commit()

    with serving(create_app(settings)) as site:
        answer = requests.get(site + urlsplit(links[ana]).path, timeout=10)

    assert_closed(answer, "This registration was cancelled.", links[ana])


def test_cancelling_the_webinar_closes_every_join_link_and_its_cancellations_carry_none(run, from_the_command_line):
    settings = from_the_command_line
    links = join_urls(settings)
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    shutil.rmtree(settings.of(MaildirSettings).outbox_dir)  # only the cancellations are read below

    assert run("webinar", "cancel", SAMPLE_SLUG, env=env).code == 0
    assert run("run", "--once", env=env).code == 0

    with serving(create_app(settings)) as site:
        for link in links.values():
            assert_closed(requests.get(site + urlsplit(link).path, timeout=10), "This webinar was cancelled.", link)
    cancellations = mails(settings)
    assert len(cancellations) == len(links)
    for message in cancellations:
        link = links[message["To"].addresses[0].addr_spec]
        for part in message.walk():
            if part.get_content_maintype() != "multipart":
                text = part_text(part)
                assert link not in text, part.get_content_type()
                assert quote(link, safe="") not in text, part.get_content_type()
        assert_invite_has_no_join_link(message, link)


def part_text(part: email.message.EmailMessage) -> str:
    content = part.get_content()
    return content.decode() if isinstance(content, bytes) else content


def assert_invite_has_no_join_link(message: email.message.EmailMessage, link: str) -> None:
    text = next(part_text(p) for p in message.walk() if p.get_content_type() == "text/calendar")
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["METHOD"]) == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert "URL" not in event
    assert "LOCATION" not in event
    assert all(link not in str(value) for value in event.values())
    parsed = vobject.readOne(text)
    assert not hasattr(parsed.vevent, "url")
    assert not hasattr(parsed.vevent, "location")
    assert link not in parsed.vevent.description.value


def test_a_cancelled_persons_calendar_file_still_cancels_the_event_but_carries_no_join_link(confirmed, settings, site):
    path = calendar_file_path(settings, ANA)
    [link] = [r["join_url"] for r in confirmed.db.query("SELECT join_url FROM registrants WHERE email = ?", [ANA])]
    confirmed.db.execute("UPDATE registrants SET status = 'cancelled' WHERE email = ?", [ANA])
    confirmed.db.conn.commit()

    answer = requests.get(site + path, timeout=10)

    assert answer.status_code == 200, "a calendar that imported the file needs the CANCEL to drop the entry"
    assert answer.headers["Cache-Control"] == "no-store"
    assert link not in answer.text
    event = icalendar.Calendar.from_ical(answer.content).walk("VEVENT")[0]
    assert "URL" not in event
    assert "LOCATION" not in event


def test_a_token_ending_in_an_encoded_slash_is_an_unknown_link_not_a_redirect(confirmed, settings, site):
    token = calendar_file_path(settings, ANA).split("/")[2]

    answer = requests.get(f"{site}/c/{token}%2F/invite.ics", allow_redirects=False, timeout=10)

    assert answer.status_code == 404
    assert "Location" not in answer.headers
