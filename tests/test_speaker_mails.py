"""The speakers' mails: deliveries to speakers beside the registrants' in the one outbox,
their briefing, reminders, practice reminder and cancellation. On a real SQLite file, with
the local provider, an injected clock, a Maildir, and the mails parsed back with the email
package and their invites with icalendar and vobject."""

from __future__ import annotations

import email
import email.policy
import re
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

import icalendar
import pytest
import vobject
from conftest import NOW, REPO, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from smtp_servers import smtp_server

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.errors import InputError
from webinar_ops.mail import kinds
from webinar_ops.mail.compose import Composer
from webinar_ops.mail.outbox import NewDelivery, Outbox
from webinar_ops.plan import PreviewMail, plan_webinar, speaker_named
from webinar_ops.providers.local.provider import LocalProvider
from webinar_ops.registrants import add_person
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport
from webinar_ops.transports.smtp import SmtpTransport

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
    """The webinar added, Ana registered, and both at the local provider, the speakers made
    panelists with links of their own (the sync does it), and planning."""
    save(store, path, now)
    webinar = store.webinar(SAMPLE_SLUG)
    if not store.registrants(webinar.id):
        registered(store, webinar, ANA)
    provider = local_provider(store, settings)
    sync_webinar(store, provider, webinar, now)
    assert all(s.join_url for s in store.speakers(webinar.id) if s.email)
    plan(store, settings, now)


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


def speakers_variant(workdir: Path, name: str, replacements: dict[str, str]) -> Path:
    """A copy of the speakers' definition with some text replaced; each `old` must occur."""
    text = SPEAKERS_DEFINITION.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path = workdir / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


SON_ENTRY = """[[agenda.speakers]]
name = "Mr. Sung Joo Son"
role = "Director, Digital Government Cooperation Division"
organisation = "Ministry of the Interior and Safety, Republic of Korea"
email = "sungjoo.son@example.org"
time_zone = "Asia/Seoul"
language = "en"
"""


YAO_ENTRY = """[[agenda.speakers]]
name = "Mr. Keping Yao"
role = "Senior Governance and Public Administration Expert"
organisation = "UNPOG/DPIDG/UN DESA"
email = "keping.yao@example.org"
time_zone = "Asia/Seoul"
"""


def country_case_later(workdir: Path) -> Path:
    """Mr. Son's item moved five minutes later, and the Q&A with it."""
    return speakers_variant(
        workdir,
        "country-case-later",
        {'start = "15:45"\nend = "16:05"': 'start = "15:50"\nend = "16:05"'},
    )


def uid_and_sequence(message: Message) -> tuple[str, int, str]:
    """The invite's UID, SEQUENCE and METHOD, read by icalendar, and the same by vobject."""
    calendar, card = invite_of(message)
    [event] = calendar.walk("VEVENT")
    by_icalendar = (str(event["UID"]), int(event["SEQUENCE"]), str(calendar["METHOD"]))
    by_vobject = (card.vevent.uid.value, int(card.vevent.sequence.value), card.method.value)
    assert by_icalendar == by_vobject
    return by_icalendar


def test_a_speakers_invite_is_their_own_and_a_moved_slot_brings_a_new_briefing_with_a_higher_sequence(
    store, settings, workdir
):
    published(store, settings)
    send(store, settings, NOW)
    [audience] = mails_to(settings, ANA)
    [first] = mails_to(settings, SON)
    son_uid, sequence, method = uid_and_sequence(first)
    assert (sequence, method) == (0, "REQUEST")
    assert son_uid != uid_and_sequence(audience)[0]
    assert son_uid != uid_and_sequence(mails_to(settings, YAO)[0])[0]

    later = NOW + timedelta(hours=1)
    save(store, country_case_later(workdir), later)
    plan(store, settings, later)
    send(store, settings, later)

    first, second = mails_to(settings, SON)
    assert uid_and_sequence(second) == (son_uid, 1, "REQUEST")
    assert "15:50–16:05" in text_of(second)
    assert "15:50–16:05" not in text_of(first)
    for unmoved in (PARK, SHIM, YAO):
        assert len(mails_to(settings, unmoved)) == 1
    assert [d.kind for d in Outbox(store).speaker_mails(speaker(store, SON).id) if d.state == "sent"] == [
        "briefing-0",
        "briefing-1",
    ]


