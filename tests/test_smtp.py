"""The `smtp` transport against a real SMTP server (aiosmtpd on loopback, see smtp_servers.py):
the transport alone, a whole sending wave through send_due, and `webinar-ops remind`."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from statistics import mean

import pytest
from conftest import NOW, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, definition_variant
from smtp_servers import free_port, smtp_server

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import BACKOFF_FIRST, BACKOFF_LONGEST, Composers, Drafts, backoff, send_due
from webinar_ops.errors import OperationError
from webinar_ops.mail.outbox import Delivery
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import add_person
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports import PermanentFailure, TemporaryFailure, TransportConfigError, TransportUnavailable
from webinar_ops.transports.smtp import SmtpTransport

SENDER = "webinars@webinars.example.org"
ANA = "ana.souza@example.org"
PASSWORD = "Pa55-w0rd-never-to-be-printed"


def a_message(recipient: str = ANA, subject: str = "Reminder") -> bytes:
    """A small message as the composer makes them: policy.SMTP (CRLF), 8-bit UTF-8 text and a
    line that starts with a dot, so dot-stuffing has to round-trip."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = f"Webinar team <{SENDER}>"
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.lower()}.{recipient}>"
    message.set_content("Olá, Amélie!\n.starts with a dot\n..and two\nJoin: https://example.org/j/abc\n", cte="8bit")
    data = message.as_bytes()
    assert data.endswith(b"\r\n")
    assert b"\r\n.starts with a dot" in data
    return data


def plain(server, **options) -> SmtpTransport:
    """A transport to `server` without TLS, as SMTP_SECURITY=none configures it."""
    return SmtpTransport(server.host, server.port, security="none", timeout=options.pop("timeout", 5), **options)


# -- the transport alone -------------------------------------------------------------------------


def test_a_message_arrives_byte_for_byte_with_its_envelope():
    message = a_message()
    with smtp_server() as server, plain(server) as transport:
        transport.send(SENDER, ANA, message)
    [received] = server.handler.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == (ANA,)
    assert received.data == message
    assert received.message()["Subject"] == "Reminder"


def test_a_message_starting_with_a_dot_or_without_a_last_line_end_arrives_byte_for_byte():
    for message in (b".dot first\r\n..two\r\n.\r\n", b"Subject: x\r\n\r\n.no line end at the end"):
        with smtp_server() as server, plain(server) as transport:
            transport.send(SENDER, ANA, message)
        [received] = server.handler.received
        assert received.data == (message if message.endswith(b"\r\n") else message + b"\r\n")


def test_the_wait_for_the_servers_verdict_is_lent_to_the_caller_once():
    lent = []

    def look_then_let_the_reply_go() -> None:
        lent.append(len(server.handler.received))
        server.handler.release()

    with smtp_server() as server, plain(server) as transport:
        server.handler.hold_next_reply()  # the reply cannot have been read when it is lent
        transport.send(SENDER, ANA, a_message(), while_waiting=look_then_let_the_reply_go)
        server.handler.reject(ANA, at="data")
        with pytest.raises(PermanentFailure):
            transport.send(SENDER, ANA, a_message(), while_waiting=lambda: lent.append("after the data"))

    assert lent == [0, "after the data"], "called once each, after the data went and before the reply was read"


def test_451_is_temporary_and_the_next_send_goes_through():
    with smtp_server() as server, plain(server) as transport:
        server.handler.fail_temporarily(ANA, times=1)
        with pytest.raises(TemporaryFailure, match="451") as failure:
            transport.send(SENDER, ANA, a_message())
        assert not isinstance(failure.value, TransportUnavailable)
        transport.send(SENDER, ANA, a_message())
    assert len(server.handler.to(ANA)) == 1
    assert server.handler.connections == 1, "a 451 needs no new connection"


@pytest.mark.parametrize("at", ["rcpt", "data"])
def test_550_is_permanent_and_carries_the_servers_words(at):
    other = "other@example.org"
    with smtp_server() as server, plain(server) as transport:
        server.handler.reject(ANA, at=at)
        with pytest.raises(PermanentFailure) as failure:
            transport.send(SENDER, ANA, a_message())
        transport.send(SENDER, other, a_message(other))  # the session is still good
    assert str(failure.value).startswith("550 ")
    assert f"5.1.1 <{ANA}>: Recipient address rejected: User unknown" in str(failure.value)
    assert server.handler.to(ANA) == []
    assert len(server.handler.to(other)) == 1


