"""Planning and sending reminders, rule by rule (plan.py's docstring, rules a–j), with an
injected clock.

Every test works the way the service does: the sample webinar (30 April 2021, 15:00 in Seoul,
06:00 UTC; reminders 7d, 1d and 1h before; 30 minutes' grace) saved in a real store, people
registered with the real `local` provider (so they have provider ids and join links), the
outbox planned by `plan_webinar`, and mail delivered by `send_due` into a real Maildir, which
is then read back to see who got what. Messages are told apart by their Message-ID, which
planning stores on each delivery row.
"""

from __future__ import annotations

import email
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import WaveReport, send_due
from webinar_ops.mail import kinds
from webinar_ops.mail.kinds import reminder_name as reminder_kind
from webinar_ops.mail.outbox import Delivery, Outbox
from webinar_ops.people import Person
from webinar_ops.plan import PlanReport, manual_audience, plan_manual, plan_webinar
from webinar_ops.providers import HeldRegistrant, load_provider
from webinar_ops.registrants import add_person, cancel_person, decide_people
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports import TemporaryFailure
from webinar_ops.transports.maildir import MaildirSettings, MaildirTransport

BASE_URL = "https://webinars.example.org"
DOMAIN = "webinars.example.org"

START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
WEEK_BEFORE = START - timedelta(days=7)
DAY_BEFORE = START - timedelta(days=1)
HOUR_BEFORE = START - timedelta(hours=1)

CONFIRMATION = "confirmation"
REMINDER_7D = reminder_kind(timedelta(days=7))
REMINDER_1D = reminder_kind(timedelta(days=1))
REMINDER_1H = reminder_kind(timedelta(hours=1))
EVERY_KIND = (CONFIRMATION, REMINDER_7D, REMINDER_1D, REMINDER_1H)
AWAITING, DENIAL = kinds.AWAITING.template, kinds.DENIAL.template

ANA = "ana.silva@example.org"
BEN = "ben.okafor@example.org"
CHO = "cho.minji@example.org"

SESSION_6 = "undesa-snu-session-6"
SEQUENCE = re.compile(r"^SEQUENCE:(\d+)\s*$", re.MULTILINE)


# -- helpers: the organiser's and the service's actions, with the clock given -----------------


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db",
        secret_key=TEST_SECRET_KEY,
        base_url=BASE_URL,
    ).with_plugin(MaildirSettings(outbox_dir=workdir / "outbox"))


@pytest.fixture
def webinar(store: Store) -> WebinarRecord:
    """The sample webinar, saved; nobody registered yet."""
    return save(store, SAMPLE_DEFINITION, NOW).record


def save(store: Store, path: Path, now: datetime):
    """What `webinar-ops webinar add PATH` does to the store (the CLI plans right after)."""
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", now)


def variant(workdir: Path, name: str, replacements: dict[str, str]) -> Path:
    return definition_variant(workdir, replacements, f"{name}.toml")


def an_hour_later(workdir: Path) -> Path:
    """The sample moved to 16:00 Seoul time, agenda and all."""
    return variant(
        workdir,
        "an-hour-later",
        {
            'start = "2021-04-30 15:00"': 'start = "2021-04-30 16:00"',
            'start = "16:25"\nend = "16:30"': 'start = "17:25"\nend = "17:30"',
            'start = "16:05"\nend = "16:25"': 'start = "17:05"\nend = "17:25"',
            'start = "15:45"\nend = "16:05"': 'start = "16:45"\nend = "17:05"',
            'start = "15:00"\nend = "15:45"': 'start = "16:00"\nend = "16:45"',
            'start = "15:00"\ntitle = "Opening': 'start = "16:00"\ntitle = "Opening',
        },
    )


def with_grace(workdir: Path, grace: str) -> Path:
    return variant(
        workdir, f"grace-{grace}", {'offsets = ["7d", "1d", "1h"]': f'offsets = ["7d", "1d", "1h"]\ngrace = "{grace}"'}
    )


def first_name(address: str) -> str:
    return address.split(".")[0].capitalize()


def provider(store: Store, settings: Settings):
    return load_provider("local", settings, store)


def register(
    store: Store, settings: Settings, people: list[str], now: datetime, slug: str = SAMPLE_SLUG
) -> WebinarRecord:
    """`registrants add` for each person, then `sync` (the local provider registers them and
    gives them join links), then planning: what the CLI does, at `now`."""
    webinar = store.webinar(slug)
    for address in people:
        add_person(store, webinar, {"email": address, "first_name": first_name(address)}, now)
    sync(store, settings, now, slug)
    return store.webinar(slug)


def sync(store: Store, settings: Settings, now: datetime, slug: str = SAMPLE_SLUG) -> None:
    sync_webinar(store, provider(store, settings), store.webinar(slug), now)
    plan(store, settings, now, slug)


def plan(store: Store, settings: Settings, now: datetime, slug: str = SAMPLE_SLUG) -> PlanReport:
    return plan_webinar(store, store.webinar(slug), now, settings.mail_domain)