def test_a_briefing_not_yet_sent_gives_way_to_the_newer_one(store, settings, workdir):
    published(store, settings)
    later = NOW + timedelta(minutes=5)
    save(store, country_case_later(workdir), later)
    plan(store, settings, later)
    send(store, settings, later)

    [only] = mails_to(settings, SON)
    assert uid_and_sequence(only)[1] == 1
    states = {d.kind: (d.state, d.reason) for d in Outbox(store).speaker_mails(speaker(store, SON).id)}
    assert states["briefing-0"] == ("skipped", "a newer briefing replaced it")
    assert states["briefing-1"] == ("sent", None)


def test_speakers_are_reminded_at_their_offsets_and_of_the_practice_with_their_link(store, settings):
    published(store, settings)
    send_everything_due(store, settings, START)

    for address in (PARK, SHIM, YAO, SON):
        got = mails_to(settings, address)
        link = speaker(store, address).join_url
        names = [d.kind for d in Outbox(store).speaker_mails(speaker(store, address).id) if d.state == "sent"]
        assert names == ["briefing-0", "practice-reminder", "speaker-reminder-2d", "speaker-reminder-2h"]
        assert len(got) == 4
        assert all(link in text_of(m) for m in got)
    sent = {d.kind: d.sent_at for d in Outbox(store).speaker_mails(speaker(store, YAO).id)}
    assert sent["practice-reminder"] == times.iso_utc(PRACTICE - timedelta(hours=3))
    assert sent["speaker-reminder-2d"] == times.iso_utc(START - timedelta(days=2))
    assert sent["speaker-reminder-2h"] == times.iso_utc(START - timedelta(hours=2))
    practice = [m for m in mails_to(settings, YAO) if "Practice session" in str(m["Subject"])]
    assert "Wednesday 28 April 2021, 15:00–16:00 Seoul time" in text_of(practice[0])
    assert len(mails_to(settings, ANA)) == 4  # her confirmation and three reminders: nothing of the speakers'


def test_no_speakers_mail_holds_another_persons_link(store, settings):
    published(store, settings)
    send_everything_due(store, settings, START)

    links = {s.email: s.join_url for s in store.speakers(store.webinar(SAMPLE_SLUG).id)}
    [ana] = store.registrants(store.webinar(SAMPLE_SLUG).id)
    links[ANA] = ana.join_url
    assert len(set(links.values())) == 5
    for message in mailbox(settings):
        reader = parseaddr(str(message["To"]))[1].lower()
        whole = message.as_string()
        for owner, link in links.items():
            if owner != reader:
                assert link not in whole, f"{owner}'s link in a mail to {reader}"


def test_a_speaker_without_a_link_waits_for_it_and_one_without_an_address_gets_nothing(store, settings, workdir):
    without = speakers_variant(workdir, "son-without-address", {'email = "sungjoo.son@example.org"\n': ""})
    save(store, without)
    webinar = store.webinar(SAMPLE_SLUG)
    registered(store, webinar, ANA)
    plan(store, settings, NOW)  # before the sync: no speaker has a panelist link yet
    assert [row for row in Outbox(store).listing(webinar.id) if row.delivery.speaker_id] == []

    sync_webinar(store, local_provider(store, settings), webinar, NOW)  # which makes them panelists
    plan(store, settings, NOW)
    son = next(s for s in store.speakers(webinar.id) if s.name == "Mr. Sung Joo Son")
    assert Outbox(store).speaker_mails(son.id) == []
    assert len(Outbox(store).speaker_mails(speaker(store, YAO).id)) == 4


def test_a_speaker_taken_out_of_the_programme_is_sent_nothing_more(store, settings, workdir):
    published(store, settings)
    send(store, settings, NOW)
    without_son = speakers_variant(workdir, "without-son", {SON_ENTRY: ""})
    later = NOW + timedelta(hours=1)
    save(store, without_son, later)
    plan(store, settings, later)
    send_everything_due(store, settings, START)

    assert len(mails_to(settings, SON)) == 1
    son = store.speakers(store.webinar(SAMPLE_SLUG).id, removed=True)
    [gone] = [s for s in son if s.email == SON]
    reasons = {d.kind: (d.state, d.reason) for d in Outbox(store).speaker_mails(gone.id)}
    assert reasons["speaker-reminder-2h"] == ("skipped", "they were taken out of the programme")
    assert reasons["practice-reminder"] == ("skipped", "they were taken out of the programme")


def test_a_speaker_put_back_in_the_programme_gets_a_new_briefing_and_their_reminders(store, settings, workdir):
    published(store, settings)
    send(store, settings, NOW)
    without_son = speakers_variant(workdir, "without-son", {SON_ENTRY: ""})
    save(store, without_son, NOW + timedelta(hours=1))
    plan(store, settings, NOW + timedelta(hours=1))
    back = NOW + timedelta(hours=2)
    save(store, SPEAKERS_DEFINITION, back)
    plan(store, settings, back)
    send_everything_due(store, settings, START)

    names = [d.kind for d in Outbox(store).speaker_mails(speaker(store, SON).id) if d.state == "sent"]
    assert names == ["briefing-0", "briefing-1", "practice-reminder", "speaker-reminder-2d", "speaker-reminder-2h"]


