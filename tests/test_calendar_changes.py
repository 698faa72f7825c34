"""Calendars that follow the webinar (an update after a reschedule, a cancellation), and the
messages after it (thanks, the recording, the slides, a survey).

Ana, Ben and Cho register for the sample webinar and get their confirmations (with an invite)
in a real Maildir. Then the organiser moves the webinar a week on, or cancels it, as they would
on the command line; the mail that follows is read back with two calendar parsers.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
import vobject
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from reading import assert_reads_as_meant

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.errors import InputError
from webinar_ops.mail.compose import Composer
from webinar_ops.mail.outbox import Delivery
from webinar_ops.plan import plan_manual, plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import add_person
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport

START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
A_WEEK_LATER = START + timedelta(days=7)
MOVED_AT = NOW + timedelta(days=2)
PEOPLE = ["ana.silva@example.org", "ben.okafor@example.org", "cho.minji@example.org"]


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(db_path=workdir / "data" / "test.db", secret_key=TEST_SECRET_KEY).with_plugin(
        MaildirSettings(outbox_dir=workdir / "out")
    )


@pytest.fixture
def confirmed(store: Store, settings: Settings) -> WebinarRecord:
    """The sample webinar; Ana, Ben and Cho registered, each sent a confirmation with an invite."""
    save(store, SAMPLE_DEFINITION, NOW)
    webinar = store.webinar(SAMPLE_SLUG)
    for address in PEOPLE:
        add_person(store, webinar, {"email": address, "first_name": address.split(".")[0].capitalize()}, NOW)
    sync_and_plan(store, settings, NOW)
    assert send(store, settings, NOW).sent == 3
    return store.webinar(SAMPLE_SLUG)


def save(store: Store, path: Path, now: datetime):
    """`webinar-ops webinar add PATH`, as far as the store goes (the CLI plans right after)."""
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", now)


def sync_and_plan(store: Store, settings: Settings, now: datetime) -> None:
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), now)
    plan_webinar(store, store.webinar(SAMPLE_SLUG), now, settings.mail_domain)


def send(store: Store, settings: Settings, at: datetime):
    return send_due(store, settings, MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: at)


def a_week_later(workdir: Path) -> Path:
    return definition_variant(workdir, {'start = "2021-04-30 15:00"': 'start = "2021-05-07 15:00"'}, "moved.toml")


def mails(settings: Settings) -> list[EmailMessage]:
    folder = settings.of(MaildirSettings).outbox_dir / "new"
    paths = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in paths]


def mails_to(settings: Settings, address: str) -> list[EmailMessage]:
    return [m for m in mails(settings) if address in str(m["To"])]


def calendar_part(message: EmailMessage) -> EmailMessage:
    return next(p for p in message.walk() if p.get_content_type() == "text/calendar")


def event(message: EmailMessage) -> icalendar.Event:
    [found] = icalendar.Calendar.from_ical(calendar_part(message).get_content().encode()).events
    return found


def text_of(message: EmailMessage, kind: str = "plain") -> str:
    return message.get_body(preferencelist=(kind,)).get_content()


class CalendarClient:
    """What a calendar client keeps of the invites it is given (RFC 5546): one event per UID;
    a REQUEST with a higher SEQUENCE replaces it, a CANCEL marks it cancelled."""

    def __init__(self) -> None:
        self.events: dict[str, dict] = {}

    def take(self, message: EmailMessage) -> None:
        calendar = vobject.readOne(calendar_part(message).get_content())
        vevent = calendar.vevent
        uid, sequence = vevent.uid.value, int(vevent.sequence.value)
        held = self.events.get(uid)
        if held and held["sequence"] >= sequence:
            return
        status = "CANCELLED" if calendar.method.value == "CANCEL" else vevent.status.value
        self.events[uid] = {"sequence": sequence, "start": vevent.dtstart.value, "status": status}


# -- a reschedule ------------------------------------------------------------------------------


def test_moving_the_webinar_sends_everyone_one_update_that_replaces_their_calendar_entry(
    store, settings, confirmed, workdir
):
    saved = save(store, a_week_later(workdir), MOVED_AT)
    assert saved.record.revision == 1
    plan_webinar(store, saved.record, MOVED_AT, settings.mail_domain)

    assert send(store, settings, MOVED_AT).sent == 3, "one update each, at once"
    for address in PEOPLE:
        calendar = CalendarClient()
        for message in mails_to(settings, address):
            calendar.take(message)
        [(uid, held)] = calendar.events.items()
        assert uid == confirmed.calendar_uid
        assert (held["sequence"], held["status"]) == (1, "CONFIRMED")
        assert held["start"].astimezone(UTC) == A_WEEK_LATER


def test_the_update_says_what_changed_old_time_crossed_out_new_time_in_both_zones(store, settings, confirmed, workdir):
    store.db.execute("UPDATE registrants SET time_zone = 'Europe/Paris' WHERE email = ?", [PEOPLE[0]])
    plan_webinar(store, save(store, a_week_later(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    send(store, settings, MOVED_AT)

    [_, update] = mails_to(settings, PEOPLE[0])
    assert update["Subject"].startswith("New time: ")
    text, html = text_of(update), text_of(update, "html")
    no_longer = text.split("NO LONGER")[1].split("WHEN")[0]
    assert "Friday 30 April 2021, 15:00–16:30 Seoul time (GMT+9)" in no_longer
    assert "08:00–09:30 your time" in no_longer
    assert "Friday 7 May 2021, 15:00–16:30 Seoul time (GMT+9)" in text.split("WHEN")[1]
    assert "<del>Friday 30 April 2021, 15:00–16:30 Seoul time (GMT+9)</del>" in html
    assert event(update)["SEQUENCE"] == 1
    assert calendar_part(update).get_param("method") == "REQUEST"


def test_someone_whose_confirmation_has_not_gone_yet_gets_no_update(store, settings, confirmed, workdir):
    webinar = store.webinar(SAMPLE_SLUG)
    add_person(store, webinar, {"email": "dan.lee@example.org", "first_name": "Dan"}, NOW)
    sync_webinar(store, load_provider("local", settings, store), webinar, NOW)  # registered, nothing sent yet

    plan_webinar(store, save(store, a_week_later(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    send(store, settings, MOVED_AT)

    [confirmation] = mails_to(settings, "dan.lee@example.org")
    assert confirmation["Subject"].startswith("You are registered")
    assert event(confirmation)["SEQUENCE"] == 1, "the confirmation itself carries the new time"
    assert event(confirmation).start.astimezone(UTC) == A_WEEK_LATER


def test_a_second_move_before_the_update_went_replaces_it_and_shows_the_time_the_calendar_holds(
    store, settings, confirmed, workdir
):
    plan_webinar(store, save(store, a_week_later(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    later = definition_variant(workdir, {'start = "2021-04-30 15:00"': 'start = "2021-05-14 15:00"'}, "later.toml")
    plan_webinar(store, save(store, later, MOVED_AT).record, MOVED_AT, settings.mail_domain)

    assert send(store, settings, MOVED_AT).sent == 3
    [_, update] = mails_to(settings, PEOPLE[1])
    assert event(update)["SEQUENCE"] == 2
    assert "Friday 30 April 2021" in text_of(update).split("NO LONGER")[1].split("WHEN")[0]
    withdrawn = store.db.execute("SELECT state, reason FROM deliveries WHERE kind = 'update-1'").fetchall()
    assert withdrawn == [("skipped", "a newer update replaced it")] * 3


def test_a_new_title_alone_is_an_update_too(store, settings, confirmed, workdir):
    renamed = definition_variant(
        workdir, {'title = "Strengthening Data Governance': 'title = "Data Governance Revisited'}, "renamed.toml"
    )
    plan_webinar(store, save(store, renamed, MOVED_AT).record, MOVED_AT, settings.mail_domain)
    send(store, settings, MOVED_AT)

    [_, update] = mails_to(settings, PEOPLE[2])
    assert update["Subject"].startswith("Changed: Data Governance Revisited")
    assert "Title: Strengthening Data Governance" in text_of(update)


def test_webinar_add_reports_a_pure_move_alone_and_says_that_run_sends_the_updates(run, workdir):
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    future = definition_variant(workdir, {'start = "2021-04-30 15:00"': 'start = "2031-04-30 15:00"'}, "future.toml")
    assert run("webinar", "add", future, env=env).code == 0
    assert run("registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv", env=env).code == 0
    assert run("run", "--once", env=env).code == 0  # the confirmations, each with an invite, go out
    moved = definition_variant(workdir, {'start = "2021-04-30 15:00"': 'start = "2031-05-07 15:00"'}, "moved.toml")

    added = run("webinar", "add", moved, env=env)

    assert added.code == 0, added.stderr
    assert "changed start: 2031-04-30 15:00 Asia/Seoul → 2031-05-07 15:00 Asia/Seoul" in added.stdout
    assert "agenda" not in added.stdout, "the agenda moved with the start: its items did not change"
    assert "15 people get a calendar update" in added.stdout
    assert "The updates go out with `webinar-ops run` (or `run --once`)." in added.stdout


@pytest.mark.parametrize(
    "edit",
    [
        {'start = "15:45"\nend = "16:05"': 'start = "15:50"\nend = "16:05"'},
        {'title = "Opening by the Moderator"': 'title = "Welcome"'},
        {'name = "Mr. Sung Joo Son"': 'name = "Someone Else"'},
    ],
    ids=["an item's time", "an item's title", "a speaker"],
)
def test_a_real_change_of_the_agenda_is_reported_even_when_the_date_moves_too(run, workdir, edit):
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml").code == 0
    moved = definition_variant(workdir, {'start = "2021-04-30 15:00"': 'start = "2021-05-07 15:00"', **edit})

    added = run("webinar", "add", moved)

    assert added.code == 0, added.stderr
    assert "changed agenda: changed (5 items)" in added.stdout
    assert "changed start: 2021-04-30 15:00 Asia/Seoul → 2021-05-07 15:00 Asia/Seoul" in added.stdout


# -- a cancellation ----------------------------------------------------------------------------


def test_cancelling_tells_everyone_marks_their_calendar_entry_cancelled_and_stops_the_reminders(
    store, settings, confirmed
):
    cancelled = store.cancel_webinar(confirmed, "The speakers cannot travel.\nWe will write with a new date.", MOVED_AT)
    report = plan_webinar(store, cancelled, MOVED_AT, settings.mail_domain)
    assert (report.created, report.withdrawn) == (3, 9), "a cancellation each; their 3 reminders each withdrawn"

    assert send(store, settings, MOVED_AT).sent == 3
    for address in PEOPLE:
        calendar = CalendarClient()
        for message in mails_to(settings, address):
            calendar.take(message)
        [held] = calendar.events.values()
        assert (held["sequence"], held["status"]) == (1, "CANCELLED")
    [_, cancellation] = mails_to(settings, PEOPLE[0])
    assert cancellation["Subject"].startswith("Cancelled: ")
    assert calendar_part(cancellation).get_param("method") == "CANCEL"
    assert event(cancellation)["STATUS"] == "CANCELLED"
    assert "The speakers cannot travel.\nWe will write with a new date." in text_of(cancellation)

    send_everything_after = [send(store, settings, START - timedelta(hours=h)).handled for h in (24 * 7, 24, 1)]
    assert send_everything_after == [0, 0, 0]
    reasons = {row[0] for row in store.db.execute("SELECT reason FROM deliveries WHERE state = 'skipped'")}
    assert reasons == {"the webinar was cancelled"}


def test_the_fast_path_writes_the_update_and_the_cancellation_byte_for_byte(store, settings, confirmed, workdir):
    plan_webinar(store, save(store, a_week_later(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    cancelled = store.cancel_webinar(store.webinar(SAMPLE_SLUG), "Sorry <b>all</b> & co.", MOVED_AT)
    plan_webinar(store, cancelled, MOVED_AT, settings.mail_domain)
    composer = Composer(store.webinar(SAMPLE_SLUG), settings)
    people = {row.id: row for row in store.registrants(cancelled.id)}

    rows = list(store.db.query("SELECT * FROM deliveries WHERE template IN ('update', 'cancellation')"))
    assert {row["template"] for row in rows} == {"update", "cancellation"}
    for row in rows:
        person = people[row["registrant_id"]]
        assert_reads_as_meant(composer, Delivery.from_row(row), person, MOVED_AT)


def test_a_cancelled_webinar_cannot_be_changed_or_cancelled_again(store, settings, confirmed, workdir):
    cancelled = store.cancel_webinar(confirmed, None, MOVED_AT)

    assert store.cancel_webinar(cancelled, "again", MOVED_AT + timedelta(hours=1)) == cancelled
    with pytest.raises(InputError, match="was cancelled"):
        save(store, a_week_later(workdir), MOVED_AT)
    with pytest.raises(InputError, match="no more registrants can be added"):
        add_person(store, cancelled, {"email": "late@example.org", "first_name": "Late"}, MOVED_AT)
    with pytest.raises(InputError, match="no more mail but the cancellation goes"):
        plan_manual(store, cancelled, "reminder", MOVED_AT, settings.mail_domain)


def test_webinar_cancel_on_the_command_line_plans_the_cancellations_and_cancels_at_the_provider(run, workdir):
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    assert run("webinar", "add", "data/webinars/undesa-snu-session-5.toml", env=env).code == 0
    assert run("registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv", env=env).code == 0
    assert run("sync", SAMPLE_SLUG, env=env).code == 0

    refused = run("webinar", "cancel", SAMPLE_SLUG, "--message", "bad\x07bell", env=env)
    cancelled = run("webinar", "cancel", SAMPLE_SLUG, "--message", "Postponed to June.", env=env)
    again = run("webinar", "cancel", SAMPLE_SLUG, env=env)

    assert refused.code != 0
    assert "--message: the message contains a control character" in refused.stderr
    assert cancelled.code == 0, cancelled.stderr
    assert "15 cancellations to send" in cancelled.stdout
    assert "cancelled at the provider" in cancelled.stdout
    assert "was already cancelled" in again.stdout
    with Store.open(workdir / "data" / "webinar_ops.db") as store:
        webinar = store.webinar(SAMPLE_SLUG)
        assert webinar.cancel_message == "Postponed to June."
        [(at_provider,)] = store.db.execute("SELECT cancelled_at FROM local_webinars").fetchall()
        assert at_provider is not None
        assert webinar.provider_cancelled_at is not None


# -- in a real calendar client ----------------------------------------------------------------

KHAL_CONFIG = """
[calendars]
[[webinars]]
path = {folder}
type = calendar

