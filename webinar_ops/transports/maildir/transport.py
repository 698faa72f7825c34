"""The `maildir` transport: the embedded default. Writes each message into a Maildir.

Any mail client opens it (`mutt -f data/outbox`). Each message is written to `tmp/` and then
renamed into `new/`, so a reader never sees half a message and a crash leaves no partial
file behind. Folders are created readable by their owner only: the mails hold personal
join links.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from webinar_ops.transports import TemporaryFailure, TransportConfigError

_counter = itertools.count()


class MaildirTransport:
    """Delivers into the Maildir at `folder`."""

    name = "maildir"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def __enter__(self) -> MaildirTransport:
        try:
            for sub in ("", "tmp", "new", "cur"):
                (self.folder / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportConfigError(f"cannot create the Maildir {self.folder}: {exc.strerror}") from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def send(self, sender: str, recipient: str, message: bytes, while_waiting: Callable | None = None) -> None:
        # A Maildir has no wait to fill: `while_waiting` is not called.
        name = f"{time.time_ns()}.P{os.getpid()}Q{next(_counter)}.{socket.gethostname()}"
        temporary, final = self.folder / "tmp" / name, self.folder / "new" / name
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                # Maildir files use the local line ending; SMTP's CRLF is for the wire.
                handle.write(message.replace(b"\r\n", b"\n"))
            os.rename(temporary, final)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise TemporaryFailure(f"cannot write to the Maildir {self.folder}: {exc.strerror}") from exc
