"""A participant cancels their own registration from the link in their mail (`/c/TOKEN`),
over real HTTP to the web service in waitress, on a real SQLite file and a real Maildir.

The webinar has two seats: Ana and Bob hold them, Cleo waits first in line and Dan after her.
Opening the link only asks; pressing the button cancels, and the seat goes to Cleo, whose
confirmation is planned at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from conftest import NOW, SAMPLE_SLUG
from test_waitlist import (
    ANA,
    BASE_URL,
    BOB,
    CLEO,
    DAN,
    mails,
    received,
    register,
    save,
    statuses,
    sync_plan_send,
    with_capacity,
)
from test_waitlist import settings as settings  # the fixture, with the Maildir outbox
from web_server import serving

from webinar_ops import tokens
from webinar_ops.config import Settings
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.web import create_app

SAME_ORIGIN = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}  # what a browser says of its own page's form


@pytest.fixture
def webinar(store: Store, workdir: Path, settings: Settings) -> WebinarRecord:
    """Two seats, Ana and Bob in them, Cleo and Dan waiting; everyone's first mail sent."""
    record = save(store, workdir, with_capacity(2))
    register(store, record, ANA, BOB, CLEO, DAN)
    sync_plan_send(store, settings)
    return store.webinar(SAMPLE_SLUG)


def serve_at(settings: Settings, moment) -> Iterator[str]:
    with serving(create_app(settings, clock=lambda: moment)) as base_url:
        yield base_url


@pytest.fixture
def site(settings: Settings, webinar: WebinarRecord) -> Iterator[str]:
    """The web service at NOW, three weeks before the webinar."""
    yield from serve_at(settings, NOW)


def cancel_path(settings: Settings, address: str) -> str:
    """The path of the cancel link in the person's newest mail, text part; the HTML part has the same."""
    mail = received(settings, address)[-1]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    [link] = re.findall(rf"{re.escape(BASE_URL)}/c/[\w.-]+(?![\w./-])", text)
    assert f'href="{link}"' in html
    return urlsplit(link).path


def form_token(page: str) -> str:
    [token] = re.findall(r'name="form_token" value="([^"]+)"', page)
    return token


def press_the_button(site: str, path: str, headers: dict | None = None) -> requests.Response:
    """Open the page and send its form, as a browser on our site does."""
    shown = requests.get(site + path, timeout=10)
    return requests.post(
        site + path, data={"form_token": form_token(shown.text)}, headers=headers or SAME_ORIGIN, timeout=10
    )


def test_opening_the_cancel_link_only_asks_and_cancels_nobody(store, webinar, settings, site):
    answer = requests.get(site + cancel_path(settings, ANA), timeout=10)

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Cancel your registration?" in answer.text
    assert "Strengthening Data Governance" in answer.text
    assert "30 April 2021" in answer.text, "the webinar's time"
    assert answer.text.count("<button") == 1
    assert statuses(store, webinar) == {ANA: "approved", BOB: "approved", CLEO: "waitlisted", DAN: "waitlisted"}


def test_pressing_the_button_cancels_and_the_first_in_line_gets_the_seat_and_their_confirmation(
    store, webinar, settings, site
):
    answer = press_the_button(site, cancel_path(settings, ANA))

    assert answer.status_code == 200
    assert "Registration cancelled" in answer.text
    assert statuses(store, webinar) == {ANA: "cancelled", BOB: "approved", CLEO: "approved", DAN: "waitlisted"}
    assert store.registrant(webinar.id, ANA).provider_status == "cancelled", "the provider was told at once"
    cleo = store.registrant(webinar.id, CLEO)
    assert cleo.join_url, "registered with the provider at once"
    assert mails(store, CLEO)["confirmation"][0] == "pending", "her confirmation is planned, due now"
    assert mails(store, ANA)["reminder-7d"][0] == "skipped"


def test_the_promoted_persons_confirmation_goes_with_the_next_send(store, webinar, settings, site):
    press_the_button(site, cancel_path(settings, ANA))

    sync_plan_send(store, settings)

    [_, confirmation] = received(settings, CLEO)
    assert f"{BASE_URL}/j/" in confirmation.get_body(("plain",)).get_content()


