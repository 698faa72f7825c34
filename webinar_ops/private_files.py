"""Files that hold a personal join link or a secret are readable by their owner only.

The database, `.env` and the Maildir make their own files this way; this is for the other
files webinar-ops writes on request, such as `preview --eml` and `--html` and the demo's
preview, which show one person's mail with their personal join link.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path | str, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path`, readable and writable by its owner only, whatever
    the umask; a file that was there already is tightened before the data goes in."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(descriptor, 0o600)
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
