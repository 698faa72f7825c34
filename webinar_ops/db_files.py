"""The database on disk: its file, the folder it is in, and the -wal and -shm files SQLite
keeps beside it in WAL mode.

SQLite makes the -wal and -shm with the mode of the database file. A command that reads the
database while that file is read-only (chmod 0444) would therefore leave a 0444 -shm behind;
once the database's mode is mended, SQLite opens that -shm read-only and refuses every write
with "attempt to write a readonly database". Here are the checks `doctor` reports, worded
with their fix, and what `Store.open` puts right by itself.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
import stat
from pathlib import Path


def companions(path: Path) -> list[Path]:
    """The -wal and -shm files of the database at `path`, whether they exist or not."""
    return [path.with_name(f"{path.name}{suffix}") for suffix in ("-wal", "-shm")]


def may_write(path: Path) -> bool:
    """Whether this user may write the database file at `path`."""
    return os.access(path, os.W_OK)


def access_problems(path: Path) -> list[str]:
    """What keeps this user from reading and writing the database at `path`, its folder and
    its -wal and -shm: one line each, with the command that fixes it. Empty when all is well."""
    found = [_file_problem(file) for file in (path, *companions(path))]
    found.append(_folder_problem(path.parent))
    return [problem for problem in found if problem]


def _file_problem(path: Path) -> str | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    if os.access(path, os.R_OK | os.W_OK):
        return None
    mode = stat.S_IMODE(status.st_mode)
    if status.st_uid != os.geteuid():
        return _not_ours(path, status, "write")
    what = "read-only" if os.access(path, os.R_OK) else "unreadable"
    return f"{path} is {what} for this user (mode {mode:o}): run `chmod 600 {path}`"


def _folder_problem(folder: Path) -> str | None:
    try:
        status = folder.stat()
    except FileNotFoundError:
        return None
    if os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        return None
    if status.st_uid != os.geteuid():
        return _not_ours(folder, status, "create the -wal and -shm files in")
    mode = stat.S_IMODE(status.st_mode)
    return (
        f"the folder {folder} is not writable for this user (mode {mode:o}), and SQLite makes the -wal and -shm "
        f"files there: run `chmod u+rwx {folder}`"
    )


def _not_ours(path: Path, status: os.stat_result, doing: str) -> str:
    me = _user_name(os.geteuid())
    mode = stat.S_IMODE(status.st_mode)
    return (
        f"{path} belongs to {_user_name(status.st_uid)}, and this user ({me}) may not {doing} it (mode {mode:o}): "
        f"as root, run `chown {me} {path}`"
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def mend_companions(path: Path) -> None:
    """Put right the -wal and -shm that a reader of the database left while its file was
    read-only: one this user owns but may not write gets the database's mode again, with
    the owner's read and write; a -shm of another user is removed when no connection has the
    database open (SQLite makes a new one). A -wal is never removed: it may hold committed
    transactions that are not in the database file yet."""
    database_mode = stat.S_IMODE(path.stat().st_mode)
    for companion in companions(path):
        try:
            owner = companion.stat().st_uid
        except FileNotFoundError:
            continue
        if os.access(companion, os.R_OK | os.W_OK):
            continue
        if owner == os.geteuid():
            _make_writable(companion, database_mode)
        elif companion.name.endswith("-shm") and may_write(path):
            _remove_unused_shm(path, companion)


def _companion_mode(database_mode: int) -> int:
    # Who may read the database may read its -wal (it holds the same data); the owner must
    # also be able to write both, or the database refuses writes once its own mode is mended.
    return database_mode | stat.S_IRUSR | stat.S_IWUSR


def _remove_unused_shm(path: Path, shm: Path) -> None:
    # An open connection in WAL mode holds a shared lock on the database file for as long as
    # it is open, so while this exclusive lock is held no connection, in any process, uses the
    # -shm and none can start to. In exclusive locking mode SQLite keeps the WAL index in its
    # own memory and leaves the -shm alone; closing checkpoints the -wal as a last connection
    # always does.
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("PRAGMA locking_mode = EXCLUSIVE")
        probe.execute("BEGIN EXCLUSIVE")
        shm.unlink()
        probe.execute("COMMIT")
    except (sqlite3.OperationalError, OSError):
        return  # in use, or not ours to remove: left as it is, and a write says what to fix
    finally:
        probe.close()


def connect_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """A read-only connection to the database at `path`. SQLite gives a -wal or -shm that it
    makes, and an empty one that it opens, the database file's mode, even when that is 0444
    (also with `mode=ro`); this undoes that for the files it changed, and leaves the others
    as they were."""
    writable_before = {companion for companion in companions(path) if _writable_or_absent(companion)}
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
    try:
        connection.execute("PRAGMA schema_version").fetchone()  # the first read opens, or makes, both
    except sqlite3.Error:
        connection.close()
        raise
    database_mode = stat.S_IMODE(path.stat().st_mode)
    for companion in writable_before:
        _make_writable(companion, database_mode)
    return connection


def _writable_or_absent(path: Path) -> bool:
    return not path.exists() or os.access(path, os.R_OK | os.W_OK)


def _make_writable(companion: Path, database_mode: int) -> None:
    # Only the owner may chmod: another user's file stays as it is.
    try:
        if companion.stat().st_uid == os.geteuid() and not os.access(companion, os.R_OK | os.W_OK):
            os.chmod(companion, _companion_mode(database_mode))
    except OSError:
        pass  # gone already, as SQLite removes both when the last connection closes
