"""The outbox: the deliveries table, and every statement on it.

One row, a Delivery, is one mail to one registrant or one speaker (a `kind` of a `template`,
see kinds.py), with its due time in UTC and its State. A row moves `pending -> sending -> sent | failed`, or
is `skipped` or `missed` with a reason; `sending` rows are held under a lease by the process that claimed
them (`claimed_by` is `host:pid`). Planning (plan.py) and sending (deliver.py) decide; the
outbox reads and writes. The table itself is made by the store's migrations (store.py).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from webinar_ops import times
from webinar_ops.mail import kinds
from webinar_ops.store import SUPPRESSED_REASON

if TYPE_CHECKING:  # a lower floor; only its types are named here, so the CLI can read State cheaply
    from webinar_ops.store import Store, WebinarRecord

PAGE = 1000  # rows read at a time: planning a webinar of any size holds no more than this


class State(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # waits for its send_after
    SENDING = "sending"  # claimed by a sender, under a lease
    SENT = "sent"  # the mail server accepted it
    FAILED = "failed"  # refused for good, or given up on; `outbox retry` queues it again
    SKIPPED = "skipped"  # not to be sent, with the reason
    MISSED = "missed"  # too late to be of use, with the reason


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the deliveries table: one mail to one registrant, or to one speaker (then
    `registrant_id` is None and `speaker_id` names them). Instants are kept as stored (ISO
    8601 UTC text, `2021-03-27T14:00:00Z`); `due` reads the due time."""

    id: int
    webinar_id: int
    registrant_id: int | None
    kind: str  # confirmation, reminder-1d, manual-reminder-20210430T050000000000Z ... (kinds.py)
    template: str  # which templates render it: confirmation, reminder ...
    offset_minutes: int | None  # a reminder's minutes before the start, an after-message's after the end
    revision: int  # the webinar revision the mail describes (the invite's SEQUENCE)
    due_at: str
    send_after: str  # due_at, or later after a temporary failure
    state: State
    reason: str | None  # why skipped or missed
    message_id: str  # made once, reused on every retry
    attempts: int
    last_error: str | None
    lease_until: str | None
    claimed_by: str | None  # `host:pid` of the sender holding it
    sent_at: str | None
    created_at: str
    updated_at: str
    details: str | None  # JSON: for an update, the revision it replaces
    speaker_id: int | None = None  # a speaker's mail (kinds.Kind.to_speakers)

    @classmethod
    def from_row(cls, row: Mapping) -> Delivery:
        """The delivery a row of the table holds (column -> value)."""
        return cls(**{**row, "state": State(row["state"])})

    @property
    def mail_kind(self) -> kinds.Kind:
        """The kind of mail it is, with the rules of its template."""
        return kinds.of(self.template)

    @property
    def is_manual(self) -> bool:
        """Whether an organiser sent it by hand (`webinar-ops remind`)."""
        return kinds.is_manual(self.kind)

    @property
    def due(self) -> datetime:
        """When it falls due."""
        return times.parse_iso_utc(self.due_at)

    @property
    def offset(self) -> timedelta | None:
        """Its offset before the start or after the end, if it has one."""
        return None if self.offset_minutes is None else timedelta(minutes=self.offset_minutes)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery planning makes, before the outbox gives it an id (`Outbox.add`)."""

    webinar_id: int
    registrant_id: int | None
    kind: str
    template: str
    offset_minutes: int | None
    revision: int
    due_at: str
    send_after: str
    message_id: str
    created_at: str
    updated_at: str
    state: State = State.PENDING
    reason: str | None = None
    details: str | None = None
    attempts: int = 0
    speaker_id: int | None = None


_NEW_COLUMNS = tuple(field.name for field in fields(NewDelivery))


class Listed(NamedTuple):
    """A delivery as the outbox lists it: with its recipient's address (a registrant's or a
    speaker's) and its webinar's slug."""

    delivery: Delivery
    email: str
    slug: str


# Every send by hand is a kind of its own (`manual-reminder-20261202T125905698068Z`) so that a
# second send is a new mail; counts and reasons show them as one family per template.
_FAMILY = f"CASE WHEN kind LIKE '{kinds.MANUAL_PREFIX}%' THEN '{kinds.MANUAL_PREFIX}' || template ELSE kind END"
_MANUAL = f"{kinds.MANUAL_PREFIX}%"
_NOT_SENT = (State.SKIPPED, State.MISSED, State.FAILED)
# The reports' filter by reader: every delivery, the registrants' (the audience's) or the speakers'.
_READERS = {None: "", "registrants": "AND registrant_id IS NOT NULL", "speakers": "AND speaker_id IS NOT NULL"}
SPEAKING = "they speak at the webinar: the speakers' mail goes to them"  # a registrant who is a speaker too


class Outbox:
    """The deliveries of one store."""

    def __init__(self, store: Store):
        self.store = store
        self.db = store.db

    # -- planning ---------------------------------------------------------------------------

    def add(self, rows: list[NewDelivery]) -> None:
        """Insert planned deliveries (in the caller's transaction)."""
        columns = [{name: getattr(row, name) for name in _NEW_COLUMNS} for row in rows]
        self.db["deliveries"].insert_all(columns, batch_size=PAGE)

    def change(self, delivery_id: int, changes: dict) -> None:
        """Set some columns of one delivery (in the caller's transaction)."""
        self.db["deliveries"].update(delivery_id, changes)

    def people_without(
        self,
        webinar: WebinarRecord,
        name: str | None = None,
        where: str = "",
        columns: str = "",
        kind: kinds.Kind = kinds.CONFIRMATION,
        alike: Iterable[str] = (),
    ) -> Iterator[list[dict]]:
        """The webinar's people in the audience of `kind` (by default: the approved ones) whom
        the provider has registered if the kind needs it, a page at a time, by address; only
        those with no delivery named `name` yet, if given, nor of any name in `alike` (the
        versions of one follow-up, of which each person gets one), and matching `where`."""
        names = [name, *alike]
        others = "".join(f", :alike{i}" for i in range(1, len(names)))
        missing = (
            f"AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.registrant_id = r.id AND d.kind IN (:kind{others}))"
        )
        registered = "AND r.provider_registrant_id IS NOT NULL" if kind.needs_the_provider else ""
        sql = f"""
            SELECT r.* {columns} FROM registrants r
            WHERE r.webinar_id = :webinar AND r.status IN ({_quoted(kind.audience)}) {registered}
              AND r.email > :after {missing if name else ""} {where}
            ORDER BY r.email LIMIT {PAGE}
        """
        after = ""
        params = {"webinar": webinar.id, "kind": name} | {f"alike{i}": n for i, n in enumerate(names) if i}
        while page := list(self.db.query(sql, {**params, "after": after})):
            yield page
            after = page[-1]["email"]

    def told_column(self) -> str:
        """An SQL expression, for `people_without`, of the revision a registrant's calendar
        holds: that of the last mail with an invite sent to them."""
        return (
            f"(SELECT max(s.revision) FROM deliveries s WHERE s.registrant_id = r.id AND s.state = '{State.SENT}' "
            f"AND s.template IN ({_quoted(_WITH_INVITE)}))"
        )

    def skip_pending(
        self, webinar: WebinarRecord, reason: str, now: datetime, *, templates: Iterable[str], except_kind: str = ""
    ) -> int:
        """Skip, with `reason`, the webinar's pending deliveries of these templates (all but
        the one named `except_kind`)."""
        templates = list(templates)
        cursor = self.db.execute(
            f"""UPDATE deliveries SET state = ?, reason = ?, updated_at = ?
               WHERE webinar_id = ? AND state = ? AND template IN ({_marks(templates)}) AND kind != ?""",
            [State.SKIPPED, reason, times.iso_utc(now), webinar.id, State.PENDING, *templates, except_kind],
        )
        return cursor.rowcount

    def skip_pending_of_inactive(self, webinar: WebinarRecord, now: datetime) -> int:
        """Skip the pending deliveries of the webinar's registrants whose status is not one its
        kind goes to (kinds.Kind.audience: the confirmation of someone cancelled, the awaiting
        mail of someone approved), with their registration's state as the reason
        (`registration cancelled`)."""
        cursor = self.db.execute(
            f"""
            UPDATE deliveries SET state = :skipped, updated_at = :now,
                reason = 'registration ' || (SELECT status FROM registrants r WHERE r.id = deliveries.registrant_id)
            WHERE webinar_id = :webinar AND state = :pending
              AND EXISTS (SELECT 1 FROM registrants r WHERE r.id = deliveries.registrant_id
                          AND NOT {_in_audience("deliveries.template", "r.status")})
            """,
            {"now": times.iso_utc(now), "webinar": webinar.id, "skipped": State.SKIPPED, "pending": State.PENDING},
        )
        return cursor.rowcount

    def skip_pending_scheduled_but(self, webinar: WebinarRecord, names: list[str], now: datetime) -> int:
        """Skip the webinar's pending reminders and after-messages whose names are not in
        `names`: those taken out of the definition."""
        reminder, after = kinds.REMINDER.template, kinds.AFTER.template
        patterns = [f"{reminder}-%", f"{after}-%"]
        cursor = self.db.execute(
            f"""
            UPDATE deliveries SET state = ?, updated_at = ?,
                reason = 'this ' || (CASE template WHEN ? THEN 'message' ELSE 'reminder' END)
                         || ' was removed from the definition'
            WHERE webinar_id = ? AND state = ? AND template IN (?, ?)
              AND (kind LIKE ? OR kind LIKE ?) AND kind NOT IN ({_marks(names) or "''"})
            """,
            [State.SKIPPED, times.iso_utc(now), after, webinar.id, State.PENDING, reminder, after, *patterns, *names],
        )
        return cursor.rowcount

    def correctable(self, webinar: WebinarRecord, names: Iterable[str]) -> list[Delivery]:
        """The webinar's deliveries named one of `names` (a follow-up's versions) that a
        correction of attendance may still change: the pending ones, and those skipped for an
        earlier correction."""
        names = list(names)
        if not names:
            return []
        sql = f"""SELECT * FROM deliveries WHERE webinar_id = ? AND kind IN ({_marks(names)})
                  AND (state = ? OR (state = ? AND reason LIKE 'attendance was corrected%')) ORDER BY id"""
        params = [webinar.id, *names, State.PENDING, State.SKIPPED]
        return [Delivery.from_row(row) for row in self.db.query(sql, params)]

    def skipped_for_registration(self, webinar: WebinarRecord) -> Iterator[tuple[Delivery, str | None]]:
        """The webinar's scheduled deliveries skipped for a registration's state, of people
        back in the audience of their kind (approved and registered again, for most; denied
        again after a new request, for a denial), each with its registrant's `approved_at`."""
        sql = f"""
            SELECT d.*, r.approved_at FROM deliveries d JOIN registrants r ON r.id = d.registrant_id
            WHERE d.webinar_id = :webinar AND d.state = :skipped AND d.reason LIKE 'registration %'
              AND d.kind NOT LIKE :manual AND {_in_audience("d.template", "r.status")}
              AND (r.provider_registrant_id IS NOT NULL OR d.template NOT IN ({_quoted(_NEED_THE_PROVIDER)}))
              AND (d.template != '{kinds.DENIAL.template}' OR r.denied_at IS NOT NULL)
        """
        return self._with_approval(sql, {"webinar": webinar.id, "skipped": State.SKIPPED, "manual": _MANUAL})

    def out_of_step(self, webinar: WebinarRecord) -> Iterator[tuple[Delivery, str | None]]:
        """The webinar's unsent deliveries (and reminders skipped as due before the person
        registered) of another revision or whose due time no longer follows the webinar's
        start or end, each with its registrant's `approved_at`; an after-message planned once
        the webinar had ended (by attendance) keeps its time. When nothing moved, none is read."""
        sql = """
            SELECT d.*, r.approved_at FROM deliveries d JOIN registrants r ON r.id = d.registrant_id
            WHERE d.webinar_id = :webinar
              AND (d.state = :pending OR (d.state = :skipped AND d.reason LIKE 'it fell due%'))
              AND (d.revision != :revision OR (d.offset_minutes IS NOT NULL AND d.kind NOT LIKE :manual
                   AND NOT (d.template = :after AND d.created_at >= :end)
                   AND d.due_at != (CASE d.template
                       WHEN :after THEN strftime('%Y-%m-%dT%H:%M:%SZ', :end, d.offset_minutes || ' minutes')
                       ELSE strftime('%Y-%m-%dT%H:%M:%SZ', :start, -d.offset_minutes || ' minutes') END)))
        """
        d = webinar.definition
        params = {"webinar": webinar.id, "revision": webinar.revision, "manual": _MANUAL}
        params |= {"pending": State.PENDING, "skipped": State.SKIPPED, "after": kinds.AFTER.template}
        return self._with_approval(sql, {**params, "start": times.iso_utc(d.start), "end": times.iso_utc(d.end)})

    def _with_approval(self, sql: str, params: dict) -> Iterator[tuple[Delivery, str | None]]:
        """The deliveries `sql` selects (`d.*, r.approved_at`), each with its `approved_at`,
        read a page at a time in id order, so that the caller may change each as it goes."""
        after = 0
        paged = f"{sql} AND d.id > :after ORDER BY d.id LIMIT {PAGE}"
        while page := list(self.db.query(paged, {**params, "after": after})):
            for row in page:
                approved_at = row.pop("approved_at")
                yield Delivery.from_row(row), approved_at
            after = page[-1]["id"]

    # -- planning for speakers ---------------------------------------------------------------

    def speakers_without(self, webinar: WebinarRecord, name: str | None, *, linked: bool) -> list[dict]:
        """The webinar's speakers (not taken out of the programme) with an address and, if
        `linked`, their own panelist link from the provider, who have no delivery named `name`
        yet; `name` None: no briefing of their slot's current revision (`briefing-N`)."""
        wanted = ":name" if name is not None else f"'{kinds.BRIEFING.name_stem}-' || s.slot_revision"
        sql = f"""
            SELECT s.* FROM speakers s
            WHERE s.webinar_id = :webinar AND s.removed_at IS NULL AND s.email IS NOT NULL
              {"AND s.join_url IS NOT NULL" if linked else ""}
              AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.speaker_id = s.id AND d.kind = {wanted})
            ORDER BY s.id
        """
        return list(self.db.query(sql, {"webinar": webinar.id, "name": name}))

    def skip_pending_of_speakers(self, webinar: WebinarRecord, now: datetime) -> int:
        """Skip the unsent mail of speakers taken out of the programme, and each speaker's
        unsent briefings of an older revision of their slot (a newer one replaces them)."""
        stamp, pending, skipped = times.iso_utc(now), State.PENDING, State.SKIPPED
        removed = self.db.execute(
            """UPDATE deliveries SET state = ?, reason = 'they were taken out of the programme', updated_at = ?
               WHERE webinar_id = ? AND state = ?
                 AND speaker_id IN (SELECT id FROM speakers WHERE removed_at IS NOT NULL)""",
            [skipped, stamp, webinar.id, pending],
        ).rowcount
        older = self.db.execute(
            """UPDATE deliveries SET state = ?, reason = 'a newer briefing replaced it', updated_at = ?
               WHERE webinar_id = ? AND state = ? AND template = ?
                 AND kind != (SELECT ? || '-' || s.slot_revision FROM speakers s WHERE s.id = deliveries.speaker_id)""",
            [skipped, stamp, webinar.id, pending, kinds.BRIEFING.template, kinds.BRIEFING.name_stem],
        ).rowcount
        return removed + older

    def skip_pending_of_speaking(self, webinar: WebinarRecord, addresses: set[str], now: datetime) -> int:
        """Skip the unsent audience's mail (all but the after-messages) of the registrants whose
        address is in `addresses`, those who speak at the webinar: the speakers' mail is theirs."""
        if not addresses:
            return 0
        marks = _marks(list(addresses))
        params = [State.SKIPPED, SPEAKING, times.iso_utc(now), webinar.id, State.PENDING, kinds.AFTER.template]
        return self.db.execute(
            f"""UPDATE deliveries SET state = ?, reason = ?, updated_at = ?
               WHERE webinar_id = ? AND state = ? AND template != ? AND registrant_id IN
                 (SELECT id FROM registrants WHERE webinar_id = ? AND lower(email) IN ({marks}))""",
            [*params, webinar.id, *sorted(addresses)],
        ).rowcount

    def reopen_for_former_speakers(self, webinar: WebinarRecord, addresses: set[str], now: datetime) -> int:
        """Put back in the queue the audience's mail skipped while a registrant spoke, for those
        whose address is no longer in `addresses` (taken out of the programme, or given another
        address): an attendee like any other again; sending weighs whether each is still in time."""
        marks = _marks(list(addresses)) or "''"
        return self.db.execute(
            f"""UPDATE deliveries SET state = ?, reason = NULL, updated_at = ?
               WHERE webinar_id = ? AND state = ? AND reason = ? AND registrant_id NOT IN
                 (SELECT id FROM registrants WHERE webinar_id = ? AND lower(email) IN ({marks}))""",
            [State.PENDING, times.iso_utc(now), webinar.id, State.SKIPPED, SPEAKING, webinar.id, *sorted(addresses)],
        ).rowcount

    def reopen_for_returning_speakers(self, webinar: WebinarRecord, now: datetime) -> int:
        """Put back in the queue the reminders skipped when a speaker was taken out of the
        programme, now that they are back in it (their briefing is a new one: their slot's
        revision rose); sending weighs whether each is still in time."""
        return self.db.execute(
            """UPDATE deliveries SET state = ?, reason = NULL, updated_at = ?
               WHERE webinar_id = ? AND state = ? AND reason = 'they were taken out of the programme'
                 AND template != ? AND speaker_id IN (SELECT id FROM speakers WHERE removed_at IS NULL)""",
            [State.PENDING, times.iso_utc(now), webinar.id, State.SKIPPED, kinds.BRIEFING.template],
        ).rowcount

    def skip_pending_speaker_reminders_but(self, webinar: WebinarRecord, names: list[str], now: datetime) -> int:
        """Skip the webinar's unsent speakers' reminders and practice reminders whose names are
        not in `names`: those taken out of the definition."""
        templates = [kinds.SPEAKER_REMINDER.template, kinds.PRACTICE_REMINDER.template]
        return self.db.execute(
            f"""UPDATE deliveries SET state = ?, reason = 'this reminder was removed from the definition',
                   updated_at = ?
               WHERE webinar_id = ? AND state = ? AND template IN (?, ?) AND kind NOT IN ({_marks(names) or "''"})""",
            [State.SKIPPED, times.iso_utc(now), webinar.id, State.PENDING, *templates, *names],
        ).rowcount

    def speakers_scheduled(self, webinar: WebinarRecord) -> list[Delivery]:
        """The webinar's speakers' reminders and practice reminders not sent yet (pending, or
        skipped as due before the speaker was added), to follow a moved start or practice."""
        templates = [kinds.SPEAKER_REMINDER.template, kinds.PRACTICE_REMINDER.template]
        sql = """SELECT * FROM deliveries WHERE webinar_id = ? AND template IN (?, ?)
                 AND (state = ? OR (state = ? AND reason LIKE 'it fell due%')) ORDER BY id"""
        params = [webinar.id, *templates, State.PENDING, State.SKIPPED]
        return [Delivery.from_row(row) for row in self.db.query(sql, params)]

    # -- sending ----------------------------------------------------------------------------

    def claim(self, now: datetime, lease_until: datetime, holder: str, limit: int, kind: str | None) -> list[Delivery]:
        """Take up to `limit` due rows (pending ones, and sending ones whose lease ran out) for
        `holder`, in due order, in one statement: two senders never take the same row."""
        only_kind = "AND kind = :kind" if kind else ""
        with self.store.transaction() as db:
            rows = db.execute(
                f"""
                UPDATE deliveries SET state = :sending, lease_until = :lease, claimed_by = :me, updated_at = :now
                WHERE id IN (
                    SELECT id FROM (
                        SELECT id, send_after FROM deliveries
                        WHERE state = :pending AND send_after <= :now {only_kind}
                        UNION ALL
                        SELECT id, send_after FROM deliveries
                        WHERE state = :sending AND lease_until < :now {only_kind}
                    ) ORDER BY send_after, id LIMIT :limit
                )
                RETURNING *
                """,
                {
                    "lease": times.iso_utc(lease_until),
                    "me": holder,
                    "now": times.iso_utc(now),
                    "limit": limit,
                    "kind": kind,
                    "pending": State.PENDING,
                    "sending": State.SENDING,
                },
            )
            columns = [c[0] for c in rows.description]
            claimed = [Delivery.from_row(dict(zip(columns, row, strict=True))) for row in rows.fetchall()]
        return sorted(claimed, key=lambda delivery: (delivery.send_after, delivery.id))

    def reopen_unsuppressed(self, email: str, now: datetime) -> int:
        """Give back to the queue the unsent mails skipped because `email` was suppressed, now
        that it is off the list: sending weighs again whether each is still timely."""
        return self.store.write(
            f"""UPDATE deliveries SET state = :pending, reason = NULL, lease_until = NULL, claimed_by = NULL,
                   updated_at = :now
               WHERE state = :skipped AND reason LIKE '{SUPPRESSED_REASON}%' AND (
                   registrant_id IN (SELECT id FROM registrants WHERE lower(email) = :email)
                   OR speaker_id IN (SELECT id FROM speakers WHERE lower(email) = :email))""",
            {"pending": State.PENDING, "skipped": State.SKIPPED, "now": times.iso_utc(now), "email": email.casefold()},
        )

    def mark_sent(self, delivery_id: int, now: datetime) -> None:
        """The mail server accepted it: committed at once, so a crash repeats no other mail."""
        self.store.write(
            """UPDATE deliveries SET state = :sent, sent_at = :now, attempts = attempts + 1, last_error = NULL,
               lease_until = NULL, updated_at = :now WHERE id = :id""",
            {"now": times.iso_utc(now), "id": delivery_id, "sent": State.SENT},
        )

    def close(self, delivery_id: int, state: State, reason: str, now: datetime) -> None:
        """Skip or miss it, with the reason."""
        self.store.write(
            """UPDATE deliveries SET state = :state, reason = :reason, lease_until = NULL, updated_at = :now
               WHERE id = :id""",
            {"state": state, "reason": reason, "now": times.iso_utc(now), "id": delivery_id},
        )

    def fail(self, delivery_id: int, error: str, now: datetime) -> None:
        """It failed for good, with the error, after one more attempt."""
        self.store.write(
            """UPDATE deliveries SET state = :failed, attempts = attempts + 1, last_error = :error,
               lease_until = NULL, updated_at = :now WHERE id = :id""",
            {"error": error, "now": times.iso_utc(now), "id": delivery_id, "failed": State.FAILED},
        )

    def retry_at(self, delivery_id: int, attempts: int, error: str, later: datetime, now: datetime) -> None:
        """Back in the queue after a temporary failure, not before `later`."""
        self.store.write(
            """UPDATE deliveries SET state = :pending, attempts = :attempts, last_error = :error, send_after = :later,
               lease_until = NULL, claimed_by = NULL, updated_at = :now WHERE id = :id""",
            {
                "attempts": attempts,
                "error": error,
                "later": times.iso_utc(later),
                "now": times.iso_utc(now),
                "id": delivery_id,
                "pending": State.PENDING,
            },
        )

    def release(self, ids: list[int], holder: str, later: datetime | None = None, error: str | None = None) -> None:
        """Give rows `holder` claimed back to the queue: untouched, or not before `later` and
        with the error recorded."""
        if not ids:
            return
        mine = f"state = ? AND claimed_by = ? AND id IN ({_marks(ids)})"
        back = "UPDATE deliveries SET state = ?, lease_until = NULL, claimed_by = NULL"
        if later is None:
            self.store.write(f"{back} WHERE {mine}", [State.PENDING, State.SENDING, holder, *ids])
            return
        params = [State.PENDING, times.iso_utc(later), error, State.SENDING, holder, *ids]
        self.store.write(f"{back}, send_after = ?, last_error = ? WHERE {mine}", params)

    def renew_lease(self, ids: list[int], lease_until: datetime) -> None:
        """Hold these claimed rows longer."""
        self.store.write(
            f"UPDATE deliveries SET lease_until = ? WHERE id IN ({_marks(ids)})", [times.iso_utc(lease_until), *ids]
        )

    def holders(self) -> list[str]:
        """Who holds claimed rows (`host:pid`)."""
        sql = "SELECT DISTINCT claimed_by FROM deliveries WHERE state = ? AND claimed_by IS NOT NULL"
        return [row["claimed_by"] for row in self.db.query(sql, [State.SENDING])]

    def release_all_of(self, holder: str) -> int:
        """Give back every row `holder` claimed; returns how many."""
        return self.store.write(
            "UPDATE deliveries SET state = ?, lease_until = NULL, claimed_by = NULL WHERE state = ? AND claimed_by = ?",
            [State.PENDING, State.SENDING, holder],
        )

    def next_due(self) -> datetime | None:
        """When the next delivery falls due (or a lease runs out), or None when nothing waits."""
        sql = """SELECT min(t) AS t FROM (
                   SELECT min(send_after) AS t FROM deliveries WHERE state = ?
                   UNION ALL SELECT min(lease_until) FROM deliveries WHERE state = ?)"""
        row = next(iter(self.db.query(sql, [State.PENDING, State.SENDING])))
        return times.parse_iso_utc(row["t"]) if row["t"] else None

    def retry_failed(self, webinar: WebinarRecord, now: datetime) -> int:
        """Put the webinar's failed deliveries back in the queue, due now."""
        return self.store.write(
            """UPDATE deliveries SET state = :pending, send_after = :now, lease_until = NULL, claimed_by = NULL,
               updated_at = :now WHERE webinar_id = :webinar AND state = :failed""",
            {"now": times.iso_utc(now), "webinar": webinar.id, "pending": State.PENDING, "failed": State.FAILED},
        )

    # -- reports ----------------------------------------------------------------------------

    def told_revision(self, registrant_id: int) -> int | None:
        """The revision of the webinar that the registrant's calendar holds: that of the last
        mail with an invite sent to them (None before any)."""
        sql = f"""SELECT max(revision) AS told FROM deliveries WHERE registrant_id = ? AND state = ?
                  AND template IN ({_quoted(_WITH_INVITE)})"""
        return next(iter(self.db.query(sql, [registrant_id, State.SENT])))["told"]

    def counts(self, webinar_id: int, readers: str | None = None) -> dict[str, dict[str, int]]:
        """For each kind of mail, how many deliveries are in each state, in the status's order:
        of every reader, or only of `readers` (`registrants` or `speakers`)."""
        sql = f"""SELECT {_FAMILY} AS family, state, count(*) AS n FROM deliveries
                  WHERE webinar_id = ? {_READERS[readers]} GROUP BY family, state"""
        counts: dict[str, dict[str, int]] = {}
        for row in self.db.query(sql, [webinar_id]):
            counts.setdefault(row["family"], {})[row["state"]] = row["n"]
        return dict(sorted(counts.items(), key=lambda item: kinds.status_order(item[0])))

    def sending_times(self, webinar_id: int, readers: str | None = None) -> list[dict]:
        """For each kind of mail that went out, how many were sent and when the first and the
        last of them went (`first_sent_at`, `last_sent_at`), the earliest first: to every
        reader, or only to `readers` (`registrants` or `speakers`)."""
        sql = f"""SELECT {_FAMILY} AS kind, count(*) AS sent, min(sent_at) AS first_sent_at,
                         max(sent_at) AS last_sent_at FROM deliveries
                  WHERE webinar_id = ? AND state = ? AND sent_at IS NOT NULL {_READERS[readers]}
                  GROUP BY 1 ORDER BY first_sent_at, kind"""
        return list(self.db.query(sql, [webinar_id, State.SENT]))

    def bounces(self, webinar_id: int, readers: str | None = None) -> dict[str, int]:
        """For each kind of mail, how many of the webinar's deliveries the receiving server
        refused for good: failed with a permanent (5xx) reply, which the sender records as
        the error's leading code (`550 mailbox unavailable`); of every reader, or only of
        `readers` (`registrants` or `speakers`)."""
        sql = f"""SELECT {_FAMILY} AS kind, count(*) AS n FROM deliveries
                  WHERE webinar_id = ? AND state = ? AND last_error GLOB '5[0-9][0-9][ -]*' {_READERS[readers]}
                  GROUP BY 1"""
        rows = {row["kind"]: row["n"] for row in self.db.query(sql, [webinar_id, State.FAILED])}
        return dict(sorted(rows.items(), key=lambda item: kinds.status_order(item[0])))

    def next_delivery(self, webinar_id: int) -> dict | None:
        """The next mail due: its kind, due time and how many share it."""
        sql = f"""SELECT {_FAMILY} AS kind, send_after AS due_at, count(*) AS recipients FROM deliveries
                  WHERE webinar_id = ? AND state IN (?, ?)
                  GROUP BY 1, send_after ORDER BY send_after LIMIT 1"""
        return next(iter(self.db.query(sql, [webinar_id, State.PENDING, State.SENDING])), None)

    def reasons(self, webinar_id: int) -> list[dict]:
        """Why mail was skipped, missed or failed, with how many each."""
        sql = f"""SELECT {_FAMILY} AS kind, state, coalesce(reason, last_error) AS why, count(*) AS n
                  FROM deliveries WHERE webinar_id = ? AND state IN (?, ?, ?)
                  GROUP BY 1, state, why ORDER BY 1, state"""
        return list(self.db.query(sql, [webinar_id, *_NOT_SENT]))

    def manual_sends(self, webinar_id: int) -> list[dict]:
        """Each send by hand, oldest first: its template, when it was asked for and when its
        last mail went, and how many of its mails are in each state."""
        sql = """SELECT kind, template, min(created_at) AS asked_at, max(sent_at) AS last_sent_at,
                        state, count(*) AS n FROM deliveries
                 WHERE webinar_id = ? AND kind LIKE ? GROUP BY kind, state ORDER BY kind"""
        sends: dict[str, dict] = {}
        for row in self.db.query(sql, [webinar_id, _MANUAL]):
            send = sends.setdefault(row["kind"], {"kind": row["kind"], "template": row["template"], "states": {}})
            send["states"][row["state"]] = row["n"]
            send["asked_at"] = min(filter(None, (send.get("asked_at"), row["asked_at"])))
            send["last_sent_at"] = max(filter(None, (send.get("last_sent_at"), row["last_sent_at"])), default=None)
        return sorted(sends.values(), key=lambda send: send["asked_at"])

    def listing(self, webinar_id: int | None = None, state: str | None = None, limit: int = 1000) -> list[Listed]:
        """The deliveries, with the recipient's address and the webinar's slug, soonest first."""
        where, params = ["1"], []
        if webinar_id is not None:
            where.append("d.webinar_id = ?")
            params.append(webinar_id)
        if state is not None:
            where.append("d.state = ?")
            params.append(state)
        sql = f"""SELECT d.*, coalesce(r.email, s.email) AS email, w.slug FROM deliveries d
                  LEFT JOIN registrants r ON r.id = d.registrant_id LEFT JOIN speakers s ON s.id = d.speaker_id
                  JOIN webinars w ON w.id = d.webinar_id
                  WHERE {" AND ".join(where)} ORDER BY d.send_after, d.id LIMIT ?"""
        return [_listed(row) for row in self.db.query(sql, [*params, limit])]

    def speaker_mails(self, speaker_id: int) -> list[Delivery]:
        """The speaker's deliveries (their briefings, reminders, practice reminder and
        cancellation), in the order they fall due."""
        sql = "SELECT * FROM deliveries WHERE speaker_id = ? ORDER BY send_after, id"
        return [Delivery.from_row(row) for row in self.db.query(sql, [speaker_id])]


def _listed(row: dict) -> Listed:
    email, slug = row.pop("email"), row.pop("slug")
    return Listed(Delivery.from_row(row), email, slug)


# The templates whose mail carries an invite (the revision a calendar holds is the last of
# these sent), and those that wait until the provider holds the reader.
_WITH_INVITE = tuple(kind.template for kind in kinds.KINDS.values() if kind.invite_method)
_NEED_THE_PROVIDER = tuple(kind.template for kind in kinds.KINDS.values() if kind.needs_the_provider)


def _in_audience(template: str, status: str) -> str:
    """An SQL test that the registrant status `status` is one the kind of mail whose template
    is `template` goes to (kinds.Kind.audience); both are SQL expressions."""
    cases = " ".join(
        f"WHEN '{kind.template}' THEN {status} IN ({_quoted(kind.audience)})" for kind in kinds.KINDS.values()
    )
    return f"(CASE {template} {cases} ELSE 0 END)"


def _quoted(names: Iterable[str]) -> str:
    """`'a', 'b'`: an SQL list of names the code declares (kinds, statuses), never of input."""
    return ", ".join(f"'{name}'" for name in names)


def _marks(values: list) -> str:
    """The `?, ?, ?` of an SQL list of `values`."""
    return ", ".join("?" * len(values))