def send(store: Store, settings: Settings, at: datetime, transport=None) -> WaveReport:
    """One wave of the sender, run at `at`, into the Maildir (or through `transport`)."""
    return send_due(
        store, settings, transport or MaildirTransport(settings.of(MaildirSettings).outbox_dir), clock=lambda: at
    )


def send_everything_due(store: Store, settings: Settings, until: datetime) -> None:
    """A sender that never misses a beat: a wave at each due time, up to `until`."""
    for _ in range(1000):
        due = Outbox(store).next_due()
        if due is None or due > until:
            return
        send(store, settings, due)
    raise AssertionError("the sender kept finding work at the same instant")


def mailbox(settings: Settings) -> list[Message]:
    """Every message delivered into the Maildir's new/ folder."""
    folder = settings.of(MaildirSettings).outbox_dir / "new"
    if not folder.exists():
        return []
    return [email.message_from_bytes(path.read_bytes()) for path in sorted(folder.iterdir())]


def received(store: Store, settings: Settings) -> Counter:
    """How many messages each (address, webinar, kind) has in the Maildir."""
    listed = {row.delivery.message_id: row for row in Outbox(store).listing(limit=100_000)}
    got: Counter = Counter()
    for message in mailbox(settings):
        sent, email, slug = listed[message["Message-ID"].strip()]
        address = parseaddr(message["To"])[1]
        assert address == email, "a message went to someone other than its delivery's registrant"
        got[(address, slug, sent.kind)] += 1
    return got


def kinds_received(store: Store, settings: Settings, address: str, slug: str = SAMPLE_SLUG) -> Counter:
    return Counter({k: n for (a, s, k), n in received(store, settings).items() if a == address and s == slug})


def delivery(store: Store, address: str, kind: str, slug: str = SAMPLE_SLUG) -> Delivery:
    webinar = store.webinar(slug)
    [found] = [d for d, email, _ in Outbox(store).listing(webinar.id) if email == address and d.kind == kind]
    return found


def states(store: Store, address: str, slug: str = SAMPLE_SLUG) -> dict[str, str]:
    """Kind → state of one person's mail."""
    webinar = store.webinar(slug)
    return {d.kind: d.state for d, email, _ in Outbox(store).listing(webinar.id) if email == address}


def row_count(store: Store) -> int:
    return store.db["deliveries"].count


def invite_sequence(message: Message) -> int:
    [calendar] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    return int(SEQUENCE.search(calendar.get_payload(decode=True).decode()).group(1))


class RefusesFor:
    """A transport like the Maildir one, except that the mail server keeps answering 451 (a
    temporary failure) for one address."""

    name = "maildir"

    def __init__(self, folder: Path, refused: str):
        self.inner, self.refused = MaildirTransport(folder), refused

    def __enter__(self) -> RefusesFor:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.inner.__exit__(*exc_info)

    def send(self, sender: str, recipient: str, message: bytes, while_waiting=None) -> None:
        if recipient == self.refused:
            raise TemporaryFailure("451 4.7.1 greylisted, try again later")
        self.inner.send(sender, recipient, message, while_waiting)


# -- planning: what each registrant gets ---------------------------------------------------


def test_an_early_registrant_gets_a_confirmation_now_and_every_reminder_at_its_time(store, settings, webinar):
    register(store, settings, [ANA], NOW)

    due = {kind: delivery(store, ANA, kind).due_at for kind in EVERY_KIND}
    assert due == {
        CONFIRMATION: "2021-04-01T09:00:00Z",
        REMINDER_7D: "2021-04-23T06:00:00Z",
        REMINDER_1D: "2021-04-29T06:00:00Z",
        REMINDER_1H: "2021-04-30T05:00:00Z",
    }
    assert set(states(store, ANA).values()) == {"pending"}

    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == dict.fromkeys(EVERY_KIND, 1)
    assert set(states(store, ANA).values()) == {"sent"}


def test_nobody_gets_mail_before_the_provider_has_registered_them(store, settings, webinar):
    add_person(store, webinar, {"email": ANA, "first_name": "Ana"}, NOW)
    assert plan(store, settings, NOW).created == 0
    assert row_count(store) == 0

    sync(store, settings, NOW)
    assert set(states(store, ANA)) == set(EVERY_KIND)
    assert delivery(store, ANA, CONFIRMATION).state == "pending"


# -- rule a: nothing after the start --------------------------------------------------------


@pytest.mark.parametrize("late", [timedelta(0), timedelta(minutes=5)], ids=["at the start", "5 minutes after"])
def test_a_reminder_still_unsent_at_the_start_is_missed_and_never_sent(store, settings, webinar, late):
    register(store, settings, [ANA], NOW)
    send_everything_due(store, settings, until=DAY_BEFORE)  # the sender then stops until after the start
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1, REMINDER_7D: 1, REMINDER_1D: 1}

    report = send(store, settings, START + late)

    assert (report.sent, report.missed) == (0, 1)
    missed = delivery(store, ANA, REMINDER_1H)
    assert missed.state == "missed"
    assert missed.reason == "the webinar had started before it could be sent"
    assert missed.sent_at is None
    assert REMINDER_1H not in kinds_received(store, settings, ANA)
    assert len(mailbox(settings)) == 3
    assert send(store, settings, START + timedelta(minutes=10)).handled == 0


