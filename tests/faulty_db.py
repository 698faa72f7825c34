"""Run the `webinar-ops` command line on a database that fails the way a disk fails.

    python tests/faulty_db.py read-only run --once
    python tests/faulty_db.py file-size BYTES run

Everything after the fault is the real command line, in this process:

- `read-only`: every connection the library opens is opened with `mode=ro`. That is the
  state SQLite puts itself in when it may not write the file (chmod 0444): it falls back to
  reading, and the first write fails with SQLITE_READONLY, "attempt to write a readonly
  database". Root ignores file modes, so the tests, which may run as root, ask for it
  directly.
- `file-size BYTES`: no file this process writes may grow past BYTES (the soft
  RLIMIT_FSIZE, which any user may set, and lift again from outside with prlimit). In WAL
  mode every commit appends to the -wal file, so once it reaches the limit the next commit
  fails, whichever it is, as on a full disk; SQLite reports a short write as SQLITE_FULL and
  a refused one (EFBIG) as SQLITE_IOERR. A `PRAGMA max_page_count` limit would be gentler
  than a full disk: it caps only the database's pages, and an update in place needs no new
  page, so only some writes (the claims, in practice) ever failed; recording a message as
  sent never did.
"""

from __future__ import annotations

import resource
import sqlite3
import sys
from pathlib import Path

from webinar_ops.cli import main

_connect = sqlite3.connect


def read_only(path: str | Path, *args, **kwargs) -> sqlite3.Connection:
    return _connect(f"{Path(path).resolve().as_uri()}?mode=ro", *args, uri=True, **kwargs)


if __name__ == "__main__":
    fault, *arguments = sys.argv[1:]
    if fault == "read-only":
        sqlite3.connect = read_only
    elif fault == "file-size":
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(arguments.pop(0)), hard))
    else:
        sys.exit(f"unknown fault {fault!r}: read-only, or file-size BYTES")
    sys.argv = ["webinar-ops", *arguments]
    main()
