"""The registration page (`/register/SLUG`) over real HTTP, served by waitress.

A visitor reads the webinar's title, times and agenda, fills in the form, and is registered;
the next sync registers them with the provider and the confirmation goes out through the
outbox. Bots meet a honeypot and a limit per address; a double submit registers once.
The same page in a real browser is in test_browser.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import faulty_db
import pytest
import requests
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from web_server import serving

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registration_page import Throttle
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirTransport
from webinar_ops.web import create_app, server_options

FORM = {"first_name": "Mei", "last_name": "Tanaka", "email": "mei.tanaka@example.org", "organisation": "Kyoto U"}


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db",
        secret_key=TEST_SECRET_KEY,
        base_url="https://webinars.example.org",
        mail_outbox_dir=workdir / "out",
    )


@pytest.fixture
def published(store: Store, settings: Settings) -> Store:
    """The sample webinar, held by the local provider."""
    store.save_webinar(load_definition(SAMPLE_DEFINITION), SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    return store


@pytest.fixture
def site(settings: Settings, published: Store) -> Iterator[str]:
    """The web service on a free port of loopback, at NOW; yields the page's address."""
    with serving(create_app(settings, clock=lambda: NOW)) as base_url:
        yield f"{base_url}/register/{SAMPLE_SLUG}"


def people(store: Store) -> dict[str, dict]:
    return {row["email"]: row for row in store.db.query("SELECT * FROM registrants")}


def test_the_page_shows_the_title_both_clocks_and_the_agenda(site):
    page = requests.get(site, timeout=10)

    assert page.status_code == 200
    assert "Strengthening Data Governance" in page.text
    assert "Seoul time (GMT+9)" in page.text
    assert 'data-start="2021-04-30T06:00:00Z"' in page.text, "the instant the browser puts on the visitor's clock"
    assert '<th scope="col">Seoul time</th>' in page.text
    assert '<label for="email">' in page.text
    assert 'autocomplete="email"' in page.text


def test_a_submission_registers_the_person_and_shows_a_confirmation(site, published):
    answer = requests.post(site, data={**FORM, "time_zone": "Asia/Tokyo"}, timeout=10)

    assert answer.status_code == 200
    assert "Thank you, Mei" in answer.text
    assert "mei.tanaka@example.org" in answer.text
    mei = people(published)["mei.tanaka@example.org"]
    assert (mei["status"], mei["source"], mei["time_zone"], mei["organisation"]) == (
        "approved",
        "web",
        "Asia/Tokyo",
        "Kyoto U",
    )


