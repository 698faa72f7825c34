"""The speakers' mails: deliveries to speakers beside the registrants' in the one outbox,
their briefing, reminders, practice reminder and cancellation. On a real SQLite file, with
the local provider, an injected clock, a Maildir, and the mails parsed back with the email
package and their invites with icalendar and vobject."""

from __future__ import annotations

import email
import email.policy
import sqlite3
from datetime import UTC, datetime
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

import icalendar
import pytest
import vobject
from conftest import NOW, REPO, SAMPLE_SLUG, TEST_SECRET_KEY

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.mail.outbox import NewDelivery, Outbox
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import NewPanelist
from webinar_ops.providers.local.provider import LocalProvider
from webinar_ops.registrants import add_person
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport

SPEAKERS_DEFINITION = REPO / "tests" / "data" / "undesa-snu-session-5-speakers.toml"
ANA = "ana.silva@example.org"
PARK, SHIM, YAO, SON = (
    "mikyoung.park@example.org",
    "bokyun.shim@example.org",
    "keping.yao@example.org",
    "sungjoo.son@example.org",
)


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY, base_url="https://webinars.example.org"
    ).with_plugin(MaildirSettings(outbox_dir=workdir / "outbox"))


def save(store: Store, path: Path = SPEAKERS_DEFINITION, now: datetime = NOW) -> WebinarRecord:
    """What `webinar-ops webinar add PATH` does to the store."""
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", now).record


def a_delivery(webinar: WebinarRecord, kind: str, *, registrant_id=None, speaker_id=None) -> NewDelivery:
    stamp = times.iso_utc(NOW)
    return NewDelivery(
        webinar_id=webinar.id,
        registrant_id=registrant_id,
        speaker_id=speaker_id,
        kind=kind,
        template=kind,
        offset_minutes=None,
        revision=0,
        due_at=stamp,
        send_after=stamp,
        message_id=f"<{kind}-{registrant_id}-{speaker_id}@test>",
        created_at=stamp,
        updated_at=stamp,
    )


def registered(store: Store, webinar: WebinarRecord, address: str):
    add_person(store, webinar, {"email": address, "first_name": address.split(".")[0].capitalize()}, NOW)
    [person] = store.registrants(webinar.id, "email = ?", [address])
    return person


# -- the outbox holds the speakers' deliveries ------------------------------------------------


def test_a_delivery_goes_to_a_registrant_or_a_speaker_never_both_nor_neither(store):
    webinar = save(store)
    ana = registered(store, webinar, ANA)
    park = store.speakers(webinar.id)[0]
    outbox = Outbox(store)
    with store.transaction():
        outbox.add([a_delivery(webinar, "confirmation", registrant_id=ana.id)])
        outbox.add([a_delivery(webinar, "briefing", speaker_id=park.id)])
    for wrong in ({"registrant_id": ana.id, "speaker_id": park.id}, {}):
        with pytest.raises(sqlite3.IntegrityError, match="one registrant or one speaker"), store.transaction():
            outbox.add([a_delivery(webinar, "cancellation", **wrong)])
    readers = {(row.delivery.registrant_id, row.delivery.speaker_id) for row in outbox.listing(webinar.id)}
    assert readers == {(ana.id, None), (None, park.id)}


def test_a_speaker_has_one_row_per_kind_and_revision(store):
    webinar = save(store)
    park = store.speakers(webinar.id)[0]
    with store.transaction():
        Outbox(store).add([a_delivery(webinar, "briefing", speaker_id=park.id)])
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        Outbox(store).add([a_delivery(webinar, "briefing", speaker_id=park.id)])


def test_deleting_a_webinar_removes_its_speakers_and_their_mail_and_leaves_other_webinars(store, workdir):
    webinar = save(store)
    other_path = workdir / "session-6.toml"
    other_path.write_text(
        SPEAKERS_DEFINITION.read_text(encoding="utf-8").replace(f'slug = "{SAMPLE_SLUG}"', 'slug = "session-6"'),
        encoding="utf-8",
    )
    other = save(store, other_path)
    ana = registered(store, webinar, ANA)
    with store.transaction():
        for record in (webinar, other):
            for speaker in store.speakers(record.id):
                Outbox(store).add([a_delivery(record, "briefing", speaker_id=speaker.id)])
        Outbox(store).add([a_delivery(webinar, "confirmation", registrant_id=ana.id)])

    removed = store.delete_webinar(store.webinar(SAMPLE_SLUG))

    assert removed["speakers"] == 4
    assert removed["deliveries"] == 5
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert len(store.speakers(other.id)) == 4
    assert len(Outbox(store).listing(other.id)) == 4