def test_a_dropped_connection_is_temporary_and_the_next_send_reconnects():
    with smtp_server() as server:
        transport = plain(server)
        with transport:
            server.handler.drop(ANA)
            with pytest.raises(TemporaryFailure) as failure:
                transport.send(SENDER, ANA, a_message())
            assert not isinstance(failure.value, TransportUnavailable)
            transport.send(SENDER, ANA, a_message())
    assert len(server.handler.to(ANA)) == 1
    assert server.handler.connections == 2


def test_a_421_closes_the_session_and_the_next_send_reconnects():
    """smtplib closes its socket itself on a 421 ("service not available, closing"); the
    transport must notice, so only the message that met the 421 is delayed."""
    with smtp_server() as server, plain(server) as transport:
        server.handler.fail_temporarily(ANA, times=1, reply="421 4.3.2 Service shutting down, try later")
        with pytest.raises(TemporaryFailure, match="421"):
            transport.send(SENDER, ANA, a_message())
        transport.send(SENDER, ANA, a_message())
    assert len(server.handler.to(ANA)) == 1


def test_a_refused_login_stops_with_a_config_error_that_hides_the_password():
    with smtp_server(username="webinars", password=PASSWORD) as server:
        transport = plain(server, username="webinars", password=PASSWORD + "-typo")
        with pytest.raises(TransportConfigError) as failure:
            transport.send(SENDER, ANA, a_message())
        with plain(server, username="webinars", password=PASSWORD) as good:
            good.send(SENDER, ANA, a_message())
    text = f"{failure.value} {failure.value!r}"
    assert "webinars" in text, "the message says which login was refused"
    assert PASSWORD not in text
    assert "-typo" not in text
    assert len(server.handler.received) == 1


def test_a_server_that_wants_a_login_we_do_not_give_is_a_config_error():
    with (
        smtp_server(username="webinars", password=PASSWORD) as server,
        plain(server) as transport,
        pytest.raises(TransportConfigError, match="530"),
    ):
        transport.send(SENDER, ANA, a_message())
    assert server.handler.received == []


def test_a_server_that_is_not_listening_is_unavailable():
    transport = SmtpTransport("127.0.0.1", free_port(), security="none", timeout=2)
    started = time.monotonic()
    with pytest.raises(TransportUnavailable):
        transport.send(SENDER, ANA, a_message())
    assert time.monotonic() - started < 2


def test_a_server_that_stalls_past_the_timeout_is_a_temporary_failure():
    with smtp_server() as server, plain(server, timeout=1) as transport:
        server.handler.stall(10)
        started = time.monotonic()
        with pytest.raises(TemporaryFailure, match="timed out"):
            transport.send(SENDER, ANA, a_message())
        assert time.monotonic() - started < 4
        transport.send(SENDER, "other@example.org", a_message("other@example.org", "Second"))
    assert [r.rcpt_tos for r in server.handler.received] == [("other@example.org",)], "the stalled one never landed"


def test_starttls_with_a_trusted_certificate_and_a_login():
    with smtp_server(tls="starttls", require_starttls=True, username="webinars", password=PASSWORD) as server:
        context = server.client_context()
        with SmtpTransport(
            server.host, server.port, "starttls", "webinars", PASSWORD, timeout=5, tls_context=context
        ) as transport:
            transport.send(SENDER, ANA, a_message())
    assert len(server.handler.to(ANA)) == 1


def test_implicit_tls_with_a_trusted_certificate():
    with (
        smtp_server(tls="ssl") as server,
        SmtpTransport(server.host, server.port, "ssl", timeout=5, tls_context=server.client_context()) as transport,
    ):
        transport.send(SENDER, ANA, a_message())
    assert len(server.handler.to(ANA)) == 1


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_an_untrusted_certificate_is_a_config_error(security):
    with smtp_server(tls=security) as server:
        transport = SmtpTransport(server.host, server.port, security, timeout=5)  # the system's CAs only
        with pytest.raises(TransportConfigError, match="certificate"):
            transport.send(SENDER, ANA, a_message())
    assert server.handler.received == []


