"""The speakers end to end on Zoom (issue 17: "every piece works on local and Zoom"): the model
webinar's four people made panelists on the local Zoom, every exchange checked against Zoom's
OpenAPI document; their mail planned and sent into a Maildir, parsed back with the email
package and icalendar/vobject: each briefing with that person's own Zoom link and part, a new
briefing when a slot moves, the reminders at their times, the cancellation at Zoom and to
every speaker, and the audience's mail and the speakers' kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import icalendar
import pytest
import vobject
from conftest import TEST_SECRET_KEY
from test_speaker_mails import mails_to, send, send_everything_due, text_of
from test_speakers_sync import ADDRESSES, IN_2031, PARK, SHIM, SLUG, SON, YAO, speakers_copy
from test_zoom_provider import NOW
from zoom_openapi import checked_zoom_provider

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.mail.outbox import Outbox
from webinar_ops.plan import plan_webinar
from webinar_ops.providers.zoom.standin import FakeZoom
from webinar_ops.registrants import add_person
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings

ANA = "ana.silva@example.org"
START = datetime(2031, 4, 30, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
PRACTICE = datetime(2031, 4, 28, 6, 0, tzinfo=UTC)
SPEAKERS_KINDS = ("briefing-0", "practice-reminder", "speaker-reminder-2d", "speaker-reminder-2h")
COUNTRY_CASE_LATER = {'start = "15:45"\nend = "16:05"': 'start = "15:50"\nend = "16:05"'}


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url="https://webinars.example.org"
    ).with_plugin(MaildirSettings(outbox_dir=workdir / "outbox"))


@pytest.fixture
def zoom():
    with FakeZoom(plan="business", seed=17) as fake:
        yield fake


@pytest.fixture
def checked_zoom(zoom):
    """The zoom provider on the local Zoom; every exchange it had is checked against Zoom's
    OpenAPI document when the test ends."""
    with checked_zoom_provider(zoom) as provider:
        yield provider


def at_zoom(store: Store, folder: Path, replacements: dict[str, str] | None = None, now: datetime = NOW):
    """What `webinar-ops webinar add` does with the speakers' copy (in 2031) on the zoom provider."""
    path = speakers_copy(folder, {**IN_2031, **(replacements or {})})
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "zoom", now).record


def synced_and_planned(store: Store, provider, settings: Settings, now: datetime = NOW) -> None:
    """What `webinar-ops run` does every few minutes: the sync, then planning."""
    sync_webinar(store, provider, store.webinar(SLUG), now)
    plan_webinar(store, store.webinar(SLUG), now, settings.mail_domain)


def published(store: Store, provider, settings: Settings, folder: Path) -> None:
    """The webinar added, Ana registered as an attendee, both at Zoom, the mail planned."""
    webinar = at_zoom(store, folder)
    add_person(store, webinar, {"email": ANA, "first_name": "Ana"}, NOW)
    synced_and_planned(store, provider, settings)


def everything_in(message: Message) -> str:
    """The headers and every text part decoded (plain, HTML, the invite): all a reader can see."""
    parts = [str(message.items())]
    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


def invite_uid_and_method(message: Message) -> tuple[str, int, str]:
    """The invite's UID, SEQUENCE and METHOD, read by icalendar and checked against vobject."""
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    raw = part.get_payload(decode=True).decode("utf-8")
    calendar, card = icalendar.Calendar.from_ical(raw), vobject.readOne(raw)
    [event] = calendar.walk("VEVENT")
    found = (str(event["UID"]), int(event["SEQUENCE"]), str(calendar["METHOD"]))
    assert found == (card.vevent.uid.value, int(card.vevent.sequence.value), card.method.value)
    return found


def speakers_by_address(store: Store) -> dict:
    return {row.email: row for row in store.speakers(store.webinar(SLUG).id)}


def kinds_sent(store: Store, address: str) -> list[str]:
    speaker = speakers_by_address(store)[address]
    return [d.kind for d in Outbox(store).speaker_mails(speaker.id) if d.state == "sent"]