# -- the speakers' mails, planned and sent -------------------------------------------------------

START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
PRACTICE = datetime(2021, 4, 28, 6, 0, tzinfo=UTC)


def local_provider(store: Store, settings: Settings) -> LocalProvider:
    return LocalProvider(store, settings.base_url, TEST_SECRET_KEY, clock=lambda: NOW)


def published(store: Store, settings: Settings, now: datetime = NOW, path: Path = SPEAKERS_DEFINITION):
    """The webinar added, Ana registered, and both at the local provider; then what the
    speakers' sync does (their panelist links), and planning."""
    save(store, path, now)
    webinar = store.webinar(SAMPLE_SLUG)
    if not store.registrants(webinar.id):
        registered(store, webinar, ANA)
    provider = local_provider(store, settings)
    sync_webinar(store, provider, webinar, now)
    make_panelists(store, provider, now)
    plan(store, settings, now)


def make_panelists(store: Store, provider: LocalProvider, now: datetime) -> None:
    webinar = store.webinar(SAMPLE_SLUG)
    speakers = [s for s in store.speakers(webinar.id) if s.email and not s.panelist_id]
    results = provider.add_panelists(webinar.provider_webinar_id, [NewPanelist(s.email, s.name) for s in speakers])
    with store.transaction():
        for speaker, result in zip(speakers, results, strict=True):
            store.set_panelist(speaker.id, result.panelist_id, result.join_url, now)


def plan(store: Store, settings: Settings, now: datetime):
    return plan_webinar(store, store.webinar(SAMPLE_SLUG), now, settings.mail_domain)


def send(store: Store, settings: Settings, at: datetime):
    return send_due(store, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: at)


def send_everything_due(store: Store, settings: Settings, until: datetime) -> None:
    for _ in range(100):
        due = Outbox(store).next_due()
        if due is None or due > until:
            return
        send(store, settings, due)
    raise AssertionError("the sender kept finding work at the same instant")


def mailbox(settings: Settings) -> list[Message]:
    folder = settings.of(MaildirSettings).outbox_dir / "new"
    files = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns) if folder.exists() else []
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in files]


def mails_to(settings: Settings, address: str) -> list[Message]:
    return [m for m in mailbox(settings) if parseaddr(str(m["To"]))[1].lower() == address]


def text_of(message: Message) -> str:
    return message.get_body(("plain",)).get_content()


def invite_of(message: Message) -> tuple[icalendar.Calendar, object]:
    """The invite, read by icalendar and by vobject."""
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    raw = part.get_payload(decode=True).decode("utf-8")
    return icalendar.Calendar.from_ical(raw), vobject.readOne(raw)


def speaker(store: Store, address: str):
    [found] = [s for s in store.speakers(SAMPLE_SLUG and store.webinar(SAMPLE_SLUG).id) if s.email == address]
    return found


def test_each_of_the_four_people_gets_a_briefing_with_only_their_own_part(store, settings):
    published(store, settings)
    send(store, settings, NOW)

    briefings = {address: mails_to(settings, address) for address in (PARK, SHIM, YAO, SON)}
    assert {a: len(m) for a, m in briefings.items()} == {PARK: 1, SHIM: 1, YAO: 1, SON: 1}
    park, shim, yao, son = (text_of(briefings[a][0]) for a in (PARK, SHIM, YAO, SON))
    assert "Opening by the Moderator" in park
    assert "Thank you for moderating" in park
    assert "Country Case" not in park
    assert "Presentation:" not in park
    assert "GUIDING QUESTIONS" not in park
    for presenter in (yao, shim):
        assert "Presentation: Strengthening" in presenter
        assert "What is data governance" in presenter
        assert "Country Case" not in presenter
        assert "Opening by" not in presenter
        assert "lessons and policy takeaways" not in presenter
    assert "With: Mr. Bokyun Shim" in yao
    assert "Mr. Keping Yao" in shim.split("Presentation: Strengthening")[1]
    assert "45 minutes" in yao
    assert "Moderator: Ms. Mi Kyoung Park" in yao
    assert "Country Case Presentation" in son
    assert "lessons and policy takeaways" in son
    assert "20 minutes" in son
    assert "What is data governance" not in son
    assert "With:" not in son
    assert "Wednesday 28 April 2021, 15:00–16:00 Seoul time" in son  # the practice, on the event's clock
    assert mails_to(settings, ANA)[0]["Subject"].startswith("You are registered")  # Ana: her confirmation only
    assert len(mails_to(settings, ANA)) == 1