def test_a_server_that_requires_starttls_refuses_plain_text_as_a_config_error():
    """The docstring promises that missing TLS stops the wave; it must not fail the recipient."""
    with (
        smtp_server(tls="starttls", require_starttls=True) as server,
        plain(server) as transport,
        pytest.raises(TransportConfigError),
    ):
        transport.send(SENDER, ANA, a_message())
    assert server.handler.received == []


def test_one_connection_carries_many_messages():
    people = [f"person{n}@example.org" for n in range(12)]
    with smtp_server() as server, plain(server) as transport:
        for person in people:
            transport.send(SENDER, person, a_message(person))
    assert [r.rcpt_tos[0] for r in server.handler.received] == people
    assert server.handler.connections == 1


# -- a whole wave through send_due ------------------------------------------------------------------

BASE_URL = "https://webinars.example.org"
START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # the sample: 15:00 in Seoul
KIND = "reminder-1h"
WAVE = START - timedelta(hours=1) + timedelta(minutes=1)  # the 1h reminder is due, within grace
PEOPLE = [
    ("amelie.laurent@example.org", "Amélie", "Laurent"),
    ("ji-woo.kim@example.org", "Ji-woo", "Kim"),
    ("kwame.mensah@example.org", "Kwame", "Mensah"),
    ("lucia.fernandez@example.org", "Lucía", "Fernández"),
    ("tom.hughes@example.org", "Tom", "Hughes"),
]
EMAILS = [p[0] for p in PEOPLE]  # sorted: the order in which the wave sends


@pytest.fixture
def settings(workdir) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db",
        secret_key=TEST_SECRET_KEY,
        base_url=BASE_URL,
        mail_from=f"Webinar team <{SENDER}>",
    )


@pytest.fixture
def webinar(store: Store, settings: Settings, sample) -> WebinarRecord:
    """The sample webinar, five people registered with the local provider, the outbox planned."""
    record = store.save_webinar(sample, SAMPLE_DEFINITION.read_text(encoding="utf-8"), "local", NOW).record
    for email, first, last in PEOPLE:
        add_person(store, record, {"email": email, "first_name": first, "last_name": last}, NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    record = store.webinar(SAMPLE_SLUG)
    plan_webinar(store, record, NOW, settings.mail_domain)
    assert record.definition.start == START
    return record


def wave(store, settings, server, at: datetime, **options):
    return send_due(store, settings, plain(server, **options), clock=lambda: at, kind=KIND)


def outbox(store: Store) -> dict[str, dict]:
    """The 1h reminders by address, with each person's join link."""
    sql = """SELECT d.*, r.email, r.join_url FROM deliveries d JOIN registrants r ON r.id = d.registrant_id
             WHERE d.kind = ? ORDER BY r.email"""
    return {row["email"]: row for row in store.db.query(sql, [KIND])}


def check_each_arrived_once(server, store: Store) -> None:
    """Every 1h reminder arrived exactly once, to its person, with their own link."""
    rows = outbox(store)
    links = {email: row["join_url"] for email, row in rows.items()}
    assert all(links.values())
    assert len(set(links.values())) == len(links), "each person has a link of their own"
    assert sorted(r.rcpt_tos for r in server.handler.received) == [(e,) for e in EMAILS]
    for received in server.handler.received:
        [recipient] = received.rcpt_tos
        message = received.message()
        assert received.mail_from == SENDER
        assert parseaddr(message["To"])[1] == recipient
        assert message["Message-ID"] == rows[recipient]["message_id"]
        text = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        for email, link in links.items():
            assert (link in text) == (email == recipient), f"{recipient}'s text and {email}'s link"
            assert (link in html) == (email == recipient), f"{recipient}'s html and {email}'s link"


def test_a_wave_sends_each_person_their_own_reminder_over_one_connection(store, settings, webinar):
    with smtp_server() as server:
        report = wave(store, settings, server, WAVE)
    assert (report.sent, report.retrying, report.failed, report.stopped) == (5, 0, 0, None)
    check_each_arrived_once(server, store)
    assert server.handler.connections == 1
    assert {(r["state"], r["attempts"], r["last_error"]) for r in outbox(store).values()} == {("sent", 1, None)}


def test_a_451_is_retried_after_backoff_and_arrives_once(store, settings, webinar):
    kwame = "kwame.mensah@example.org"
    with smtp_server() as server:
        server.handler.fail_temporarily(kwame, times=1)
        first = wave(store, settings, server, WAVE)
        row = outbox(store)[kwame]
        assert (first.sent, first.retrying, first.failed) == (4, 1, 0)
        assert (row["state"], row["attempts"]) == ("pending", 1)
        assert "451" in row["last_error"]
        send_after = times.parse_iso_utc(row["send_after"])
        assert WAVE + BACKOFF_FIRST / 2 <= send_after <= WAVE + BACKOFF_FIRST * 3 / 2

        early = wave(store, settings, server, WAVE + BACKOFF_FIRST / 2 - timedelta(seconds=1))
        assert early.handled == 0
        assert server.handler.to(kwame) == []

        second = wave(store, settings, server, send_after + timedelta(seconds=1))
        third = wave(store, settings, server, send_after + timedelta(minutes=5))
    assert (second.sent, second.handled) == (1, 1)
    assert third.handled == 0
    row = outbox(store)[kwame]
    assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 2, None)
    check_each_arrived_once(server, store)


