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
from conftest import HOSTILE_NAMES, LEGITIMATE_NAMES, NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from web_server import serving

from webinar_ops.config import DEFAULT_BASE_URL, Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registration_page import Throttle
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport
from webinar_ops.web import create_app, server_options

FORM = {"first_name": "Mei", "last_name": "Tanaka", "email": "mei.tanaka@example.org", "organisation": "Kyoto U"}


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db",
        secret_key=TEST_SECRET_KEY,
        base_url="https://webinars.example.org",
    ).with_plugin(MaildirSettings(outbox_dir=workdir / "out"))


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


PUBLIC_SITE = "https://webinars.example.org"  # the settings' base URL: where visitors' browsers show the page
SAME_ORIGIN = {"Origin": PUBLIC_SITE, "Sec-Fetch-Site": "same-origin"}  # what a browser says of its own page's form


def form_token(page: str) -> str:
    """The hidden token of the form the page shows."""
    [token] = re.findall(r'name="form_token" value="([^"]+)"', page)
    return token


def submit(page: str, data: dict, headers: dict | None = None) -> requests.Response:
    """Send the form as a browser does: open the page, and post what was typed with the form's
    hidden token, saying it comes from the page's own site."""
    headers = headers or {}
    shown = requests.get(page, headers=headers, timeout=10)
    hidden = {"form_token": form_token(shown.text)} if shown.status_code == 200 else {}
    return requests.post(page, data={**hidden, **data}, headers={**SAME_ORIGIN, **headers}, timeout=10)


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
    answer = submit(site, {**FORM, "time_zone": "Asia/Tokyo"})

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
    submit(site, FORM)

    sync_webinar(published, load_provider("local", settings, published), published.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(published, published.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)
    report = send_due(published, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: NOW)

    assert report.sent == 1
    [mail] = list((settings.of(MaildirSettings).outbox_dir / "new").iterdir())
    assert b"To: Mei Tanaka <mei.tanaka@example.org>" in mail.read_bytes()
    assert people(published)["mei.tanaka@example.org"]["join_url"].startswith("https://webinars.example.org/j/")


def test_the_language_the_browser_asks_for_is_offered_first_and_chooses_the_mails(site, published, settings):
    page = requests.get(site, headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"}, timeout=10)
    assert '<option value="fr" lang="fr" selected>Français</option>' in page.text

    submit(site, {**FORM, "language": "fr"})
    sync_webinar(published, load_provider("local", settings, published), published.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(published, published.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)
    send_due(published, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: NOW)

    assert people(published)["mei.tanaka@example.org"]["language"] == "fr"
    [path] = list((settings.of(MaildirSettings).outbox_dir / "new").iterdir())
    mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail.get_body(("plain",)).get_content().startswith("Bonjour Mei,")


def test_without_a_wish_the_page_offers_the_webinars_own_language(site):
    page = requests.get(site, timeout=10)

    assert '<option value="en" lang="en" selected>English</option>' in page.text


def test_sending_the_form_twice_registers_once(site, published):
    first = submit(site, FORM)
    second = submit(site, FORM)

    assert first.status_code == second.status_code == 200
    assert first.text == second.text, "the page does not tell whether an address was registered before"
    assert published.db.execute("SELECT count(*) FROM registrants").fetchone()[0] == 1


def test_two_submissions_at_the_same_moment_register_once(site, published):
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: submit(site, FORM).status_code, range(4)))

    assert answers == [200] * 4
    assert published.db.execute("SELECT count(*) FROM registrants").fetchone()[0] == 1


def test_the_page_never_rewrites_someone_already_registered(site, published):
    submit(site, FORM)
    submit(site, {**FORM, "first_name": "Impostor", "organisation": "Elsewhere"})

    mei = people(published)["mei.tanaka@example.org"]
    assert (mei["first_name"], mei["organisation"]) == ("Mei", "Kyoto U")


def test_bad_answers_are_shown_next_to_their_fields_and_nothing_is_kept(site, published):
    answer = submit(
        site, {"first_name": "Mei\r\nBcc: all@example.org", "email": "not an address", "time_zone": "Mars/Olympus"}
    )

    assert answer.status_code == 422
    assert 'aria-invalid="true"' in answer.text
    assert 'aria-describedby="email-hint email-error"' in answer.text
    assert "The first name contains a line break or another control character." in answer.text
    assert "The time zone is not one of the list. Choose your zone from the list, or leave it empty." in answer.text
    assert 'value="not an address"' in answer.text, "what the visitor typed stays in the form"
    assert people(published) == {}


@pytest.mark.parametrize("name", ["Visit https://evil.example now", "www.evil.example", *HOSTILE_NAMES])
@pytest.mark.parametrize(("field", "label"), [("first_name", "The first name"), ("last_name", "The last name")])
def test_a_name_carrying_a_link_is_refused_so_no_signed_mail_carries_it(site, published, name, field, label):
    answer = submit(site, {**FORM, field: name})

    assert answer.status_code == 422
    assert f"{label} looks like a link or an address. Write just the name" in answer.text
    assert people(published) == {}


@pytest.mark.parametrize("name", LEGITIMATE_NAMES)
def test_a_real_name_with_dots_or_in_any_script_registers_as_typed(site, published, name):
    answer = submit(site, {**FORM, "first_name": name, "last_name": name})

    assert answer.status_code == 200, answer.text
    mei = people(published)["mei.tanaka@example.org"]
    assert (mei["first_name"], mei["last_name"]) == (name, name)


def test_an_organisation_carrying_a_link_is_refused_on_the_public_page(site, published):
    answer = submit(site, {**FORM, "organisation": "Visit evil.com now"})

    assert answer.status_code == 422
    assert "The organisation looks like a link or an address. Write just its name" in answer.text
    assert people(published) == {}


def test_someone_the_organisers_denied_is_not_brought_back_by_the_page(site, published):
    submit(site, FORM)
    published.db.execute("UPDATE registrants SET status = 'denied'")
    published.db.conn.commit()

    answer = submit(site, {**FORM, "first_name": "Renamed"})

    assert answer.status_code == 200, "the page answers the same as for anyone"
    mei = people(published)["mei.tanaka@example.org"]
    assert (mei["status"], mei["first_name"]) == ("denied", "Mei")


def test_someone_who_cancelled_may_register_again_as_they_were(site, published):
    submit(site, FORM)
    published.db.execute("UPDATE registrants SET status = 'cancelled'")
    published.db.conn.commit()

    submit(site, {**FORM, "first_name": "Renamed"})

    mei = people(published)["mei.tanaka@example.org"]
    assert (mei["status"], mei["first_name"]) == ("approved", "Mei"), "who they are is not rewritten"


def test_markup_in_a_name_is_refused_and_never_echoed_raw(site, published):
    answer = submit(site, {**FORM, "first_name": "<script>alert(1)</script>"})

    assert answer.status_code == 422
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;" in answer.text
    assert people(published) == {}


def test_a_form_with_the_hidden_field_filled_registers_nobody_until_sent_again(site, published):
    filled = submit(site, {**FORM, "leave_empty": "http://spam.example"})

    assert filled.status_code == 200
    assert "press Register again" in filled.text
    assert people(published) == {}, "a bot that fills every field is not registered"
    [mark] = re.findall(r'name="confirm" value="([^"]+)"', filled.text)
    again = submit(site, {**FORM, "leave_empty": "autofilled", "confirm": mark})
    assert "Thank you, Mei" in again.text, "a person whose browser filled it is registered on the second press"
    forged = submit(site, {**FORM, "email": "other@example.org", "leave_empty": "x", "confirm": mark})
    assert "press Register again" in forged.text, "the mark is for one address"
    assert list(people(published)) == ["mei.tanaka@example.org"]


def test_one_address_may_try_a_few_times_then_must_wait(site, published):
    answers = [submit(site, {**FORM, "first_name": "", "last_name": str(n)}).status_code for n in range(6)]

    assert answers == [422] * 5 + [429]
    later = submit(site, FORM)
    assert later.status_code == 429
    assert int(later.headers["Retry-After"]) > 0
    other = submit(site, {**FORM, "email": "ken.ito@example.org"})
    assert other.status_code == 200, "the limit is per address"


def test_a_webinar_with_manual_approval_registers_people_as_waiting(site, published, workdir):
    manual = workdir / "manual.toml"
    manual.write_text(
        SAMPLE_DEFINITION.read_text(encoding="utf-8").replace('approval = "automatic"', 'approval = "manual"')
    )
    published.save_webinar(load_definition(manual), manual.read_text(encoding="utf-8"), "local", NOW)

    answer = submit(site, FORM)

    assert answer.status_code == 200
    assert "Your request awaits the organisers' approval." in answer.text
    assert "A mail saying so goes to <strong>mei.tanaka@example.org</strong>" in answer.text
    assert people(published)["mei.tanaka@example.org"]["status"] == "pending"


def test_a_request_that_awaits_approval_is_told_so_by_the_page_and_by_the_mail(site, published, workdir, settings):
    manual = workdir / "manual.toml"
    manual.write_text(
        SAMPLE_DEFINITION.read_text(encoding="utf-8").replace('approval = "automatic"', 'approval = "manual"')
    )
    published.save_webinar(load_definition(manual), manual.read_text(encoding="utf-8"), "local", NOW)

    page = submit(site, FORM)
    sync_webinar(published, load_provider("local", settings, published), published.webinar(SAMPLE_SLUG), NOW)
    plan_webinar(published, published.webinar(SAMPLE_SLUG), NOW, settings.mail_domain)
    report = send_due(published, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: NOW)

    assert "awaits the organisers' approval" in page.text
    assert report.sent == 1
    [path] = list((settings.of(MaildirSettings).outbox_dir / "new").iterdir())
    mail = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    text = " ".join(mail.get_body(("plain",)).get_content().split())
    assert "The organisers approve each registration, and yours now awaits their approval." in text
    assert people(published)["mei.tanaka@example.org"]["join_url"] not in mail.as_string()


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
    answer = submit(site, FORM)

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
            return submit(page, data, headers={"X-Forwarded-For": client}).status_code

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

    answer = client.post(f"/register/{SAMPLE_SLUG}", data=FORM, headers=SAME_ORIGIN)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert "Nothing was changed" in answer.get_data(as_text=True)
    monkeypatch.undo()
    assert people(published) == {}


# -- forms sent from another site (cross-site request forgery) ------------------------------------


def assert_refused_as_cross_site(answer: requests.Response) -> None:
    assert answer.status_code == 403
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Nobody was registered" in answer.text
    assert "Traceback" not in answer.text


def test_a_form_posted_from_another_site_is_refused_and_registers_nobody(site, published):
    token = form_token(requests.get(site, timeout=10).text)  # another site's server may fetch one too

    answer = requests.post(
        site, data={**FORM, "form_token": token}, headers={"Origin": "https://evil.example"}, timeout=10
    )

    assert_refused_as_cross_site(answer)
    assert f'href="/register/{SAMPLE_SLUG}"' in answer.text, "the page leads to the form on our own site"
    assert people(published) == {}


@pytest.mark.parametrize("fetch_site", ["cross-site", "same-site"])
@pytest.mark.parametrize("origin", [{}, {"Origin": "null"}], ids=["no-origin", "null-origin"])
def test_a_form_the_browser_says_came_from_another_site_is_refused(site, published, fetch_site, origin):
    token = form_token(requests.get(site, timeout=10).text)
    headers = {"Sec-Fetch-Site": fetch_site, **origin}

    answer = requests.post(site, data={**FORM, "form_token": token}, headers=headers, timeout=10)

    assert_refused_as_cross_site(answer)
    assert people(published) == {}


@pytest.mark.parametrize("origin", ["http://webinars.example.org", "https://webinars.example.org.evil.example", "x"])
def test_an_origin_that_is_not_exactly_the_public_site_is_refused(site, published, origin):
    answer = requests.post(site, data=FORM, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}, timeout=10)

    assert_refused_as_cross_site(answer)
    assert people(published) == {}