def test_the_next_sync_registers_them_and_the_confirmation_goes_out(site, published, settings):
    requests.post(site, data=FORM, timeout=10)

    sync_webinar(published, load_provider("local", settings, published), published.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(published, published.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)
    report = send_due(published, settings, MaildirTransport(settings.mail_outbox_dir), clock=lambda: NOW)

    assert report.sent == 1
    [mail] = list((settings.mail_outbox_dir / "new").iterdir())
    assert b"To: Mei Tanaka <mei.tanaka@example.org>" in mail.read_bytes()
    assert people(published)["mei.tanaka@example.org"]["join_url"].startswith("https://webinars.example.org/j/")


def test_the_language_the_browser_asks_for_is_offered_first_and_chooses_the_mails(site, published, settings):
    page = requests.get(site, headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"}, timeout=10)
    assert '<option value="fr" lang="fr" selected>Français</option>' in page.text

    requests.post(site, data={**FORM, "language": "fr"}, timeout=10)
    sync_webinar(published, load_provider("local", settings, published), published.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(published, published.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)
    send_due(published, settings, MaildirTransport(settings.mail_outbox_dir), clock=lambda: NOW)

    assert people(published)["mei.tanaka@example.org"]["language"] == "fr"
    [path] = list((settings.mail_outbox_dir / "new").iterdir())
    mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail.get_body(("plain",)).get_content().startswith("Bonjour Mei,")


def test_without_a_wish_the_page_offers_the_webinars_own_language(site):
    page = requests.get(site, timeout=10)

    assert '<option value="en" lang="en" selected>English</option>' in page.text


def test_sending_the_form_twice_registers_once(site, published):
    first = requests.post(site, data=FORM, timeout=10)
    second = requests.post(site, data=FORM, timeout=10)

    assert first.status_code == second.status_code == 200
    assert first.text == second.text, "the page does not tell whether an address was registered before"
    assert published.db.execute("SELECT count(*) FROM registrants").fetchone()[0] == 1


def test_two_submissions_at_the_same_moment_register_once(site, published):
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: requests.post(site, data=FORM, timeout=10).status_code, range(4)))

    assert answers == [200] * 4
    assert published.db.execute("SELECT count(*) FROM registrants").fetchone()[0] == 1


def test_the_page_never_rewrites_someone_already_registered(site, published):
    requests.post(site, data=FORM, timeout=10)
    requests.post(site, data={**FORM, "first_name": "Impostor", "organisation": "Elsewhere"}, timeout=10)

    mei = people(published)["mei.tanaka@example.org"]
    assert (mei["first_name"], mei["organisation"]) == ("Mei", "Kyoto U")


def test_bad_answers_are_shown_next_to_their_fields_and_nothing_is_kept(site, published):
    answer = requests.post(
        site,
        data={"first_name": "Mei\r\nBcc: all@example.org", "email": "not an address", "time_zone": "Mars/Olympus"},
        timeout=10,
    )

    assert answer.status_code == 422
    assert 'aria-invalid="true"' in answer.text
    assert 'aria-describedby="email-hint email-error"' in answer.text
    assert "The first name contains a line break or another control character." in answer.text
    assert "The time zone is not one of the list. Choose your zone from the list, or leave it empty." in answer.text
    assert 'value="not an address"' in answer.text, "what the visitor typed stays in the form"
    assert people(published) == {}


@pytest.mark.parametrize("name", ["Visit https://evil.example now", "www.evil.example", "win@evil.example"])
def test_a_name_carrying_a_link_is_refused_so_no_signed_mail_carries_it(site, published, name):
    answer = requests.post(site, data={**FORM, "first_name": name}, timeout=10)

    assert answer.status_code == 422
    assert "The first name looks like a link or an address. Write just the name" in answer.text
    assert people(published) == {}


def test_someone_the_organisers_denied_is_not_brought_back_by_the_page(site, published):
    requests.post(site, data=FORM, timeout=10)
    published.db.execute("UPDATE registrants SET status = 'denied'")
    published.db.conn.commit()

    answer = requests.post(site, data={**FORM, "first_name": "Renamed"}, timeout=10)

    assert answer.status_code == 200, "the page answers the same as for anyone"
    mei = people(published)["mei.tanaka@example.org"]
    assert (mei["status"], mei["first_name"]) == ("denied", "Mei")


def test_someone_who_cancelled_may_register_again_as_they_were(site, published):
    requests.post(site, data=FORM, timeout=10)
    published.db.execute("UPDATE registrants SET status = 'cancelled'")
    published.db.conn.commit()

    requests.post(site, data={**FORM, "first_name": "Renamed"}, timeout=10)

    mei = people(published)["mei.tanaka@example.org"]
    assert (mei["status"], mei["first_name"]) == ("approved", "Mei"), "who they are is not rewritten"


def test_markup_in_a_name_is_refused_and_never_echoed_raw(site, published):
    answer = requests.post(site, data={**FORM, "first_name": "<script>alert(1)</script>"}, timeout=10)

    assert answer.status_code == 422
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;" in answer.text
    assert people(published) == {}


def test_a_form_with_the_hidden_field_filled_registers_nobody_until_sent_again(site, published):
    filled = requests.post(site, data={**FORM, "leave_empty": "http://spam.example"}, timeout=10)

    assert filled.status_code == 200
    assert "press Register again" in filled.text
    assert people(published) == {}, "a bot that fills every field is not registered"
    [mark] = re.findall(r'name="confirm" value="([^"]+)"', filled.text)
    again = requests.post(site, data={**FORM, "leave_empty": "autofilled", "confirm": mark}, timeout=10)
    assert "Thank you, Mei" in again.text, "a person whose browser filled it is registered on the second press"
    forged = requests.post(site, data={**FORM, "email": "other@example.org", "leave_empty": "x", "confirm": mark})
    assert "press Register again" in forged.text, "the mark is for one address"
    assert list(people(published)) == ["mei.tanaka@example.org"]


def test_one_address_may_try_a_few_times_then_must_wait(site, published):
    answers = [
        requests.post(site, data={**FORM, "first_name": "", "last_name": str(n)}, timeout=10).status_code
        for n in range(6)
    ]

    assert answers == [422] * 5 + [429]
    later = requests.post(site, data=FORM, timeout=10)
    assert later.status_code == 429
    assert int(later.headers["Retry-After"]) > 0
    other = requests.post(site, data={**FORM, "email": "ken.ito@example.org"}, timeout=10)
    assert other.status_code == 200, "the limit is per address"


def test_a_webinar_with_manual_approval_registers_people_as_waiting(site, published, workdir):
    manual = workdir / "manual.toml"
    manual.write_text(
        SAMPLE_DEFINITION.read_text(encoding="utf-8").replace('approval = "automatic"', 'approval = "manual"')
    )
    published.save_webinar(load_definition(manual), manual.read_text(encoding="utf-8"), "local", NOW)

    answer = requests.post(site, data=FORM, timeout=10)

    assert answer.status_code == 200
    assert "The organisers approve each registration" in answer.text
    assert people(published)["mei.tanaka@example.org"]["status"] == "pending"


def test_the_local_providers_registration_link_leads_to_the_page(site, published):
    registration_url = published.webinar(SAMPLE_SLUG).registration_url
    assert registration_url.startswith("https://webinars.example.org/r/")
    local = site.rsplit("/register/", 1)[0] + "/r/" + registration_url.rsplit("/", 1)[1]

    answer = requests.get(local, timeout=10, allow_redirects=False)

    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/register/{SAMPLE_SLUG}")


def test_registration_closes_when_the_webinar_is_cancelled(site, published):
    published.cancel_webinar(published.webinar(SAMPLE_SLUG), None, NOW)

    page = requests.get(site, timeout=10)
    answer = requests.post(site, data=FORM, timeout=10)

    assert page.status_code == answer.status_code == 410
    assert "cancelled" in page.text
    assert people(published) == {}


def test_registration_closes_once_the_webinar_has_taken_place(settings, published):
    after = datetime(2021, 4, 30, 9, 0, tzinfo=UTC) + timedelta(hours=1)
    client = create_app(settings, clock=lambda: after).test_client()

    assert client.get(f"/register/{SAMPLE_SLUG}").status_code == 410
    assert client.get("/register/no-such-webinar").status_code == 404


def test_pages_forbid_framing_and_foreign_scripts(site):
    headers = requests.get(site, timeout=10).headers

    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"


def test_behind_the_trusted_proxy_each_visitor_has_their_own_limit(settings, published):
    behind = dataclasses.replace(settings, trusted_proxy="127.0.0.1")
    with serving(create_app(behind, clock=lambda: NOW), **server_options(behind)) as base_url:
        page = f"{base_url}/register/{SAMPLE_SLUG}"

        def post(client: str, n: int) -> int:
            data = {**FORM, "email": f"person{n}@example.org"}
            return requests.post(page, data=data, headers={"X-Forwarded-For": client}, timeout=10).status_code

        first = [post("203.0.113.7", n) for n in range(61)]
        other = post("198.51.100.9", 99)

    assert first == [200] * 60 + [429]
    assert other == 200, "one visitor's limit is not everyone's"


def test_the_limits_forget_quiet_addresses():
    now = [0.0]
    throttle = Throttle(5, 60.0, clock=lambda: now[0])
    for n in range(1000):
        throttle.allow(f"address:{n}@example.org")

    now[0] = 61.0
    throttle.allow("address:late@example.org")

    assert len(throttle) == 1


def test_a_database_that_takes_no_writes_gets_a_page_that_says_try_again(settings, published, monkeypatch):
    client = create_app(settings, clock=lambda: NOW).test_client()
    monkeypatch.setattr(sqlite3, "connect", faulty_db.read_only)  # as SQLite is when it may not write

    answer = client.post(f"/register/{SAMPLE_SLUG}", data=FORM)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert "Nothing was changed" in answer.get_data(as_text=True)
    monkeypatch.undo()
    assert people(published) == {}


# -- the service as it meets the internet: slow clients, huge bodies, bots --------------------------


@pytest.fixture
def base(settings: Settings, published) -> Iterator[str]:
    """The web service with the options `webinar-ops serve` gives waitress."""
    with serving(create_app(settings, clock=lambda: NOW), **server_options(settings)) as base_url:
        yield base_url


def connect(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def test_a_body_over_the_limit_is_refused_from_its_content_length_before_it_is_read(base):
    with contextlib.closing(connect(base)) as client:
        client.sendall(
            b"POST /zoom/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 900000000\r\n\r\n"
        )
        started = time.monotonic()
        answer = client.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert time.monotonic() - started < 2, "answered at once, without waiting for 900 MB"


def test_two_hundred_slow_clients_do_not_keep_the_health_check_waiting(base):
    slow = []
    try:
        for _ in range(200):
            client = connect(base)
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
            slow.append(client)
        started = time.monotonic()
        answer = requests.get(base + "/healthz", timeout=5)
        assert answer.status_code == 200
        assert time.monotonic() - started < 2
    finally:
        for client in slow:
            client.close()


def test_the_limit_on_submissions_holds_for_those_that_fill_the_hidden_field(base, published):
    site = f"{base}/register/{SAMPLE_SLUG}"
    answers = [
        requests.post(site, data={**FORM, "leave_empty": "http://spam.example"}, timeout=10).status_code
        for _ in range(6)
    ]
    assert answers == [200] * 5 + [429]
    assert people(published) == {}


def test_a_page_that_shows_what_was_typed_is_never_cached(base):
    site = f"{base}/register/{SAMPLE_SLUG}"
    refused = requests.post(site, data={**FORM, "first_name": ""}, timeout=10)
    assert refused.status_code == 422
    assert "mei.tanaka@example.org" in refused.text
    assert refused.headers["Cache-Control"] == "no-store"
    asked_again = requests.post(site, data={**FORM, "leave_empty": "x"}, timeout=10)
    assert asked_again.headers["Cache-Control"] == "no-store"


def test_a_confirmation_mark_of_four_hundred_nines_is_not_an_error(base):
    site = f"{base}/register/{SAMPLE_SLUG}"
    answer = requests.post(site, data={**FORM, "leave_empty": "x", "confirm": "9" * 400 + ".x"}, timeout=10)
    assert answer.status_code == 200
    assert "press Register again" in answer.text