# -- rule b: reminders that fell due before someone registered ------------------------------


def test_someone_registered_12_hours_before_gets_the_confirmation_and_the_last_reminder_only(store, settings, webinar):
    registered = START - timedelta(hours=12)
    register(store, settings, [ANA], registered)

    assert states(store, ANA) == {
        CONFIRMATION: "pending",
        REMINDER_7D: "skipped",
        REMINDER_1D: "skipped",
        REMINDER_1H: "pending",
    }
    for kind, due in ((REMINDER_7D, "2021-04-23T06:00:00Z"), (REMINDER_1D, "2021-04-29T06:00:00Z")):
        skipped = delivery(store, ANA, kind)
        assert skipped.reason == (
            f"it fell due ({due}) before they registered (2021-04-29T18:00:00Z); their confirmation carried everything"
        )

    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1, REMINDER_1H: 1}
    assert delivery(store, ANA, REMINDER_7D).state == "skipped"


def test_status_on_the_command_line_says_why_a_reminder_was_skipped(run, workdir):
    # The command line runs on the wall clock: a webinar three days ahead, with someone
    # registering now, has its 7d reminder in the past and its 1d and 1h ones to come.
    seoul = ZoneInfo("Asia/Seoul")
    day = (datetime.now(UTC).astimezone(seoul) + timedelta(days=3)).date()
    path = variant(workdir, "in-three-days", {'start = "2021-04-30 15:00"': f'start = "{day:%Y-%m-%d} 15:00"'})

    assert run("init").code == 0
    assert run("webinar", "add", path).code == 0
    added = run("registrants", "add", SAMPLE_SLUG, "--email", ANA, "--first-name", "Ana")
    assert added.code == 0, added.stderr
    synced = run("sync", SAMPLE_SLUG)
    assert synced.code == 0, synced.stderr

    status = run("status", SAMPLE_SLUG)
    assert status.code == 0, status.stderr
    [line] = [line for line in status.stdout.splitlines() if "skipped:" in line]
    assert re.search(
        r"skipped: 1 × reminder-7d: it fell due \(\S+Z\) before they registered \(\S+Z\); "
        r"their confirmation carried everything",
        line,
    ), status.stdout

    [summary] = run("status", SAMPLE_SLUG, "--json").json()
    assert summary["mail"] == {
        CONFIRMATION: {"pending": 1},
        REMINDER_7D: {"skipped": 1},
        REMINDER_1D: {"pending": 1},
        REMINDER_1H: {"pending": 1},
    }
    [why] = summary["not_sent"]
    assert (why["kind"], why["state"], why["n"]) == (REMINDER_7D, "skipped", 1)
    assert "before they registered" in why["why"]


# -- rule c: grace for a sender that was down ----------------------------------------------


def registered_the_day_before(store: Store, settings: Settings, people=(ANA,)) -> None:
    """People who registered after the 1d reminder fell due: only the 1h reminder is left for
    them once their confirmation has gone."""
    registered = DAY_BEFORE + timedelta(hours=1)
    register(store, settings, list(people), registered)
    send(store, settings, registered)
    assert all(states(store, address)[REMINDER_1H] == "pending" for address in people)
    assert len(mailbox(settings)) == len(people)


@pytest.mark.parametrize("late_by", [20, 30])
def test_a_reminder_the_sender_wakes_up_to_within_the_grace_period_is_sent_late(store, settings, webinar, late_by):
    registered_the_day_before(store, settings)

    report = send(store, settings, HOUR_BEFORE + timedelta(minutes=late_by))

    assert report.sent == 1
    assert delivery(store, ANA, REMINDER_1H).state == "sent"
    assert kinds_received(store, settings, ANA)[REMINDER_1H] == 1


@pytest.mark.parametrize("late_by", [31, 45])
def test_a_reminder_later_than_the_grace_period_is_missed(store, settings, webinar, late_by):
    registered_the_day_before(store, settings)

    report = send(store, settings, HOUR_BEFORE + timedelta(minutes=late_by))

    assert (report.sent, report.missed) == (0, 1)
    missed = delivery(store, ANA, REMINDER_1H)
    assert missed.state == "missed"
    assert missed.reason == (
        "it fell due at 2021-04-30T05:00:00Z while no sender was running, and the grace period (30m) had passed"
    )
    assert REMINDER_1H not in kinds_received(store, settings, ANA)


