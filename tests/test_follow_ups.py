"""Follow-ups by attendance (plan.py rule l): `[[after]]` messages to those who attended and to
the absent, planned once attendance is known, waiting for it up to a deadline, and sent under
the outbox's guarantees.

Every test works the way the service does: the sample webinar (30 April 2021, 06:00–07:30 UTC)
with follow-ups added, saved in a real store, people registered with the real `local`
provider, attendance recorded in the store as a source would record it (`attendance.match` and
`Store.record_attendance`), the outbox planned with an injected clock, and mail delivered into a
real Maildir or to a real SMTP server on loopback, then read back.
"""

from __future__ import annotations

import email
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import Message
from pathlib import Path

import pytest
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY
from smtp_servers import smtp_server
from test_definition import refused
from test_smtp import starting_in

from webinar_ops.attendance import Join, match
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import WaveReport, send_due
from webinar_ops.jobs import sync_registrations
from webinar_ops.mail import kinds
from webinar_ops.mail.outbox import Outbox, State
from webinar_ops.plan import follow_ups_waiting, plan_ended, plan_upcoming, plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import add_person
from webinar_ops.schedule import Service
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport
from webinar_ops.transports.smtp import SmtpTransport

DOMAIN = "webinars.example.org"
SENDER = f"webinars@{DOMAIN}"
START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)
END = START + timedelta(minutes=90)
DAY = timedelta(days=1)
DEADLINE = END + timedelta(days=3)  # the default wait

ANA = "ana.silva@example.org"
BEN = "ben.okafor@example.org"
CHO = "cho.minji@example.org"
PEOPLE = (ANA, BEN, CHO)

SLIDES = "https://example.org/slides/session-5"
RECORDING = "https://example.org/recordings/session-5"
THANKS, SORRY, EVERYONE = "after-1d-attended", "after-1d-absent", "after-1d"

THANKS_AND_RECORDING = f"""
[[after]]
send = "1d"
to = "attended"
slides = "{SLIDES}"
note = "Thank you for your questions."

[[after]]
send = "1d"
to = "absent"
recording = "{RECORDING}"
"""


# -- helpers: the organiser's and the service's actions, with the clock given -----------------


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db",
        secret_key=TEST_SECRET_KEY,
        base_url="https://webinars.example.org",
        mail_from=f"Webinar team <{SENDER}>",
    ).with_plugin(MaildirSettings(outbox_dir=workdir / "outbox"))


def with_follow_ups(workdir: Path, extra: str = THANKS_AND_RECORDING, name: str = "follow-ups.toml") -> Path:
    path = workdir / name
    path.write_text(SAMPLE_DEFINITION.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def webinar_with(store: Store, settings: Settings, path: Path, people=PEOPLE, now: datetime = NOW) -> WebinarRecord:
    """`webinar add PATH`, `registrants add` for each person and `sync` (the local provider
    registers them), then planning: what the CLI does, at `now`."""
    record = store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", now).record
    for address in people:
        add_person(store, record, {"email": address, "first_name": address.split(".")[0].title()}, now)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(record.slug), now)
    plan(store, settings, now)
    return store.webinar(record.slug)


def plan(store: Store, settings: Settings, now: datetime):
    return plan_webinar(store, store.webinar(SAMPLE_SLUG), now, settings.mail_domain)


def attended(store: Store, *addresses: str, at: datetime = END + timedelta(hours=1)) -> None:
    """A source reports that `addresses` joined (one session each): the others were absent."""
    webinar = store.webinar(SAMPLE_SLUG)
    joins = [Join(address, joined_at=START, left_at=END, minutes=90) for address in addresses]
    matched = match(store.attendance_candidates(webinar.id), joins)
    store.record_attendance(webinar.id, matched.present, "import", at, matched.unmatched)


def send(store: Store, settings: Settings, at: datetime):
    """One wave of the sender, run at `at`, into the Maildir."""
    transport = MaildirTransport(settings.of(MaildirSettings).outbox_dir)
    return send_due(store, settings, transport, clock=lambda: at)


def mailbox(settings: Settings) -> list[Message]:
    folder = settings.of(MaildirSettings).outbox_dir / "new"
    messages = sorted(folder.iterdir()) if folder.exists() else []
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in messages]


