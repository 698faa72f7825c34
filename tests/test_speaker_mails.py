"""The speakers' mails: deliveries to speakers beside the registrants' in the one outbox,
their briefing, reminders, practice reminder and cancellation. On a real SQLite file, with
the local provider, an injected clock, a Maildir, and the mails parsed back with the email
package and their invites with icalendar and vobject."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from conftest import NOW, REPO, SAMPLE_SLUG, TEST_SECRET_KEY

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.mail.outbox import NewDelivery, Outbox
from webinar_ops.registrants import add_person
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.transports.maildir import MaildirSettings

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
