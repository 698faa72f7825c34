"""The `local` provider: the embedded default, offline, with no account.

It keeps its webinars and registrations in its own tables of the webinar-ops database and
issues Zoom-style personal join links on `WEBINAR_OPS_BASE_URL`: `/j/TOKEN` (the page is
plugin.py's), where the
token is signed with `WEBINAR_OPS_SECRET_KEY`. The token depends only on the webinar and the
address, so a person who registers again gets the same link, and nobody can guess another
person's link.

Its join page records when each person opens their link (`local_join_opens`): the first and
the last opening, how many, and the first opening inside the attendance window, which is what
`attendance` reports once the webinar has ended: the page cannot know when anyone left.

Panelists (the speakers) are kept in a table of their own (`local_panelists`), never among the
registrants: each has a join link of their own on the same `/j/TOKEN` pages, signed for another
purpose than a registrant's, so that it is never a registrant's link. Their page says they join
as a panelist; their openings are not attendance.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from sqlite_utils import Migrations

from webinar_ops import times, tokens
from webinar_ops.attendance import Join
from webinar_ops.definition import Definition
from webinar_ops.people import Person
from webinar_ops.providers import (
    AttendanceNotReady,
    HeldRegistrant,
    HostedWebinar,
    NewPanelist,
    Panelist,
    PanelistResult,
    Registration,
    RemoteRegistrant,
)
from webinar_ops.store import Store

migrations = Migrations("local_provider")
LISTING_PAGE = 300  # as Zoom's largest page
# An opening counts as attendance from this long before the start to the end: someone who
# opens the page a little early to be on time came; a test of the link a week early did not.
ARRIVAL_LEAD = timedelta(minutes=30)
_JOIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # URL-safe base64, as tokens.sign writes it


@migrations()
def m001_local_tables(db) -> None:
    db["local_webinars"].create(
        {"id": str, "topic": str, "start_at": str, "duration_minutes": int, "approval": str, "updated_at": str},
        pk="id",
    )
    db["local_registrants"].create(
        {
            "webinar_id": str,
            "email": str,
            "registrant_id": str,
            "first_name": str,
            "last_name": str,
            "status": str,
            "join_url": str,
            "created_at": str,
        },
        pk=("webinar_id", "email"),
        foreign_keys=[("webinar_id", "local_webinars", "id")],
    )


@migrations()
def m002_webinar_cancellation(db) -> None:
    db["local_webinars"].add_column("cancelled_at", str)


@migrations()
def m003_join_tokens(db) -> None:
    """Each join link's token in a column of its own, indexed: a `/j/` request finds its
    registration by one lookup instead of a scan of every link."""
    db["local_registrants"].add_column("join_token", str)
    for row in db.query("SELECT webinar_id, email, join_url FROM local_registrants"):
        token = _token_of(row["join_url"])
        db.execute(
            "UPDATE local_registrants SET join_token = ? WHERE webinar_id = ? AND email = ?",
            [token, row["webinar_id"], row["email"]],
        )
    db["local_registrants"].create_index(["join_token"])


@migrations()
def m004_answers(db) -> None:
    """Each registrant's answers to the registration questions, as JSON by question id."""
    db["local_registrants"].add_column("answers", str)


@migrations()
def m005_join_opens(db) -> None:
    """Each registration's openings of its join page: the first and the last, how many, and
    the first inside the attendance window (judged against the webinar's time when it
    happened; `attendance` judges it again against the time the webinar has at the end)."""
    db["local_join_opens"].create(
        {
            "webinar_id": str,
            "email": str,
            "first_opened_at": str,
            "last_opened_at": str,
            "opens": int,
            "first_in_window_at": str,
        },
        pk=("webinar_id", "email"),
        not_null={"first_opened_at", "last_opened_at", "opens"},
        foreign_keys=[("webinar_id", "local_webinars", "id")],
    )


@migrations()
def m006_panelists(db) -> None:
    """The webinars' panelists, apart from the registrants: one row per webinar and address
    (in lower case), with the panelist's own join link and its token, indexed for `/j/`."""
    db["local_panelists"].create(
        {
            "webinar_id": str,
            "email": str,
            "panelist_id": str,
            "name": str,
            "join_url": str,
            "join_token": str,
            "created_at": str,
        },
        pk=("webinar_id", "email"),
        not_null={"panelist_id", "join_url", "join_token"},
        foreign_keys=[("webinar_id", "local_webinars", "id")],
    )
    db["local_panelists"].create_index(["join_token"], unique=True)