def follow_ups_received(store: Store, settings: Settings) -> dict[str, list[str]]:
    """Each address's after-messages in the Maildir, by the kind of their delivery row."""
    rows = {row.delivery.message_id: row for row in Outbox(store).listing(limit=10_000)}
    got: dict[str, list[str]] = {}
    for message in mailbox(settings):
        row = rows[message["Message-ID"].strip()]
        if row.delivery.template == kinds.AFTER.template:
            got.setdefault(row.email, []).append(row.delivery.kind)
    return got


def text_of(message: Message, subtype: str = "plain") -> str:
    return message.get_body(preferencelist=(subtype,)).get_content()


def rows_of(store: Store, address: str) -> dict[str, tuple[str, str | None]]:
    """One person's after-message rows: kind -> (state, reason)."""
    return {
        row.delivery.kind: (row.delivery.state, row.delivery.reason)
        for row in Outbox(store).listing(limit=10_000)
        if row.email == address and row.delivery.template == kinds.AFTER.template
    }


# -- the definition ---------------------------------------------------------------------------


# Each wrong table follows `# here`, so that its line is found past the sample's own text.
@pytest.mark.parametrize(
    ("extra", "field", "at"),
    [
        ('# here\n[[after]]\nsend = "1d"\nto = "attendees"\n', "after[0].to", 'to = "attendees"'),
        ('# here\n[[after]]\nsend = "1d"\notherwise = "skip"\n', "after[0].otherwise", 'otherwise = "skip"'),
        ('# here\n[[after]]\nsend = "1d"\nwait = "2d"\n', "after[0].wait", 'wait = "2d"'),
        ('# here\n[[after]]\nsend = "1d"\nto = "absent"\notherwise = "later"\n', "after[0].otherwise", "later"),
        ('# here\n[[after]]\nsend = "1d"\nto = "absent"\nwait = "soon"\n', "after[0].wait", 'wait = "soon"'),
        (
            '[[after]]\nsend = "1d"\nto = "absent"\n# here\n[[after]]\nsend = "24h"\nto = "absent"\n',
            "after[1].send",
            "24h",
        ),
        ('[[after]]\nsend = "1d"\n# here\n[[after]]\nsend = "1d"\nto = "attended"\n', "after[1].to", "to ="),
        (
            '[[after]]\nsend = "1d"\nto = "attended"\notherwise = "everyone"\n'
            '# here\n[[after]]\nsend = "1d"\nto = "absent"\notherwise = "everyone"\n',
            "after[1].otherwise",
            "otherwise",
        ),
        (
            '[[after]]\nsend = "1d"\nto = "attended"\n# here\n[[after]]\nsend = "1d"\nto = "absent"\nwait = "5d"\n',
            "after[1].wait",
            'wait = "5d"',
        ),
    ],
    ids=[
        "an unknown audience",
        "otherwise on an everyone message",
        "wait on an everyone message",
        "an unknown fallback",
        "a wait that is no duration",
        "the same audience twice at one time",
        "everyone beside a version at one time",
        "both versions of one time falling back to everyone",
        "the versions of one time waiting for different times",
    ],
)
def test_a_wrong_follow_up_is_refused_with_its_file_line_and_fix(workdir, extra, field, at):
    path = with_follow_ups(workdir, "\n" + extra)
    refused(path, field, at, after="# here")


def test_a_follow_up_by_attendance_waits_three_days_and_is_skipped_without_attendance_by_default(workdir):
    [thanks, sorry] = load_definition(with_follow_ups(workdir)).after
    assert (thanks.to, thanks.wait, thanks.otherwise) == ("attended", timedelta(days=3), "skip")
    assert (sorry.to, sorry.wait, sorry.otherwise) == ("absent", timedelta(days=3), "skip")
    assert kinds.after_name(thanks.delay, thanks.to) == THANKS
    assert kinds.after_name(thanks.delay) == EVERYONE, "the everyone message keeps its name"


# -- planning by attendance -------------------------------------------------------------------