def test_a_longer_grace_in_the_definition_lets_a_45_minute_late_reminder_go(store, settings, webinar, workdir):
    assert save(store, with_grace(workdir, "2h"), NOW).record.definition.reminder_grace == timedelta(hours=2)
    registered_the_day_before(store, settings)

    report = send(store, settings, HOUR_BEFORE + timedelta(minutes=45))

    assert report.sent == 1
    assert kinds_received(store, settings, ANA)[REMINDER_1H] == 1


def test_even_a_long_grace_never_lets_a_reminder_go_after_the_start(store, settings, webinar, workdir):
    save(store, with_grace(workdir, "2h"), NOW)
    registered_the_day_before(store, settings)

    report = send(store, settings, START + timedelta(minutes=10))  # 70 minutes late: within 2h

    assert (report.sent, report.missed) == (0, 1)
    assert delivery(store, ANA, REMINDER_1H).reason == "the webinar had started before it could be sent"
    assert REMINDER_1H not in kinds_received(store, settings, ANA)


# -- rule d: cancelled, denied and pending registrants ------------------------------------


def test_a_cancelled_registrant_s_unsent_mail_is_skipped_at_the_next_planning(store, settings, webinar):
    register(store, settings, [ANA, BEN], NOW)
    send(store, settings, NOW)

    cancel_person(store, webinar, ANA, NOW + timedelta(days=2))
    report = plan(store, settings, NOW + timedelta(days=2))

    assert report.withdrawn == 3
    assert states(store, ANA) == {
        CONFIRMATION: "sent",
        REMINDER_7D: "skipped",
        REMINDER_1D: "skipped",
        REMINDER_1H: "skipped",
    }
    assert {delivery(store, ANA, kind).reason for kind in EVERY_KIND[1:]} == {"registration cancelled"}

    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1}
    assert kinds_received(store, settings, BEN) == dict.fromkeys(EVERY_KIND, 1)


def test_a_registrant_cancelled_since_the_last_planning_is_skipped_at_send_time(store, settings, webinar):
    register(store, settings, [ANA, BEN], NOW)
    send(store, settings, NOW)
    cancel_person(store, webinar, ANA, WEEK_BEFORE - timedelta(minutes=1))  # no planning since

    report = send(store, settings, WEEK_BEFORE)

    assert (report.sent, report.skipped) == (1, 1)
    skipped = delivery(store, ANA, REMINDER_7D)
    assert (skipped.state, skipped.reason) == ("skipped", "registration cancelled")
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1}
    assert kinds_received(store, settings, BEN)[REMINDER_7D] == 1

    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1}
    assert states(store, ANA)[REMINDER_1H] == "skipped"


def test_a_denied_registrant_gets_nothing_more(store, settings, webinar):
    register(store, settings, [ANA], NOW)
    send(store, settings, NOW)

    row = store.registrant(webinar.id, ANA)
    store.update_registrant(row.id, {"status": "denied"}, NOW + timedelta(hours=1))
    plan(store, settings, NOW + timedelta(hours=1))

    assert {delivery(store, ANA, kind).reason for kind in EVERY_KIND[1:]} == {"registration denied"}
    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1}


def test_a_registrant_denied_since_the_last_planning_is_skipped_at_send_time(store, settings, webinar):
    register(store, settings, [ANA], NOW)
    row = store.registrant(webinar.id, ANA)
    store.update_registrant(row.id, {"status": "denied"}, NOW)

    report = send(store, settings, NOW)

    assert (report.sent, report.skipped) == (0, 1)
    assert delivery(store, ANA, CONFIRMATION).reason == "registration denied"
    assert mailbox(settings) == []


def test_someone_who_cancels_and_registers_again_gets_the_mail_still_to_come(store, settings, webinar):
    # `registrants add` re-activates a cancelled person ("registered afresh"): approved again,
    # registered at the provider again, with a join link. Their old rows were skipped when
    # they cancelled; the reminders still to come must go to them now.
    register(store, settings, [ANA], NOW)
    cancel_person(store, webinar, ANA, NOW + timedelta(minutes=1))  # before any mail went
    plan(store, settings, NOW + timedelta(minutes=1))
    assert set(states(store, ANA).values()) == {"skipped"}

    again = NOW + timedelta(days=1)
    assert add_person(store, webinar, {"email": ANA, "first_name": "Ana"}, again) == (ANA, "re-activated")
    sync(store, settings, again)
    row = store.registrant(webinar.id, ANA)
    assert (row.status, row.provider_registrant_id is not None) == ("approved", True)

    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == dict.fromkeys(EVERY_KIND, 1)


