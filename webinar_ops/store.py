"""The SQLite store: webinars and registrants, and the schema of every table (the statements on
the deliveries are the outbox's, webinar_ops/mail/outbox.py). Registrants come out as typed
`Registrant` rows and go in as `NewRegistrant`s.

One `Store` wraps one connection, through sqlite-utils. The schema is created and evolved
by sqlite-utils' `Migrations`. Every connection runs in WAL mode with foreign keys on and a
busy timeout, and the database file is created readable by its owner only. Instants are
stored as ISO 8601 UTC text (`2021-04-30T06:00:00Z`), which sorts correctly as text.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlite_utils import Database, Migrations

from webinar_ops import db_files, times, validate
from webinar_ops.attendance import Known, Presence
from webinar_ops.definition import Definition, SpeakerPerson, SpeakerSlot, parse_definition, speaker_slots
from webinar_ops.errors import InputError, NotFound, OperationError
from webinar_ops.people import Person

BUSY_TIMEOUT_SECONDS = 30
REGISTRANT_STATUSES = ("pending", "approved", "denied", "cancelled", "waitlisted")
ACTIVE_STATUSES = ("pending", "approved")  # still coming: the provider is to hold them
REGISTRANT_SOURCES = ("import", "cli", "provider", "web")
COUNTED_COLUMNS = ("country", "organisation", "time_zone", "language")  # what a report breaks down

migrations = Migrations("webinar_ops")


@migrations()
def m001_webinars_and_registrants(db: Database) -> None:
    db["webinars"].create(
        {
            "id": int,
            "slug": str,
            "title": str,
            "start_at": str,
            "end_at": str,
            "time_zone": str,
            "revision": int,
            "definition_toml": str,
            "definition_json": str,
            "source_path": str,
            "provider": str,
            "provider_webinar_id": str,
            "provider_join_url": str,
            "registration_url": str,
            "provider_revision": int,
            "provider_error": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"slug", "title", "start_at", "end_at", "time_zone", "revision", "definition_toml", "provider"},
        defaults={"revision": 0},
    )
    db["webinars"].create_index(["slug"], unique=True)
    db["registrants"].create(
        {
            "id": int,
            "webinar_id": int,
            "email": str,
            "first_name": str,
            "last_name": str,
            "organisation": str,
            "job_title": str,
            "country": str,
            "time_zone": str,
            "language": str,
            "status": str,
            "source": str,
            "provider_registrant_id": str,
            "provider_status": str,
            "join_url": str,
            "sync_error": str,
            "sync_retry_after": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"webinar_id", "email", "first_name", "status", "source", "created_at", "updated_at"},
        foreign_keys=[("webinar_id", "webinars", "id")],
    )
    db["registrants"].create_index(["webinar_id", "email"], unique=True)
    db["registrants"].create_index(["webinar_id", "status"])


@migrations()
def m002_deliveries(db: Database) -> None:
    db["webinars"].add_column("calendar_uid", str)
    for row in db.query("SELECT id FROM webinars"):
        db["webinars"].update(row["id"], {"calendar_uid": _new_calendar_uid()})
    db["registrants"].add_column("approved_at", str)
    db.execute("UPDATE registrants SET approved_at = created_at WHERE status = 'approved'")
    db["deliveries"].create(
        {
            "id": int,
            "webinar_id": int,
            "registrant_id": int,
            "kind": str,  # confirmation, reminder-1d, manual-reminder-20210430T050000Z ...
            "template": str,  # which templates render it: confirmation, reminder
            "offset_minutes": int,  # for reminders: minutes before the start
            "revision": int,  # the webinar revision the mail describes (the invite's SEQUENCE)
            "due_at": str,
            "send_after": str,  # due_at, or later after a temporary failure
            "state": str,  # pending, sending, sent, failed, skipped, missed
            "reason": str,  # why skipped or missed
            "message_id": str,  # made once, reused on every retry
            "attempts": int,
            "last_error": str,
            "lease_until": str,
            "claimed_by": str,
            "sent_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={
            "webinar_id",
            "registrant_id",
            "kind",
            "template",
            "revision",
            "due_at",
            "send_after",
            "state",
            "message_id",
            "attempts",
            "created_at",
            "updated_at",
        },
        defaults={"attempts": 0, "state": "pending"},
        foreign_keys=[("webinar_id", "webinars", "id"), ("registrant_id", "registrants", "id")],
    )
    db["deliveries"].create_index(["registrant_id", "kind", "revision"], unique=True)
    db["deliveries"].create_index(["state", "send_after"])
    db["deliveries"].create_index(["webinar_id", "state"])


def _new_calendar_uid() -> str:
    import uuid

    return f"{uuid.uuid4()}@webinar-ops"


@migrations()
def m003_provider_retry_after(db: Database) -> None:
    db["webinars"].add_column("provider_retry_after", str)


@migrations()
def m004_revisions_and_cancellation(db: Database) -> None:
    """The time and title of every revision (an update mail shows what the reader's calendar
    held), and the webinar's cancellation."""
    db["webinar_revisions"].create(
        {"webinar_id": int, "revision": int, "title": str, "start_at": str, "end_at": str, "time_zone": str},
        pk=("webinar_id", "revision"),
        foreign_keys=[("webinar_id", "webinars", "id")],
    )
    db.execute("INSERT INTO webinar_revisions SELECT id, revision, title, start_at, end_at, time_zone FROM webinars")
    db["webinars"].add_column("cancelled_at", str)
    db["webinars"].add_column("cancel_message", str)
    db["webinars"].add_column("provider_cancelled_at", str)
    db["deliveries"].add_column("details", str)  # JSON: for an update, the revision it replaces


@migrations()
def m005_unsubscribe(db: Database) -> None:
    db["registrants"].add_column("unsubscribed_at", str)  # no more reminders for this webinar


@migrations()
def m007_provider_events(db: Database) -> None:
    """When the newest provider event applied to a registrant happened (webhooks.py): Zoom
    retries and does not keep order, so an older event arriving later must change nothing."""
    db["registrants"].add_column("provider_event_at", str)
    db["registrants"].create_index(["webinar_id", "provider_registrant_id"])


@migrations()
def m008_decisions(db: Database) -> None:
    """The organiser's decisions on requests that wait for approval: since when each pending
    request has waited, when a request was denied (those people get a denial mail, unlike
    someone a provider lists as denied when first seen: Zoom lists people who cancelled so),
    and the organiser's words for them."""
    db["registrants"].add_column("pending_since", str)
    db["registrants"].add_column("denied_at", str)
    db["registrants"].add_column("denial_message", str)
    db.execute("UPDATE registrants SET pending_since = created_at WHERE status = 'pending'")


@migrations()
def m009_waitlist(db: Database) -> None:
    """The waitlist: a webinar's capacity (read from its definition, kept here for the seat
    rule's SQL), and each waitlisted registrant's place in the queue and since when."""
    db["webinars"].add_column("capacity", int)
    db["registrants"].add_column("waitlisted_at", str)
    db["registrants"].add_column("waitlist_order", int)  # rises with each arrival in the queue
    db["registrants"].create_index(["webinar_id", "status", "waitlist_order"])
    # No webinar stored before this could have a capacity: the key did not exist.


@migrations()
def m010_registration_answers(db: Database) -> None:
    """Each registrant's answers to the registration questions, one row per answer, by the
    question's id (`[[registration.questions]] id`)."""
    db["registration_answers"].create(
        {"registrant_id": int, "question": str, "value": str},
        pk=("registrant_id", "question"),
        not_null={"value"},
        foreign_keys=[("registrant_id", "registrants", "id")],
    )


@migrations()
def m011_tracking_sources(db: Database) -> None:
    """Where each registrant came from (`/register/SLUG?source=newsletter`, or the provider's
    tracking source): a short token, only ever counted."""
    db["registrants"].add_column("tracking_source", str)


@migrations()
def m012_attendance(db: Database) -> None:
    """Who attended: one row per registrant once a source has told (`attendance.Presence`),
    and per webinar whether attendance is known, from which source, or why not yet."""
    db["attendance"].create(
        {
            "registrant_id": int,
            "attended": int,
            "joined_at": str,
            "left_at": str,
            "minutes": int,
            "source": str,
            "recorded_at": str,
        },
        pk="registrant_id",
        not_null={"attended", "source", "recorded_at"},
        foreign_keys=[("registrant_id", "registrants", "id")],
    )
    db["attendance_checks"].create(
        {
            "webinar_id": int,
            "known_at": str,  # None until a source told who attended
            "source": str,
            "unmatched": int,  # sessions the source reported that matched no registrant
            "tries": int,
            "error": str,  # why the last try found nothing yet (Zoom: the report is not ready)
            "retry_after": str,
        },
        pk="webinar_id",
        not_null={"tries"},
        defaults={"tries": 0, "unmatched": 0},
        foreign_keys=[("webinar_id", "webinars", "id")],
    )


