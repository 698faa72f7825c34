"""MIME bytes for sending waves: written fast, and exactly as the email package writes them.

`Composer.message` builds each mail as an `EmailMessage`; that is the reference, and it costs
about 3 ms a mail, most of it parsing and folding headers that are the same for every
recipient. For a wave, a `Frame` is that same message built once per webinar revision (and
choice of transfer encodings) by the same code, with a marker wherever a recipient's own
part goes: To, Subject, Date, Message-ID, the boundaries, and the bodies. Each mail is then
the frame with its parts written in, each encoded here as the email package would encode it.
`tests/test_fast_compose.py` checks that the two paths give the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from email import policy as email_policy
from email import quoprimime
from functools import lru_cache
from typing import Any

POLICY = email_policy.SMTP
MAX_LINE = POLICY.max_line_length  # 78: longer lines make the email package encode a text part
CRLF = b"\r\n"

# A header value that the email package writes as it is, with no folding, quoting or encoding.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*@[A-Za-z0-9.-]+")
_PLAIN_MESSAGE_ID = re.compile(r"<[A-Za-z0-9.\-]+@[A-Za-z0-9.\-]+>")


class Frame:
    """A message with slots: literal bytes, and the names of the parts each mail fills in."""

    def __init__(self, raw: bytes, slots: Mapping[str, bytes], once: frozenset[str]):
        """Cut `raw` at each marker in `slots` (slot name -> the marker's bytes in `raw`);
        the slots named in `once` must occur exactly once, the others at least once."""
        for name, marker in slots.items():
            count = raw.count(marker)
            if count == 0 or (name in once and count != 1):
                raise RuntimeError(f"the message frame has the {name} marker {count} times")
        by_marker = {marker: name for name, marker in slots.items()}
        pattern = re.compile(b"|".join(re.escape(m) for m in sorted(by_marker, key=len, reverse=True)))
        pieces: list[tuple[bool, bytes | str]] = []
        position = 0
        for found in pattern.finditer(raw):
            pieces.append((False, raw[position : found.start()]))
            pieces.append((True, by_marker[found.group(0)]))
            position = found.end()
        pieces.append((False, raw[position:]))
        self._pieces = [(is_slot, piece) for is_slot, piece in pieces if is_slot or piece]

    def fill(self, parts: Mapping[str, bytes]) -> bytes:
        """The message with every slot filled from `parts`."""
        return b"".join(parts[piece] if is_slot else piece for is_slot, piece in self._pieces)


def header_line(name: str, value: Any) -> bytes:
    """The header as the email package writes it (`msg[name] = value`, then `as_bytes`):
    folded, quoted and encoded as it needs, with CRLF."""
    if _written_as_is(name, value):
        return f"{name}: {value}\r\n".encode("ascii")
    if isinstance(value, str):
        return _folded_text(name, value)
    return _folded(name, value)


def raw_header_line(name: str, value: str) -> bytes:
    """A header set with `set_raw` (its value already folded), as the email package writes
    it under a policy that does not refold: the value's lines joined with CRLF."""
    return f"{name}: ".encode("ascii") + CRLF.join(line.encode("utf-8") for line in value.splitlines()) + CRLF


def header_lines(raw: bytes, name: str) -> bytes:
    """Header `name` of the message `raw` as written, folded lines and all, with its CRLF."""
    found = re.search(rb"(?m)^" + re.escape(name.encode("ascii")) + rb":.*?\r\n(?![ \t])", raw, re.DOTALL)
    if found is None:
        raise RuntimeError(f"the message frame has no {name} header")
    return found.group(0)


def _written_as_is(name: str, value: Any) -> bool:
    text = str(value)
    if len(name) + 2 + len(text) > MAX_LINE or not text.isascii() or "=?" in text:
        return False
    if name == "Message-ID":
        return _PLAIN_MESSAGE_ID.fullmatch(text) is not None
    if name == "To" and not isinstance(value, str):
        plain_name = not value.display_name or _PLAIN_NAME.fullmatch(value.display_name)
        return bool(plain_name) and _PLAIN_ADDRESS.fullmatch(value.addr_spec) is not None
    return False


@lru_cache(maxsize=1024)
def _folded_text(name: str, value: str) -> bytes:
    # Cached: a wave's subjects are mostly one text, and its dates change once a second.
    return _folded(name, value)


def _folded(name: str, value: Any) -> bytes:
    return POLICY.fold_binary(*POLICY.header_store_parse(name, value))


def encode_text(text: str) -> tuple[str, bytes]:
    """A text part's body as the email package writes it (`set_content(text)`, utf-8):
    the Content-Transfer-Encoding it chooses, and the encoded body with CRLF line ends."""
    lines = text.encode("utf-8").splitlines()
    if max(map(len, lines), default=0) <= MAX_LINE:
        body = CRLF.join(lines) + CRLF
        return ("7bit" if body.isascii() else "8bit"), body
    # The package's choice: quoted-printable unless base64 is shorter for the first ten lines.
    sniff = CRLF.join(lines[:10]) + CRLF
    if len(_quoted_printable(lines[:10])) > len(binascii.b2a_base64(sniff)):
        return "base64", base64_body(CRLF.join(lines) + CRLF)
    return "quoted-printable", _quoted_printable(lines).replace("\n", "\r\n").encode("ascii")


def base64_body(data: bytes) -> bytes:
    """`data` in base64 as the email package writes a body: 76 characters a line, CRLF."""
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _quoted_printable(lines: list[bytes]) -> str:
    return "\n".join(map(_quoted_printable_line, lines)) + "\n"


@lru_cache(maxsize=8192)
def _quoted_printable_line(line: bytes) -> str:
    # The package encodes line by line, so one line's encoding can be kept: most lines of a
    # wave (agenda, questions, readings) are the same in every mail.
    return quoprimime.body_encode(line.decode("latin-1"), MAX_LINE)


def fold_ical_line(line: str) -> bytes:
    """One iCalendar content line folded as icalendar writes it: at most 74 octets a line,
    never splitting a character, nor a backslash or caret from the character it escapes."""
    data = line.encode("utf-8")
    if len(data) <= 74:
        return data
    pieces = []
    start = 0
    while len(data) - start > 74:
        end = start + 74
        while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the character starts earlier
            end -= 1
        if data[end - 1] in b"\\^" and end - 1 > start:
            end -= 1
        pieces.append(data[start:end])
        start = end
    pieces.append(data[start:])
    return b"\r\n ".join(pieces)