@pytest.mark.parametrize("at", ["rcpt", "data"])
def test_a_550_fails_for_good_and_is_never_retried(store, settings, webinar, at):
    lucia = "lucia.fernandez@example.org"
    with smtp_server() as server:
        server.handler.reject(lucia, at=at)
        first = wave(store, settings, server, WAVE)
        later = [wave(store, settings, server, WAVE + timedelta(minutes=m)) for m in (1, 10, 30)]
    assert (first.sent, first.failed, first.retrying) == (4, 1, 0)
    assert [w.handled for w in later] == [0, 0, 0]
    row = outbox(store)[lucia]
    assert (row["state"], row["attempts"]) == ("failed", 1)
    assert row["last_error"].startswith("550 ")
    assert "Recipient address rejected: User unknown" in row["last_error"]
    assert [r for r, _ in server.handler.refusals] == [lucia], "asked the server exactly once"
    assert sorted(r.rcpt_tos[0] for r in server.handler.received) == sorted(set(EMAILS) - {lucia})


def test_a_mail_composed_ahead_is_composed_again_when_the_webinar_changed_meanwhile(store, settings, webinar):
    amelie = Delivery.from_row(store.db["deliveries"].get(outbox(store)["amelie.laurent@example.org"]["id"]))
    drafts = Drafts(Composers(store, settings), {r.id: r for r in store.registrants(webinar.id)}, lambda: WAVE)
    drafts.prepare(amelie)  # while the server considers the mail before hers

    store.write("UPDATE webinars SET revision = revision + 1 WHERE id = ?", [webinar.id])  # `webinar add`, moved
    sent = message_from_bytes(drafts.take(amelie, drafts.composer(amelie)), policy=policy.default)

    invite = next(p for p in sent.walk() if p.get_content_type() == "text/calendar").get_content()
    assert "SEQUENCE:1" in invite.splitlines()


def test_a_row_damaged_in_the_database_fails_alone_and_the_wave_goes_on(store, settings, webinar):
    # Written behind the importer's back (a hand edit, another tool): an address with a header in it.
    lucia = "lucia.fernandez@example.org"
    store.db.execute("UPDATE registrants SET email = ? WHERE email = ?", [f"{lucia}\r\nBcc: x@evil.test", lucia])
    with smtp_server() as server:
        report = wave(store, settings, server, WAVE)
    assert (report.sent, report.failed) == (4, 1)
    damaged = outbox(store)[f"{lucia}\r\nBcc: x@evil.test"]
    assert damaged["state"] == "failed"
    assert damaged["last_error"].startswith("not sent: cannot write a mail to")
    assert sorted(r.rcpt_tos[0] for r in server.handler.received) == sorted(set(EMAILS) - {lucia})
    assert all(b"evil.test" not in r.data for r in server.handler.received)