def test_a_cancelled_webinar_sends_each_speaker_the_cancellation_and_nothing_else(store, settings):
    published(store, settings)
    send(store, settings, NOW)
    later = NOW + timedelta(days=1)
    store.cancel_webinar(store.webinar(SAMPLE_SLUG), "The session moves to the autumn.", later)
    plan(store, settings, later)
    send_everything_due(store, settings, START + timedelta(days=1))

    for address in (PARK, SHIM, YAO, SON):
        briefing, cancellation = mails_to(settings, address)
        uid, _, method = uid_and_sequence(cancellation)
        assert (uid, method) == (uid_and_sequence(briefing)[0], "CANCEL")
        assert speaker(store, address).join_url not in cancellation.as_string()
        assert "The session moves to the autumn." in text_of(cancellation)
        reasons = {d.kind: d.reason for d in Outbox(store).speaker_mails(speaker(store, address).id)}
        assert reasons["speaker-reminder-2h"] == "the webinar was cancelled"


def test_planning_again_creates_nothing_new_for_the_speakers(store, settings):
    published(store, settings)
    before = store.db["deliveries"].count
    assert plan(store, settings, NOW).created == 0
    assert store.db["deliveries"].count == before


# -- the command line: preview --speaker, status, outbox -------------------------------------------


@pytest.fixture
def cli(run, workdir):
    """A project that has run `init`, added the speakers' webinar (in 2031: the command line
    runs on today's clock) and synced it: the speakers are panelists, their mail planned."""
    speakers_variant(
        workdir,
        "webinar",
        {
            'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"',
            'start = "2021-04-28 15:00"': 'start = "2031-04-28 15:00"',
        },
    )
    assert run("init").code == 0
    assert run("webinar", "add", "webinar.toml").code == 0
    assert run("sync", SAMPLE_SLUG).code == 0
    return run


def test_preview_shows_one_speakers_briefing_by_a_lenient_name(cli):
    for name in ("shim", "Mr. Bokyun Shim", "BOKYUN.SHIM@example.org", "mr bokyun"):
        shown = cli("preview", SAMPLE_SLUG, "--kind", "briefing", "--speaker", name)
        assert shown.code == 0, shown.stderr
        assert shown.stdout.startswith(f"To: {SHIM}\n")
        assert "Presentation: Strengthening" in shown.stdout
        assert "Country Case" not in shown.stdout
    moderator = cli("preview", SAMPLE_SLUG, "--kind", "briefing", "--speaker", "Park")
    assert "Opening by the Moderator" in moderator.stdout
    assert "Presentation: Strengthening" not in moderator.stdout


def test_preview_refuses_a_speaker_it_cannot_tell_and_a_speaker_with_an_audience_kind(cli):
    nobody = cli("preview", SAMPLE_SLUG, "--kind", "briefing", "--speaker", "Smith")
    assert nobody.code != 0
    assert "names none of the speakers" in nobody.stderr
    assert "Mr. Sung Joo Son" in nobody.stderr
    title_alone = cli("preview", SAMPLE_SLUG, "--kind", "briefing", "--speaker", "Mr.")
    assert title_alone.code != 0  # a title names nobody
    assert "names none of the speakers" in title_alone.stderr
    audience = cli("preview", SAMPLE_SLUG, "--kind", "confirmation", "--speaker", "shim")
    assert audience.code != 0
    assert "--speaker goes with a speakers' kind" in audience.stderr


def test_preview_shows_the_practice_reminder_and_writes_the_speakers_message(cli, workdir):
    shown = cli("preview", SAMPLE_SLUG, "--kind", "practice_reminder", "--speaker", "son", "--eml", "son.eml")
    assert shown.code == 0, shown.stderr
    message = email.message_from_bytes((workdir / "son.eml").read_bytes(), policy=email.policy.default)
    assert parseaddr(str(message["To"]))[1] == SON
    assert "Monday 28 April 2031, 15:00–16:00 Seoul time" in text_of(message)
    assert message["List-Unsubscribe"] is None


