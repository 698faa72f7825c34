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
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from webinar_ops.transports import TemporaryFailure, TransportConfigError

if TYPE_CHECKING:
    from webinar_ops.config import Settings

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


def create_transport(settings: Settings) -> MaildirTransport:
    """The Maildir transport writing to `MAIL_OUTBOX_DIR`."""
    return MaildirTransport(settings.mail_outbox_dir)


def check_access(settings: Settings) -> str:
    """For `doctor`: the Maildir can be written, and only its owner can read it."""
    folder = Path(settings.mail_outbox_dir)
    existing = next((f for f in (folder, *folder.parents) if f.exists()), Path("."))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TransportConfigError(f"{existing} is not writable: the Maildir {folder} cannot be written")
    if existing != folder:
        return f"{folder} will be created at the first send"
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        raise TransportConfigError(
            f"the Maildir {folder} is readable by others (mode {mode:o}): run `chmod 700 {folder}`"
        )
    return f"{folder}, writable, readable by its owner only"