def test_on_zoom_each_briefing_carries_that_persons_own_zoom_panelist_link_and_part_and_zoom_mails_nobody(
    zoom, checked_zoom, store, settings, tmp_path
):
    published(store, checked_zoom, settings, tmp_path)
    send(store, settings, NOW)

    webinar_id = store.webinar(SLUG).provider_webinar_id
    at_zoom_links = {p["email"]: p["join_url"] for p in zoom.panelists(webinar_id)}
    assert set(at_zoom_links) == ADDRESSES
    assert {e: s.join_url for e, s in speakers_by_address(store).items()} == at_zoom_links
    [ana] = store.registrants(store.webinar(SLUG).id)
    links = {**at_zoom_links, ANA: ana.join_url}
    assert len(set(links.values())) == 5
    for reader in (*ADDRESSES, ANA):
        [mail] = mails_to(settings, reader)
        whole = everything_in(mail)
        assert links[reader] in text_of(mail)
        assert [owner for owner, link in links.items() if link in whole] == [reader]
    park, shim, yao, son = (text_of(mails_to(settings, a)[0]) for a in (PARK, SHIM, YAO, SON))
    assert "Opening by the Moderator" in park
    assert "Country Case" not in park
    assert "Country Case Presentation" in son
    assert "What is data governance" not in son
    for presenter in (yao, shim):
        assert "Country Case" not in presenter
    assert not zoom.panelist_invitations(webinar_id)


def test_on_zoom_a_moved_slot_sends_that_speaker_a_new_briefing_and_nobody_else(
    zoom, checked_zoom, store, settings, tmp_path
):
    published(store, checked_zoom, settings, tmp_path)
    send(store, settings, NOW)
    later = NOW + timedelta(hours=1)
    at_zoom(store, tmp_path, COUNTRY_CASE_LATER, later)
    synced_and_planned(store, checked_zoom, settings, later)
    send(store, settings, later)

    first, second = mails_to(settings, SON)
    uid, sequence, method = invite_uid_and_method(second)
    assert (uid, sequence, method) == (invite_uid_and_method(first)[0], 1, "REQUEST")
    assert "15:50–16:05" in text_of(second)
    assert speakers_by_address(store)[SON].join_url in text_of(second)
    for unmoved in (PARK, SHIM, YAO, ANA):
        assert len(mails_to(settings, unmoved)) == 1


def test_on_zoom_cancelling_the_webinar_cancels_it_at_zoom_and_tells_every_speaker(
    zoom, checked_zoom, store, settings, tmp_path
):
    published(store, checked_zoom, settings, tmp_path)
    send(store, settings, NOW)
    webinar_id = store.webinar(SLUG).provider_webinar_id
    later = NOW + timedelta(days=1)
    store.cancel_webinar(store.webinar(SLUG), "The session moves to the autumn.", later)
    synced_and_planned(store, checked_zoom, settings, later)
    send_everything_due(store, settings, START + timedelta(days=1))

    assert [r.method for r in zoom.requests if r.path.endswith(f"/webinars/{webinar_id}")][-1] == "DELETE"
    assert store.webinar(SLUG).provider_cancelled_at
    for address in ADDRESSES:
        briefing, cancellation = mails_to(settings, address)
        assert invite_uid_and_method(cancellation)[::2] == (invite_uid_and_method(briefing)[0], "CANCEL")
        assert "The session moves to the autumn." in text_of(cancellation)
        assert speakers_by_address(store)[address].join_url not in everything_in(cancellation)
        assert kinds_sent(store, address) == ["briefing-0", "speaker-cancellation"]
    assert str(mails_to(settings, ANA)[0]["Subject"]).startswith("You are registered")
    assert len(mails_to(settings, ANA)) == 2  # her confirmation and the audience's cancellation


def test_on_zoom_the_speakers_reminders_and_the_practice_reminder_go_at_their_times_to_speakers_only(
    zoom, checked_zoom, store, settings, tmp_path
):
    published(store, checked_zoom, settings, tmp_path)
    send_everything_due(store, settings, START)

    for address in ADDRESSES:
        assert kinds_sent(store, address) == list(SPEAKERS_KINDS)
        mails = mails_to(settings, address)
        assert len(mails) == 4  # none of the audience's: no confirmation, no reminder
        assert not any(str(m["Subject"]).startswith("You are registered") for m in mails)
        assert all(speakers_by_address(store)[address].join_url in text_of(m) for m in mails)
    yao = speakers_by_address(store)[YAO]
    sent = {d.kind: d.sent_at for d in Outbox(store).speaker_mails(yao.id)}
    assert sent["practice-reminder"] == times.iso_utc(PRACTICE - timedelta(hours=3))
    assert sent["speaker-reminder-2d"] == times.iso_utc(START - timedelta(days=2))
    assert sent["speaker-reminder-2h"] == times.iso_utc(START - timedelta(hours=2))
    [ana] = store.registrants(store.webinar(SLUG).id)
    audience = [
        row.delivery for row in Outbox(store).listing(store.webinar(SLUG).id) if row.delivery.speaker_id is None
    ]
    assert {d.registrant_id for d in audience} == {ana.id}
    assert len(mails_to(settings, ANA)) == 4  # her confirmation and three reminders
    assert not any("Your part in" in str(m["Subject"]) for m in mails_to(settings, ANA))