def test_a_connection_dropped_mid_wave_delays_one_message_and_each_arrives_once(store, settings, webinar):
    middle = EMAILS[2]
    with smtp_server() as server:
        server.handler.drop(middle)
        first = wave(store, settings, server, WAVE)
        assert server.handler.connections == 2, "the rest of the wave went over a new connection"
        row = outbox(store)[middle]
        assert (first.sent, first.retrying, first.failed) == (4, 1, 0)
        assert (row["state"], row["attempts"]) == ("pending", 1)
        assert "connection" in row["last_error"]
        second = wave(store, settings, server, times.parse_iso_utc(row["send_after"]) + timedelta(seconds=1))
    assert (second.sent, second.handled) == (1, 1)
    check_each_arrived_once(server, store)


def test_a_refused_login_stops_the_wave_and_leaves_the_outbox_untouched(store, settings, webinar):
    before = outbox(store)
    with smtp_server(username="webinars", password=PASSWORD) as server:
        with pytest.raises(OperationError) as stopped:
            wave(store, settings, server, WAVE, username="webinars", password="wrong-" + PASSWORD)
        after = outbox(store)
        assert server.handler.received == []
        # Fixing the password is all it takes: the rows are still due.
        fixed = wave(store, settings, server, WAVE, username="webinars", password=PASSWORD)
    assert PASSWORD not in str(stopped.value)
    assert "wrong-" not in str(stopped.value)
    assert "login refused" in str(stopped.value)
    assert {(r["state"], r["attempts"], r["last_error"], r["sent_at"]) for r in after.values()} == {
        ("pending", 0, None, None)
    }
    assert {e: r["send_after"] for e, r in after.items()} == {e: r["send_after"] for e, r in before.items()}
    assert fixed.sent == 5
    check_each_arrived_once(server, store)


def test_an_unreachable_server_stops_the_wave_and_keeps_everything_pending(store, settings, webinar):
    with smtp_server() as server:
        pass  # started and stopped: its port is free now
    report = wave(store, settings, server, WAVE, timeout=2)
    assert report.stopped
    assert report.sent == report.failed == 0
    rows = outbox(store).values()
    assert {(r["state"], r["attempts"]) for r in rows} == {("pending", 0)}
    assert {r["send_after"] for r in rows} == {times.iso_utc(WAVE + timedelta(seconds=30))}


def test_backoff_doubles_up_to_a_ceiling_with_jitter():
    means = []
    for attempts in range(1, 12):
        base = min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_LONGEST)
        samples = [backoff(attempts) for _ in range(400)]
        assert all(base / 2 <= s <= base * 3 / 2 for s in samples), attempts
        assert len(set(samples)) > 300, "jittered, not fixed"
        assert max(samples) - min(samples) > base * 0.8, "spread over most of ±50 %"
        means.append(mean(s.total_seconds() for s in samples))
    assert backoff(1) >= timedelta(seconds=15)
    for n in range(6):  # 30 s, 1, 2, 4, 8, 16 min: each about twice the one before
        assert 1.7 < means[n + 1] / means[n] < 2.3
    assert means[-1] == pytest.approx(BACKOFF_LONGEST.total_seconds(), rel=0.1), "capped at 30 min"


# -- the command line ----------------------------------------------------------------------------

AMELIE = "amelie.laurent@example.org"
SAMPLE_AGENDA = [  # (start, end, the title line that follows), as in the sample definition
    ("15:00", None, 'title = "Opening by the Moderator"'),
    ("15:00", "15:45", 'title = "Presentation: '),
    ("15:45", "16:05", 'title = "Country Case Presentation"'),
    ("16:05", "16:25", 'title = "Q&A"'),
    ("16:25", "16:30", 'title = "Summary & Wrap-up"'),
]


def starting_in(folder, lead: timedelta):
    """The sample definition moved to start `lead` from now (in Seoul), agenda and all."""
    seoul = times.in_zone(times.utc_now() + lead, "Asia/Seoul").replace(second=0, microsecond=0, tzinfo=None)
    shift = seoul - datetime(2021, 4, 30, 15, 0)

    def moved(clock: str) -> str:
        return f"{datetime.strptime(clock, '%H:%M') + shift:%H:%M}"

    replacements = {'start = "2021-04-30 15:00"': f'start = "{seoul:%Y-%m-%d %H:%M}"'}
    for start, end, title in SAMPLE_AGENDA:
        old = f'start = "{start}"\n' + (f'end = "{end}"\n' if end else "") + title
        new = f'start = "{moved(start)}"\n' + (f'end = "{moved(end)}"\n' if end else "") + title
        replacements[old] = new
    return definition_variant(folder, replacements)