def test_those_who_attended_and_those_who_did_not_each_get_their_version_and_nobody_both(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    assert rows_of(store, ANA) == {}, "nothing is planned before attendance is known"

    attended(store, ANA)
    plan(store, settings, END + timedelta(hours=1))
    for _ in range(3):
        send(store, settings, END + timedelta(days=1))

    assert follow_ups_received(store, settings) == {ANA: [THANKS], BEN: [SORRY], CHO: [SORRY]}
    by_address = {message["To"].addresses[0].addr_spec: message for message in mailbox(settings)}
    thanks, sorry = by_address[ANA], by_address[BEN]
    assert thanks["Subject"].startswith("Thank you for attending: ")
    assert "Thank you for attending Strengthening Data Governance" in " ".join(text_of(thanks).split())
    assert SLIDES in text_of(thanks)
    assert RECORDING not in text_of(thanks)
    assert "Thank you for your questions." in text_of(thanks)
    assert sorry["Subject"].startswith("Sorry we missed you: ")
    assert "We are sorry we missed you at" in text_of(sorry)
    assert RECORDING in text_of(sorry)
    assert SLIDES not in text_of(sorry)
    assert f'<a href="{RECORDING}">' in text_of(sorry, "html")


@pytest.mark.parametrize(
    ("known", "due"),
    [(END + timedelta(hours=2), "2021-05-01T07:30:00Z"), (END + timedelta(days=2), "2021-05-02T07:30:00Z")],
    ids=["known before its time: due a day after the end", "known after its time: due at once"],
)
def test_a_version_is_due_at_its_time_or_at_once_when_attendance_came_later(store, settings, workdir, known, due):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, ANA, at=known)
    plan(store, settings, known)

    rows = [row.delivery for row in Outbox(store).listing(limit=100) if row.delivery.template == kinds.AFTER.template]
    assert {(d.kind, d.due_at, d.send_after) for d in rows} == {(THANKS, due, due), (SORRY, due, due)}
    assert plan(store, settings, known + timedelta(hours=1)).moved == 0, "it keeps the time it was planned for"


def test_someone_absent_gets_nothing_when_only_those_who_attended_are_addressed(store, settings, workdir):
    thanks_only = THANKS_AND_RECORDING.split("\n[[after]]")[1]
    webinar_with(store, settings, with_follow_ups(workdir, "\n[[after]]" + thanks_only))
    attended(store, ANA)
    report = plan(store, settings, END + timedelta(hours=1))

    assert report.created == 1
    assert rows_of(store, ANA) == {THANKS: (State.PENDING, None)}
    assert rows_of(store, BEN) == rows_of(store, CHO) == {}


def test_while_attendance_is_not_known_nothing_is_planned_and_the_status_says_until_when(run, workdir):
    # The command line reads the real clock: the sample, moved to have ended an hour ago.
    ended = starting_in(workdir, -timedelta(minutes=150))
    ended.write_text(ended.read_text(encoding="utf-8") + THANKS_AND_RECORDING, encoding="utf-8")
    imported = ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"]
    for command in (["init"], ["webinar", "add", ended], imported, ["sync", SAMPLE_SLUG]):
        assert run(*command).code == 0, command

    summary = run("status", SAMPLE_SLUG, "--json").json()[0]
    [waiting] = summary["waiting_for_attendance"]
    assert waiting["mail"] == [THANKS, SORRY]
    assert waiting["otherwise"] == {"attended": "skip", "absent": "skip"}
    assert not [kind for kind in summary["mail"] if kind.startswith("after-")]
    shown = run("status", SAMPLE_SLUG).stdout
    assert f"{THANKS}, {SORRY} wait for attendance until {waiting['until']}" in shown
    assert "if it is not known by then: attended skipped, absent skipped" in shown


def test_an_attendance_import_plans_each_version_at_once_for_the_organiser_to_see(run, workdir):
    ended = starting_in(workdir, -timedelta(minutes=150))
    ended.write_text(ended.read_text(encoding="utf-8") + THANKS_AND_RECORDING, encoding="utf-8")
    imported = ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"]
    for command in (["init"], ["webinar", "add", ended], imported, ["sync", SAMPLE_SLUG]):
        assert run(*command).code == 0, command
    came = sorted(r["email"] for r in run("registrants", "list", SAMPLE_SLUG, "--json").json())[:2]
    (workdir / "came.csv").write_text("email,minutes\n" + "".join(f"{e},80\n" for e in came), encoding="utf-8")

    ran = run("attendance", "import", SAMPLE_SLUG, "came.csv", "--json")

    assert ran.code == 0, ran.stderr
    assert ran.json()["follow_ups_planned"] == 15
    planned = Counter(row["kind"] for row in run("outbox", SAMPLE_SLUG, "--json").json())
    assert (planned[THANKS], planned[SORRY]) == (2, 13)
    assert run("status", SAMPLE_SLUG, "--json").json()[0]["waiting_for_attendance"] == []


