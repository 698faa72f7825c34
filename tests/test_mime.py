"""The MIME writer's pieces, each read back by an independent parser: headers and bodies by
the email package, content lines by icalendar's and vobject's unfolding."""

from __future__ import annotations

import email
from email import policy

import icalendar
import vobject
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from reading import read_addresses

from webinar_ops import validate
from webinar_ops.mail import mime
from webinar_ops.mail.invite import fold_content_line

# Text as templates and registrants give it: any script, marks, specials, long words.
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
LONG_WORD = st.text(st.sampled_from("abcé한-/"), min_size=60, max_size=200)
PIECES = hypothesis_settings(max_examples=300, deadline=None)


def read_header(line: bytes, name: str):
    return email.message_from_bytes(line + b"\r\n", policy=policy.default)[name]


def assert_folded(line: bytes) -> None:
    assert line.isascii()
    assert line.endswith(b"\r\n")
    for physical in line[:-2].split(b"\r\n"):
        words = physical.partition(b": ")[2] if physical[:1] != b" " else physical
        assert len(physical) <= mime.MAX_LINE or b" " not in words.strip(), "only a word too long breaks the line"


@PIECES
@given(st.one_of(TEXT, st.lists(st.one_of(TEXT, LONG_WORD), max_size=5).map(" ".join)))
@example("Starts in 1 hour: Strengthening Data Governance – in the context of COVID-19")
@example("Rappel : le webinaire commence dans 1 heure\u00a0!")
@example("= ?utf-8?q?Ana?= =?x")
def test_a_subject_reads_back_as_it_was_given_whatever_its_words(text):
    subject = validate.header_text(text)

    line = mime.text_header("Subject", subject)

    assert_folded(line)
    assert str(read_header(line, "Subject")) == subject


@PIECES
@given(name=st.one_of(TEXT, LONG_WORD), local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,40}[a-z0-9]", fullmatch=True))
@example(name="Ms. Jihyun (Jenny) Jeoung", local="jihyun")
@example(name="Amélie Laurent", local="amelie")
@example(name="", local="ana")
@example(name="=?utf-8?q?Ana?=", local="ana")  # not to be read as an encoded word
@example(name='Ana "Zoé" \\ (x)', local="ana")
def test_an_address_reads_back_as_its_name_and_address(name, local):
    display_name = " ".join(name.split())  # the writer takes a name on one line, as validate.display_name gives
    address = f"{local.replace('..', '.')}@example.org"

    line = mime.address_header("To", display_name, address)

    assert_folded(line)
    assert read_addresses(line.decode("ascii").partition(": ")[2]) == [(display_name, address)]


@PIECES
@given(st.one_of(TEXT, st.lists(st.one_of(TEXT, LONG_WORD), max_size=30).map("\n".join)))
@example("line one \nline two\t\n.\nFrom here\n=3D\n")
@example("안녕하세요 " * 40)
def test_a_text_body_reads_back_as_its_text_with_its_line_ends(text):
    encoding, body = mime.text_body(text)
    part = mime.leaf('text/plain; charset="utf-8"', encoding, body)

    read = email.message_from_bytes(part, policy=policy.default)

    assert read["Content-Transfer-Encoding"] == encoding
    lines = text.encode().splitlines()  # any line end (LF, CRLF, CR) is a line end
    assert read.get_content().replace("\r\n", "\n") == ("".join(f"{line.decode()}\n" for line in lines) or "\n")
    assert max(map(len, part.split(b"\r\n"))) <= 76
    assert b"=_" not in body, "a boundary could never be mistaken for a line of the body"


def test_a_mostly_korean_text_is_base64_and_a_mostly_latin_one_quoted_printable():
    assert mime.text_body("안녕하세요, 곧 웨비나가 시작됩니다.\n" * 10)[0] == "base64"
    assert mime.text_body("Chère Amélie, le webinaire commence dans une heure : à bientôt.\n" * 10)[0] == (
        "quoted-printable"
    )


def test_a_multipart_holds_its_parts_between_its_boundaries():
    parts = [mime.leaf('text/plain; charset="utf-8"', *mime.text_body(t)) for t in ("one\n", "deux é\n")]

    raw = b"MIME-Version: 1.0\r\n" + mime.multipart("alternative", "=_seed_0", parts)

    read = email.message_from_bytes(raw, policy=policy.default)
    assert read.get_boundary() == "=_seed_0"
    assert [p.get_content().replace("\r\n", "\n") for p in read.iter_parts()] == ["one\n", "deux é\n"]


@PIECES
@given(st.one_of(TEXT, LONG_WORD, st.text(st.sampled_from("é한😀\\,;n"), max_size=200)))
def test_a_content_line_is_folded_at_75_octets_and_unfolds_to_itself(value):
    line = f"DESCRIPTION:{icalendar.vText(value).to_ical().decode('utf-8')}"

    folded = fold_content_line(line)

    physical = folded.split(b"\r\n")
    assert all(len(p) <= 75 for p in physical)
    assert all(p.decode("utf-8") for p in physical), "no line splits a character"
    assert folded.replace(b"\r\n ", b"") == line.encode("utf-8")
    as_one_line, as_folded = (calendar_with(text) for text in (line, folded.decode("utf-8")))
    assert description_by_icalendar(as_folded) == description_by_icalendar(as_one_line)
    assert vobject.readOne(as_folded).vevent.description.value == vobject.readOne(as_one_line).vevent.description.value


def calendar_with(content_line: str) -> str:
    event = f"BEGIN:VEVENT\r\nUID:x\r\n{content_line}\r\nEND:VEVENT\r\n"
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{event}END:VCALENDAR\r\n"


def description_by_icalendar(calendar: str) -> str:
    return str(icalendar.Calendar.from_ical(calendar).walk("VEVENT")[0]["DESCRIPTION"])
