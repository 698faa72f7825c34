"""Writing the report's files: all of them or none. Each is written to a temporary file beside
its target and renamed over it only once every one of them is written, so a folder that
cannot be written, or a full disk, leaves every target as it was. A report with names (personal
data) is readable by its owner only."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from webinar_ops.errors import InputError, Problem

_OWN_FILES = "give each of --html and --csv a file of its own"


def write_all(texts: Sequence[tuple[Path, str]], private: bool) -> None:
    """Write each text to its path (UTF-8), all or none; `private`: readable by the owner only.
    Two texts for one file are refused: the second would replace the first."""
    _refuse_one_file_twice([path for path, _ in texts])
    written: list[tuple[Path, Path]] = []
    target = None
    try:
        for target, text in texts:
            written.append((_written_beside(target, text, private), target))
        for temporary, target in written:
            os.replace(temporary, target)
    except OSError as exc:
        for temporary, _ in written:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        reason = exc.strerror or str(exc)
        problem = Problem(str(target), f"cannot be written: {reason}", fix="give a file in a folder you can write to")
        raise InputError("The report was not written (none of its files):", [problem]) from None


def _refuse_one_file_twice(paths: list[Path]) -> None:
    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:
            problem = Problem(str(path), "is given for two outputs: one would replace the other", fix=_OWN_FILES)
            raise InputError("The report was not written (none of its files):", [problem])
        seen.add(path.resolve())


def _written_beside(path: Path, text: str, private: bool) -> Path:
    """`text` in a new temporary file in `path`'s folder, flushed to disk."""
    if path.is_dir():
        raise IsADirectoryError(21, "it is a folder", str(path))
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(descriptor, 0o600 if private else 0o644)
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(descriptor)
    return Path(name)
