"""The maildir transport as a plugin: built from its settings, checked by `doctor`."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from webinar_ops.transports import TransportConfigError, TransportPlugin
from webinar_ops.transports.maildir.settings import MaildirSettings
from webinar_ops.transports.maildir.transport import MaildirTransport

if TYPE_CHECKING:
    from webinar_ops.config import Settings


class MaildirPlugin(TransportPlugin):
    """Writes the mails into the Maildir at MAIL_OUTBOX_DIR."""

    name = "maildir"
    settings = MaildirSettings

    def create(self, settings: Settings) -> MaildirTransport:
        """The Maildir transport writing to `MAIL_OUTBOX_DIR`."""
        return MaildirTransport(settings.of(MaildirSettings).outbox_dir)

    def doctor_checks(self, settings: Settings) -> list[Callable[[], str]]:
        """The Maildir can be written, and only its owner can read it."""
        return [lambda: check_folder(Path(settings.of(MaildirSettings).outbox_dir))]

    def reading_hint(self, settings: Settings) -> str:
        """The Maildir's new mail, and a client that opens it."""
        folder = settings.of(MaildirSettings).outbox_dir
        return f"The mails are in the Maildir {folder}/new: open it with `mutt -f {folder}`."


def check_folder(folder: Path) -> str:
    """For `doctor`: what it found about the Maildir; TransportConfigError when it cannot be
    written, or others can read it."""
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