def test_at_the_deadline_a_version_falls_back_to_everyone_or_is_skipped_with_the_reason(store, settings, workdir):
    everyone_thanks = THANKS_AND_RECORDING.replace('to = "attended"', 'to = "attended"\notherwise = "everyone"')
    webinar_with(store, settings, with_follow_ups(workdir, everyone_thanks))
    webinar = store.webinar(SAMPLE_SLUG)

    assert plan(store, settings, DEADLINE - timedelta(minutes=1)).created == 0
    [waiting] = follow_ups_waiting(store, webinar, DEADLINE - timedelta(minutes=1))
    assert (waiting.names, waiting.until) == ((THANKS, SORRY), DEADLINE)

    plan(store, settings, DEADLINE)
    assert follow_ups_waiting(store, webinar, DEADLINE) == []
    reason = "attendance was not known by 2021-05-03T07:30:00Z"
    for address in PEOPLE:
        assert rows_of(store, address) == {EVERYONE: (State.PENDING, None), SORRY: (State.SKIPPED, reason)}
    assert {(r["kind"], r["state"], r["why"], r["n"]) for r in Outbox(store).reasons(webinar.id)} == {
        (SORRY, "skipped", reason, 3)
    }

    attended(store, ANA, at=DEADLINE + timedelta(hours=1))  # too late: what the deadline decided stands
    assert plan(store, settings, DEADLINE + timedelta(hours=1)).created == 0
    send(store, settings, DEADLINE + timedelta(hours=1))
    assert follow_ups_received(store, settings) == {a: [EVERYONE] for a in PEOPLE}
    [message, *_] = mailbox(settings)
    assert message["Subject"].startswith("Thank you: "), "the everyone wording, with the message's own links"
    assert "Thank you for registering for" in text_of(message)
    assert SLIDES in text_of(message)
    assert RECORDING not in text_of(message)


def test_at_the_deadline_versions_that_skip_are_recorded_skipped_for_everyone(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    report = plan(store, settings, DEADLINE + timedelta(hours=5))

    assert (report.created, report.skipped) == (6, 6)
    reason = "attendance was not known by 2021-05-03T07:30:00Z"
    assert rows_of(store, BEN) == {THANKS: (State.SKIPPED, reason), SORRY: (State.SKIPPED, reason)}
    assert send(store, settings, DEADLINE + timedelta(hours=5)).sent == 0


def test_a_late_correction_of_attendance_never_resends_and_an_unsent_version_follows_it(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, ANA)
    plan(store, settings, END + timedelta(hours=1))
    sent_at = END + timedelta(days=1)
    send(store, settings, sent_at)  # Ana's thanks, Ben's and Cho's recording go

    attended(store, BEN, CHO, at=sent_at + timedelta(hours=1))  # a corrected export: Ana was not there
    report = plan(store, settings, sent_at + timedelta(hours=1))
    send(store, settings, sent_at + timedelta(hours=2))
    assert (report.created, report.moved) == (0, 0), "everyone already had their version of this time"
    assert follow_ups_received(store, settings) == {ANA: [THANKS], BEN: [SORRY], CHO: [SORRY]}


def test_a_correction_before_the_send_turns_the_unsent_version_into_the_right_one(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, ANA)
    plan(store, settings, END + timedelta(hours=1))
    before = {
        row.email: row.delivery
        for row in Outbox(store).listing(limit=100)
        if row.delivery.template == kinds.AFTER.template
    }

    attended(store, ANA, BEN, at=END + timedelta(hours=3))  # Ben had joined from a colleague's address
    report = plan(store, settings, END + timedelta(hours=3))
    assert report.moved == 1
    corrected = rows_of(store, BEN)
    assert corrected == {THANKS: (State.PENDING, None)}, "the same row, now the other version"
    after = {
        row.email: row.delivery
        for row in Outbox(store).listing(limit=100)
        if row.delivery.template == kinds.AFTER.template
    }
    assert after[BEN].id == before[BEN].id
    assert after[BEN].message_id != before[BEN].message_id

    send(store, settings, END + timedelta(days=1))
    assert follow_ups_received(store, settings) == {ANA: [THANKS], BEN: [THANKS], CHO: [SORRY]}


def test_a_correction_to_an_audience_without_a_message_skips_the_unsent_version_until_corrected_back(
    store, settings, workdir
):
    thanks_only = "\n[[after]]" + THANKS_AND_RECORDING.split("\n[[after]]")[1]
    webinar_with(store, settings, with_follow_ups(workdir, thanks_only))
    attended(store, ANA)
    plan(store, settings, END + timedelta(hours=1))

    attended(store, BEN, at=END + timedelta(hours=2))
    plan(store, settings, END + timedelta(hours=2))
    assert rows_of(store, ANA) == {THANKS: (State.SKIPPED, "attendance was corrected: they were absent")}
    assert rows_of(store, BEN) == {THANKS: (State.PENDING, None)}

    attended(store, ANA, BEN, at=END + timedelta(hours=3))
    plan(store, settings, END + timedelta(hours=3))
    assert rows_of(store, ANA) == {THANKS: (State.PENDING, None)}


def test_a_version_taken_out_of_the_definition_is_not_sent_to_anyone_who_has_not_had_it(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, ANA)
    plan(store, settings, END + timedelta(hours=1))

    without = with_follow_ups(workdir, "\n[[after]]" + THANKS_AND_RECORDING.split("\n[[after]]")[1], "thanks.toml")
    store.save_webinar(load_definition(without), without.read_text(encoding="utf-8"), "local", END + timedelta(hours=2))
    plan(store, settings, END + timedelta(hours=2))

    assert rows_of(store, ANA) == {THANKS: (State.PENDING, None)}
    assert rows_of(store, BEN) == {SORRY: (State.SKIPPED, "this message was removed from the definition")}


def test_planning_again_creates_nothing_new(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, ANA)
    assert plan(store, settings, END + timedelta(hours=1)).created == 3
    again = plan(store, settings, END + timedelta(hours=2))
    assert (again.created, again.moved, again.skipped, again.withdrawn) == (0, 0, 0, 0)


# -- planning ended webinars ------------------------------------------------------------------


def test_planning_an_ended_webinar_plans_its_follow_ups_and_creates_no_reminder_or_confirmation(
    store, settings, workdir
):
    webinar_with(store, settings, with_follow_ups(workdir))
    late = "dan.late@example.org"
    add_person(store, store.webinar(SAMPLE_SLUG), {"email": late, "first_name": "Dan"}, END + timedelta(minutes=30))
    sync_webinar(
        store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), END + timedelta(minutes=30)
    )
    attended(store, ANA)
    before = Counter(row.delivery.template for row in Outbox(store).listing(limit=1000))

    planned = plan_upcoming(store, END + timedelta(hours=1), settings.mail_domain)

    assert list(planned) == [SAMPLE_SLUG]
    made = Counter(row.delivery.template for row in Outbox(store).listing(limit=1000)) - before
    assert made == {"after": 4}, "the follow-ups, and nothing else"
    assert rows_of(store, late) == {SORRY: (State.SKIPPED, "the webinar was over when they registered")}