def test_remind_sends_through_smtp_and_the_outbox_shows_it(run, workdir):
    variant = starting_in(workdir, timedelta(hours=2))
    with smtp_server() as server:
        env = {
            "MAIL_TRANSPORT": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(server.port),
            "SMTP_SECURITY": "none",
            "SMTP_TIMEOUT": "10",
        }
        for command in (
            ["init"],
            ["webinar", "add", variant],
            ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"],
            ["sync", SAMPLE_SLUG],
        ):
            ran = run(*command, env=env)
            assert ran.code == 0, (command, ran.stdout, ran.stderr)
        assert server.handler.received == [], "nothing goes out before it is asked for"

        first = run("remind", SAMPLE_SLUG, "--to", AMELIE, env=env)
        assert first.code == 0, first.stderr
        assert [r.rcpt_tos for r in server.handler.received] == [(AMELIE,)]

        again = run("remind", SAMPLE_SLUG, "--to", AMELIE, env=env)
        assert again.code == 0, again.stderr
        assert [r.rcpt_tos for r in server.handler.received] == [(AMELIE,), (AMELIE,)]

        listed = run("outbox", SAMPLE_SLUG, "--json", env=env)
        dry = run("remind", SAMPLE_SLUG, "--dry-run", env=env)
        assert dry.code == 0, dry.stderr
        assert len(server.handler.received) == 2, "--dry-run sends nothing"
        after_dry = run("outbox", SAMPLE_SLUG, "--json", env=env)

    messages = [r.message() for r in server.handler.received]
    assert all(parseaddr(m["To"])[1] == AMELIE for m in messages)
    assert messages[0]["Message-ID"] != messages[1]["Message-ID"], "a resend is a mail of its own"
    link = re.search(r"http://localhost:8080/j/\S+", messages[0].get_body(preferencelist=("plain",)).get_content())
    assert link, "her personal join link is in the mail"

    assert listed.code == 0, listed.stderr
    manual = [row for row in listed.json() if row["kind"].startswith("manual-reminder-")]
    assert [(row["email"], row["state"], row["attempts"]) for row in manual] == [(AMELIE, "sent", 1)] * 2
    assert {row["message_id"] for row in manual} == {m["Message-ID"] for m in messages}
    assert after_dry.json() == listed.json(), "--dry-run writes nothing to the outbox"
    assert AMELIE in dry.stdout


def test_a_mail_server_that_cannot_be_reached_is_said_and_exits_1_with_the_mail_kept(run, workdir):
    variant = starting_in(workdir, timedelta(days=2))
    port = free_port()  # nothing listens there
    env = {
        "MAIL_TRANSPORT": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "SMTP_PASSWORD": "hunter2-secret",
        "SMTP_USERNAME": "webinars",
    }
    for command in (
        ["init"],
        ["webinar", "add", variant],
        ["registrants", "add", SAMPLE_SLUG, "--email", AMELIE, "--first-name", "Amélie"],
    ):
        assert run(*command, env=env).code == 0

    once = run("run", "--once", env=env)
    assert once.code == 1
    assert f"cannot reach 127.0.0.1:{port}" in once.stderr
    assert "hunter2-secret" not in once.stderr + once.stdout
    remind = run("remind", SAMPLE_SLUG, "--to", AMELIE, env=env)
    assert remind.code == 1
    assert f"cannot reach 127.0.0.1:{port}" in remind.stderr
    states = {row["kind"]: row["state"] for row in run("outbox", SAMPLE_SLUG, "--json", env=env).json()}
    assert states["confirmation"] == "pending", "the mail stays in the queue for a later run"