@migrations()
def m013_speakers(db: Database) -> None:
    """The webinar's speakers and moderator as people webinar-ops writes to, apart from its
    registrants: each person once, by the definition's person key (SpeakerPerson.key), with
    their panelist standing at the provider and their slot's revision (their own invite's
    SEQUENCE: it rises when their items or times change). A person taken out of the
    definition keeps their row, marked removed, so that the provider is told and their mail
    history stays."""
    db["speakers"].create(
        {
            "id": int,
            "webinar_id": int,
            "key": str,
            "email": str,
            "name": str,
            "role": str,
            "organisation": str,
            "time_zone": str,
            "language": str,
            "moderates": int,
            "slots_json": str,  # their items and instants, to notice a moved slot
            "slot_revision": int,
            "panelist_id": str,
            "join_url": str,  # their own panelist join link: a secret
            "panelist_error": str,
            "removed_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"webinar_id", "key", "name", "moderates", "slot_revision", "created_at", "updated_at"},
        defaults={"moderates": 0, "slot_revision": 0},
        foreign_keys=[("webinar_id", "webinars", "id")],
    )
    db["speakers"].create_index(["webinar_id", "key"], unique=True)


@migrations()
def m014_speaker_deliveries(db: Database) -> None:
    """The outbox's deliveries go to a registrant or to a speaker: one table, so that every
    guarantee (one row per reader and kind, claims under leases, sent committed per message,
    the Message-ID made once) holds for both. Exactly one of the two is set (the triggers),
    and a speaker has at most one row per kind and revision, as a registrant has."""
    db["deliveries"].add_column("speaker_id", int)
    db["deliveries"].transform(not_null={"registrant_id": False}, add_foreign_keys=[("speaker_id", "speakers", "id")])
    db["deliveries"].create_index(["speaker_id", "kind", "revision"], unique=True)
    for event in ("INSERT", "UPDATE OF registrant_id, speaker_id"):
        name = "insert" if event == "INSERT" else "update"
        db.execute(
            f"""CREATE TRIGGER deliveries_one_reader_{name} BEFORE {event} ON deliveries
                WHEN (NEW.registrant_id IS NULL) = (NEW.speaker_id IS NULL)
                BEGIN SELECT RAISE(ABORT, 'a delivery goes to one registrant or one speaker'); END"""
        )


@migrations()
def m015_suppressions(db: Database) -> None:
    """Addresses no mail goes to, for any webinar: a hard bounce is the address's, not the
    webinar's. One row per casefolded address, with why, the server's words (without links),
    when and who put it there."""
    db["suppressions"].create(
        {"email": str, "reason": str, "detail": str, "source": str, "suppressed_at": str},
        pk="email",
        not_null={"reason", "source", "suppressed_at"},
    )


SUPPRESSED_REASON = "the address is suppressed:"  # how the outbox's skipped rows begin


@dataclass(frozen=True)
class Suppression:
    """One address on the suppression list."""

    email: str
    reason: str
    detail: str | None
    source: str
    suppressed_at: str

    def describe(self) -> str:
        """`the address is suppressed: hard bounce on 2026-12-06`, the outbox's reason."""
        return f"{SUPPRESSED_REASON} {self.reason} on {self.suppressed_at[:10]}"


@dataclass(frozen=True, kw_only=True)
class SpeakerRecord:
    """A stored speaker or moderator: one row of the speakers table."""

    id: int
    webinar_id: int
    key: str
    email: str | None = None
    name: str
    role: str | None = None
    organisation: str | None = None
    time_zone: str | None = None
    language: str | None = None
    moderates: bool = False
    slots_json: str | None = field(default=None, repr=False)
    slot_revision: int = 0
    panelist_id: str | None = None
    join_url: str | None = field(default=None, repr=False)  # their panelist join link: a secret
    panelist_error: str | None = None
    removed_at: str | None = None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: dict) -> SpeakerRecord:
        return cls(**{**row, "moderates": bool(row["moderates"])})

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None

    def describe(self) -> str:
        """`Mr. Keping Yao, Senior Expert, UNPOG`: name, role and organisation, as present."""
        return ", ".join(part for part in (self.name, self.role, self.organisation) if part)

    def slots(self) -> tuple[SpeakerSlot, ...]:
        """The items they speak in, with their instants, as last saved (for a removed speaker:
        the part they had)."""
        saved = json.loads(self.slots_json or "[]")
        return tuple(
            SpeakerSlot(title, times.parse_iso_utc(start), end and times.parse_iso_utc(end))
            for title, start, end in saved
        )

    @property
    def panelist_status(self) -> str:
        """Where they stand at the provider, in the organiser's words: `panelist`, `waiting
        for the next sync`, `refused: why`, `no address`, `removed`, or `removed, still a
        panelist: why` while the provider has not taken the removal."""
        if self.is_removed:
            if self.panelist_id:
                return f"removed, still a panelist: {self.panelist_error or 'removed at the next sync'}"
            return "removed"
        if not self.email:
            return "no address"
        if self.panelist_id:
            return "panelist"
        if self.panelist_error:
            return f"refused: {self.panelist_error}"
        return "waiting for the next sync"


@dataclass(frozen=True)
class AttendanceCheck:
    """Where a webinar's attendance stands: known (since `known_at`, from `source`), or not
    yet, with how many tries were made, the last one's reason and when to try again."""

    webinar_id: int
    known_at: str | None = None
    source: str | None = None
    unmatched: int = 0
    tries: int = 0
    error: str | None = None
    retry_after: str | None = None

    @property
    def known(self) -> bool:
        return self.known_at is not None


@dataclass(frozen=True)
class AttendanceFigures:
    """A webinar's attendance in numbers: of the `expected` (approved registrants), how many
    `attended`, and their minutes (the sum and the mean of those whose minutes are known)."""

    expected: int
    attended: int
    minutes: int
    mean_minutes: float | None

    @property
    def absent(self) -> int:
        return self.expected - self.attended

    @property
    def rate(self) -> float | None:
        """The share of the expected who attended, 0 to 1, or None when nobody was expected."""
        return self.attended / self.expected if self.expected else None


@dataclass(frozen=True)
class WebinarRecord:
    """A stored webinar: its definition plus what the store and the provider added."""

    id: int
    slug: str
    revision: int
    definition: Definition
    provider: str
    provider_webinar_id: str | None
    provider_join_url: str | None
    registration_url: str | None
    provider_revision: int | None
    provider_error: str | None
    provider_retry_after: str | None
    calendar_uid: str
    source_path: str | None
    created_at: str
    updated_at: str
    cancelled_at: str | None = None
    cancel_message: str | None = None
    provider_cancelled_at: str | None = None

    @property
    def title(self) -> str:
        return self.definition.title

    @property
    def join_url(self) -> str | None:
        """The shared join link: the provider's, else the one the definition gives."""
        return self.provider_join_url or self.definition.provider.join_url

    def require_not_cancelled(self, doing: str) -> None:
        """Raise InputError when the webinar is cancelled: nobody may be `doing` for it."""
        if self.cancelled_at:
            raise InputError(
                f"The webinar {self.slug} was cancelled on {self.cancelled_at}: no more {doing}. "
                "Give a new date a new webinar (a new slug)."
            )

    @property
    def needs_publishing(self) -> bool:
        """True when the provider has not seen this revision of the webinar yet."""
        return self.provider_webinar_id is None or self.provider_revision != self.revision