def test_a_pending_registrant_is_only_told_their_request_waits_until_approved_then_gets_what_is_still_to_come(
    store, settings, webinar
):
    # Ana signs up on the provider's own page; the webinar needs the organiser's approval.
    sync(store, settings, NOW)
    hosted = store.webinar(SAMPLE_SLUG)
    provider(store, settings).register(hosted.provider_webinar_id, [Person(ANA, "Ana")], approve=False)
    sync(store, settings, NOW + timedelta(hours=1))
    row = store.registrant(webinar.id, ANA)
    assert (row.status, row.provider_registrant_id is not None) == ("pending", True)
    assert states(store, ANA) == {AWAITING: "pending"}
    send_everything_due(store, settings, until=WEEK_BEFORE + timedelta(hours=1))
    assert kinds_received(store, settings, ANA) == {AWAITING: 1}

    approved = WEEK_BEFORE + timedelta(hours=2)  # after the 7d reminder fell due
    store.update_registrant(row.id, {"status": "approved"}, approved)
    plan(store, settings, approved)

    assert states(store, ANA) == {
        AWAITING: "sent",
        CONFIRMATION: "pending",
        REMINDER_7D: "skipped",
        REMINDER_1D: "pending",
        REMINDER_1H: "pending",
    }
    assert "before they registered (2021-04-23T08:00:00Z)" in delivery(store, ANA, REMINDER_7D).reason
    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == {AWAITING: 1, CONFIRMATION: 1, REMINDER_1D: 1, REMINDER_1H: 1}


# -- rule j: a denied request -------------------------------------------------------------------


def pending_at_the_provider(store: Store, settings: Settings, people: list[str], now: datetime) -> None:
    """They sign up on the provider's own page, and the next sync takes them in, pending."""
    sync(store, settings, now)
    hosted = store.webinar(SAMPLE_SLUG)
    signed_up = [Person(address, first_name(address)) for address in people]
    provider(store, settings).register(hosted.provider_webinar_id, signed_up, approve=False)
    sync(store, settings, now)


def test_a_pending_request_denied_gets_the_denial_once_and_nothing_else(store, settings, webinar):
    pending_at_the_provider(store, settings, [ANA, BEN], NOW)
    decide_people(store, webinar, [ANA], "denied", NOW + timedelta(hours=1), message="We are full.")

    plan(store, settings, NOW + timedelta(hours=1))
    plan(store, settings, NOW + timedelta(hours=2))

    assert states(store, ANA) == {AWAITING: "skipped", DENIAL: "pending"}
    assert delivery(store, ANA, AWAITING).reason == "registration denied"
    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == {DENIAL: 1}
    assert kinds_received(store, settings, BEN) == {AWAITING: 1}


def test_someone_first_seen_denied_at_the_provider_gets_no_denial(store, settings, webinar):
    # Zoom lists those who cancelled their own registration as denied: no "sorry" for them.
    sync(store, settings, NOW)
    hosted = store.webinar(SAMPLE_SLUG)
    local = provider(store, settings)
    [held] = local.register(hosted.provider_webinar_id, [Person(ANA, "Ana")], approve=False)
    local.decide(hosted.provider_webinar_id, [HeldRegistrant(ANA, held.registrant_id, "pending")], approved=False)

    sync(store, settings, NOW)

    assert store.registrant(webinar.id, ANA).status == "denied"
    assert states(store, ANA) == {}


def test_a_denial_not_sent_before_an_approval_is_dropped_and_the_confirmation_goes(store, settings, webinar):
    pending_at_the_provider(store, settings, [ANA], NOW)
    decide_people(store, webinar, [ANA], "denied", NOW)
    plan(store, settings, NOW)
    decide_people(store, webinar, [ANA], "approved", NOW + timedelta(minutes=5))
    plan(store, settings, NOW + timedelta(minutes=5))

    send_everything_due(store, settings, until=START + timedelta(hours=3))

    assert delivery(store, ANA, DENIAL).reason == "registration approved"
    assert kinds_received(store, settings, ANA) == dict.fromkeys(EVERY_KIND, 1)
    assert store.registrant(webinar.id, ANA).denied_at is None


# -- rule e: one copy of each mail ------------------------------------------------------------


def test_planning_twice_creates_nothing_new(store, settings, webinar):
    register(store, settings, [ANA, BEN, CHO], NOW)
    rows = row_count(store)
    assert rows == 3 * len(EVERY_KIND)

    again = plan(store, settings, NOW + timedelta(minutes=1))
    sync(store, settings, NOW + timedelta(minutes=2))

    assert again == PlanReport()
    assert row_count(store) == rows


def test_sending_twice_sends_nothing_twice(store, settings, webinar):
    register(store, settings, [ANA, BEN, CHO], NOW)
    for at in (NOW, NOW, WEEK_BEFORE, WEEK_BEFORE + timedelta(minutes=1), DAY_BEFORE, HOUR_BEFORE, HOUR_BEFORE):
        send(store, settings, at)
    send_everything_due(store, settings, until=START + timedelta(hours=3))

    got = received(store, settings)
    assert got == Counter({(a, SAMPLE_SLUG, kind): 1 for a in (ANA, BEN, CHO) for kind in EVERY_KIND})
    assert len(mailbox(settings)) == 12