def test_an_ended_webinar_is_planned_only_while_a_follow_up_may_still_be_planned(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    assert list(plan_upcoming(store, DEADLINE + kinds.AFTER_PATIENCE, settings.mail_domain)) == [SAMPLE_SLUG]
    assert plan_upcoming(store, DEADLINE + kinds.AFTER_PATIENCE + timedelta(minutes=1), settings.mail_domain) == {}
    assert plan_ended(store, store.webinar(SAMPLE_SLUG), DEADLINE + timedelta(days=30), DOMAIN).created == 0


def test_an_ended_webinar_without_follow_ups_by_attendance_is_not_planned(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir, '\n[[after]]\nsend = "1d"\n'))
    assert plan_upcoming(store, END + timedelta(hours=1), settings.mail_domain) == {}


def test_the_sync_job_plans_the_follow_ups_of_an_ended_webinar(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, ANA)

    sync_registrations.run(settings, clock=lambda: END + timedelta(hours=1))

    assert rows_of(store, ANA) == {THANKS: (State.PENDING, None)}
    assert set(rows_of(store, BEN)) == {SORRY}


def test_the_service_plans_the_follow_ups_of_an_ended_webinar_when_it_starts(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, CHO)
    # The sync job waits for the stop, so that nothing but the startup's own plan runs.
    service = Service(
        settings,
        send=lambda stop: (WaveReport(), None),
        sync=lambda: service.stopping.wait(30),
        clock=lambda: END + DAY,
    )

    service.start()
    service.stop()

    assert rows_of(store, CHO) == {THANKS: (State.PENDING, None)}
    assert set(rows_of(store, ANA)) == set(rows_of(store, BEN)) == {SORRY}


# -- the outbox's guarantees ------------------------------------------------------------------


def smtp(server) -> SmtpTransport:
    return SmtpTransport(server.host, server.port, security="none", timeout=5)


