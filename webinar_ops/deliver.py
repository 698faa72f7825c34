"""Delivering: claiming due mail from the outbox, sending it, and recording what happened.

The deliveries table is the outbox. A row moves `pending → sending → sent | failed`, or is
`skipped` or `missed` with a reason. Senders claim rows in one statement (UPDATE ...
RETURNING) and hold them under a lease, so two services on one database never take the same
row, and the rows of a sender that crashed come back when its lease runs out (at once, when
the crashed process was on this machine). Each `sent` is committed as soon as the server
accepts that one message, so a crash duplicates at most the message in flight. When the
database refuses a write (disk full, read-only), sending stops, and this process sends
nothing more until what it did is recorded (`Unrecorded`).

While the mail server considers one message, the next is composed (the transport's
`while_waiting`): a server takes longer to accept a message than we take to compose one, so
a wave costs little more than its SMTP conversation. A draft that is not sent is dropped.

Temporary failures (4xx, a dropped connection) are retried with exponential backoff and
jitter until the mail would be too late; permanent failures (5xx) are recorded with the
server's words and never retried on their own.

A delivery goes to a registrant or to a speaker (plan.py rule m); both are sent the same way,
under the same guarantees. A speaker taken out of the programme gets nothing more.
"""

from __future__ import annotations

import os
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from webinar_ops import times, tokens, validate
from webinar_ops.config import Settings
from webinar_ops.errors import InputError, OperationError
from webinar_ops.mail.compose import Composer, TemplateRefused
from webinar_ops.mail.outbox import Delivery, Outbox, State
from webinar_ops.store import Registrant, SpeakerRecord, Store, StoreUnavailable, Suppression, WebinarRecord
from webinar_ops.transports import (
    PermanentFailure,
    RecipientRefused,
    RefusedAsSetup,
    TemporaryFailure,
    Transport,
    TransportConfigError,
    TransportUnavailable,
)

CLAIM_BATCH = 25
LEASE = timedelta(minutes=5)
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_LONGEST = timedelta(minutes=30)
UNAVAILABLE_PAUSE = timedelta(seconds=30)