def test_someone_registered_for_two_webinars_gets_each_webinar_s_mails_once(store, settings, webinar, workdir):
    other = variant(
        workdir,
        "session-6",
        {
            'slug = "undesa-snu-session-5"': f'slug = "{SESSION_6}"',
            'start = "2021-04-30 15:00"': 'start = "2021-05-07 15:00"',
        },
    )
    save(store, other, NOW)
    register(store, settings, [ANA, BEN], NOW)
    register(store, settings, [ANA], NOW, slug=SESSION_6)

    send_everything_due(store, settings, until=datetime(2021, 5, 8, tzinfo=UTC))
    send_everything_due(store, settings, until=datetime(2021, 5, 8, tzinfo=UTC))

    assert kinds_received(store, settings, ANA) == dict.fromkeys(EVERY_KIND, 1)
    assert kinds_received(store, settings, ANA, SESSION_6) == dict.fromkeys(EVERY_KIND, 1)
    assert kinds_received(store, settings, BEN) == dict.fromkeys(EVERY_KIND, 1)
    assert kinds_received(store, settings, BEN, SESSION_6) == {}
    assert delivery(store, ANA, REMINDER_1H, SESSION_6).due_at == "2021-05-07T05:00:00Z"
    assert len(mailbox(settings)) == 12


def test_manual_sends_go_in_addition_to_the_scheduled_mails(store, settings, webinar):
    register(store, settings, [ANA, BEN], NOW)
    send(store, settings, NOW)

    first_at = datetime(2021, 4, 10, 10, 0, tzinfo=UTC)
    first_kind = plan_manual(store, store.webinar(SAMPLE_SLUG), "reminder", first_at, DOMAIN)
    assert send(store, settings, first_at).sent == 2
    second_at = datetime(2021, 4, 20, 10, 0, tzinfo=UTC)
    second_kind = plan_manual(store, store.webinar(SAMPLE_SLUG), "reminder", second_at, DOMAIN, to=BEN)
    assert send(store, settings, second_at).sent == 1
    assert plan(store, settings, second_at).created == 0

    send_everything_due(store, settings, until=START + timedelta(hours=3))

    assert first_kind == "manual-reminder-20210410T100000000000Z"
    assert second_kind == "manual-reminder-20210420T100000000000Z"
    assert kinds_received(store, settings, ANA) == {**dict.fromkeys(EVERY_KIND, 1), first_kind: 1}
    assert kinds_received(store, settings, BEN) == {**dict.fromkeys(EVERY_KIND, 1), first_kind: 1, second_kind: 1}


@pytest.mark.parametrize("template", kinds.BY_HAND)
def test_the_dry_run_of_a_send_by_hand_lists_exactly_whom_the_send_reaches(store, settings, webinar, template):
    webinar = register(store, settings, [ANA, BEN, CHO], NOW)
    cancel_person(store, webinar, BEN, NOW)
    store.unsubscribe(store.registrant(webinar.id, CHO).id, NOW)
    add_person(store, webinar, {"email": "dan.lee@example.org", "first_name": "Dan"}, NOW)  # not synced yet
    asked = NOW + timedelta(days=1)

    audience = manual_audience(store, store.webinar(SAMPLE_SLUG), template, asked)
    kind = plan_manual(store, store.webinar(SAMPLE_SLUG), template, asked, DOMAIN)
    send(store, settings, asked)

    reached = {address for (address, _, got), n in received(store, settings).items() if got == kind and n == 1}
    assert reached == {person.email for person in audience.reached}
    assert {address for address, _ in audience.left_out} == {BEN, "dan.lee@example.org"} | (
        {CHO} if kinds.of(template).skips_unsubscribed else set()
    )


# -- rule f: the webinar moves -----------------------------------------------------------------


def test_moving_the_start_moves_every_unsent_reminder_and_leaves_sent_mail_alone(store, settings, webinar, workdir):
    register(store, settings, [ANA], NOW)
    send_everything_due(store, settings, until=WEEK_BEFORE)
    sent_before = {kind: delivery(store, ANA, kind) for kind in (CONFIRMATION, REMINDER_7D)}
    rows = row_count(store)

    moved_at = WEEK_BEFORE + timedelta(days=1)
    saved = save(store, an_hour_later(workdir), moved_at)
    assert saved.outcome == "updated"
    assert saved.record.revision == 1
    report = plan(store, settings, moved_at)

    assert report.moved == 2
    assert report.created == 1, "rule g: Ana's calendar holds the old time, so she gets an update"
    assert row_count(store) == rows + 1
    assert {kind: delivery(store, ANA, kind) == before for kind, before in sent_before.items()} == {
        CONFIRMATION: True,
        REMINDER_7D: True,
    }
    for kind, due in ((REMINDER_1D, "2021-04-29T07:00:00Z"), (REMINDER_1H, "2021-04-30T06:00:00Z")):
        row = delivery(store, ANA, kind)
        assert (row.state, row.due_at, row.send_after, row.revision) == ("pending", due, due, 1)

    assert send(store, settings, moved_at).sent == 1  # the update, at once
    assert send(store, settings, DAY_BEFORE).handled == 0  # the old due time
    assert send(store, settings, DAY_BEFORE + timedelta(hours=1)).sent == 1
    [*_, latest] = mailbox(settings)
    assert invite_sequence(latest) == 1
    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == {**dict.fromkeys(EVERY_KIND, 1), "update-1": 1}