def sample_added_over_smtp(run, variant, server) -> dict[str, str]:
    """`init`, the webinar in `variant` and the sample registrants, with mail going to `server`
    over plain SMTP; returns the environment that says so."""
    env = {"MAIL_TRANSPORT": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port), "SMTP_SECURITY": "none"}
    for command in (
        ["init"],
        ["webinar", "add", variant],
        ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"],
    ):
        assert run(*command, env=env).code == 0
    return env


def test_a_recipient_refused_as_postfix_words_it_fails_alone_and_everyone_else_gets_mail(run, workdir):
    variant = starting_in(workdir, timedelta(days=2))
    with smtp_server() as server:
        server.handler.reject(AMELIE, reply=f"554 5.7.1 <{AMELIE}>: Recipient address rejected: Access denied")
        env = sample_added_over_smtp(run, variant, server)
        once = run("run", "--once", env=env)
        rows = run("outbox", SAMPLE_SLUG, "--json", env=env).json()

    confirmations = {row["email"]: row for row in rows if row["kind"] == "confirmation"}
    assert confirmations[AMELIE]["state"] == "failed"
    assert "Recipient address rejected" in confirmations[AMELIE]["last_error"]
    others = [row["state"] for email, row in confirmations.items() if email != AMELIE]
    assert len(others) >= 10
    assert set(others) == {"sent"}, "one refused recipient does not stop the others' mail"
    assert "fix the mail settings" not in once.stderr
    assert len(server.handler.received) == len(others)


def test_a_refusal_worded_as_ours_waits_behind_the_others_so_the_next_run_sends_everyone_else(run, workdir):
    # A relay that relays only to some domains words its refusal of one recipient as a setup
    # problem; the wave stops there, but that row must not be claimed first for ever after.
    variant = starting_in(workdir, timedelta(days=2))
    with smtp_server() as server:
        server.handler.reject(AMELIE, reply=f"554 5.7.1 <{AMELIE}>: Relay access denied")
        env = sample_added_over_smtp(run, variant, server)
        first = run("run", "--once", env=env)
        second = run("run", "--once", env=env)
        rows = run("outbox", SAMPLE_SLUG, "--json", env=env).json()

    assert "fix the mail settings" in first.stderr
    confirmations = {row["email"]: row for row in rows if row["kind"] == "confirmation"}
    assert confirmations[AMELIE]["state"] == "pending", "kept for a later run, not failed"
    assert "Relay access denied" in confirmations[AMELIE]["last_error"]
    others = [row["state"] for email, row in confirmations.items() if email != AMELIE]
    assert len(others) >= 10
    assert set(others) == {"sent"}, (first.stdout, second.stdout)
    assert len(server.handler.received) == len(others)


def test_a_reminder_for_a_webinar_months_away_says_in_3_months_in_english_and_french(run, workdir):
    variant = starting_in(workdir, timedelta(minutes=148321))  # 103 days: no longer `in 148321 minutes`
    for command in (
        ["init"],
        ["webinar", "add", variant],
        ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"],
        ["sync", SAMPLE_SLUG],
        ["remind", SAMPLE_SLUG],  # into the Maildir, the default transport
    ):
        ran = run(*command)
        assert ran.code == 0, (command, ran.stdout, ran.stderr)

    mails = [
        message_from_bytes(path.read_bytes(), policy=policy.default) for path in (workdir / "data/outbox/new").iterdir()
    ]
    subjects = {parseaddr(mail["To"])[1]: mail["Subject"] for mail in mails}
    title = load_definition(variant).title
    assert subjects["kwame.mensah@example.org"] == f"Starts in 3 months: {title}"
    assert subjects[AMELIE] == f"Dans 3 mois\u00a0: {title}"  # French keeps a no-break space before its colon
    french = next(mail for mail in mails if parseaddr(mail["To"])[1] == AMELIE)
    assert "commence dans 3 mois." in " ".join(french.get_body(preferencelist=("plain",)).get_content().split())