@pytest.mark.parametrize("token", [None, "", "1617267600.forged", "x" * 600], ids=["none", "empty", "forged", "huge"])
@pytest.mark.parametrize("origin", [{}, {"Origin": "null"}], ids=["no-origin", "null-origin"])
def test_a_client_that_names_no_origin_needs_the_forms_token(site, published, token, origin):
    data = FORM if token is None else {**FORM, "form_token": token}

    answer = requests.post(site, data=data, headers=origin, timeout=10)

    assert_refused_as_cross_site(answer)
    assert people(published) == {}


def test_a_client_that_names_no_origin_registers_with_the_token_of_the_form_it_was_shown(site, published):
    token = form_token(requests.get(site, timeout=10).text)

    answer = requests.post(site, data={**FORM, "form_token": token}, timeout=10)

    assert answer.status_code == 200
    assert "Thank you, Mei" in answer.text
    assert list(people(published)) == ["mei.tanaka@example.org"]


@pytest.mark.parametrize(
    "headers",
    [
        SAME_ORIGIN,
        {"Origin": PUBLIC_SITE},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # Chromium under our Referrer-Policy: no-referrer
    ],
    ids=["origin-and-fetch-site", "origin-only", "fetch-site-only", "typed-in", "null-origin-same-site"],
)
def test_a_form_the_browser_says_is_from_the_pages_own_site_registers(site, published, headers):
    answer = requests.post(site, data=FORM, headers=headers, timeout=10)

    assert answer.status_code == 200
    assert list(people(published)) == ["mei.tanaka@example.org"]