@dataclass
class WaveReport:
    """What one sending wave did."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    skipped: int = 0
    missed: int = 0
    stopped: str | None = None

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.retrying + self.skipped + self.missed


def worker_id() -> str:
    """Who holds a claim: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Composers:
    """One Composer per webinar revision, made when first needed."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self._made: dict[tuple[int, int], Composer] = {}

    def for_webinar(self, webinar_id: int) -> Composer:
        # One cheap lookup per message notices a new revision mid-wave; the definition is
        # parsed only when the revision is new.
        revision = self.store.revision(webinar_id)
        key = (webinar_id, revision)
        if key not in self._made:
            webinar = self.store.webinar_by_id(webinar_id)
            self._made[key] = Composer(webinar, self.settings, answers=self.store.answers)
        return self._made[key]


@dataclass(frozen=True)
class Backoff:
    """How long to wait after the `attempts`-th temporary failure: doubling from `first` to
    at most `longest`, with ±50 % jitter so that many retries do not arrive together."""

    first: timedelta = BACKOFF_FIRST
    longest: timedelta = BACKOFF_LONGEST

    def __call__(self, attempts: int) -> timedelta:
        base = min(self.first * 2 ** (attempts - 1), self.longest)
        return base * random.uniform(0.5, 1.5)


backoff = Backoff()  # 30 s doubling to 30 min


def send_due(
    store: Store,
    settings: Settings,
    transport: Transport,
    clock: Callable[[], datetime] = times.utc_now,
    stop: threading.Event | None = None,
    kind: str | None = None,
    retry_delay: Callable[[int], timedelta] = backoff,
) -> WaveReport:
    """Send every delivery that is due now (only those of `kind`, if given), until none is
    left or `stop` is set. A temporary failure is tried again `retry_delay(attempts)` later.
    Raises OperationError when the transport is misconfigured, and StoreUnavailable when
    the database refuses a write (then nothing more is sent: see `Unrecorded`)."""
    report = WaveReport()
    composers = Composers(store, settings)
    held = unrecorded(store)
    try:
        held.write(store)
    except StoreUnavailable as exc:
        raise StoreUnavailable(f"Sending waits: {exc} {held.describe()}") from exc
    with transport:
        while not (stop and stop.is_set()):
            batch: list[Delivery] = []
            try:
                batch = claim(store, clock(), CLAIM_BATCH, kind)
                if not batch:
                    break
                people, speakers = readers(store, batch)
                drafts = Drafts(composers, people, clock, speakers)
                _send_batch(store, settings, transport, drafts, batch, clock, stop, report, retry_delay)
            except StoreUnavailable as exc:
                held.hold(batch)
                raise StoreUnavailable(f"Sending stopped: {exc}") from exc
            if report.stopped:
                break
    return report


Reader = Registrant | SpeakerRecord  # whom a delivery goes to


def readers(store: Store, batch: list[Delivery]) -> tuple[dict[int, Registrant], dict[int, SpeakerRecord]]:
    """The readers of `batch`: its registrants by id, and its speakers by id."""
    people = store.registrants_by_id([d.registrant_id for d in batch if d.registrant_id is not None])
    speakers = {d.speaker_id: store.speaker_by_id(d.speaker_id) for d in batch if d.speaker_id is not None}
    return people, speakers


class Drafts:
    """The messages of one claimed batch: each composed ahead, while the mail server
    considers the one before it, or when it is needed."""

    def __init__(
        self,
        composers: Composers,
        people: dict[int, Registrant],
        clock: Callable[[], datetime],
        speakers: dict[int, SpeakerRecord] | None = None,
    ):
        self.composers = composers
        self.people = people
        self.speakers = speakers or {}
        self.clock = clock
        self._drafts: dict[int, tuple[Composer | None, bytes | Exception]] = {}

    def composer(self, delivery: Delivery) -> Composer:
        return self.composers.for_webinar(delivery.webinar_id)

    def reader(self, delivery: Delivery) -> Reader:
        """Whom the delivery goes to: its registrant, or its speaker."""
        if delivery.speaker_id is not None:
            return self.speakers[delivery.speaker_id]
        return self.people[delivery.registrant_id]

    def prepare(self, delivery: Delivery) -> None:
        """Compose this delivery's message now. Never raises: what composing raised is kept,
        to be raised by `take`, because this runs inside another message's send."""
        composer = None
        try:
            composer = self.composer(delivery)
            reader = self.reader(delivery)
            if isinstance(reader, SpeakerRecord):
                draft = composer.speaker_message_bytes(delivery, reader, self.clock())
            else:
                draft = composer.message_bytes(delivery, reader, self.clock())
        except Exception as exc:  # raised again by take(), for this delivery alone
            draft = exc
        self._drafts[delivery.id] = (composer, draft)

    def take(self, delivery: Delivery, composer: Composer) -> bytes:
        """This delivery's message as `composer` (the webinar's current revision) writes it;
        raises what composing it raised (TemplateRefused, ValueError)."""
        if self._drafts.get(delivery.id, (None,))[0] is not composer:  # none yet, or of an older revision
            self.prepare(delivery)
        _, draft = self._drafts.pop(delivery.id)
        if isinstance(draft, Exception):
            raise draft
        return draft


class Unrecorded:
    """What this process could not write to one database's outbox when it refused a write
    (disk full, read-only, locked for too long): the deliveries the mail server accepted,
    and the rows it had claimed but not sent. It is kept in memory, for this process only
    (its claims are its own), and the next wave writes it before anything else; until
    that succeeds nothing more is sent. So a database that refuses writes makes no
    duplicate while the service lives, and at most the one message in flight if it dies
    first (its claims then come back through `release_orphans`)."""

    def __init__(self) -> None:
        self.sent: dict[int, datetime] = {}  # delivery id -> when the server accepted it
        self.claimed: set[int] = set()

    def hold(self, batch: list[Delivery]) -> None:
        self.claimed.update(delivery.id for delivery in batch if delivery.id not in self.sent)

    def write(self, store: Store) -> None:
        """Record what is held; raises StoreUnavailable, keeping the rest, if it cannot."""
        for delivery_id, accepted_at in list(self.sent.items()):
            Outbox(store).mark_sent(delivery_id, accepted_at)
            del self.sent[delivery_id]
        if self.claimed:
            Outbox(store).release(list(self.claimed), worker_id())
            self.claimed.clear()

    def describe(self) -> str:
        sent, claimed = len(self.sent), len(self.claimed)
        return (
            f"Waiting to be written: {sent} {'message' if sent == 1 else 'messages'} the mail server accepted, "
            f"and {claimed} claimed {'delivery' if claimed == 1 else 'deliveries'} to give back; "
            "nothing more is sent until they are."
        )


_UNRECORDED: dict[Path, Unrecorded] = {}