def test_remind_dry_run_lists_exactly_whom_the_send_reaches_and_why_not_the_others(run, workdir):
    variant = starting_in(workdir, timedelta(days=2))
    env = {"WEBINAR_OPS_SECRET_KEY": "dry-run-key-0123456789-abcdefghijklmnop"}
    for command in (
        ["init"],
        ["webinar", "add", variant],
        ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"],
        ["sync", SAMPLE_SLUG],
        ["registrants", "add", SAMPLE_SLUG, "--email", "late@example.org", "--first-name", "Late"],
        ["registrants", "cancel", SAMPLE_SLUG, AMELIE],
    ):
        assert run(*command, env=env).code == 0, command

    dry = run("remind", SAMPLE_SLUG, "--dry-run", "--json", env=env).json()
    left_out = {row["email"]: row["why"] for row in dry["left_out"]}
    assert left_out[AMELIE] == "registration cancelled"
    assert left_out["late@example.org"].startswith("not yet registered with the provider")
    sent = run("remind", SAMPLE_SLUG, env=env)
    assert sent.code == 0, sent.stderr
    kinds = {row["kind"] for row in run("outbox", SAMPLE_SLUG, "--json", env=env).json()}
    (manual,) = [kind for kind in kinds if kind.startswith("manual-")]
    reached = {row["email"] for row in run("outbox", SAMPLE_SLUG, "--json", env=env).json() if row["kind"] == manual}
    assert reached == set(dry["would_send"]), "the dry run names exactly whom the send reaches"

    one = run("remind", SAMPLE_SLUG, "--dry-run", "--to", dry["would_send"][0], env=env)
    assert "Would send the reminder to 1 person:" in one.stdout
    assert run("remind", SAMPLE_SLUG, "--dry-run", "--to", "nobody@example.org", env=env).code == 2
    assert run("webinar", "cancel", SAMPLE_SLUG, env=env).code == 0
    assert run("remind", SAMPLE_SLUG, "--dry-run", env=env).code == 2, "as the send, on a cancelled webinar"


def test_status_groups_manual_sends_in_one_row_per_kind_and_says_when_each_was_asked(run, workdir):
    variant = starting_in(workdir, timedelta(days=2))
    for command in (
        ["init"],
        ["webinar", "add", variant],
        ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"],
        ["sync", SAMPLE_SLUG],
        ["remind", SAMPLE_SLUG],
        ["remind", SAMPLE_SLUG, "--to", AMELIE],
    ):
        assert run(*command).code == 0, command
    people = len([row for row in run("outbox", SAMPLE_SLUG, "--json").json() if row["kind"] == "confirmation"])

    summary = run("status", SAMPLE_SLUG, "--json").json()[0]
    assert summary["mail"]["manual-reminder"] == {"sent": people + 1}
    assert not [kind for kind in summary["mail"] if kind.startswith("manual-reminder-")]
    assert [send["states"] for send in summary["manual_sends"]] == [{"sent": people}, {"sent": 1}]
    shown = run("status", SAMPLE_SLUG).stdout
    assert "manual-reminder-2" not in shown, "the raw kind with its stamp is no row of its own"
    asked = [line.strip() for line in shown.splitlines() if line.strip().startswith("manual-reminder asked")]
    assert len(asked) == 2
    assert asked[0].endswith(
        f"{people} sent, last sent {summary['manual_sends'][0]['last_sent_at'][:16].replace('T', ' ')} UTC"
    )


def test_remind_before_anyone_is_synced_says_nobody_would_get_it_and_why_and_plans_nothing(run, workdir):
    variant = starting_in(workdir, timedelta(days=2))
    for command in (
        ["init"],
        ["webinar", "add", variant],
        ["registrants", "import", SAMPLE_SLUG, "data/registrants-sample.csv"],
    ):
        assert run(*command).code == 0, command

    nobody = run("remind", SAMPLE_SLUG)

    assert nobody.code == 2
    assert "Nobody would get the reminder; sent nothing." in nobody.stderr
    assert f"15 people: not yet registered with the provider (run `webinar-ops sync {SAMPLE_SLUG}`)" in nobody.stderr
    assert run("outbox", SAMPLE_SLUG, "--json").json() == [], "no empty manual send is left behind"
    assert run("sync", SAMPLE_SLUG).code == 0
    sent = run("remind", SAMPLE_SLUG, "--kind", "confirmation")
    assert sent.stdout.startswith("The confirmation, sent now: sent 15, retrying 0, failed 0, skipped 0."), sent.stdout
    assert "manual-" not in sent.stdout, "the stamped kind is for the database, not for the reader"
