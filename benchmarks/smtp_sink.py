"""An SMTP sink for the benchmarks, run as its own process: accepts everything, keeps counts.

    python benchmarks/smtp_sink.py --port P --stats FILE [--reply-delay SECONDS]

It listens with aiosmtpd on 127.0.0.1:P, prints "ready" once it listens, and every 0.1 s
rewrites FILE (atomically) with a JSON object: messages accepted, bytes, and the wall-clock
times of the first and the last acceptance, and of each of the first 100. It stores no message, so that its own cost per
message stays small and the same for every sender measured against it. It exits on SIGTERM.

`--reply-delay` plays a relay far away: it waits that long before its reply to each RCPT
and to the end of each message's DATA. Those are the two replies a relay makes a sender wait
for beyond the network's round trip (it looks the recipient up, then scans and queues the
message), and the two a sender of one message after another cannot hide; 0.05 s is a round
trip across an ocean, or a nearby relay that checks what it is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

ARRIVALS_KEPT = 100


class Counter:
    """The aiosmtpd handler: counts the message, then accepts it."""

    def __init__(self, reply_delay: float = 0.0) -> None:
        self.reply_delay = reply_delay
        self.messages = 0
        self.bytes = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.arrivals: list[float] = []  # the first ARRIVALS_KEPT acceptance times

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        await self._delay()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        await self._delay()
        now = time.time()
        self.messages += len(envelope.rcpt_tos)
        self.bytes += len(envelope.content)
        self.first_at = self.first_at or now
        self.last_at = now
        if len(self.arrivals) < ARRIVALS_KEPT:
            self.arrivals.append(now)
        return "250 OK"

    async def _delay(self) -> None:
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)

    def snapshot(self) -> dict:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "arrivals": self.arrivals,
        }


def write_stats(path: Path, stats: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(stats))
    os.replace(temporary, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--reply-delay", type=float, default=0.0, metavar="SECONDS", help="wait before each reply")
    args = parser.parse_args()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    counter = Counter(args.reply_delay)
    controller = Controller(counter, hostname="127.0.0.1", port=args.port, ready_timeout=30)
    controller.start()
    print("ready", flush=True)
    try:
        while not stopping.wait(0.1):
            write_stats(args.stats, counter.snapshot())
    finally:
        controller.stop()
        write_stats(args.stats, counter.snapshot())
    return 0


if __name__ == "__main__":
    sys.exit(main())