[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
default_timezone = UTC
local_timezone = UTC

[default]
default_calendar = webinars
"""


class Khal:
    """khal, the command-line calendar, with a calendar of its own in `folder`."""

    def __init__(self, folder: Path):
        (folder / "calendar").mkdir(parents=True)
        self.config = folder / "khal.conf"
        self.config.write_text(KHAL_CONFIG.format(folder=folder / "calendar"), encoding="utf-8")
        self.env = {**os.environ, "XDG_DATA_HOME": str(folder / "data"), "XDG_CONFIG_HOME": str(folder / "config")}
        self.folder = folder

    def run(self, *args: str) -> str:
        khal = Path(sys.executable).with_name("khal")
        done = subprocess.run(
            [str(khal), "-c", str(self.config), *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def take(self, message: EmailMessage, name: str) -> None:
        """Import the invite of `message`, as a person does with an attachment."""
        path = self.folder / f"{name}.ics"
        path.write_text(calendar_part(message).get_content(), encoding="utf-8")
        self.run("import", "--batch", str(path))

    def events(self) -> list[str]:
        """The first line of each event from April to June 2021, as `khal list` prints it."""
        listing = self.run("list", "--format", "{cancelled}{start-time}-{end-time} {title}", "2021-04-01", "90d")
        return [line for line in listing.splitlines() if "Data Governance" in line]


def test_khal_holds_one_event_that_moves_with_the_update_and_is_cancelled_with_the_cancellation(
    store, settings, confirmed, workdir
):
    khal = Khal(workdir / "khal")
    [confirmation] = mails_to(settings, PEOPLE[0])
    khal.take(confirmation, "confirmation")
    assert [line.split(" ")[0] for line in khal.events()] == ["06:00-07:30"]
    assert "2021-04-30" in khal.run("list", "2021-04-01", "90d")

    plan_webinar(store, save(store, a_week_later(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    send(store, settings, MOVED_AT)
    [_, update] = mails_to(settings, PEOPLE[0])
    khal.take(update, "update")
    listing = khal.run("list", "2021-04-01", "90d")
    assert len(khal.events()) == 1, "one event, not two"
    assert "2021-05-07" in listing
    assert "2021-04-30" not in listing

    cancelled = store.cancel_webinar(store.webinar(SAMPLE_SLUG), None, MOVED_AT)
    plan_webinar(store, cancelled, MOVED_AT, settings.mail_domain)
    send(store, settings, MOVED_AT)
    [*_, cancellation] = mails_to(settings, PEOPLE[0])
    khal.take(cancellation, "cancellation")
    [event] = khal.events()
    assert event.startswith("CANCELLED 06:00-07:30")


# -- after the webinar -------------------------------------------------------------------------

AFTER = r"""
[[after]]
send = "2h"
recording = "https://example.org/recordings/session-5"
survey = "https://example.org/survey?s=5&lang=en"
note = "Thank you for your questions.\nThe next session is in June."
"""
END = START + timedelta(minutes=90)


def with_after(workdir: Path, extra: str = AFTER, start: str = "2021-04-30 15:00") -> Path:
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8").replace('start = "2021-04-30 15:00"', f'start = "{start}"')
    path = workdir / f"after-{start[:10]}-{len(extra)}.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def test_a_message_after_the_end_thanks_everyone_with_the_recording_and_the_survey(store, settings, confirmed, workdir):
    plan_webinar(store, save(store, with_after(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    due = {row[0] for row in store.db.execute("SELECT due_at FROM deliveries WHERE kind = 'after-2h'")}
    assert due == {"2021-04-30T09:30:00Z"}, "two hours after the end, for each of the three"

    send(store, settings, START - timedelta(hours=1))
    assert send(store, settings, END + timedelta(hours=2)).sent == 3

    [*_, thanks] = mails_to(settings, PEOPLE[0])
    assert thanks["Subject"].startswith("Thank you: ")
    assert [p.get_content_type() for p in thanks.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    text, html = text_of(thanks), text_of(thanks, "html")
    assert "https://example.org/recordings/session-5" in text
    assert "Thank you for your questions.\nThe next session is in June." in text
    assert '<a href="https://example.org/survey?s=5&amp;lang=en">' in html


def test_the_message_after_the_end_reads_as_meant(store, settings, confirmed, workdir):
    plan_webinar(store, save(store, with_after(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    composer = Composer(store.webinar(SAMPLE_SLUG), settings)
    people = {row.id: row for row in store.registrants(confirmed.id)}

    for row in store.db.query("SELECT * FROM deliveries WHERE template = 'after'"):
        assert_reads_as_meant(composer, Delivery.from_row(row), people[row["registrant_id"]], END)


def test_the_message_after_the_end_moves_with_the_webinar_and_goes_when_taken_out(store, settings, confirmed, workdir):
    plan_webinar(store, save(store, with_after(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    moved = save(store, with_after(workdir, start="2021-05-07 15:00"), MOVED_AT).record
    plan_webinar(store, moved, MOVED_AT, settings.mail_domain)
    due = {row[0] for row in store.db.execute("SELECT due_at FROM deliveries WHERE kind = 'after-2h'")}
    assert due == {"2021-05-07T09:30:00Z"}

    plan_webinar(store, save(store, a_week_later(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)
    reasons = {row[0] for row in store.db.execute("SELECT reason FROM deliveries WHERE kind = 'after-2h'")}
    assert reasons == {"this message was removed from the definition"}


def test_a_message_after_the_end_that_could_not_go_within_a_week_is_dropped(store, settings, confirmed, workdir):
    plan_webinar(store, save(store, with_after(workdir), MOVED_AT).record, MOVED_AT, settings.mail_domain)

    report = send(store, settings, END + timedelta(days=8))

    assert (report.sent, report.skipped) == (0, 3)
    reasons = {row[0] for row in store.db.execute("SELECT reason FROM deliveries WHERE kind = 'after-2h'")}
    assert reasons == {"it could not go within 7d of its time"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('\n[[after]]\nrecording = "https://example.org/r"\n', "after[0].send: is missing"),
        ('\n[[after]]\nsend = "soon"\n', "after[0].send"),
        ('\n[[after]]\nsend = "1d"\nsurvey = "javascript:alert(1)"\n', "after[0].survey"),
        ('\n[[after]]\nsend = "1d"\n\n[[after]]\nsend = "24h"\n', "after[1].send: '24h' is given twice"),
        ('\n[[after]]\nsend = "1d"\nslide = "https://example.org/s"\n', "after[0].slide: unknown key"),
    ],
)
def test_a_wrong_message_after_the_end_is_refused_with_its_line_and_the_fix(workdir, extra, expected):
    path = with_after(workdir, extra)

    with pytest.raises(InputError) as refused:
        load_definition(path)

    assert expected in str(refused.value)
    assert f"{path}:" in str(refused.value)
    assert "fix:" in str(refused.value)


# -- preview ---------------------------------------------------------------------------------------


def test_preview_shows_an_update_a_cancellation_and_a_message_after_the_end(run, workdir):
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    assert run("webinar", "add", SAMPLE_DEFINITION, env=env).code == 0
    assert run("registrants", "add", SAMPLE_SLUG, "--email", PEOPLE[0], "--first-name", "Ana", env=env).code == 0
    not_moved = run("preview", SAMPLE_SLUG, "--kind", "update", env=env)
    assert not_moved.code == 2
    assert "has not changed since it was added" in not_moved.stderr
    assert run("preview", SAMPLE_SLUG, "--kind", "after", env=env).code == 2

    assert run("webinar", "add", with_after(workdir, start="2021-05-07 15:00"), env=env).code == 0
    update = run("preview", SAMPLE_SLUG, "--kind", "update", "--eml", "update.eml", env=env)
    cancellation = run("preview", SAMPLE_SLUG, "--kind", "cancellation", env=env)
    after = run("preview", SAMPLE_SLUG, "--kind", "after", env=env)

    assert update.code == 0, update.stderr
    assert "Friday 30 April 2021" in update.stdout.split("NO LONGER")[1].split("WHEN")[0]
    assert "Friday 7 May 2021" in update.stdout
    message = email.message_from_bytes((workdir / "update.eml").read_bytes(), policy=policy.default)
    [invite] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    event = icalendar.Calendar.from_ical(invite.get_content()).walk("VEVENT")[0]
    assert (invite.get_param("method"), int(event["SEQUENCE"])) == ("REQUEST", 1)
    assert cancellation.stdout.startswith("To: ana.silva@example.org\nSubject: Cancelled: ")
    assert "https://example.org/recordings/session-5" in after.stdout
    assert not list((workdir / "data" / "outbox").glob("new/*")), "a preview sends nothing"


def test_preview_of_an_update_after_two_quick_moves_shows_the_time_the_readers_calendar_holds(run, workdir):
    env = {"WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    assert run("webinar", "add", with_after(workdir, start="2027-03-05 15:00"), env=env).code == 0
    assert run("registrants", "add", SAMPLE_SLUG, "--email", PEOPLE[0], "--first-name", "Ana", env=env).code == 0
    assert run("run", "--once", env=env).code == 0, "her confirmation puts 5 March in her calendar"
    for start in ("2027-03-12 15:00", "2027-03-19 15:00"):  # two moves before the next run
        assert run("webinar", "add", with_after(workdir, start=start), env=env).code == 0

    shown = run("preview", SAMPLE_SLUG, "--kind", "update", env=env)
    assert run("run", "--once", env=env).code == 0
    [*_, sent] = sorted((workdir / "data" / "outbox" / "new").iterdir(), key=lambda path: path.stat().st_mtime)

    assert shown.code == 0, shown.stderr
    no_longer = shown.stdout.split("NO LONGER")[1].split("WHEN")[0]
    assert "Friday 5 March 2027" in no_longer, "her calendar holds 5 March, not 12 March"
    assert "Friday 19 March 2027" in shown.stdout
    mail = email.message_from_bytes(sent.read_bytes(), policy=policy.default)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert text.split("NO LONGER")[1].split("WHEN")[0] == no_longer, "the preview says what the real mail says"