@dataclass(frozen=True, slots=True, kw_only=True)
class Registrant:
    """A stored registrant: one row of the registrants table, a field per column, in the
    table's order; the columns that may be empty default to None.

    `id` is None only for a reader who is not stored, such as the sample person a preview
    shows when the webinar has no one yet (see `sample`): such a reader gets no personal links.
    """

    id: int | None
    webinar_id: int
    email: str
    first_name: str
    last_name: str | None = None
    organisation: str | None = None
    job_title: str | None = None
    country: str | None = None
    time_zone: str | None = None
    language: str | None = None
    status: str  # one of REGISTRANT_STATUSES
    source: str  # one of REGISTRANT_SOURCES
    provider_registrant_id: str | None = None
    provider_status: str | None = None
    join_url: str | None = field(default=None, repr=False)  # the personal join link: a secret
    sync_error: str | None = None
    sync_retry_after: str | None = None
    created_at: str
    updated_at: str
    approved_at: str | None = None
    unsubscribed_at: str | None = None
    provider_event_at: str | None = None  # the newest provider event applied (webhooks.py)
    pending_since: str | None = None  # while pending: since when their request has waited
    denied_at: str | None = None  # while denied: when their pending request was denied
    denial_message: str | None = None  # while denied: the organiser's words for them, if any
    waitlisted_at: str | None = None  # when they were last put on the waitlist
    waitlist_order: int | None = None  # their rank in the webinar's queue: lower goes first
    tracking_source: str | None = None  # where they came from, such as `newsletter` (validate.tracking_source)

    @classmethod
    def from_row(cls, row: dict) -> Registrant:
        """The registrant a row of the table holds; other columns a query added are left out."""
        return cls(**{name: row[name] for name in _REGISTRANT_COLUMNS})

    @classmethod
    def sample(cls, webinar_id: int, person: Person, stamp: str) -> Registrant:
        """A reader who is not stored, approved at `stamp`: for a preview of a webinar that has nobody."""
        return cls(
            id=None,
            webinar_id=webinar_id,
            **person.fields(),
            status="approved",
            source="cli",
            created_at=stamp,
            updated_at=stamp,
            approved_at=stamp,
        )

    @property
    def person(self) -> Person:
        """Who they are, as they were registered."""
        return Person(
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            organisation=self.organisation,
            job_title=self.job_title,
            country=self.country,
            time_zone=self.time_zone,
            language=self.language,
        )

    @property
    def is_active(self) -> bool:
        """Pending or approved: neither cancelled nor denied."""
        return self.status in ACTIVE_STATUSES

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def is_unsubscribed(self) -> bool:
        """They asked for no more reminders of this webinar."""
        return self.unsubscribed_at is not None

    @property
    def is_waitlisted(self) -> bool:
        """They wait for a seat: no join link, no reminders, not registered with the provider."""
        return self.status == "waitlisted"


_REGISTRANT_COLUMNS = tuple(column.name for column in fields(Registrant))


@dataclass(frozen=True, kw_only=True)
class NewRegistrant:
    """A registrant to add: a Person for a webinar, in a status, from a source; and, for
    someone the provider holds already (they signed up on its own page), what it said."""

    webinar_id: int
    person: Person
    status: str  # one of REGISTRANT_STATUSES
    source: str  # one of REGISTRANT_SOURCES
    provider_registrant_id: str | None = None
    provider_status: str | None = None
    join_url: str | None = field(default=None, repr=False)  # a secret
    provider_event_at: str | None = None
    tracking_source: str | None = None  # where they came from (validate.tracking_source)

    def row(self, stamp: str) -> dict[str, Any]:
        """The new row of the registrants table, added at `stamp` (and approved then, if approved)."""
        return {
            "webinar_id": self.webinar_id,
            **self.person.fields(),
            "status": self.status,
            "source": self.source,
            "provider_registrant_id": self.provider_registrant_id,
            "provider_status": self.provider_status,
            "join_url": self.join_url,
            "provider_event_at": self.provider_event_at,
            "tracking_source": self.tracking_source,
            "created_at": stamp,
            "updated_at": stamp,
            "approved_at": stamp if self.status == "approved" else None,
            "pending_since": stamp if self.status == "pending" else None,
            "waitlisted_at": None,  # set by the store's seat rule when there is no seat
            "waitlist_order": None,
        }


@dataclass(frozen=True)
class Seats:
    """A webinar's seats: its capacity (None: no limit), how many are taken (approved
    people), and how many people wait for one."""

    capacity: int | None
    taken: int
    waiting: int

    @property
    def free(self) -> int | None:
        """Seats nobody holds (never below zero), or None without a limit."""
        return None if self.capacity is None else max(0, self.capacity - self.taken)


@dataclass(frozen=True)
class SavedWebinar:
    """What `save_webinar` did: `created`, `updated` or `unchanged`, and the changes."""

    outcome: str
    record: WebinarRecord
    changes: tuple[str, ...] = ()


class StoreUnavailable(OperationError):
    """The database file cannot take a write now: it is read-only, the disk is full or
    failing, or another process has held it locked for longer than the busy timeout."""

    # SQLite's primary result codes that come from the file and its disk, not from our SQL.
    REASONS: ClassVar[dict[str, str]] = {
        "SQLITE_READONLY": "check that this user may write the file and the folder it is in",
        "SQLITE_CANTOPEN": "check that the file and its folder exist and this user may write them",
        "SQLITE_PERM": "check that this user may write the file and the folder it is in",
        "SQLITE_FULL": "the disk is full: free some space",
        "SQLITE_IOERR": "the disk reported an error: check that it has free space and is healthy",
        "SQLITE_BUSY": f"another process kept it locked; waiting up to {BUSY_TIMEOUT_SECONDS} seconds did not help",
        "SQLITE_LOCKED": f"another process kept it locked; waiting up to {BUSY_TIMEOUT_SECONDS} seconds did not help",
    }

    # The codes for which the modes and owners of the database's files may be the cause.
    ACCESS: ClassVar[set[str]] = {"SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM"}

    @classmethod
    def from_sqlite(cls, path: Path, exc: sqlite3.Error) -> StoreUnavailable | None:
        """The error worded for a person, or None when `exc` is not about the file. When a
        file or folder the database needs is not writable, the error names it and its fix."""
        name = getattr(exc, "sqlite_errorname", None) or ""
        primary = "_".join(name.split("_")[:2])  # SQLITE_READONLY_DBMOVED -> SQLITE_READONLY
        if primary not in cls.REASONS:
            return None
        problems = db_files.access_problems(path) if primary in cls.ACCESS else []
        fix = "; ".join(problems) or cls.REASONS[primary]
        return cls(f"Cannot write to the database {path}: {exc} ({fix}).")


