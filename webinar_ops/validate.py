"""Checks on the small values people type: addresses, URLs, names, language and country codes.

Each check returns the cleaned value or raises ValueError with a sentence a person can act
on. The same checks serve the CSV importer, the definition loader, the configuration and
the command line, so a value is judged the same way wherever it comes from.
"""

from __future__ import annotations

import codecs
import itertools
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from webinar_ops.tlds import TOP_LEVEL_DOMAINS

_LOCAL_PART_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LANGUAGE_RE = re.compile(r"^([A-Za-z]{2,3})(?:-([A-Za-z]{4}))?(?:-([A-Za-z]{2}|[0-9]{3}))?$")

# Bidirectional controls reorder what a reader sees (CVE-2021-42574 style tricks); names never need them.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


class NotUtf8(ValueError):
    """Bytes that are not UTF-8, with the line and the byte where decoding stopped."""

    def __init__(self, line: int, byte: int):
        super().__init__(f"byte {byte:#04x} on line {line} is not UTF-8")
        self.line = line
        self.byte = byte


def utf8_text(raw: bytes) -> str:
    """Decode a file's bytes as UTF-8, with or without a byte-order mark; raise NotUtf8."""
    body = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(body[: exc.start].count(b"\n") + 1, body[exc.start]) from exc


def looks_like_utf16(head: bytes) -> bool:
    """Whether a file starting with `head` is UTF-16 (Excel's "Unicode Text"): a UTF-16
    byte-order mark, or NUL bytes in every other place, as ASCII letters have in UTF-16."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if len(head) < 4:
        return False
    return max(head[0::2].count(0), head[1::2].count(0)) >= len(head) // 4


def first_bad_utf8_byte(path: Path) -> tuple[int, int]:
    """The line and the value of the first byte of `path` that is not UTF-8, read in chunks
    (a byte-order mark at the start is UTF-8). The file must hold such a byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with Path(path).open("rb") as handle:
        if handle.peek(3)[:3] == codecs.BOM_UTF8:
            handle.read(3)
        while True:
            chunk = handle.read(1 << 16)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:  # exc.object is the decoder's few held bytes + chunk
                return line + exc.object[: exc.start].count(b"\n"), exc.object[exc.start]
            if not chunk:
                raise ValueError(f"{path} is UTF-8")
            line += chunk.count(b"\n")


def mailbox(text: str) -> tuple[str | None, str]:
    """Validate one address as people write it and return (display name or None, address).

    Takes a plain address (`webinars@example.org`), one in angle brackets
    (`<webinars@example.org>`) and one with a display name (`Webinar team <webinars@example.org>`,
    quoted or not). A second address, a line break, or a display name that is itself an
    address (a sender seen as "ceo@bank.com") is refused, rather than left to the mail
    program to read.
    """
    from email.utils import getaddresses, parseaddr

    if not isinstance(text, str):
        raise ValueError("an email address must be text")
    if has_control(text):
        raise ValueError("contains a line break or another control character")
    if len(getaddresses([text])) != 1:
        raise ValueError("holds more than one address; give one, such as Webinar team <webinars@example.org>")
    name, address = parseaddr(text)
    if not address:
        raise ValueError(f"{shown(text.strip())} is not an email address (write name@domain)")
    if not name.strip() and text.strip() in (address, f"<{address}>"):
        return None, email_address(address)  # a plain or bracketed address: no display name
    name = person_text(name, "display name")
    if "@" in name:
        raise ValueError("has a display name that looks like an address; write a name, such as Webinar team")
    return name, email_address(address)


def mailbox_address(text: str) -> str:
    """The address of `mailbox(text)`: for settings where the name is given elsewhere."""
    return mailbox(text)[1]


def email_address(text: str) -> str:
    """Validate a bare address (`name@example.org`) and return it normalised to lower case.

    Display names (`Ann <ann@example.org>`) are refused: they are how a header gets a
    second address smuggled into it.
    """
    if not isinstance(text, str):
        raise ValueError("an email address must be text")
    value = text.strip()
    if not value:
        raise ValueError("the email address is empty")
    if any(ch in value for ch in '<>"(),;: \t') or has_control(value):
        raise ValueError(f"{shown(value)} is not a plain email address (write just name@domain)")
    if value.count("@") != 1:
        raise ValueError(f"{shown(value)} is not an email address: it needs exactly one @")
    local, domain = value.split("@")
    if not local or len(local) > 64 or not _LOCAL_PART_RE.match(local):
        raise ValueError(f"{shown(value)} has an invalid part before the @")
    domain = _ascii_domain(domain)
    if domain is None:
        raise ValueError(f"{shown(value)} has an invalid domain after the @")
    address = f"{local}@{domain}".lower()
    if len(address) > 254:
        raise ValueError(f"{shown(value)} is longer than 254 characters")
    return address