def unrecorded(store: Store) -> Unrecorded:
    """This process's memory of what it could not write to the database of `store`."""
    return _UNRECORDED.setdefault(Path(store.path).resolve(), Unrecorded())


def claim(store: Store, now: datetime, limit: int, kind: str | None = None) -> list[Delivery]:
    """Take up to `limit` due rows for this process, in due order, in one statement."""
    return Outbox(store).claim(now, now + LEASE, worker_id(), limit, kind)


def _send_batch(
    store: Store,
    settings: Settings,
    transport: Transport,
    drafts: Drafts,
    batch: list[Delivery],
    clock: Callable[[], datetime],
    stop: threading.Event | None,
    report: WaveReport,
    retry_delay: Callable[[int], timedelta],
) -> None:
    sender = settings.sender[1]
    lease = times.parse_iso_utc(batch[0].lease_until)  # one for the batch: it was claimed in one statement
    for position, delivery in enumerate(batch):
        if stop and stop.is_set():
            release(store, batch[position:])
            return
        now = clock()
        registrant = drafts.reader(delivery)
        composer = drafts.composer(delivery)
        verdict = _verdict(delivery, composer.webinar, registrant, store.suppression(registrant.email), now)
        if verdict:
            state, reason = verdict
            Outbox(store).close(delivery.id, state, reason, now)
            setattr(report, state, getattr(report, state) + 1)
            continue
        try:
            message = drafts.take(delivery, composer)
        except TemplateRefused as exc:
            release(store, batch[position:])
            raise OperationError(f"Sending stopped: {exc}\nNothing was sent from it; mend the template.") from exc
        except ValueError as exc:  # this one person's row cannot make a safe mail: the others go on
            Outbox(store).fail(delivery.id, f"not sent: {exc}", now)
            report.failed += 1
            continue
        compose_next = partial(drafts.prepare, batch[position + 1]) if position + 1 < len(batch) else None
        try:
            _send(transport, sender, registrant, message, compose_next)
        except TransportConfigError as exc:
            _release_after_refusal(store, batch[position:], exc, now)
            raise OperationError(f"Sending stopped: {exc}. Nothing more was sent; fix the mail settings.") from exc
        except TransportUnavailable as exc:
            release(store, batch[position:], later=now + UNAVAILABLE_PAUSE, error=str(exc))
            report.stopped = str(exc)
            return
        except TemporaryFailure as exc:
            _retry_later(store, delivery, composer.webinar, str(exc), now, report, retry_delay)
            continue
        except RecipientRefused as exc:
            _hard_bounce(store, delivery, registrant, str(exc), now)
            report.failed += 1
            continue
        except PermanentFailure as exc:
            Outbox(store).fail(delivery.id, str(exc), now)
            report.failed += 1
            continue
        accepted_at = clock()
        try:
            Outbox(store).mark_sent(delivery.id, accepted_at)
        except StoreUnavailable as exc:
            unrecorded(store).sent[delivery.id] = accepted_at
            raise StoreUnavailable(
                f"{exc} The last message, the {delivery.kind} to {registrant.email}, "
                "had reached the mail server before the database refused to record it."
            ) from exc
        report.sent += 1
        lease = _renew_lease_if_needed(store, batch[position + 1 :], lease, clock())


def _send(
    transport: Transport, sender: str, registrant: Reader, message: bytes, while_waiting: Callable[[], None] | None
) -> None:
    """Hand one message to the transport. A failure's text never carries the recipient's join
    link, which a mail server may quote when it refuses the message (a URL block list)."""
    try:
        transport.send(sender, registrant.email, message, while_waiting)
    except (TemporaryFailure, PermanentFailure, TransportConfigError) as exc:
        concealed = tokens.conceal(str(exc), registrant.join_url)
        if concealed == str(exc):
            raise
        raise type(exc)(concealed) from None


def _hard_bounce(store: Store, delivery: Delivery, reader: Reader, error: str, now: datetime) -> None:
    """Record the refusal and suppress the address in one transaction: a crash leaves neither
    a failure without its suppression nor a suppression without its failure. The server's
    words were already stripped of the join link (`_send`)."""
    with store.transaction():
        Outbox(store).fail(delivery.id, error, now)
        store.suppress(reader.email, "hard bounce", error, "smtp", now)


def suppress_address(store: Store, email: str, reason: str, now: datetime) -> Suppression:
    """Put an address on the suppression list by the organiser's word; `InputError` when it
    is not an address."""
    return store.suppress(_address(email), reason, None, "organiser", now)