def test_status_counts_the_speakers_mail_in_rows_of_its_own_and_outbox_lists_it_with_their_address(cli):
    [summary] = cli("status", SAMPLE_SLUG, "--json").json()
    assert summary["speaker_mail"]["briefing-0"] == {"pending": 4}
    assert set(summary["speaker_mail"]) == {
        "briefing-0",
        "practice-reminder",
        "speaker-reminder-2d",
        "speaker-reminder-2h",
    }
    assert not [kind for kind in summary["mail"] if kind in summary["speaker_mail"]]
    shown = cli("status", SAMPLE_SLUG)
    assert "Speakers' mail" in shown.stdout
    listed = cli("outbox", SAMPLE_SLUG, "--json").json()
    briefed = sorted(row["email"] for row in listed if row["kind"] == "briefing-0")
    assert briefed == sorted([PARK, SHIM, YAO, SON])


# -- the audience's mails are unchanged ---------------------------------------------------------


@pytest.mark.parametrize(("template", "offset_minutes"), [("confirmation", None), ("reminder", 24 * 60)])
def test_the_audiences_mail_is_the_same_byte_for_byte_with_or_without_the_speakers_details(
    store, settings, template, offset_minutes
):
    """The model webinar, and its copy whose speakers have addresses, zones and languages, a
    practice session and reminders of their own: a registrant cannot tell them apart."""
    with_details = save(store)
    without = replace(with_details, definition=load_definition(SAMPLE_DEFINITION))
    assert with_details.definition.practice is not None
    assert without.definition.practice is None
    readers = [
        registered(store, with_details, ANA),
        replace(registered(store, with_details, "chloe.martin@example.org"), language="fr", time_zone="Europe/Paris"),
    ]
    mail = PreviewMail(template, offset_minutes=offset_minutes, message_id="<same@webinars.example.org>")
    for reader in readers:
        written = [Composer(record, settings).message_bytes(mail, reader, NOW) for record in (with_details, without)]
        assert written[0] == written[1]
        assert "Mr. Keping Yao" in email.message_from_bytes(written[0], policy=email.policy.default).as_string()


def test_over_smtp_a_refusal_that_quotes_a_speakers_link_is_kept_without_it(store, settings):
    published(store, settings)
    link = speaker(store, YAO).join_url
    with smtp_server() as server:
        server.handler.reject(YAO, at="data", reply=f"554 5.6.0 Rejected: {link} is on a block list")
        transport = SmtpTransport(server.host, server.port, security="none", timeout=5)
        report = send_due(store, settings, transport, clock=lambda: NOW)
        delivered = {address for message in server.handler.received for address in message.rcpt_tos}

    assert report.failed == 1
    assert delivered == {ANA, PARK, SHIM, SON}
    [briefing] = [d for d in Outbox(store).speaker_mails(speaker(store, YAO).id) if d.kind == "briefing-0"]
    assert "block list" in briefing.last_error
    assert link not in briefing.last_error


def test_a_name_that_fits_two_speakers_is_refused_with_both_names(store, workdir):
    two_parks = speakers_variant(workdir, "two-parks", {'name = "Mr. Sung Joo Son"': 'name = "Mr. Sung Joo Park"'})
    webinar = save(store, two_parks)
    with pytest.raises(InputError, match=re.escape("fits 2 people: Ms. Mi Kyoung Park; Mr. Sung Joo Park")):
        speaker_named(store, webinar, "park")
    assert speaker_named(store, webinar, "Sung Joo Park").email == SON
    assert speaker_named(store, webinar, None).email == PARK  # the moderator comes first


MODERATOR_QUESTIONS = """[[questions]]
item = "opening by the  moderator"
part = "For the opening"
items = ["How will you introduce the session?"]

[[questions]]
part = "Country Presentation\""""


def test_a_question_group_may_name_its_agenda_item_outright(store, settings, workdir):
    named = speakers_variant(workdir, "named", {'[[questions]]\npart = "Country Presentation"': MODERATOR_QUESTIONS})
    published(store, settings, path=named)
    send(store, settings, NOW)

    [park] = mails_to(settings, PARK)
    assert "How will you introduce the session?" in text_of(park)
    for other in (SHIM, YAO, SON):
        assert "How will you introduce the session?" not in text_of(mails_to(settings, other)[0])
    assert "lessons and policy takeaways" in text_of(mails_to(settings, SON)[0])


def test_a_question_group_naming_no_agenda_item_is_refused_with_the_titles(workdir):
    country = '[[questions]]\npart = "Country Presentation"'
    wrong = speakers_variant(workdir, "wrong-item", {country: country.replace("\npart", '\nitem = "Keynote"\npart')})
    with pytest.raises(InputError) as refused:
        load_definition(wrong)
    [problem] = refused.value.problems
    assert "names no agenda item: 'Keynote'" in problem.message
    assert '"Country Case Presentation"' in problem.fix
    assert problem.line is not None