def _ascii_domain(domain: str) -> str | None:
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None
    return ascii_domain


def url(text: str) -> str:
    """Validate an absolute http(s) URL with a host and no spaces; return it unchanged."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the URL is empty")
    value = text.strip()
    if has_control(value) or " " in value or any(ch in _BIDI_CONTROLS for ch in value):
        raise ValueError(f"{shown(value)} contains spaces or control characters (write spaces as %20)")
    if any(ch in _NEVER_IN_URLS for ch in value):
        raise ValueError(f'{shown(value)} contains " < > \\ or `, which end a link (write them as %22 %3C %3E %5C %60)')
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{shown(value)} must start with https:// or http://")
    if not parts.hostname or ("." not in parts.hostname and parts.hostname != "localhost"):
        raise ValueError(f"{shown(value)} has no valid host name")
    try:
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError as exc:
        raise ValueError(f"{shown(value)} has an invalid port") from exc
    return value


def person_text(text: str, what: str = "name", max_length: int = 200) -> str:
    """Validate a name-like value (a person's name, organisation, job title).

    Refuses control characters (CR and LF split mail headers), bidirectional overrides
    (they disguise what a reader sees) and angle brackets (HTML, or an address trick).
    Surrounding white space is trimmed and inner runs of spaces are folded.
    """
    if not isinstance(text, str):
        raise ValueError(f"the {what} must be text")
    if has_control(text):
        raise ValueError(f"the {what} contains a line break or another control character")
    if any(ch in _BIDI_CONTROLS for ch in text):
        raise ValueError(f"the {what} contains an invisible text-direction control character")
    if "<" in text or ">" in text:
        raise ValueError(f"the {what} contains < or >, which look like HTML or an address")
    if _ENCODED_WORD_RE.search(text):
        raise ValueError(f"the {what} contains =?...?=, which mail programs would decode as hidden text")
    value = " ".join(text.split())
    if len(value) > max_length:
        raise ValueError(f"the {what} is longer than {max_length} characters")
    if not _has_visible(value):
        raise ValueError(f"the {what} has no visible letters, only invisible or combining characters")
    return value


def person_name(text: str, what: str = "name", max_length: int = 64) -> str:
    """Validate a person's name, as `person_text` does, and refuse one that holds a web or
    mail address (`reads_as_address`): the name is written into mail the service signs, so
    a stranger must not be able to put their link there."""
    value = person_text(text, what, max_length)
    if reads_as_address(value):
        raise ValueError(f"the {what} looks like a link or an address")
    return value


def reads_as_address(text: str) -> bool:
    """Whether a reader or a mail program would take part of `text` for a web or mail address:
    a scheme (`https:`, `mailto:`), an `@`, `www.`, an IPv4 address, or a word joined by a
    dot to a top-level domain that exists (`evil.com`, `bit.ly`, `example.co.uk`, `пример.рф`).

    The text is read as a browser would read a host name: NFKC folds the full-width letters,
    colons and @ to plain ones, the ideographic full stops count as dots, and invisible
    format characters (a zero-width space between `evil` and `.com`) are left out.

    A real top-level domain is asked for, rather than any two or more letters after a dot,
    because names join parts with dots too: `J.R.R.Tolkien`, `Mr.Smith`, `А.С.Пушкин`, or
    `ana.lima`, the part before the @ that a provider's nameless sign-up falls back to.
    Those pass; the price is that `James.Bond` (.bond exists) must be written with a space.
    """
    view = _as_a_browser_reads(text)
    if not any(mark in view for mark in ".:@"):
        return False  # the common case: no rule below can match without one of them
    if "@" in view or _SCHEME_RE.search(view) or _WWW_RE.search(view) or _IPV4_RE.search(view):
        return True
    return any(_names_a_domain(word) for word in _dotted_words(view))


def _as_a_browser_reads(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_DOTS)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def _dotted_words(text: str) -> Iterator[str]:
    """The runs of letters, digits, marks, hyphens and dots that hold a dot: `J.R.R`, `evil.com`."""
    word: list[str] = []
    for ch in [*text, " "]:
        if ch == "." or ch == "-" or ch.isalnum() or unicodedata.category(ch)[0] == "M":
            word.append(ch)
            continue
        if "." in word:
            yield "".join(word)
        word = []


def _names_a_domain(word: str) -> bool:
    """Whether a label after a dot in `word` is a top-level domain (`evil.com`, also
    `evil.com.Smith`: a reader still sees evil.com), short of an academic title."""
    if word.rstrip(".").casefold() in _TITLES_LIKE_DOMAINS:
        return False
    labels = word.split(".")
    if any(label.casefold().startswith("xn--") for label in labels):
        return True  # punycode: how a host name is written, never a name
    return any(before and _is_top_level_domain(label) for before, label in itertools.pairwise(labels))


def _is_top_level_domain(label: str) -> bool:
    if not label or label.isascii():
        return label.lower() in TOP_LEVEL_DOMAINS
    try:
        return label.encode("idna").decode("ascii").lower() in TOP_LEVEL_DOMAINS  # рф is xn--p1ai
    except UnicodeError:
        return False


# The dots that browsers take for a dot in a host name (IDNA): ideographic, full-width, half-width.
_DOTS = str.maketrans(dict.fromkeys("\u3002\uff0e\uff61", "."))
# A scheme, with something straight after the colon: `http://`, `mailto:ana`, `javascript:x`.
# "Ana: speaker" (a space after the colon) is no link.
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?=\S)")
_WWW_RE = re.compile(r"(?i)www\.")
_IPV4_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
# Degrees whose last part is also a top-level domain (.sc, .com, .tech, .med, .ing, .vet).
_TITLES_LIKE_DOMAINS = frozenset(
    "b.sc m.sc d.sc b.com m.com b.tech m.tech dr.med dr.med.dent dr.med.vet dr.ing dipl.ing".split()
)


def prose(text: str, what: str = "text", max_length: int = 2000) -> str:
    """Validate a sentence shown only in a mail's body (a guiding question): line breaks fold
    to spaces, other control characters and text-direction controls are refused. Markup is
    allowed here, because bodies escape it."""
    if not isinstance(text, str):
        raise ValueError(f"the {what} must be text")
    return _body_text(" ".join(text.split()), what, max_length)


def paragraphs(text: str, what: str = "text", max_length: int = 20_000) -> str:
    """Validate text of several lines (a description): as `prose`, but keeping its lines."""
    if not isinstance(text, str):
        raise ValueError(f"the {what} must be text")
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _body_text("\n".join(lines).strip("\n"), what, max_length, allowed="\n\t")


def _body_text(value: str, what: str, max_length: int, allowed: str = "") -> str:
    if any(unicodedata.category(ch) in _LINE_BREAKING and ch not in allowed for ch in value):
        raise ValueError(f"the {what} contains a control character")
    if any(ch in _BIDI_CONTROLS for ch in value):
        raise ValueError(f"the {what} contains an invisible text-direction control character")
    if len(value) > max_length:
        raise ValueError(f"the {what} is longer than {max_length} characters")
    return value


def _has_visible(text: str) -> bool:
    """At least one letter, digit, punctuation mark or symbol: something a reader can see."""
    return any(unicodedata.category(ch)[0] in "LNPS" for ch in text)


@lru_cache(maxsize=1)
def languages() -> frozenset[str]:
    """The two-letter (ISO 639-1) language codes, as CLDR (Babel) names them: `fj` too, which
    it has no dates for. Read when first needed: the command line starts faster without."""
    from babel import localedata

    names = localedata.load("en", merge_inherited=False)["languages"]
    return frozenset(code for code in names if len(code) == 2 and code.isalpha() and code.islower())


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    """The two-letter (ISO 3166) country and territory codes CLDR (Babel) has people and
    languages for: the officially assigned ones, XK (Kosovo, which Zoom and the UN use), and
    the few ISO keeps for territories of their own (IC, the Canary Islands), less ZZ, CLDR's
    unknown region."""
    from babel.core import get_global

    territories = get_global("territory_languages")
    return frozenset(code for code in territories if len(code) == 2 and code.isalpha() and code != "ZZ")


def language(text: str) -> str:
    """Validate a BCP 47 language tag such as `en`, `fr-CA`, `es-419`, `zh-Hant`: an ISO 639-1
    language, optionally a script and a country (or UN M.49 area); return it normalised."""
    value = text.strip() if isinstance(text, str) else ""
    match = _LANGUAGE_RE.match(value.replace("_", "-"))
    if not match or match.group(1).lower() not in languages():
        raise ValueError(f"{shown(text)} is not a language code (use ISO 639-1, such as en, fr, es, ar, zh, ru)")
    primary, script, region = match.groups()
    if region and not region.isdigit() and region.upper() not in countries():
        # BCP 47 regions are ISO 3166 countries or UN M.49 areas (419: Latin America).
        raise ValueError(f"{shown(text)} is not a language code: {region} is not a country code")
    tag = primary.lower()
    if script:
        tag += "-" + script.title()
    if region:
        tag += "-" + region.upper()
    return tag


MAX_TRACKING_SOURCE = 40
_TRACKING_SOURCE_RE = re.compile(rf"[a-z0-9._-]{{1,{MAX_TRACKING_SOURCE}}}")


def tracking_source(text: str) -> str:
    """Validate where a registration came from (`?source=newsletter`): a short token of ASCII
    letters, digits, `-`, `_` and `.`, at most MAX_TRACKING_SOURCE long; return it in lower
    case, so that `Newsletter` and `newsletter` count as one. It is only ever counted."""
    value = text.strip() if isinstance(text, str) else ""
    # ASCII first: str.lower turns the Kelvin sign into a k, which the pattern would take.
    if not value.isascii() or not _TRACKING_SOURCE_RE.fullmatch(value := value.lower()):
        raise ValueError(
            f"{shown(text)} is not a source: use at most {MAX_TRACKING_SOURCE} letters, digits, -, _ or ., "
            "such as newsletter"
        )
    return value


def country(text: str) -> str:
    """Validate a two-letter ISO 3166 country code; return it in upper case."""
    value = text.strip().upper() if isinstance(text, str) else ""
    if value not in countries():
        raise ValueError(f"{shown(text)} is not a two-letter country code (ISO 3166, such as KR, FR, BR)")
    return value


_NEVER_IN_URLS = '"<>\\`'  # RFC 3986 allows none of them unencoded; in a page they would end the link


def has_control(text: str) -> bool:
    """Control characters, and the Unicode line and paragraph separators (U+2028, U+2029)."""
    if text.isprintable():  # the common case, at C speed: none of those is printable
        return False
    return any(unicodedata.category(ch) in _LINE_BREAKING for ch in text)


_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
_SPACES = re.compile(" {2,}")
_ENCODED_WORD_RE = re.compile(r"=\?[^?]*\?[bBqQ]\?")


def shown(value: object) -> str:
    """Quote a refused value for an error message, with control characters made visible and
    a long value cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


def shown_path(path: Path | str) -> str:
    """A path for an error message: whole when it is of a usual length, else its start and its
    end (the file's name), so that a path of thousands of characters does not fill the screen."""
    text = str(path)
    return text if len(text) <= 160 else f"{text[:40]}…{text[-100:]}"


@lru_cache(maxsize=1024)  # a wave's subjects are mostly one text
def header_text(text: str) -> str:
    """One line fit for a mail header: control characters and bidirectional controls become
    spaces, and runs of white space fold to one. Applied to every value that reaches a
    header, whatever checked it before, because this Python's email package predates the
    fixes for header injection (CVE-2024-6923)."""
    cleaned = text
    if not text.isprintable():  # controls and bidirectional controls are not printable
        cleaned = "".join(" " if _breaks_or_turns(ch) else ch for ch in text)
    # An RFC 2047 encoded word in the value would be decoded by this Python's email package
    # while folding the header, bringing back any line break it hides: break the "=?" open.
    cleaned = cleaned.replace("=?", "= ?")
    # Runs of spaces fold to one; other spaces stay, such as the no-break space French
    # writes before a colon (str.split would turn it into an ordinary one).
    return _SPACES.sub(" ", cleaned).strip(" ")


def _breaks_or_turns(ch: str) -> bool:
    return unicodedata.category(ch) in _LINE_BREAKING or ch in _BIDI_CONTROLS


def display_name(text: str) -> str:
    """A name fit to stand before an address in From, To or Reply-To: `header_text`, without
    the characters that would make it an address of its own once unquoted (: ; , < > @ " \\
    [ ]), and with parentheses only when they pair up. This Python's email package drops the
    quotes around a display name when it folds a long header, so `Ana ... Bcc: evil@x.org`
    would come out as a group holding evil@x.org."""
    cleaned = "".join(" " if ch in _ADDRESS_SPECIALS else ch for ch in header_text(text))
    if not _parentheses_pair_up(cleaned):
        cleaned = cleaned.replace("(", " ").replace(")", " ")
    return " ".join(cleaned.split())


_ADDRESS_SPECIALS = frozenset(':;,<>@"\\[]')


def _parentheses_pair_up(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0