class Store:
    """The database. Open with `Store.open(path)`; use as a context manager to close it."""

    def __init__(self, db: Database, path: Path):
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating if needed, mode 0600) and migrate the database at `path`.

        A -wal or -shm left unwritable by a reader of the database while it was read-only is
        put right first (see `db_files.mend_companions`). A database file this user may not
        write is opened read-only: reading works, and the first write says what to fix."""
        path = Path(path)
        try:
            _create_private_file(path)
            db_files.mend_companions(path)
            read_only = not db_files.may_write(path)
            if read_only:
                connection = db_files.connect_read_only(path, timeout=BUSY_TIMEOUT_SECONDS)
            else:
                connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS)
            db = Database(connection, execute_plugins=False)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
            if not read_only and db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.enable_wal()
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(db)
        except sqlite3.OperationalError as exc:
            worded = StoreUnavailable.from_sqlite(path, exc)
            raise worded or OperationError(f"Cannot open the database {validate.shown_path(path)}: {exc}") from exc
        except (sqlite3.DatabaseError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc  # strerror: without the path again
            raise OperationError(f"Cannot open the database {validate.shown_path(path)}: {why}") from exc
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """All-or-nothing writes. Takes the write lock at once (BEGIN IMMEDIATE), so a
        read-then-write inside cannot fail half way with SQLITE_BUSY under WAL.

        When the file cannot take the write (read-only, disk full, an I/O error, locked by
        another process for longer than the busy timeout), nothing is written and
        `StoreUnavailable` says why."""
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.commit()
            except BaseException:
                # Also after a failed COMMIT: the connection must not stay inside a
                # transaction that later writes would silently join.
                self.db.rollback()
                raise
        except sqlite3.OperationalError as exc:
            worded = StoreUnavailable.from_sqlite(self.path, exc)
            if worded is None:
                raise
            raise worded from exc

    # -- webinars ---------------------------------------------------------------------

    def save_webinar(self, definition: Definition, toml_text: str, provider: str, now: datetime) -> SavedWebinar:
        """Create the webinar or bring it up to date. The revision rises when the time or
        title changes, because those are what calendars and the provider must be told."""
        existing = self.find_webinar(definition.slug)
        row = {
            "slug": definition.slug,
            "title": definition.title,
            "start_at": times.iso_utc(definition.start),
            "end_at": times.iso_utc(definition.end),
            "time_zone": definition.time_zone,
            "definition_toml": toml_text,
            "definition_json": json.dumps(definition.to_dict(), ensure_ascii=False),
            "source_path": definition.source,
            "provider": provider,
            "registration_url": definition.provider.registration_url,
            "capacity": definition.registration.capacity,
            "updated_at": times.iso_utc(now),
        }
        if existing is not None and existing.cancelled_at:
            raise InputError(
                f"The webinar {definition.slug} was cancelled on {existing.cancelled_at}, and its registrants were "
                "told: it cannot be changed any more. Give the webinar a new slug to hold it again."
            )
        with self.transaction() as db:
            if existing is None:
                created = db["webinars"].insert(
                    {**row, "revision": 0, "created_at": row["updated_at"], "calendar_uid": _new_calendar_uid()}
                )
                self._keep_revision(created.last_pk, 0, row)
                self._save_speakers(created.last_pk, definition, now)
                return SavedWebinar("created", self.webinar(definition.slug))
            # Before the comparison: a speaker's new address or language is not a change of
            # the webinar, but their mail must use it.
            self._save_speakers(existing.id, definition, now)
            changes = describe_changes(existing.definition, definition)
            if existing.provider != provider:
                changes = (*changes, f"provider: {existing.provider} → {provider}")
            if not changes:
                return SavedWebinar("unchanged", existing)
            significant = is_significant(existing.definition, definition)
            # The registration table too: the provider's form asks the questions and closes, and
            # a capacity set or lifted changes the provider's approval (docs/zoom.md, "Capacity").
            # And [practice]: Zoom's `practice_session` follows it.
            republish = (
                significant
                or existing.definition.provider != definition.provider
                or existing.definition.registration != definition.registration
                or existing.definition.practice != definition.practice
            )
            revision = existing.revision + (1 if significant else 0)
            # An approval change, or one of how people register, concerns the provider but not
            # people's calendars: the next sync compares the provider's copy, and the revision stays.
            forced = {"provider_revision": None} if republish else {}
            db["webinars"].update(existing.id, {**row, "revision": revision, **forced})
            self._keep_revision(existing.id, revision, row)
            if existing.provider != provider:
                self._forget_provider(existing.id)
            self.fill_seats(existing.id, now)  # a higher capacity seats as many as now fit
        return SavedWebinar("updated", self.webinar(definition.slug), changes)

    def _keep_revision(self, webinar_id: int, revision: int, row: dict) -> None:
        fields = {key: row[key] for key in ("title", "start_at", "end_at", "time_zone")}
        self.db["webinar_revisions"].insert({"webinar_id": webinar_id, "revision": revision, **fields}, replace=True)

    def revision_of(self, webinar_id: int, revision: int) -> dict | None:
        """The title, start, end and zone that revision `revision` of the webinar had."""
        rows = list(self.db["webinar_revisions"].rows_where("webinar_id = ? AND revision = ?", [webinar_id, revision]))
        return rows[0] if rows else None

    def cancel_webinar(self, webinar: WebinarRecord, message: str | None, now: datetime) -> WebinarRecord:
        """Mark the webinar cancelled, with the organiser's message for its registrants. The
        revision rises (the invites' SEQUENCE), so calendars take the cancellation. Cancelling
        twice changes nothing."""
        if webinar.cancelled_at:
            return webinar
        stamp = times.iso_utc(now)
        with self.transaction() as db:
            cancelled = {"cancelled_at": stamp, "cancel_message": message, "updated_at": stamp}
            db["webinars"].update(webinar.id, {**cancelled, "revision": webinar.revision + 1})
            row = db["webinars"].get(webinar.id)
            self._keep_revision(webinar.id, webinar.revision + 1, row)
        return self.webinar(webinar.slug)

    def set_provider_cancelled(self, webinar: WebinarRecord, now: datetime) -> None:
        self.db["webinars"].update(webinar.id, {"provider_cancelled_at": times.iso_utc(now), "provider_error": None})

    def delete_webinar(self, webinar: WebinarRecord) -> dict[str, int]:
        """Remove the webinar and every row that belongs to it: its registrants, its revisions,
        and the rows of any other table that points at them (a foreign key to `registrants` or
        `webinars`, such as the outbox's deliveries). Runs in the caller's transaction, if any;
        returns how many rows went, by table."""
        removed: dict[str, int] = {}
        with self.transaction() as db:
            for table, column, parent in self._rows_belonging_to_webinars():
                where = "= ?" if parent == "webinars" else f"IN (SELECT id FROM [{parent}] WHERE webinar_id = ?)"
                count = db.execute(f"DELETE FROM [{table}] WHERE [{column}] {where}", [webinar.id]).rowcount
                removed[table] = removed.get(table, 0) + count
            for table in ("registrants", "speakers", "webinar_revisions"):
                removed[table] = db.execute(f"DELETE FROM {table} WHERE webinar_id = ?", [webinar.id]).rowcount
            removed["webinars"] = db.execute("DELETE FROM webinars WHERE id = ?", [webinar.id]).rowcount
        return {table: count for table, count in removed.items() if count}

    def _rows_belonging_to_webinars(self) -> list[tuple[str, str, str]]:
        """(table, column, parent) for every foreign key to a registrant, a speaker or a
        webinar, those to the webinar's people first (they go before the people do), besides
        the store's own three."""
        people = ("registrants", "speakers")
        found = [
            (table.name, key.column, key.other_table)
            for table in self.db.tables
            if table.name not in (*people, "webinar_revisions")
            for key in table.foreign_keys
            if key.other_table in (*people, "webinars") and key.other_column == "id"
        ]
        return sorted(found, key=lambda entry: entry[2] not in people)

    def find_webinar(self, slug: str) -> WebinarRecord | None:
        """The webinar called `slug`, or None."""
        rows = list(self.db["webinars"].rows_where("slug = ?", [slug]))
        return _webinar_record(rows[0]) if rows else None

    def webinar(self, slug: str) -> WebinarRecord:
        """The webinar called `slug`; NotFound says which ones exist."""
        record = self.find_webinar(slug)
        if record is None:
            known = ", ".join(r["slug"] for r in self.db.query("SELECT slug FROM webinars ORDER BY slug"))
            hint = f" Known webinars: {known}." if known else " Add one with `webinar-ops webinar add FILE`."
            raise NotFound(f"No webinar called {slug!r}.{hint}")
        return record

    def webinar_by_provider_id(self, provider: str, provider_webinar_id: str) -> WebinarRecord | None:
        """The webinar that `provider` holds as `provider_webinar_id`, or None."""
        sql = "SELECT id FROM webinars WHERE provider = ? AND provider_webinar_id = ?"
        row = self.db.execute(sql, [provider, provider_webinar_id]).fetchone()
        return self.webinar_by_id(row[0]) if row else None

    def revision(self, webinar_id: int) -> int:
        """The webinar's revision, read alone: cheap enough to ask before every message."""
        return self.db.execute("SELECT revision FROM webinars WHERE id = ?", [webinar_id]).fetchone()[0]

    def webinar_by_id(self, webinar_id: int) -> WebinarRecord:
        return _webinar_record(self.db["webinars"].get(webinar_id))

    def write(self, sql: str, params: Iterable[Any] | dict = ()) -> int:
        """Run one writing statement and commit it; returns the number of rows changed."""
        with self.transaction():
            return self.db.execute(sql, params).rowcount

    # -- suppressions ---------------------------------------------------------------------

    def suppress(self, email: str, reason: str, detail: str | None, source: str, now: datetime) -> Suppression:
        """Put `email` on the suppression list (or renew its entry): no mail goes to it."""
        row = {
            "email": email.casefold(),
            "reason": reason,
            "detail": detail,
            "source": source,
            "suppressed_at": times.iso_utc(now),
        }
        with self.transaction():
            self.db["suppressions"].upsert(row, pk="email")
        return Suppression(**row)

    def unsuppress(self, email: str) -> bool:
        """Take `email` off the suppression list; False when it was not on it."""
        return self.write("DELETE FROM suppressions WHERE email = ?", [email.casefold()]) > 0

    def suppression(self, email: str | None) -> Suppression | None:
        """The suppression list's entry for `email`, or None."""
        if not email:
            return None
        rows = list(self.db["suppressions"].rows_where("email = ?", [email.casefold()]))
        return Suppression(**rows[0]) if rows else None

    def suppressions(self) -> list[Suppression]:
        """The whole suppression list, latest first."""
        return [Suppression(**row) for row in self.db["suppressions"].rows_where(order_by="suppressed_at DESC, email")]

    def webinars(self) -> list[WebinarRecord]:
        """Every webinar, soonest first."""
        return [_webinar_record(row) for row in self.db["webinars"].rows_where(order_by="start_at, slug")]

    def republish(self, webinar: WebinarRecord) -> WebinarRecord:
        """Have the next sync compare the provider's copy of `webinar` with its definition,
        for when someone changed it on the provider's own site."""
        self.db["webinars"].update(webinar.id, {"provider_revision": None})
        return self.webinar(webinar.slug)

    def set_hosted(
        self, webinar: WebinarRecord, webinar_id: str, join_url: str | None, registration_url: str | None
    ) -> None:
        """Record that the provider holds `webinar` at its `revision`."""
        self.db["webinars"].update(
            webinar.id,
            {
                "provider_webinar_id": webinar_id,
                "provider_join_url": join_url,
                "registration_url": registration_url or webinar.definition.provider.registration_url,
                "provider_revision": webinar.revision,
                "provider_error": None,
                "provider_retry_after": None,
            },
        )

    def _forget_provider(self, webinar_id: int) -> None:
        """A webinar moved to another provider: its ids and links there mean nothing now,
        so everyone is registered afresh at the next sync."""
        self.db["webinars"].update(
            webinar_id, {"provider_webinar_id": None, "provider_join_url": None, "provider_revision": None}
        )
        self.db.execute(
            "UPDATE registrants SET provider_registrant_id = NULL, provider_status = NULL, join_url = NULL, "
            "sync_error = NULL, sync_retry_after = NULL WHERE webinar_id = ?",
            [webinar_id],
        )

    def set_provider_error(self, webinar: WebinarRecord, error: str | None, retry_after: str | None = None) -> None:
        self.db["webinars"].update(webinar.id, {"provider_error": error, "provider_retry_after": retry_after})

    # -- registrants ------------------------------------------------------------------

    def registrants(self, webinar_id: int, where: str = "1", params: Iterable[Any] = ()) -> list[Registrant]:
        """The webinar's registrants, by address; `where` narrows them."""
        sql = f"SELECT * FROM registrants WHERE webinar_id = ? AND ({where}) ORDER BY email"
        return self._registrants(sql, [webinar_id, *params])

    def _registrants(self, sql: str, params: Iterable[Any] | dict) -> list[Registrant]:
        """The registrants a `SELECT * FROM registrants` statement gives."""
        # A column that a migration adds must become a field of Registrant: until it does, this fails.
        return [Registrant(**row) for row in self.db.query(sql, params)]

    def registrant(self, webinar_id: int, email: str) -> Registrant | None:
        """The webinar's registrant of this address, or None."""
        rows = self.registrants(webinar_id, "email = ?", [email])
        return rows[0] if rows else None

    def registrant_counts(self, webinar_id: int) -> dict[str, int]:
        """How many registrants are in each status (every status present, zero or not)."""
        counts = dict.fromkeys(REGISTRANT_STATUSES, 0)
        sql = "SELECT status, count(*) AS n FROM registrants WHERE webinar_id = ? GROUP BY status"
        counts.update({row["status"]: row["n"] for row in self.db.query(sql, [webinar_id])})
        return counts

    def source_counts(self, webinar_id: int) -> list[dict[str, Any]]:
        """How many registrants (whatever their status) came from each tracking source, the
        most first; `source` None counts those who came with none."""
        sql = """SELECT tracking_source AS source, count(*) AS registrants FROM registrants
                 WHERE webinar_id = ? GROUP BY tracking_source ORDER BY registrants DESC, source"""
        return list(self.db.query(sql, [webinar_id]))

    def registration_stamps(self, webinar_id: int) -> list[tuple[str, int]]:
        """When the webinar's registrants (whatever their status) were registered: each
        `created_at` stamp with how many share it, oldest first (the report counts them per
        day on the event's clock)."""
        sql = """SELECT created_at, count(*) AS n FROM registrants WHERE webinar_id = ?
                 GROUP BY created_at ORDER BY created_at"""
        return [(row["created_at"], row["n"]) for row in self.db.query(sql, [webinar_id])]

    def category_counts(self, webinar_id: int, column: str) -> dict[str | None, int]:
        """How many registrants (whatever their status) give each value of `column`, one of
        COUNTED_COLUMNS (country, organisation, time_zone, language), the most first; None
        counts those who gave none."""
        if column not in COUNTED_COLUMNS:
            raise ValueError(f"registrants are not counted by {column!r}")
        sql = f"""SELECT nullif(trim({column}), '') AS value, count(*) AS n FROM registrants
                  WHERE webinar_id = ? GROUP BY 1 ORDER BY n DESC, value"""
        return {row["value"]: row["n"] for row in self.db.query(sql, [webinar_id])}

    def promoted_count(self, webinar_id: int) -> int:
        """How many of the webinar's approved registrants were seated from the waitlist
        (the seat rule keeps `waitlisted_at` when it seats someone)."""
        sql = """SELECT count(*) FROM registrants
                 WHERE webinar_id = ? AND status = 'approved' AND waitlisted_at IS NOT NULL"""
        return self.db.execute(sql, [webinar_id]).fetchone()[0]

    def sync_counts(self, webinar_id: int) -> dict[str, int]:
        """Active registrants by provider sync state: registered, waiting, failed."""
        sql = """
            SELECT sum(provider_registrant_id IS NOT NULL) AS registered,
                   sum(provider_registrant_id IS NULL AND sync_error IS NULL) AS waiting,
                   sum(provider_registrant_id IS NULL AND sync_error IS NOT NULL) AS failed
            FROM registrants WHERE webinar_id = ? AND status IN ('pending', 'approved')
        """
        row = next(iter(self.db.query(sql, [webinar_id])))
        return {key: value or 0 for key, value in row.items()}

    def add_registrants(self, new: Iterable[NewRegistrant], now: datetime) -> None:
        """Insert new registrants, with their answers (in the caller's transaction, if any).
        Under a capacity, the approved ones take the seats that are free, in the order given,
        once everyone already waiting has had theirs; the others join the end of the waitlist.
        The count and the insert are one write transaction, so no race seats more people than
        that."""
        stamp = times.iso_utc(now)
        new = list(new)  # read twice: for the rows and for their answers
        rows = [registrant.row(stamp) for registrant in new]
        answered = {
            (registrant.webinar_id, registrant.person.email): registrant.person.answer_values()
            for registrant in new
            if registrant.person.answers
        }
        with self.transaction():
            for webinar_id in {row["webinar_id"] for row in rows if row["status"] == "approved"}:
                self._seat_newcomers([row for row in rows if row["webinar_id"] == webinar_id], now)
            self.db["registrants"].insert_all(rows, batch_size=500)
            for (webinar_id, email), answers in answered.items():
                row = self.db.execute(
                    "SELECT id FROM registrants WHERE webinar_id = ? AND email = ?", [webinar_id, email]
                ).fetchone()
                self.save_answers(row[0], answers)

    def save_answers(self, registrant_id: int, answers: dict[str, str]) -> None:
        """Keep these answers of a registrant (by question id), replacing earlier answers to
        the same questions; the others stay (in the caller's transaction, if any)."""
        with self.transaction():
            self.db["registration_answers"].upsert_all(
                [{"registrant_id": registrant_id, "question": key, "value": value} for key, value in answers.items()],
                pk=("registrant_id", "question"),
            )

    def answers(self, registrant_id: int) -> dict[str, str]:
        """One registrant's answers, by question id."""
        return self.answers_of([registrant_id]).get(registrant_id, {})

    def answers_of(self, registrant_ids: list[int]) -> dict[int, dict[str, str]]:
        """The answers of these registrants, by registrant id and then question id; one who
        answered nothing is left out."""
        found: dict[int, dict[str, str]] = {}
        for start in range(0, len(registrant_ids), 500):  # SQLite's limit on bound parameters
            chunk = registrant_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT registrant_id, question, value FROM registration_answers WHERE registrant_id IN ({marks})"
            for registrant_id, question, value in self.db.execute(sql, chunk).fetchall():
                found.setdefault(registrant_id, {})[question] = value
        return found

    def webinar_answers(self, webinar_id: int) -> dict[int, dict[str, str]]:
        """The answers of every registrant of the webinar, by registrant id and question id."""
        sql = """SELECT a.registrant_id, a.question, a.value FROM registration_answers a
                 JOIN registrants r ON r.id = a.registrant_id WHERE r.webinar_id = ?"""
        found: dict[int, dict[str, str]] = {}
        for registrant_id, question, value in self.db.execute(sql, [webinar_id]).fetchall():
            found.setdefault(registrant_id, {})[question] = value
        return found

    def _seat_newcomers(self, rows: list[dict], now: datetime) -> None:
        """Waitlist, in place, the approved rows of one webinar past its free seats."""
        webinar_id = rows[0]["webinar_id"]
        capacity = self._capacity(webinar_id)
        if capacity is None:
            return
        self.fill_seats(webinar_id, now)
        free = max(0, capacity - self._taken(webinar_id))
        order = self._last_waitlist_order(webinar_id)
        for row in rows:
            if row["status"] != "approved":
                continue
            if free:
                free -= 1
                continue
            order += 1
            row.update(status="waitlisted", approved_at=None, waitlisted_at=times.iso_utc(now), waitlist_order=order)

    def unsubscribed_count(self, webinar_id: int) -> int:
        """How many of the webinar's active registrants unsubscribed from the reminders."""
        sql = "SELECT count(*) FROM registrants WHERE webinar_id = ? AND status IN ('pending', 'approved') "
        return self.db.execute(sql + "AND unsubscribed_at IS NOT NULL", [webinar_id]).fetchone()[0]

    def unregistered_count(self, webinar_id: int, now: datetime, deferred: bool = False) -> int:
        """How many of the webinar's active registrants the provider does not hold yet: those
        due to be registered at `now`, or (`deferred`) those waiting out a provider's limit."""
        when = "sync_retry_after > ?" if deferred else _DUE_FOR_REGISTRATION
        sql = f"SELECT count(*) FROM registrants WHERE {_UNREGISTERED} AND {when}"
        return self.db.execute(sql, [webinar_id, times.iso_utc(now)]).fetchone()[0]

    def due_for_registration(
        self, webinar_id: int, status: str, now: datetime, page_size: int
    ) -> Iterator[list[Registrant]]:
        """The webinar's registrants of `status` due to be registered with the provider at
        `now`, `page_size` at a time by address: a webinar of any size costs one page of memory."""
        sql = f"""SELECT * FROM registrants WHERE {_UNREGISTERED} AND {_DUE_FOR_REGISTRATION}
                  AND status = ? AND email > ? ORDER BY email LIMIT ?"""
        stamp, after = times.iso_utc(now), ""
        while page := self._registrants(sql, [webinar_id, stamp, status, after, page_size]):
            yield page
            after = page[-1].email

    def registrants_by_id(self, ids: list[int]) -> dict[int, Registrant]:
        """The registrants with these ids, by id."""
        marks = ", ".join("?" * len(ids))
        return {row.id: row for row in self._registrants(f"SELECT * FROM registrants WHERE id IN ({marks})", ids)}

    def registrant_by_id(self, registrant_id: int) -> Registrant | None:
        """The registrant with this id, or None."""
        rows = self._registrants("SELECT * FROM registrants WHERE id = ?", [registrant_id])
        return rows[0] if rows else None

    def unsubscribe(self, registrant_id: int, now: datetime) -> bool:
        """Stop the reminders for this registration; False when it had been done before."""
        stamp = times.iso_utc(now)
        return bool(
            self.write(
                "UPDATE registrants SET unsubscribed_at = ?, updated_at = ? WHERE id = ? AND unsubscribed_at IS NULL",
                [stamp, stamp, registrant_id],
            )
        )

    def update_registrant(self, registrant_id: int, changes: dict, now: datetime) -> None:
        """Change one registrant. A change of status records what the rules read: becoming
        approved, when (the reminder rules); becoming pending, since when their request waits;
        a pending request denied, when (the denial mail). Leaving pending or denied forgets
        what belonged to it.

        The seat rule holds here too, in the same write transaction: under a capacity,
        someone becoming approved who was not gets a seat only when one is free once the
        waitlist has been served, and joins the waitlist otherwise; someone leaving a seat
        (cancelled, denied) gives it to the first person waiting."""
        stamp = times.iso_utc(now)
        with self.transaction():
            before = self._seat_facts(registrant_id) if "status" in changes else None
            if before and changes["status"] == "approved" and before["status"] != "approved":
                changes = {**changes, **self._admission(before, now)}
            if "status" in changes:
                self.db.execute(_STATUS_STAMPS, {"id": registrant_id, "status": changes["status"], "now": stamp})
            self.db["registrants"].update(registrant_id, {**changes, "updated_at": stamp})
            if before and before["status"] == "approved" and changes["status"] != "approved":
                self.fill_seats(before["webinar_id"], now)

    # -- seats and the waitlist ------------------------------------------------------------
    # The seat rule: with `[registration] capacity = N`, at most N people are approved. An
    # approved newcomer beyond the free seats is waitlisted instead; each freed seat goes to
    # the first person waiting (lowest waitlist_order); nobody is seated while someone waits
    # before them. Every check and its change run in one BEGIN IMMEDIATE transaction, so
    # processes racing on one database can neither overfill the webinar nor skip anyone.
    # The one exception is `promote`: an organiser's choice to seat someone past capacity.

    def seats(self, webinar_id: int) -> Seats:
        """The webinar's capacity, the seats taken and the length of its waitlist."""
        counts = self.registrant_counts(webinar_id)
        return Seats(self._capacity(webinar_id), counts["approved"], counts["waitlisted"])

    def waitlist(self, webinar_id: int) -> list[Registrant]:
        """The webinar's waitlist, first in line first."""
        sql = "SELECT * FROM registrants WHERE webinar_id = ? AND status = 'waitlisted' ORDER BY waitlist_order, id"
        return self._registrants(sql, [webinar_id])

    def waitlist_place(self, registrant_id: int) -> int | None:
        """Their place in the queue (1: next to get a seat), or None when they are not on it."""
        sql = """
            SELECT count(*) FROM registrants o JOIN registrants r ON o.webinar_id = r.webinar_id
            WHERE r.id = ? AND r.status = 'waitlisted' AND o.status = 'waitlisted'
              AND (o.waitlist_order, o.id) <= (r.waitlist_order, r.id)
        """
        place = self.db.execute(sql, [registrant_id]).fetchone()[0]
        return place or None

    def waitlist_places(self, webinar_id: int) -> dict[int, int]:
        """Everyone's place in the webinar's queue (1: next to get a seat), by registrant id:
        one query for a whole waitlist, where `waitlist_place` is one per person."""
        sql = """
            SELECT id, row_number() OVER (ORDER BY waitlist_order, id) FROM registrants
            WHERE webinar_id = ? AND status = 'waitlisted'
        """
        return dict(self.db.execute(sql, [webinar_id]).fetchall())

    def fill_seats(self, webinar_id: int, now: datetime) -> list[int]:
        """Give every free seat to the first people waiting, in their order (everyone waiting,
        once the capacity is lifted); returns the ids of those promoted (in the caller's
        transaction, if any)."""
        with self.transaction():
            capacity = self._capacity(webinar_id)
            free = None if capacity is None else capacity - self._taken(webinar_id)
            if free is not None and free <= 0:
                return []
            sql = """SELECT id FROM registrants WHERE webinar_id = ? AND status = 'waitlisted'
                     ORDER BY waitlist_order, id LIMIT ?"""
            limit = -1 if free is None else free  # SQLite's LIMIT -1: every row
            ids = [row[0] for row in self.db.execute(sql, [webinar_id, limit]).fetchall()]
            self._seat(ids, now)
        return ids

    def promote(self, registrant_id: int, now: datetime) -> None:
        """Seat one waitlisted person now, out of turn and past the capacity if it is full:
        the organiser's choice (`registrants promote`). Refuses anyone not waitlisted."""
        with self.transaction():
            row = self.registrant_by_id(registrant_id)
            if row is None or not row.is_waitlisted:
                status = row.status if row else "not registered"
                raise InputError(f"Only someone on the waitlist can be promoted; this registration is {status}.")
            self._seat([registrant_id], now)

    def _seat(self, ids: list[int], now: datetime) -> None:
        if not ids:
            return
        stamp = times.iso_utc(now)
        self.db.execute(
            f"UPDATE registrants SET status = 'approved', approved_at = ?, updated_at = ? WHERE id IN ({_marks(ids)})",
            [stamp, stamp, *ids],
        )

    def _admission(self, before: dict, now: datetime) -> dict:
        """The changes that let one registrant in as approved, or waitlist them (keeping
        their place if they are waiting already) when no seat is free for them."""
        if before["capacity"] is None:
            return {}
        if before["status"] == "waitlisted":
            promoted = self.fill_seats(before["webinar_id"], now)
            return {} if before["id"] in promoted else {"status": "waitlisted"}
        self.fill_seats(before["webinar_id"], now)
        if self._taken(before["webinar_id"]) < before["capacity"]:
            return {}
        order = self._last_waitlist_order(before["webinar_id"]) + 1
        return {"status": "waitlisted", "waitlisted_at": times.iso_utc(now), "waitlist_order": order}

    def _seat_facts(self, registrant_id: int) -> dict | None:
        """What the seat rule needs of one registrant: their status, webinar and its capacity."""
        sql = """SELECT r.id, r.status, r.webinar_id, w.capacity FROM registrants r
                 JOIN webinars w ON w.id = r.webinar_id WHERE r.id = ?"""
        rows = list(self.db.query(sql, [registrant_id]))
        return rows[0] if rows else None

    def _capacity(self, webinar_id: int) -> int | None:
        row = self.db.execute("SELECT capacity FROM webinars WHERE id = ?", [webinar_id]).fetchone()
        return row[0] if row else None

    def _taken(self, webinar_id: int) -> int:
        sql = "SELECT count(*) FROM registrants WHERE webinar_id = ? AND status = 'approved'"
        return self.db.execute(sql, [webinar_id]).fetchone()[0]

    def _last_waitlist_order(self, webinar_id: int) -> int:
        sql = "SELECT coalesce(max(waitlist_order), 0) FROM registrants WHERE webinar_id = ?"
        return self.db.execute(sql, [webinar_id]).fetchone()[0]

    def decide(self, rows: Iterable[Registrant], status: str, now: datetime, message: str | None = None) -> None:
        """The organiser's decision on these registrants, all or none: `approved` or `denied`
        (with their words for the denial mail, if any). The provider is told by the sync
        (sync.push_decisions), which finds the decisions it does not hold yet."""
        if status not in ("approved", "denied"):
            raise ValueError(f"a decision approves or denies, not {status!r}")
        extra = {"denial_message": message} if status == "denied" else {}
        with self.transaction():
            for row in rows:
                self.update_registrant(row.id, {"status": status, **extra}, now)

    def pending_requests(self, webinar_id: int) -> tuple[int, str | None]:
        """How many of the webinar's registrants wait for the organiser's approval, and since
        when the oldest of them has waited (None when nobody waits)."""
        sql = "SELECT count(*), min(coalesce(pending_since, created_at)) FROM registrants WHERE webinar_id = ? "
        count, oldest = self.db.execute(sql + "AND status = 'pending'", [webinar_id]).fetchone()
        return count, oldest

    def decisions_to_send(
        self, webinar_id: int, status: str, now: datetime, page_size: int
    ) -> Iterator[list[Registrant]]:
        """The webinar's registrants `approved` or `denied` here whom the provider holds in
        another status and who may be tried at `now`, `page_size` at a time by address."""
        sql = """SELECT * FROM registrants WHERE webinar_id = ? AND status = ? AND provider_registrant_id IS NOT NULL
                 AND coalesce(provider_status, '') NOT IN (status, 'cancelled') AND
                 (sync_retry_after IS NULL OR sync_retry_after <= ?) AND email > ? ORDER BY email LIMIT ?"""
        stamp, after = times.iso_utc(now), ""
        while page := self._registrants(sql, [webinar_id, status, stamp, after, page_size]):
            yield page
            after = page[-1].email

    # -- speakers -----------------------------------------------------------------------

    def _save_speakers(self, webinar_id: int, definition: Definition, now: datetime) -> None:
        """Bring the webinar's speakers in line with the definition, in the caller's
        transaction: new people added, details kept up to date, a moved slot's revision
        raised, and people taken out of the programme marked removed (and back if they return)."""
        stamp = times.iso_utc(now)
        slots = {key: _slots_json(items) for key, items in speaker_slots(definition).items()}
        stored = {row.key: row for row in self.speakers(webinar_id, removed=True)}
        for person in definition.speakers():
            before = stored.pop(person.key, None)
            row = {**_speaker_fields(person), "slots_json": slots[person.key], "updated_at": stamp}
            if before is None:
                self.db["speakers"].insert({**row, "webinar_id": webinar_id, "created_at": stamp})
                continue
            moved = before.slots_json != row["slots_json"] or before.is_removed
            row |= {"removed_at": None, "slot_revision": before.slot_revision + (1 if moved else 0)}
            self.db["speakers"].update(before.id, row)
        for gone in stored.values():
            if not gone.is_removed:
                self.db["speakers"].update(gone.id, {"removed_at": stamp, "updated_at": stamp})

    def speakers(self, webinar_id: int, removed: bool = False) -> list[SpeakerRecord]:
        """The webinar's speakers and moderator in the programme's order (the moderator
        first); with `removed`, those taken out of it too."""
        where = "webinar_id = ?" + ("" if removed else " AND removed_at IS NULL")
        rows = self.db["speakers"].rows_where(where, [webinar_id], order_by="moderates DESC, id")
        return [SpeakerRecord.from_row(row) for row in rows]

    def speaker_by_id(self, speaker_id: int) -> SpeakerRecord | None:
        """The speaker with this id, or None."""
        rows = list(self.db["speakers"].rows_where("id = ?", [speaker_id]))
        return SpeakerRecord.from_row(rows[0]) if rows else None

    def set_panelist(self, speaker_id: int, panelist_id: str | None, join_url: str | None, now: datetime) -> None:
        """Record the speaker's standing at the provider: their panelist id and own join link
        (both None once the provider no longer holds them as a panelist)."""
        changes = {"panelist_id": panelist_id, "join_url": join_url, "panelist_error": None}
        self.db["speakers"].update(speaker_id, {**changes, "updated_at": times.iso_utc(now)})

    def set_panelist_error(self, speaker_id: int, error: str | None, now: datetime) -> None:
        """Record why the provider did not take the speaker as a panelist (None: no error)."""
        self.db["speakers"].update(speaker_id, {"panelist_error": error, "updated_at": times.iso_utc(now)})

    def registrant_addresses_that_speak(self, webinar_id: int) -> set[str]:
        """The addresses (in lower case) of the webinar's registrants who are also one of its
        speakers or its moderator, not taken out of the programme. They stay registrants (they
        signed up themselves), but as speakers they are invited as panelists, with a link of
        their own: the audience's mails are not for them (docs/definition.md, "Speakers")."""
        sql = """SELECT DISTINCT lower(r.email) AS email FROM registrants r
                 JOIN speakers s ON s.webinar_id = r.webinar_id AND lower(s.email) = lower(r.email)
                 WHERE r.webinar_id = ? AND s.removed_at IS NULL"""
        return {row["email"] for row in self.db.query(sql, [webinar_id])}

    # -- attendance ---------------------------------------------------------------------

    def attendance_candidates(self, webinar_id: int) -> list[Known]:
        """Every registrant of the webinar whom a source's joins may name, whatever their
        status (someone cancelled who came anyway still attended)."""
        sql = "SELECT id, email, provider_registrant_id FROM registrants WHERE webinar_id = ?"
        return [Known(**row) for row in self.db.query(sql, [webinar_id])]

    def record_attendance(
        self, webinar_id: int, present: Iterable[Presence], source: str, now: datetime, unmatched: int = 0
    ) -> None:
        """Record who attended, all or nothing: each of `present` attended, every other
        approved registrant did not. A later record replaces the earlier one entirely (a
        corrected export, a provider's fuller report)."""
        stamp = times.iso_utc(now)
        rows = [_presence_row(p, source, stamp) for p in present]
        with self.transaction() as db:
            db.execute(f"DELETE FROM attendance WHERE registrant_id IN ({_OF_WEBINAR})", [webinar_id])
            db["attendance"].insert_all(rows)
            db.execute(
                f"""INSERT INTO attendance (registrant_id, attended, source, recorded_at)
                    SELECT id, 0, ?, ? FROM registrants WHERE webinar_id = ? AND status = 'approved'
                    AND id NOT IN (SELECT registrant_id FROM attendance WHERE registrant_id IN ({_OF_WEBINAR}))""",
                [source, stamp, webinar_id, webinar_id],
            )
            check = {"webinar_id": webinar_id, "known_at": stamp, "source": source, "unmatched": unmatched}
            db["attendance_checks"].upsert({**check, "error": None, "retry_after": None}, pk="webinar_id")

    def attendance_not_ready(self, webinar_id: int, error: str, retry_after: datetime | None) -> AttendanceCheck:
        """Record a try that found no attendance yet, and when to try again."""
        with self.transaction() as db:
            tries = self.attendance_check(webinar_id).tries + 1
            later = times.iso_utc(retry_after) if retry_after else None
            row = {"webinar_id": webinar_id, "tries": tries, "error": error, "retry_after": later}
            db["attendance_checks"].upsert(row, pk="webinar_id")
        return self.attendance_check(webinar_id)

    def attendance_check(self, webinar_id: int) -> AttendanceCheck:
        """Where the webinar's attendance stands (not known and never tried, when no row)."""
        rows = list(self.db.query("SELECT * FROM attendance_checks WHERE webinar_id = ?", [webinar_id]))
        return AttendanceCheck(**rows[0]) if rows else AttendanceCheck(webinar_id)

    def attendance_of(self, webinar_id: int) -> dict[int, Presence]:
        """Each registrant's recorded attendance, by registrant id (empty until it is known)."""
        sql = f"SELECT * FROM attendance WHERE registrant_id IN ({_OF_WEBINAR})"
        return {row["registrant_id"]: _presence(row) for row in self.db.query(sql, [webinar_id])}

    def attended_minutes(self, webinar_id: int) -> list[int]:
        """The minutes of each registrant of the webinar who attended and whose minutes are
        known, fewest first (the report's histogram)."""
        sql = f"""SELECT minutes FROM attendance WHERE registrant_id IN ({_OF_WEBINAR})
                  AND attended = 1 AND minutes IS NOT NULL ORDER BY minutes"""
        return [row[0] for row in self.db.execute(sql, [webinar_id]).fetchall()]

    def attendance_figures(self, webinar_id: int) -> AttendanceFigures:
        """The webinar's attendance in numbers; the expected are its approved registrants and
        anyone else recorded as attending."""
        sql = """SELECT count(*) AS expected, coalesce(sum(a.attended), 0) AS attended,
                         coalesce(sum(CASE WHEN a.attended THEN a.minutes END), 0) AS minutes,
                         avg(CASE WHEN a.attended THEN a.minutes END) AS mean_minutes
                  FROM registrants r LEFT JOIN attendance a ON a.registrant_id = r.id
                  WHERE r.webinar_id = ? AND (r.status = 'approved' OR a.attended = 1)"""
        return AttendanceFigures(**next(iter(self.db.query(sql, [webinar_id]))))


_OF_WEBINAR = "SELECT id FROM registrants WHERE webinar_id = ?"


def _speaker_fields(person: SpeakerPerson) -> dict[str, Any]:
    fields = ("key", "email", "name", "role", "organisation", "time_zone", "language")
    return {**{name: getattr(person, name) for name in fields}, "moderates": int(person.moderates)}


def _slots_json(slots: tuple) -> str:
    return json.dumps([[s.title, times.iso_utc(s.start), s.end and times.iso_utc(s.end)] for s in slots])


def _presence_row(presence: Presence, source: str, stamp: str) -> dict[str, Any]:
    return {
        "registrant_id": presence.registrant_id,
        "attended": int(presence.attended),
        "joined_at": times.iso_utc(presence.joined_at) if presence.joined_at else None,
        "left_at": times.iso_utc(presence.left_at) if presence.left_at else None,
        "minutes": presence.minutes,
        "source": source,
        "recorded_at": stamp,
    }


def _presence(row: dict) -> Presence:
    return Presence(
        row["registrant_id"],
        attended=bool(row["attended"]),
        joined_at=times.parse_iso_utc(row["joined_at"]) if row["joined_at"] else None,
        left_at=times.parse_iso_utc(row["left_at"]) if row["left_at"] else None,
        minutes=row["minutes"],
    )


def _marks(values: list) -> str:
    return ", ".join("?" * len(values))


# What a change of status records (update_registrant); `status` is the one before the change.
_STATUS_STAMPS = """
    UPDATE registrants SET
        approved_at = CASE WHEN :status = 'approved' AND (status != 'approved' OR approved_at IS NULL)
                           THEN :now ELSE approved_at END,
        pending_since = CASE WHEN :status != 'pending' THEN NULL
                             WHEN status != 'pending' OR pending_since IS NULL THEN :now ELSE pending_since END,
        denied_at = CASE WHEN :status != 'denied' THEN NULL WHEN status = 'pending' THEN :now ELSE denied_at END,
        denial_message = CASE WHEN :status = 'denied' THEN denial_message END
    WHERE id = :id
"""


# Who is still to be registered with the provider, and which of them may be tried now (a
# provider's daily limit sets sync_retry_after).
_UNREGISTERED = "webinar_id = ? AND provider_registrant_id IS NULL AND status IN ('pending', 'approved')"
_DUE_FOR_REGISTRATION = "(sync_retry_after IS NULL OR sync_retry_after <= ?)"


def describe_changes(old: Definition, new: Definition) -> tuple[str, ...]:
    """Human lines for what differs between two versions of a definition."""
    before, after = _comparable(old), _comparable(new)
    lines = tuple(
        _change_line(key, before.get(key), after.get(key))
        for key in sorted(after.keys() | before.keys())
        if before.get(key) != after.get(key)
    )
    return lines + _speaker_changes(old, new)


def _speaker_changes(old: Definition, new: Definition) -> tuple[str, ...]:
    """A line for each speaker added, removed or given another part: their items as the
    event's clock shows them, so a webinar moved to another day, which moves everyone's slot
    alike, reads as its new start alone."""
    before, after = _shown_slots(old), _shown_slots(new)
    names = {p.key: p.name for p in (*old.speakers(), *new.speakers())}
    lines = []
    for key in (*before, *(k for k in after if k not in before)):
        if key not in after:
            lines.append(f"speaker {names[key]}: removed")
        elif key not in before:
            lines.append(f"speaker {names[key]}: added ({_short(after[key])})")
        elif before[key] != after[key]:
            lines.append(f"speaker {names[key]}: {_short(before[key])} → {_short(after[key])}")
    return tuple(lines)


def _shown_slots(definition: Definition) -> dict[str, str]:
    """{person key: `15:00–15:45 Presentation; ...`}: each speaker's items on the event's clock."""

    def clock(instant: datetime | None) -> str:
        return "" if instant is None else f"{definition.local(instant):%H:%M}"

    return {
        key: "; ".join(f"{clock(s.start)}{'–' + clock(s.end) if s.end else ''} {s.title}" for s in slots) or "no item"
        for key, slots in speaker_slots(definition).items()
    }


def _change_line(key: str, old: Any, new: Any) -> str:
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return f"{key}: changed ({_short(new)})"
    return f"{key}: {_short(old)} → {_short(new)}"


def is_significant(old: Definition, new: Definition) -> bool:
    """A change people's calendars and the provider must hear about: time or title."""
    return (old.start, old.end, old.time_zone, old.title) != (new.start, new.end, new.time_zone, new.title)


def _comparable(definition: Definition) -> dict[str, Any]:
    data = definition.to_dict()
    data.pop("source", None)
    # One line per key of [registration]: the questions, a list, read "changed (4 items)".
    for key, value in data.pop("registration").items():
        data[f"registration.{key}"] = value
    if definition.practice is not None:
        practice = definition.practice
        data["practice"] = (
            f"{definition.local(practice.start):%Y-%m-%d %H:%M} {definition.time_zone}, "
            f"{times.format_duration(practice.duration)}, reminder {times.format_duration(practice.reminder)} before"
        )
    local_start = definition.local(definition.start)
    data["start"] = f"{local_start:%Y-%m-%d %H:%M} {definition.time_zone}"
    data["end"] = f"{definition.local(definition.end):%Y-%m-%d %H:%M}"
    data["agenda"] = [
        {
            **shown,
            "start": _minutes_after_start(item.start, definition),
            "end": _minutes_after_start(item.end, definition),
        }
        for shown, item in zip(data["agenda"], definition.agenda, strict=True)
    ]
    return dict(sorted(data.items()))


def _minutes_after_start(instant: datetime | None, definition: Definition) -> int | None:
    """An agenda time as wall-clock minutes after the webinar's start. The agenda is written as
    times on the webinar's day, so a new date moves every item without changing the agenda."""
    if instant is None:
        return None
    wall = definition.local(instant).replace(tzinfo=None) - definition.local(definition.start).replace(tzinfo=None)
    return int(wall.total_seconds() // 60)


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "(changed)"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _webinar_record(row: dict) -> WebinarRecord:
    definition = parse_definition(row["definition_toml"], row["source_path"] or row["slug"], default_slug=row["slug"])
    return WebinarRecord(
        id=row["id"],
        slug=row["slug"],
        revision=row["revision"],
        definition=definition,
        provider=row["provider"],
        provider_webinar_id=row["provider_webinar_id"],
        provider_join_url=row["provider_join_url"],
        registration_url=row["registration_url"],
        provider_revision=row["provider_revision"],
        provider_error=row["provider_error"],
        provider_retry_after=row["provider_retry_after"],
        calendar_uid=row["calendar_uid"],
        source_path=row["source_path"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        cancelled_at=row.get("cancelled_at"),
        cancel_message=row.get("cancel_message"),
        provider_cancelled_at=row.get("provider_cancelled_at"),
    )


def _create_private_file(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite's -wal and -shm
    files copy the permissions of the main file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