def test_a_change_of_duration_gives_unsent_mail_the_new_revision_at_the_same_time(store, settings, webinar, workdir):
    register(store, settings, [ANA], NOW)
    send(store, settings, NOW)

    longer = variant(workdir, "longer", {'duration = "90m"': 'duration = "2h"'})
    assert save(store, longer, NOW + timedelta(days=1)).record.revision == 1
    assert plan(store, settings, NOW + timedelta(days=1)).moved == 3

    assert delivery(store, ANA, CONFIRMATION).revision == 0
    for kind, due in ((REMINDER_7D, "2021-04-23T06:00:00Z"), (REMINDER_1H, "2021-04-30T05:00:00Z")):
        row = delivery(store, ANA, kind)
        assert (row.state, row.due_at, row.revision) == ("pending", due, 1)
    assert row_count(store) == len(EVERY_KIND) + 1, "and an update for the confirmation she had"


def test_a_reminder_moved_to_before_the_person_registered_is_skipped(store, settings, webinar, workdir):
    registered = datetime(2021, 4, 25, 7, 0, tzinfo=UTC)
    register(store, settings, [ANA], registered)
    assert states(store, ANA)[REMINDER_1D] == "pending"

    earlier = variant(workdir, "earlier", {'start = "2021-04-30 15:00"': 'start = "2021-04-26 15:00"'})
    save(store, earlier, registered + timedelta(hours=1))
    plan(store, settings, registered + timedelta(hours=1))

    skipped = delivery(store, ANA, REMINDER_1D)
    assert (skipped.state, skipped.due_at) == ("skipped", "2021-04-25T06:00:00Z")
    assert skipped.reason.startswith("it fell due (2021-04-25T06:00:00Z) before they registered (2021-04-25T07:00:00Z)")
    assert delivery(store, ANA, REMINDER_1H).due_at == "2021-04-26T05:00:00Z"
    send_everything_due(store, settings, until=datetime(2021, 4, 27, tzinfo=UTC))
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1, REMINDER_1H: 1}


# -- the definition's reminders change ---------------------------------------------------------


def test_removing_a_reminder_from_the_definition_skips_it_for_those_who_have_not_had_it(
    store, settings, webinar, workdir
):
    register(store, settings, [ANA], NOW)
    send_everything_due(store, settings, until=WEEK_BEFORE)

    fewer = variant(workdir, "fewer", {'offsets = ["7d", "1d", "1h"]': 'offsets = ["7d", "1h"]'})
    assert save(store, fewer, WEEK_BEFORE + timedelta(hours=1)).record.revision == 0
    report = plan(store, settings, WEEK_BEFORE + timedelta(hours=1))

    assert report.withdrawn == 1
    removed = delivery(store, ANA, REMINDER_1D)
    assert (removed.state, removed.reason) == ("skipped", "this reminder was removed from the definition")
    assert states(store, ANA) == {
        CONFIRMATION: "sent",
        REMINDER_7D: "sent",
        REMINDER_1D: "skipped",
        REMINDER_1H: "pending",
    }
    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1, REMINDER_7D: 1, REMINDER_1H: 1}


# -- Message-IDs -------------------------------------------------------------------------------


def test_message_ids_are_made_at_planning_unique_per_row_and_used_when_sending(store, settings, webinar):
    register(store, settings, [ANA, BEN, CHO], NOW)
    ids = [row.delivery.message_id for row in Outbox(store).listing()]

    assert len(ids) == 12
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"<[0-9a-f-]{36}@webinars\.example\.org>", i) for i in ids)

    send_everything_due(store, settings, until=START + timedelta(hours=3))
    assert sorted(message["Message-ID"].strip() for message in mailbox(settings)) == sorted(ids)
    assert [row.delivery.message_id for row in Outbox(store).listing()] == ids


# -- temporary failures ------------------------------------------------------------------------


class NotesLeases(MaildirTransport):
    """The Maildir transport, noting before each message the leases of the rows still claimed."""

    def __init__(self, folder: Path, store: Store):
        super().__init__(folder)
        self.store, self.leases = store, []

    def send(self, sender: str, recipient: str, message: bytes, while_waiting=None) -> None:
        sql = "SELECT DISTINCT lease_until FROM deliveries WHERE state = 'sending' ORDER BY 1"
        self.leases.append([row["lease_until"] for row in self.store.db.query(sql)])
        super().send(sender, recipient, message, while_waiting)