def test_the_versions_go_through_a_real_smtp_server_once_each_even_when_sent_twice(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, ANA, CHO)
    plan(store, settings, END + timedelta(hours=1))
    at = END + timedelta(days=1)

    with smtp_server() as server:
        first = send_due(store, settings, smtp(server), clock=lambda: at)
        second = send_due(store, settings, smtp(server), clock=lambda: at + timedelta(minutes=1))
        received = {r.rcpt_tos[0]: r.message() for r in server.handler.received}

    assert (first.sent, second.sent) == (3, 0)
    assert sorted(received) == sorted(PEOPLE), "one message each"
    assert received[ANA]["Subject"].startswith("Thank you for attending: ")
    assert received[BEN]["Subject"].startswith("Sorry we missed you: ")
    assert received[CHO]["Subject"].startswith("Thank you for attending: ")
    rows = {
        row.email: row.delivery
        for row in Outbox(store).listing(limit=100)
        if row.delivery.template == kinds.AFTER.template
    }
    assert {a: (d.state, d.attempts) for a, d in rows.items()} == dict.fromkeys(PEOPLE, (State.SENT, 1))
    assert {a: received[a]["Message-ID"] for a in PEOPLE} == {a: rows[a].message_id for a in PEOPLE}


def test_the_follow_ups_are_claimed_like_any_other_row(store, settings, workdir):
    webinar_with(store, settings, with_follow_ups(workdir))
    attended(store, ANA)
    plan(store, settings, END + timedelta(hours=1))
    send(store, settings, END + timedelta(hours=1))  # the mail before the webinar: too late by now
    at = END + timedelta(days=1)
    outbox = Outbox(store)

    held = outbox.claim(at, at + timedelta(minutes=5), "dead-host:4242", limit=10, kind=None)
    assert sorted(d.kind for d in held) == sorted([THANKS, SORRY, SORRY])
    with smtp_server() as server:
        meanwhile = send_due(store, settings, smtp(server), clock=lambda: at + timedelta(minutes=1))
        assert (meanwhile.sent, len(server.handler.received)) == (0, 0), "held under another sender's lease"
        later = send_due(store, settings, smtp(server), clock=lambda: at + timedelta(minutes=6))
        assert (later.sent, len(server.handler.received)) == (3, 3), "taken back once the lease ran out"


# -- preview ----------------------------------------------------------------------------------


@pytest.fixture
def project(run, workdir):
    """A project folder after init, webinar add (with the follow-ups), registrants import and sync."""
    path = with_follow_ups(workdir)
    for command in (
        ["init"],
        ["webinar", "add", path],
        ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"],
        ["sync", SAMPLE_SLUG],
    ):
        assert run(*command).code == 0, command
    return run


@pytest.mark.parametrize(
    ("audience", "subject", "words", "link"),
    [
        ("attended", "Thank you for attending: ", "Thank you for attending", SLIDES),
        ("absent", "Sorry we missed you: ", "We are sorry we missed you at", RECORDING),
    ],
)
def test_preview_as_attended_or_absent_shows_each_version(project, audience, subject, words, link):
    ran = project("preview", SAMPLE_SLUG, "--kind", "after", "--as", audience, "--language", "en")

    assert ran.code == 0, ran.stderr
    assert f"Subject: {subject}" in ran.stdout
    assert words in ran.stdout
    assert link in ran.stdout


def test_preview_as_absent_is_shown_in_french_for_a_french_reader(project):
    ran = project("preview", SAMPLE_SLUG, "--kind", "after", "--as", "absent", "--language", "fr")

    assert ran.code == 0, ran.stderr
    assert "Subject: Vous nous avez manqué\u00a0: " in ran.stdout
    assert RECORDING in ran.stdout


def test_preview_as_goes_only_with_the_after_kind(project):
    ran = project("preview", SAMPLE_SLUG, "--kind", "reminder", "--as", "attended")

    assert ran.code == 2
    assert "--as goes with --kind after" in ran.stderr


def test_preview_as_an_audience_the_webinar_does_not_address_says_so(run, workdir):
    thanks_only = "\n[[after]]" + THANKS_AND_RECORDING.split("\n[[after]]")[1]
    for command in (["init"], ["webinar", "add", with_follow_ups(workdir, thanks_only)]):
        assert run(*command).code == 0, command

    ran = run("preview", SAMPLE_SLUG, "--kind", "after", "--as", "absent")

    assert ran.code == 2
    assert f"{SAMPLE_SLUG} has no [[after]] message to absent (its messages go to: attended)" in ran.stderr
