"""The MIME writer: every mail's bytes, written here from parts this module owns.

The encodings are chosen here, once and for all, rather than left to a library: headers are
folded by `fold` (RFC 5322, at 78 characters) with RFC 2047 encoded words for what is not
plain ASCII; text bodies are quoted-printable, or base64 when most of their bytes are not
ASCII (where quoted-printable would triple them); attachments are base64. Both encoders are
the C ones of `binascii`, so a body costs microseconds and needs no cache.

A boundary begins with "=_", which neither encoding can write ("=" is followed by two hex
digits or a line end in quoted-printable, and ends base64), so no body can hold one.
Tests read the bytes back with independent parsers (tests/test_mime.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from functools import lru_cache

MAX_LINE = 78  # RFC 5322's line length for headers (lines may reach 998, and a long word does)
LONGEST_WORD = 900  # a word longer than this is written in encoded words, which may be split
CRLF = b"\r\n"
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")  # RFC 5322 atext: a word needing no quotes
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")  # RFC 2047 5(3)
_ENCODED_WORD_TEXT = 75 - len("=?utf-8?q??=")  # RFC 2047: an encoded word is at most 75 characters
_ASCII = bytes(range(128))


def fold(name: str, words: Iterable[str]) -> bytes:
    """The header line `name: words...`, the words joined by single spaces and folded before a
    word wherever the line would pass MAX_LINE (a word is never split), with CRLF."""
    lines: list[str] = []
    line = f"{name}:"
    for word in words:
        if len(line) + 1 + len(word) > MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line = f"{line} {word}"
    lines.append(line)
    return "\r\n".join(lines).encode("ascii") + CRLF


@lru_cache(maxsize=1024)
def text_header(name: str, value: str) -> bytes:
    """An unstructured header (Subject): its words as they are where they are plain ASCII,
    each run of other words in encoded words. Cached: a wave's subjects are mostly one text."""
    return fold(name, _phrase_words(value.split(" "), _plain_text_word))


def address_header(name: str, display_name: str | None, addr_spec: str) -> bytes:
    """An address header (From, To, Reply-To): `Name <local@domain>`, or the address alone
    without a name. A plain ASCII name is written as is or quoted, any other in encoded words."""
    if not display_name:
        return fold(name, [addr_spec])
    return fold(name, [*_display_name_words(display_name), f"<{addr_spec}>"])


def raw_header(name: str, value: str) -> bytes:
    """A header whose value is written as it stands, already folded with CRLF (List-Unsubscribe)."""
    return f"{name}: {value}\r\n".encode("ascii")


def header_lines(raw: bytes, name: str) -> bytes:
    """Header `name` of the message `raw` as written, folded lines and all, with its CRLF."""
    found = re.search(rb"(?m)^" + re.escape(name.encode("ascii")) + rb":.*?\r\n(?![ \t])", raw, re.DOTALL)
    if found is None:
        raise RuntimeError(f"the message has no {name} header")
    return found.group(0)


def _display_name_words(name: str) -> list[str]:
    words = name.split()
    # "=?" anywhere could be read as the start of an encoded word: such a name is encoded.
    if name.isascii() and "=?" not in name and all(_ATEXT.fullmatch(word) for word in words):
        return words
    if name.isascii() and "=?" not in name and len(name) <= LONGEST_WORD:  # quoted: specials such as "." or "("
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}"'.split(" ")
    return _phrase_words(words, lambda word: "=?" not in word and _ATEXT.fullmatch(word) is not None)


def _plain_text_word(word: str) -> bool:
    # "=?" could be read as the start of an encoded word; a very long word could not be folded.
    return word.isascii() and word.isprintable() and "=?" not in word and len(word) <= LONGEST_WORD


def _phrase_words(words: list[str], plain) -> list[str]:
    """The words, each run of those that are not `plain` as encoded words. A run keeps its
    inner spaces inside the encoding: RFC 2047 drops the space between two encoded words."""
    out: list[str] = []
    run: list[str] = []
    for word in words:
        if word and plain(word):
            if run:
                out += encoded_words(" ".join(run))
                run = []
            out.append(word)
        else:
            run.append(word)
    if run:
        out += encoded_words(" ".join(run))
    return out


def encoded_words(text: str) -> list[str]:
    """`text` as RFC 2047 encoded words of UTF-8, each at most 75 characters and whole
    characters: "Q" where that is shorter (mostly Latin text), else "B"."""
    words: list[str] = []
    chunk = ""
    for ch in text:
        if _encoded_length(chunk + ch) > _ENCODED_WORD_TEXT and chunk:
            words.append(_encoded_word(chunk))
            chunk = ""
        chunk += ch
    if chunk:
        words.append(_encoded_word(chunk))
    return words


def _encoded_length(text: str) -> int:
    data = text.encode("utf-8")
    return min(len(_q(data)), len(base64.b64encode(data)))


def _encoded_word(text: str) -> str:
    data = text.encode("utf-8")
    q, b = _q(data), base64.b64encode(data).decode("ascii")
    return f"=?utf-8?q?{q}?=" if len(q) <= len(b) else f"=?utf-8?b?{b}?="


def _q(data: bytes) -> str:
    return "".join("_" if byte == 0x20 else chr(byte) if byte in _Q_SAFE else f"={byte:02X}" for byte in data)


# -- bodies ------------------------------------------------------------------------------------


def text_body(text: str) -> tuple[str, bytes]:
    """A text part's (Content-Transfer-Encoding, body): UTF-8 with CRLF line ends, in
    quoted-printable, or in base64 when over a sixth of its bytes are not ASCII (there
    base64 is the shorter, at 4 characters for 3 bytes against 3 for each such byte)."""
    data = CRLF.join(text.encode("utf-8").splitlines()) + CRLF
    if 6 * len(data.translate(None, _ASCII)) > len(data):
        return "base64", base64_body(data)
    return "quoted-printable", binascii.b2a_qp(data, istext=True)


def base64_body(data: bytes) -> bytes:
    """`data` in base64, 76 characters a line (RFC 2045), each line ending in CRLF."""
    return base64.encodebytes(data).replace(b"\n", CRLF)


def leaf(content_type: str, encoding: str, body: bytes, disposition: str | None = None) -> bytes:
    """One part that is not multipart: its headers, a blank line, its encoded body."""
    head = fold("Content-Type", content_type.split(" ")) + f"Content-Transfer-Encoding: {encoding}\r\n".encode()
    if disposition:
        head += fold("Content-Disposition", disposition.split(" "))
    return head + CRLF + body


def multipart(subtype: str, boundary: str, parts: Iterable[bytes]) -> bytes:
    """A multipart entity: its Content-Type, a blank line, then each part after a delimiter
    line. A delimiter's leading CRLF belongs to it (RFC 2046), so each body keeps its own."""
    delimiter = f"--{boundary}".encode("ascii")
    head = fold("Content-Type", [f"multipart/{subtype};", f'boundary="{boundary}"'])
    return head + CRLF + b"".join(delimiter + CRLF + part + CRLF for part in parts) + delimiter + b"--" + CRLF