def test_a_forms_token_holds_a_day_and_for_the_client_it_was_shown_to(settings, published):
    behind = dataclasses.replace(settings, trusted_proxy="127.0.0.1")
    now = [NOW]
    with serving(create_app(behind, clock=lambda: now[0]), **server_options(behind)) as base_url:
        page = f"{base_url}/register/{SAMPLE_SLUG}"
        token = form_token(requests.get(page, headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10).text)

        def post(client: str, email: str) -> int:
            data = {**FORM, "email": email, "form_token": token}
            return requests.post(page, data=data, headers={"X-Forwarded-For": client}, timeout=10).status_code

        elsewhere = post("198.51.100.9", "other@example.org")
        now[0] = NOW + timedelta(hours=23)
        next_morning = post("203.0.113.7", "mei.tanaka@example.org")
        now[0] = NOW + timedelta(hours=25)
        too_late = post("203.0.113.7", "ken.ito@example.org")

    assert (elsewhere, next_morning, too_late) == (403, 200, 403)
    assert list(people(published)) == ["mei.tanaka@example.org"]


def test_without_a_public_base_url_the_origin_must_be_the_host_the_browser_asked(settings, published):
    local = dataclasses.replace(settings, base_url=DEFAULT_BASE_URL)
    with serving(create_app(local, clock=lambda: NOW)) as base_url:
        page = f"{base_url}/register/{SAMPLE_SLUG}"
        foreign = requests.post(page, data=FORM, headers={"Origin": PUBLIC_SITE}, timeout=10)
        own = requests.post(page, data=FORM, headers={"Origin": base_url}, timeout=10)

    assert_refused_as_cross_site(foreign)
    assert own.status_code == 200
    assert list(people(published)) == ["mei.tanaka@example.org"]


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
    answers = [submit(site, {**FORM, "leave_empty": "http://spam.example"}).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    assert people(published) == {}


def test_a_page_that_shows_what_was_typed_is_never_cached(base):
    site = f"{base}/register/{SAMPLE_SLUG}"
    refused = submit(site, {**FORM, "first_name": ""})
    assert refused.status_code == 422
    assert "mei.tanaka@example.org" in refused.text
    assert refused.headers["Cache-Control"] == "no-store"
    asked_again = submit(site, {**FORM, "leave_empty": "x"})
    assert asked_again.headers["Cache-Control"] == "no-store"


def test_a_confirmation_mark_of_four_hundred_nines_is_not_an_error(base):
    site = f"{base}/register/{SAMPLE_SLUG}"
    answer = submit(site, {**FORM, "leave_empty": "x", "confirm": "9" * 400 + ".x"})
    assert answer.status_code == 200
    assert "press Register again" in answer.text
