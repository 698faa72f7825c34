"""The `local` provider: the embedded default, offline, with no account.

It keeps its webinars and registrations in its own tables of the webinar-ops database and
issues Zoom-style personal join links on `WEBINAR_OPS_BASE_URL`: `/j/TOKEN` (the page is
plugin.py's), where the
token is signed with `WEBINAR_OPS_SECRET_KEY`. The token depends only on the webinar and the
address, so a person who registers again gets the same link, and nobody can guess another
person's link.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Sequence

from sqlite_utils import Migrations

from webinar_ops import times, tokens
from webinar_ops.definition import Definition
from webinar_ops.people import Person
from webinar_ops.providers import HeldRegistrant, HostedWebinar, Registration, RemoteRegistrant
from webinar_ops.store import Store

migrations = Migrations("local_provider")
LISTING_PAGE = 300  # as Zoom's largest page
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

    def __init__(self, store: Store, base_url: str, secret_key: str):
        self.db = store.db
        self.base_url = base_url.rstrip("/")
        self._secret_key = secret_key
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

    def delete_webinar(self, webinar_id: str) -> None:
        # In the caller's transaction (the store's connection): `webinar delete` is all or nothing.
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
             w.cancelled_at FROM local_registrants r
             JOIN local_webinars w ON w.id = r.webinar_id WHERE r.join_token = ?"""
    rows = list(store.db.query(sql, [token]))
    return rows[0] if rows else None


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
