"""A standalone SMTP sink for the service tests, run as its own process.

    python tests/sink.py --port P --db FILE

listens with aiosmtpd on 127.0.0.1:P and records every accepted message in the SQLite file
FILE: one row per recipient with the Message-ID, the subject and the arrival time (epoch
seconds, taken when the whole message has been received). Each row is committed before the
sink answers 250, so a message the client saw accepted is always on record (and a message
on record may still be unknown to a client that was killed before it read the answer).

It prints "ready" on standard output once it listens, and exits 0 on SIGTERM or SIGINT.
With `--delay S` it waits S seconds after recording each message before answering 250, like
a slow server: a test can then be sure that a message is in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import sys
import threading
import time
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.controller import Controller

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    message_id TEXT,
    subject TEXT,
    arrived_at REAL NOT NULL,
    size INTEGER NOT NULL
)
"""


def open_db(path: Path) -> sqlite3.Connection:
    """The sink's database, in WAL mode so that a test can read it while the sink writes."""
    db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute(SCHEMA)
    return db


class Recorder:
    """The aiosmtpd handler: records each message, then accepts it."""

    def __init__(self, db: sqlite3.Connection, delay: float = 0.0):
        self.db = db
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        arrived = time.time()
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        headers = BytesHeaderParser(policy=default_policy).parsebytes(content)
        message_id = str(headers["Message-ID"]).strip() if headers["Message-ID"] is not None else None
        subject = str(headers["Subject"]) if headers["Subject"] is not None else None
        rows = [(rcpt, message_id, subject, arrived, len(content)) for rcpt in envelope.rcpt_tos]
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO messages (recipient, message_id, subject, arrived_at, size) VALUES (?, ?, ?, ?, ?)", rows
            )
            self.db.execute("COMMIT")
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each 250")
    args = parser.parse_args()

    db = open_db(args.db)
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    controller = Controller(Recorder(db, args.delay), hostname=args.host, port=args.port, ready_timeout=30)
    controller.start()
    print("ready", flush=True)
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        controller.stop()
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