def test_a_cross_site_post_cancels_nobody(store, webinar, settings, site):
    path = cancel_path(settings, ANA)
    token = form_token(requests.get(site + path, timeout=10).text)
    refused = [
        {"Origin": "https://evil.example.com", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example.com"},
    ]

    for headers in refused:
        answer = requests.post(site + path, data={"form_token": token}, headers=headers, timeout=10)
        assert answer.status_code == 403, headers
        assert "nothing was cancelled" in answer.text

    assert statuses(store, webinar)[ANA] == "approved"


def test_a_browser_that_says_nothing_of_the_form_must_bring_the_pages_token(store, webinar, settings, site):
    path = cancel_path(settings, ANA)

    assert requests.post(site + path, data={}, timeout=10).status_code == 403
    assert requests.post(site + path, data={"form_token": "1617267600.forged"}, timeout=10).status_code == 403
    assert statuses(store, webinar)[ANA] == "approved"
    assert press_the_button(site, path, headers={}).status_code == 200
    assert statuses(store, webinar)[ANA] == "cancelled"


def test_cancelling_twice_says_it_was_cancelled_already_and_seats_nobody_more(store, webinar, settings, site):
    path = cancel_path(settings, ANA)
    press_the_button(site, path)

    again = requests.post(site + path, data={}, headers=SAME_ORIGIN, timeout=10)
    opened = requests.get(site + path, timeout=10)

    assert again.status_code == opened.status_code == 200
    assert "Already cancelled" in again.text
    assert "Already cancelled" in opened.text
    assert "<button" not in opened.text
    assert statuses(store, webinar) == {ANA: "cancelled", BOB: "approved", CLEO: "approved", DAN: "waitlisted"}


def test_a_forged_or_borrowed_token_answers_404_without_detail_and_cancels_nobody(store, webinar, settings, site):
    path = cancel_path(settings, ANA)
    registrant_id, signature = path.rsplit("/", 1)[1].split(".")
    bob = store.registrant(webinar.id, BOB)
    unsubscribe = tokens.unsubscribe_token(settings.secret_key, int(registrant_id), ANA)
    calendar = tokens.calendar_token(settings.secret_key, int(registrant_id), ANA)
    forged = [
        f"/c/{registrant_id}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # one character changed
        f"/c/{bob.id}.{signature}",  # Ana's signature on Bob's registration
        f"/c/{unsubscribe}",  # her unsubscribe link's token cannot cancel
        f"/c/{calendar}",
        f"/c/{registrant_id}",
        "/c/99999.AAAAAAAAAAAAAAAAAAAAAA",
    ]

    for bad in forged:
        for method in (requests.get, requests.post):
            answer = method(site + bad, headers=SAME_ORIGIN, timeout=10)
            assert answer.status_code == 404, bad
            assert "Link not recognised" in answer.text
            assert ANA not in answer.text, "nothing about whose it was"
            assert "Strengthening" not in answer.text
    # Nor can the cancel token unsubscribe.
    one_click = requests.post(site + "/u/" + path.rsplit("/", 1)[1], data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert one_click.status_code == 404
    assert statuses(store, webinar) == {ANA: "approved", BOB: "approved", CLEO: "waitlisted", DAN: "waitlisted"}
    assert store.registrant(webinar.id, ANA).unsubscribed_at is None


def test_after_the_end_the_link_answers_410_and_cancels_nobody(store, webinar, settings):
    path = cancel_path(settings, ANA)

    for base in serve_at(settings, webinar.definition.end + timedelta(minutes=1)):
        assert requests.get(base + path, timeout=10).status_code == 410
        assert requests.post(base + path, data={}, headers=SAME_ORIGIN, timeout=10).status_code == 410

    assert statuses(store, webinar)[ANA] == "approved"


def test_a_cancelled_webinar_answers_410(store, webinar, settings, site):
    path = cancel_path(settings, ANA)
    store.cancel_webinar(webinar, None, NOW)

    answer = requests.get(site + path, timeout=10)

    assert answer.status_code == 410
    assert "nothing left to cancel" in answer.text


def test_a_waitlisted_person_leaves_the_waiting_list_from_their_mail(store, webinar, settings, site):
    text = received(settings, DAN)[-1].get_body(("plain",)).get_content()
    assert "leave the waiting list here:" in text
    assert "please write to" not in text, "the link, not a mail to the organisers"
    path = cancel_path(settings, DAN)

    shown = requests.get(site + path, timeout=10)
    answer = press_the_button(site, path)

    assert "Leave the waiting list?" in shown.text
    assert answer.status_code == 200
    assert "You have left the waiting list" in answer.text
    assert statuses(store, webinar) == {ANA: "approved", BOB: "approved", CLEO: "waitlisted", DAN: "cancelled"}
    assert [row.email for row in store.waitlist(webinar.id)] == [CLEO]


def test_the_cancel_link_is_only_in_its_owners_mails(settings, webinar):
    token = cancel_path(settings, ANA).rsplit("/", 1)[1]

    holders = {
        address
        for address in (ANA, BOB, CLEO, DAN)
        for mail in received(settings, address)
        if token in mail.as_string()
    }

    assert holders == {ANA}