def _token_of(join_url: str | None) -> str | None:
    prefix, _, token = (join_url or "").rpartition("/j/")
    return token if prefix else None


def bring_tables_up_to_date(db) -> None:
    """Create or migrate the provider's own tables, once they exist or are needed; a
    database they are up to date in is only read."""
    if migrations.pending(db):
        migrations.apply(db)


class LocalProvider:
    """Hosts webinars inside webinar-ops itself."""

    name = "local"
    batch_size = 100

    def __init__(
        self, store: Store, base_url: str, secret_key: str, clock: Callable[[], datetime] = times.utc_now
    ) -> None:
        self.db = store.db
        self.base_url = base_url.rstrip("/")
        self._secret_key = secret_key
        self._clock = clock
        bring_tables_up_to_date(self.db)

    def publish(self, definition: Definition, webinar_id: str | None) -> HostedWebinar:
        webinar_id = webinar_id or self._new_webinar_id()
        self.db["local_webinars"].upsert(
            {
                "id": webinar_id,
                "topic": definition.title,
                "start_at": times.iso_utc(definition.start),
                "duration_minutes": int(definition.duration.total_seconds() // 60),
                "approval": definition.provider.approval,
                "updated_at": times.iso_utc(times.utc_now()),
            },
            pk="id",
        )
        return HostedWebinar(
            webinar_id=webinar_id,
            join_url=f"{self.base_url}/w/{webinar_id}",
            registration_url=f"{self.base_url}/r/{webinar_id}",
        )

    def register(self, webinar_id: str, people: Sequence[Person], approve: bool) -> list[Registration]:
        results = []
        with self.db.atomic():
            for person in people:
                results.append(self._register_one(webinar_id, person, approve))
        return results

    def _register_one(self, webinar_id: str, person: Person, approve: bool) -> Registration:
        if not self.db["local_webinars"].count_where("id = ?", [webinar_id]):
            return Registration(person.email, error=f"webinar {webinar_id} does not exist at the local provider")
        existing = list(
            self.db["local_registrants"].rows_where("webinar_id = ? AND email = ?", [webinar_id, person.email])
        )
        if existing and existing[0]["status"] != "cancelled":
            return _registration(existing[0])
        token = tokens.sign(self._secret_key, "join", webinar_id, person.email)
        row = {
            "webinar_id": webinar_id,
            "email": person.email,
            "registrant_id": tokens.sign(self._secret_key, "registrant", webinar_id, person.email)[:16],
            "first_name": person.first_name,
            "last_name": person.last_name,
            "status": "approved" if approve else "pending",
            "join_url": f"{self.base_url}/j/{token}",
            "join_token": token,
            "answers": json.dumps(person.answer_values(), ensure_ascii=False) if person.answers else None,
            "created_at": times.iso_utc(times.utc_now()),
        }
        self.db["local_registrants"].upsert(row, pk=("webinar_id", "email"))
        return _registration(row)

    def registrants(self, webinar_id: str) -> Iterator[RemoteRegistrant]:
        # A page at a time, like Zoom's listing: no cursor stays open while the caller writes.
        after = ""
        while page := list(
            self.db["local_registrants"].rows_where(
                "webinar_id = ? AND email > ?", [webinar_id, after], order_by="email", limit=LISTING_PAGE
            )
        ):
            after = page[-1]["email"]
            yield from (_remote(row) for row in page)

    def cancel_webinar(self, webinar_id: str) -> None:
        self.db.execute(
            "UPDATE local_webinars SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL",
            [times.iso_utc(times.utc_now()), webinar_id],
        )
        self.db.conn.commit()

    def attendance(self, webinar_id: str) -> list[Join]:
        """One Join per person who opened their join link within the attendance window (from
        ARRIVAL_LEAD before the start to the end), joined at their first opening in it; when
        they left is not known. Raises AttendanceNotReady until the webinar has ended."""
        rows = list(self.db.query("SELECT start_at, duration_minutes FROM local_webinars WHERE id = ?", [webinar_id]))
        if not rows:
            raise AttendanceNotReady(f"webinar {webinar_id} does not exist at the local provider")
        opens_from, ends = _window(rows[0])
        if self._clock() < ends:
            raise AttendanceNotReady("the webinar has not ended yet", retry_after=ends)
        sql = """SELECT o.email, r.registrant_id, o.first_in_window_at FROM local_join_opens o
                 LEFT JOIN local_registrants r ON r.webinar_id = o.webinar_id AND r.email = o.email
                 WHERE o.webinar_id = ? AND o.first_in_window_at BETWEEN ? AND ? ORDER BY o.email"""
        found = self.db.query(sql, [webinar_id, times.iso_utc(opens_from), times.iso_utc(ends)])
        return [
            Join(row["email"], row["registrant_id"], times.parse_iso_utc(row["first_in_window_at"])) for row in found
        ]

    # -- panelists ---------------------------------------------------------------------------

    def add_panelists(self, webinar_id: str, speakers: Sequence[NewPanelist]) -> list[PanelistResult]:
        """Make each speaker a panelist, in one transaction; one already a panelist keeps their
        link (a new name is taken). The link is signed for the webinar and the address, like a
        registrant's but for another purpose, so it is theirs alone and never a registrant's."""
        with self.db.atomic():
            return [self._add_panelist(webinar_id, speaker) for speaker in speakers]

    def _add_panelist(self, webinar_id: str, speaker: NewPanelist) -> PanelistResult:
        if not self.db["local_webinars"].count_where("id = ?", [webinar_id]):
            return PanelistResult(speaker.email, error=f"webinar {webinar_id} does not exist at the local provider")
        email = speaker.email.lower()
        token = tokens.sign(self._secret_key, "panelist join", webinar_id, email)
        row = {
            "webinar_id": webinar_id,
            "email": email,
            "panelist_id": tokens.sign(self._secret_key, "panelist", webinar_id, email)[:16],
            "name": speaker.name,
            "join_url": f"{self.base_url}/j/{token}",
            "join_token": token,
            "created_at": times.iso_utc(self._clock()),
        }
        self.db.execute(
            """INSERT INTO local_panelists (webinar_id, email, panelist_id, name, join_url, join_token, created_at)
               VALUES (:webinar_id, :email, :panelist_id, :name, :join_url, :join_token, :created_at)
               ON CONFLICT (webinar_id, email) DO UPDATE SET name = excluded.name""",
            row,
        )
        held = self.db.execute(
            "SELECT panelist_id, join_url FROM local_panelists WHERE webinar_id = ? AND email = ?", [webinar_id, email]
        ).fetchone()
        return PanelistResult(speaker.email, held[0], held[1])

    def panelists(self, webinar_id: str) -> list[Panelist]:
        """The webinar's panelists, in the order they were added."""
        rows = self.db.query(
            "SELECT * FROM local_panelists WHERE webinar_id = ? ORDER BY created_at, email", [webinar_id]
        )
        return [Panelist(row["panelist_id"], row["email"], row["name"], row["join_url"]) for row in rows]

    def remove_panelist(self, webinar_id: str, panelist_id: str, email: str) -> None:
        """Remove the panelist (by id, else by address): their link then opens nothing."""
        column, value = ("panelist_id", panelist_id) if panelist_id else ("email", email.lower())
        self.db.execute(f"DELETE FROM local_panelists WHERE webinar_id = ? AND {column} = ?", [webinar_id, value])
        self.db.conn.commit()

    def delete_webinar(self, webinar_id: str) -> None:
        # In the caller's transaction (the store's connection): `webinar delete` is all or nothing.
        self.db.execute("DELETE FROM local_panelists WHERE webinar_id = ?", [webinar_id])
        self.db.execute("DELETE FROM local_join_opens WHERE webinar_id = ?", [webinar_id])
        self.db.execute("DELETE FROM local_registrants WHERE webinar_id = ?", [webinar_id])
        self.db.execute("DELETE FROM local_webinars WHERE id = ?", [webinar_id])

    def cancel(self, webinar_id: str, registrant_id: str, email: str) -> None:
        self.db.execute(
            "UPDATE local_registrants SET status = 'cancelled' WHERE webinar_id = ? AND registrant_id = ?",
            [webinar_id, registrant_id],
        )
        self.db.conn.commit()

    def decide(self, webinar_id: str, people: Sequence[HeldRegistrant], approved: bool) -> list[Registration]:
        """Record the organiser's decisions in the provider's own table, all in one transaction;
        someone it does not hold, or whose registration was cancelled, fails alone."""
        status = "approved" if approved else "denied"
        with self.db.atomic():
            return [self._decide_one(webinar_id, person, status) for person in people]

    def _decide_one(self, webinar_id: str, person: HeldRegistrant, status: str) -> Registration:
        sql = "UPDATE local_registrants SET status = ? WHERE webinar_id = ? AND registrant_id = ? AND status != ?"
        changed = self.db.execute(sql, [status, webinar_id, person.registrant_id, "cancelled"]).rowcount
        if not changed:
            why = f"the local provider holds no registration {person.registrant_id} that is not cancelled"
            return Registration(person.email, person.registrant_id, error=why)
        return Registration(person.email, person.registrant_id, status)

    def _new_webinar_id(self) -> str:
        # Zoom webinar ids are 11 digits; looking alike keeps every provider's ids in one shape.
        return str(10_000_000_000 + secrets.randbelow(90_000_000_000))


def registration_by_join_token(store: Store, token: str) -> dict | None:
    """The registration (email, first_name, join_url, status, registrant_id, webinar_id, and
    the webinar's topic and cancelled_at) whose join link ends in `/j/TOKEN`, or None."""
    if not _JOIN_TOKEN.fullmatch(token):  # str.isalnum would take any script's letters and digits
        return None
    if "local_registrants" not in store.db.table_names():
        return None
    bring_tables_up_to_date(store.db)  # a database written before the tokens had a column
    sql = """SELECT r.email, r.first_name, r.join_url, r.status, r.registrant_id, r.webinar_id, w.topic,
             w.cancelled_at, w.start_at, w.duration_minutes FROM local_registrants r
             JOIN local_webinars w ON w.id = r.webinar_id WHERE r.join_token = ?"""
    rows = list(store.db.query(sql, [token]))
    return rows[0] if rows else None


def panelist_by_join_token(store: Store, token: str) -> dict | None:
    """The panelist (email, name, webinar_id, and the webinar's topic and cancelled_at) whose
    join link ends in `/j/TOKEN`, or None."""
    if not _JOIN_TOKEN.fullmatch(token) or "local_panelists" not in store.db.table_names():
        return None
    sql = """SELECT p.email, p.name, p.webinar_id, w.topic, w.cancelled_at FROM local_panelists p
             JOIN local_webinars w ON w.id = p.webinar_id WHERE p.join_token = ?"""
    rows = list(store.db.query(sql, [token]))
    return rows[0] if rows else None


def record_opening(store: Store, found: dict, at: datetime) -> None:
    """Record that the registration `found` (as `registration_by_join_token` gives it) opened
    its join page at `at`. One statement, so that two openings at once both count; raises
    StoreUnavailable when the database cannot take the write."""
    stamp = times.iso_utc(at)
    opens_from, ends = _window(found)
    in_window = stamp if opens_from <= at <= ends else None
    with store.transaction() as db:
        db.execute(
            """INSERT INTO local_join_opens
                 (webinar_id, email, first_opened_at, last_opened_at, opens, first_in_window_at)
               VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (webinar_id, email) DO UPDATE SET
                 first_opened_at = min(first_opened_at, excluded.first_opened_at),
                 last_opened_at = max(last_opened_at, excluded.last_opened_at),
                 opens = opens + 1,
                 first_in_window_at = coalesce(min(first_in_window_at, excluded.first_in_window_at),
                                               first_in_window_at, excluded.first_in_window_at)""",
            [found["webinar_id"], found["email"], stamp, stamp, in_window],
        )


def _window(webinar: dict) -> tuple[datetime, datetime]:
    """When an opening of the webinar's join links counts as attendance: from ARRIVAL_LEAD
    before its start to its end."""
    start = times.parse_iso_utc(webinar["start_at"])
    return start - ARRIVAL_LEAD, start + timedelta(minutes=webinar["duration_minutes"])


def _remote(row: dict) -> RemoteRegistrant:
    return RemoteRegistrant(
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        status=row["status"],
        registrant_id=row["registrant_id"],
        join_url=row["join_url"],
        answers=json.loads(row.get("answers") or "{}"),
    )


def _registration(row: dict) -> Registration:
    return Registration(
        email=row["email"], registrant_id=row["registrant_id"], status=row["status"], join_url=row["join_url"]
    )