def lift_suppression(store: Store, email: str, now: datetime) -> int:
    """Take an address off the suppression list and give its skipped mails back to the queue
    (how many); `InputError` when it was not on the list."""
    address = _address(email)
    with store.transaction():
        if not store.unsuppress(address):
            raise InputError(f"{address} is not on the suppression list; nothing was changed.")
        return Outbox(store).reopen_unsuppressed(address, now)


def _address(email: str) -> str:
    try:
        return validate.email_address(email)
    except ValueError as exc:
        raise InputError(f"Not suppressed or lifted: {exc}. Give one address such as name@example.org.") from None


def _verdict(
    delivery: Delivery, webinar: WebinarRecord, registrant: Reader, suppressed: Suppression | None, now: datetime
) -> tuple[State, str] | None:
    """Why this delivery must not go now (rules a, c, d, m and n of plan.py), or None to send it."""
    kind = delivery.mail_kind
    if webinar.cancelled_at and not kind.outlives_cancellation:
        return State.SKIPPED, "the webinar was cancelled"
    if suppressed:
        return State.SKIPPED, suppressed.describe()
    if isinstance(registrant, SpeakerRecord):
        why = _why_not_to_the_speaker(kind, registrant)
    else:
        why = kind.reason_to_skip(registrant.status, registrant.is_unsubscribed)
    if why:
        return State.SKIPPED, why
    tried = delivery.attempts > 0 or delivery.last_error is not None
    return kind.too_late(webinar.definition, delivery.due, now, scheduled=not delivery.is_manual, tried=tried)


def _why_not_to_the_speaker(kind, speaker: SpeakerRecord) -> str | None:
    """Why a speaker must not get this mail now (rule m), or None."""
    if speaker.is_removed:
        return "they were taken out of the programme"
    if not speaker.email:
        return "they have no address in the definition"
    if kind.join_link and not speaker.join_url:
        return "the provider holds no panelist link for them"
    return None


def _retry_later(
    store: Store,
    delivery: Delivery,
    webinar: WebinarRecord,
    error: str,
    now: datetime,
    report: WaveReport,
    retry_delay: Callable[[int], timedelta],
) -> None:
    attempts = delivery.attempts + 1
    later = now + retry_delay(attempts)
    deadline = delivery.mail_kind.deadline(webinar.definition, delivery.due)
    if later >= deadline:
        message = f"gave up after {attempts} attempts, as the next would be too late: {error}"
        Outbox(store).fail(delivery.id, message, now)
        report.failed += 1
        return
    Outbox(store).retry_at(delivery.id, attempts, error, later, now)
    report.retrying += 1


def _release_after_refusal(store: Store, rows: list[Delivery], refusal: TransportConfigError, now: datetime) -> None:
    """Give the rows back after a refusal of our setup stopped the wave. When the refusal
    answered the first row's recipient or message, its words say our setup but it may still be
    that message's alone (a relay that relays to some domains only): that row waits behind the
    others, so it cannot be claimed first and stop every wave for good."""
    if isinstance(refusal, RefusedAsSetup):
        release(store, rows[:1], later=now + UNAVAILABLE_PAUSE, error=str(refusal))
        rows = rows[1:]
    release(store, rows)


def release(store: Store, rows: list[Delivery], later: datetime | None = None, error: str | None = None) -> None:
    """Give this process's claimed rows back to the queue: untouched on a stop; after a pause,
    and with the error recorded, when the mail server could not be reached (which exempts
    them from the grace rule: they fell due while the service was running)."""
    Outbox(store).release([delivery.id for delivery in rows], worker_id(), later, error)


def _renew_lease_if_needed(store: Store, rows: list[Delivery], lease: datetime, now: datetime) -> datetime:
    """Hold the batch's rows still to send longer when half their `lease` has passed;
    returns the lease they are held under now."""
    if not rows or lease - now >= LEASE / 2:
        return lease
    Outbox(store).renew_lease([delivery.id for delivery in rows], now + LEASE)
    return (now + LEASE).replace(microsecond=0)  # as the outbox stores it, to the second


def release_orphans(store: Store) -> int:
    """Give back the rows claimed by processes of this machine that no longer run (after a
    crash or `kill -9`), so a restarted service need not wait for their leases to end."""
    host, outbox = socket.gethostname(), Outbox(store)
    dead = [h for h in outbox.holders() if h.rpartition(":")[0] == host and not _alive(int(h.rpartition(":")[2]))]
    return sum(outbox.release_all_of(holder) for holder in dead)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