def test_a_slow_wave_holds_the_rows_it_has_still_to_send_for_longer_once_half_their_lease_is_gone(
    store, settings, webinar
):
    register(store, settings, [ANA, BEN, CHO], NOW)
    ticks = iter(range(100))
    minute_a_tick = lambda: NOW + timedelta(minutes=next(ticks))  # noqa: E731 - a clock for send_due
    transport = NotesLeases(settings.of(MaildirSettings).outbox_dir, store)

    assert send_due(store, settings, transport, clock=minute_a_tick).sent == 3

    # Claimed at tick 0 for five minutes. Each message takes four ticks (the verdict, composing,
    # the acceptance, the check), so at each check less than half the lease is left: the rows
    # still to send are held five minutes from then, in one write.
    assert transport.leases == [["2021-04-01T09:05:00Z"], ["2021-04-01T09:09:00Z"], ["2021-04-01T09:13:00Z"]]


def test_a_reminder_whose_next_retry_would_come_after_the_start_fails_and_retry_failed_puts_it_back(
    store, settings, webinar
):
    registered_the_day_before(store, settings, [ANA, BEN])
    ben_refused = RefusesFor(settings.of(MaildirSettings).outbox_dir, BEN)

    report = send(store, settings, HOUR_BEFORE + timedelta(minutes=10), ben_refused)

    assert (report.sent, report.retrying) == (1, 1)
    waiting = delivery(store, BEN, REMINDER_1H)
    assert (waiting.state, waiting.attempts) == ("pending", 1)
    assert waiting.last_error == "451 4.7.1 greylisted, try again later"
    retry_at = datetime.fromisoformat(waiting.send_after)
    assert (
        HOUR_BEFORE + timedelta(minutes=10, seconds=15) <= retry_at <= HOUR_BEFORE + timedelta(minutes=10, seconds=45)
    )
    assert Outbox(store).next_due() == retry_at

    report = send(store, settings, START - timedelta(seconds=10), ben_refused)  # any backoff now ends after 06:00

    assert report.failed == 1
    failed = delivery(store, BEN, REMINDER_1H)
    assert (failed.state, failed.attempts) == ("failed", 2)
    assert failed.last_error == (
        "gave up after 2 attempts, as the next would be too late: 451 4.7.1 greylisted, try again later"
    )
    assert kinds_received(store, settings, BEN) == {CONFIRMATION: 1}
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1, REMINDER_1H: 1}

    assert Outbox(store).retry_failed(store.webinar(SAMPLE_SLUG), START - timedelta(seconds=8)) == 1
    back = delivery(store, BEN, REMINDER_1H)
    assert (back.state, back.send_after) == ("pending", "2021-04-30T05:59:52Z")

    assert send(store, settings, START - timedelta(seconds=5)).sent == 1
    assert kinds_received(store, settings, BEN) == {CONFIRMATION: 1, REMINDER_1H: 1}
    [ben_reminder] = [m for m in mailbox(settings) if m["Message-ID"].strip() == failed.message_id]
    assert parseaddr(ben_reminder["To"])[1] == BEN


# -- daylight saving time --------------------------------------------------------------------


def test_a_1d_reminder_across_the_change_to_summer_time_is_due_exactly_24_hours_before(store, settings, workdir):
    # Clocks in London go forward at 01:00 UTC on Sunday 28 March 2021. The webinar starts at
    # 15:00 BST (14:00 UTC) that day. Planning subtracts offsets from the UTC start, so "1d"
    # means 24 hours: the reminder is due at 14:00 UTC on Saturday, which is 14:00 GMT on
    # London clocks, not 15:00 (the same wall time would have been 23 hours before).
    london = variant(
        workdir,
        "london",
        {
            'start = "2021-04-30 15:00"': 'start = "2021-03-28 15:00"',
            'time_zone = "Asia/Seoul"': 'time_zone = "Europe/London"',
        },
    )
    start = save(store, london, datetime(2021, 3, 1, tzinfo=UTC)).record.definition.start
    assert start == datetime(2021, 3, 28, 14, 0, tzinfo=UTC)
    register(store, settings, [ANA], datetime(2021, 3, 1, 9, 0, tzinfo=UTC))

    due = delivery(store, ANA, REMINDER_1D).due_at
    assert due == "2021-03-27T14:00:00Z"
    assert start - datetime.fromisoformat(due) == timedelta(hours=24)
    assert datetime.fromisoformat(due).astimezone(ZoneInfo("Europe/London")).strftime("%H:%M %Z") == "14:00 GMT"
    assert delivery(store, ANA, REMINDER_1H).due_at == "2021-03-28T13:00:00Z"

    send_everything_due(store, settings, until=datetime(2021, 3, 27, tzinfo=UTC))
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1, REMINDER_7D: 1}
    assert Outbox(store).next_due() == datetime(2021, 3, 27, 14, 0, tzinfo=UTC)

    assert send(store, settings, datetime(2021, 3, 27, 13, 59, 59, tzinfo=UTC)).handled == 0
    assert send(store, settings, datetime(2021, 3, 27, 14, 0, tzinfo=UTC)).sent == 1
    assert kinds_received(store, settings, ANA) == {CONFIRMATION: 1, REMINDER_7D: 1, REMINDER_1D: 1}
