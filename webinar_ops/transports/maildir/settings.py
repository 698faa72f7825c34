"""The maildir transport's settings: where the Maildir is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from webinar_ops.envkeys import KeyTable, PluginSettings


@dataclass(frozen=True)
class MaildirSettings(PluginSettings):
    """MAIL_OUTBOX_DIR: the Maildir folder the mails are written to."""

    KEYS: ClassVar[KeyTable] = {"MAIL_OUTBOX_DIR": ("outbox_dir", Path)}

    outbox_dir: Path = Path("data/outbox")