def test_a_registrant_who_also_speaks_gets_the_speakers_mail_and_not_the_audiences_while_they_speak(
    store, settings, workdir
):
    save(store)
    webinar = store.webinar(SAMPLE_SLUG)
    registered(store, webinar, YAO)  # he signed up himself, as an attendee, before he was asked to speak
    published(store, settings)
    send_everything_due(store, settings, NOW)

    assert [str(m["Subject"]).startswith("Your part in") for m in mails_to(settings, YAO)] == [True]
    [yao] = store.registrants(webinar.id, "email = ?", [YAO])
    reasons = {
        row.delivery.kind: row.delivery.reason
        for row in Outbox(store).listing(webinar.id)
        if row.delivery.registrant_id == yao.id
    }
    assert reasons["confirmation"] == "they speak at the webinar: the speakers' mail goes to them"

    without_yao = speakers_variant(workdir, "without-yao", {YAO_ENTRY: ""})
    later = NOW + timedelta(hours=1)
    save(store, without_yao, later)
    plan(store, settings, later)
    send_everything_due(store, settings, later)
    assert str(mails_to(settings, YAO)[-1]["Subject"]).startswith("You are registered")  # an attendee again


def test_a_practice_reminder_retried_after_the_practice_was_taken_out_is_given_up_by_the_start():
    with_practice = load_definition(SPEAKERS_DEFINITION)
    without = replace(with_practice, practice=None)
    due = PRACTICE - timedelta(hours=3)
    assert kinds.PRACTICE_REMINDER.deadline(with_practice, due) == PRACTICE
    assert kinds.PRACTICE_REMINDER.deadline(without, due) == START
    assert kinds.PRACTICE_REMINDER.too_late(without, due, due, scheduled=True, tried=True) == (
        "skipped",
        "the practice session was taken out of the definition",
    )


def test_a_french_speakers_briefing_is_in_french_on_the_events_clock_and_on_theirs(store, settings):
    published(store, settings)
    send(store, settings, NOW)

    [briefing] = mails_to(settings, SHIM)  # language = "fr", time_zone = "America/New_York"
    text = text_of(briefing).replace("\u00a0", " ")  # French writes `15 h 00` with no-break spaces
    assert str(briefing["Subject"]).startswith("Votre intervention\u00a0: ")
    assert "VOTRE INTERVENTION" in text
    assert "Vendredi 30 avril 2021, 15 h 00–15 h 45, heure de Séoul (UTC+9)" in text
    assert "02 h 00–02 h 45, votre heure locale (America/New_York)" in text
    assert "SÉANCE DE RÉPÉTITION" in text
    html = briefing.get_body(("html",)).get_content()
    assert 'lang="fr"' in html
    assert "Votre lien de panéliste" in html


def test_a_suppressed_speaker_gets_no_briefing_and_gets_it_once_taken_off_the_list(store, settings):
    from webinar_ops.deliver import lift_suppression, suppress_address

    suppress_address(store, YAO.upper(), "organiser", NOW)
    published(store, settings)
    send(store, settings, NOW)
    [briefing] = [d for d in Outbox(store).speaker_mails(speaker(store, YAO).id) if d.kind == "briefing-0"]
    assert (briefing.state, briefing.reason) == ("skipped", "the address is suppressed: organiser on 2021-04-01")
    assert mails_to(settings, YAO) == []
    assert len(mails_to(settings, PARK)) == 1, "the others get theirs"

    assert lift_suppression(store, YAO, NOW) >= 1
    send(store, settings, NOW)
    send(store, settings, NOW)
    assert len(mails_to(settings, YAO)) == 1, "their briefing, once"


def test_a_refusal_of_the_message_for_what_it_holds_suppresses_nobody(store, settings):
    published(store, settings)
    with smtp_server() as server:
        server.handler.reject(YAO, at="data", reply="554 5.7.1 Rejected: a link is on a block list")
        server.handler.reject(PARK, at="data", reply="550 5.1.1 Mailbox unavailable")
        send_due(
            store, settings, SmtpTransport(server.host, server.port, security="none", timeout=5), clock=lambda: NOW
        )
    [refused] = [d for d in Outbox(store).speaker_mails(speaker(store, YAO).id) if d.kind == "briefing-0"]
    assert (refused.state, "block list" in refused.last_error) == ("failed", True)
    assert store.suppression(YAO) is None
    assert store.suppression(PARK).reason == "hard bounce"
