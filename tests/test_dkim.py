"""DKIM signatures on every mail: three settings turn them on, and the signature is computed
over exactly the bytes that are sent.

Each test makes a throwaway key, composes or sends real mail of the sample webinar, and
checks it as a receiver would: dkimpy's `verify`, with a DNS lookup that answers the test
key's TXT record at `webinars._domainkey.webinars.example.org`.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import dkim
import pytest
from conftest import NOW, SAMPLE_CSV, SAMPLE_DEFINITION, SAMPLE_SLUG, TEST_SECRET_KEY, reader
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from dkim.util import parse_tag_value
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from reading import assert_reads_as_meant
from smtp_servers import smtp_server

from webinar_ops.config import Settings, load_settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import send_due
from webinar_ops.errors import InputError
from webinar_ops.mail import mime
from webinar_ops.mail.compose import Composer
from webinar_ops.mail.outbox import Delivery
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.signing import SIGNED_HEADERS, KeyRefused, Signer, read_private_key
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.smtp import SmtpTransport

DOMAIN = "webinars.example.org"
SELECTOR = "webinars"
RECORD_NAME = b"webinars._domainkey.webinars.example.org."
SENDER = f"webinars@{DOMAIN}"
START = datetime(2021, 4, 30, 6, 0, tzinfo=UTC)  # the sample webinar: 15:00 in Seoul
WAVE = START - timedelta(minutes=59)  # the 1h reminders are due
CHECKLIST = {h.decode() for h in SIGNED_HEADERS}  # from, to, ..., list-unsubscribe-post
PEM = serialization.Encoding.PEM
NO_PASSPHRASE = serialization.NoEncryption()


# -- a throwaway key and the DNS that publishes it ------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path: Path, rsa_key) -> Path:
    """The key as `openssl genrsa` writes it, readable by its owner only."""
    path = tmp_path / "dkim.pem"
    path.write_bytes(rsa_key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL, NO_PASSPHRASE))
    path.chmod(0o600)
    return path


def txt_record(key) -> bytes:
    """The TXT record an organiser publishes, made here with `cryptography`, independently
    of the record webinar-ops derives from the key."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def verifies(message: bytes, key) -> bool:
    """Does `message` verify as a receiver would check it, with `key` published in DNS?"""

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return txt_record(key) if name == RECORD_NAME else None

    return dkim.verify(message, dnsfunc=dns)


def signature_tags(message: bytes) -> dict[str, str]:
    """The tags of the message's DKIM-Signature: {"h": "from : to : ...", "c": ..., ...}."""
    header = mime.header_lines(message, "DKIM-Signature").split(b":", 1)[1]
    return {k.decode(): v.decode() for k, v in parse_tag_value(header).items()}


def signed_headers(message: bytes) -> set[str]:
    return {name.strip() for name in signature_tags(message)["h"].split(":")}


# -- the sample webinar, with signing on -------------------------------------------------------------


@pytest.fixture
def unsigned_settings(workdir: Path) -> Settings:
    return Settings(
        db_path=workdir / "data" / "test.db",
        secret_key=TEST_SECRET_KEY,
        base_url=f"https://{DOMAIN}",
        mail_from=f"Webinar team <{SENDER}>",
    )


@pytest.fixture
def settings(unsigned_settings: Settings, key_file: Path) -> Settings:
    """What DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE in .env give."""
    return dataclasses.replace(
        unsigned_settings, dkim_domain=DOMAIN, dkim_selector=SELECTOR, dkim_private_key_file=key_file
    )


@pytest.fixture
def webinar(store: Store, settings: Settings) -> WebinarRecord:
    """The sample webinar with its 15 sample registrants registered and their mail planned."""
    text = SAMPLE_DEFINITION.read_text(encoding="utf-8")
    record = store.save_webinar(load_definition(SAMPLE_DEFINITION), text, "local", NOW).record
    apply_import(store, record, plan_import(store, record, SAMPLE_CSV), NOW)
    sync_webinar(store, load_provider("local", settings, store), store.webinar(SAMPLE_SLUG), NOW)
    record = store.webinar(SAMPLE_SLUG)
    plan_webinar(store, record, NOW, settings.mail_domain)
    return record


def deliveries(store: Store, kind: str | None = None) -> list[Delivery]:
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    return [Delivery.from_row(row) for row in store.db.query(f"SELECT * FROM deliveries {where} ORDER BY id", params)]


def people(store: Store, webinar: WebinarRecord) -> dict[int, dict]:
    return {row.id: row for row in store.registrants(webinar.id)}


@pytest.fixture
def reminder(store: Store, webinar: WebinarRecord, settings: Settings) -> bytes:
    """One registrant's 1h reminder, as the sender writes it."""
    delivery = deliveries(store, "reminder-1h")[0]
    return Composer(webinar, settings).message_bytes(delivery, people(store, webinar)[delivery.registrant_id], WAVE)


# -- (a) a receiver verifies it -----------------------------------------------------------------------


def test_a_signed_reminder_verifies_with_the_published_key(reminder, rsa_key):
    assert reminder.startswith(b"DKIM-Signature: ")
    assert verifies(reminder, rsa_key)
    tags = signature_tags(reminder)
    assert (tags["d"], tags["s"], tags["a"], tags["c"]) == (DOMAIN, SELECTOR, "rsa-sha256", "relaxed/relaxed")


def test_the_record_doctor_prints_is_the_one_that_verifies(key_file, rsa_key):
    assert read_private_key(key_file).dns_record.encode() == txt_record(rsa_key)


# -- (b) the bytes the mail server received verify ---------------------------------------------------


def test_every_mail_of_a_wave_arrives_at_the_smtp_server_signed_and_verifies(store, webinar, settings, rsa_key):
    with smtp_server() as server:
        transport = SmtpTransport(server.host, server.port, security="none", timeout=5)
        report = send_due(store, settings, transport, clock=lambda: WAVE, kind="reminder-1h")

    assert report.sent == len(deliveries(store, "reminder-1h")) == len(server.handler.received) == 15
    for received in server.handler.received:
        assert received.data.startswith(b"DKIM-Signature: ")
        assert verifies(received.data, rsa_key), received.rcpt_tos
        assert received.message()["To"].addresses[0].addr_spec == received.rcpt_tos[0]


# -- (c) what the signature covers -------------------------------------------------------------------


def test_the_signature_covers_both_list_unsubscribe_headers_and_the_rest_of_the_checklist(reminder):
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= signed_headers(reminder)
    assert signed_headers(reminder) == CHECKLIST, "every header of the checklist, as each is in the message"


def test_only_headers_the_message_has_are_signed(store, webinar, settings, rsa_key):
    # A preview's reader is not in the database: no one-click link, so no List-Unsubscribe-Post.
    delivery = deliveries(store, "reminder-1h")[0]
    someone = reader(email="someone@example.org", first_name="Some", time_zone="Europe/Paris")
    message = Composer(webinar, settings).message_bytes(delivery, someone, WAVE)

    assert b"\r\nList-Unsubscribe-Post:" not in message
    assert signed_headers(message) == CHECKLIST - {"list-unsubscribe-post"}
    assert verifies(message, rsa_key)


# -- (d) a changed byte breaks it ----------------------------------------------------------------------


def test_a_changed_byte_in_the_body_breaks_the_signature(reminder, rsa_key):
    link = re.search(rb"https://\S+/j/\S+", reminder).group(0)  # the personal join link
    tampered = reminder.replace(link, link[:-1] + (b"A" if link[-1:] != b"A" else b"B"), 1)

    assert tampered != reminder
    assert not verifies(tampered, rsa_key)


@pytest.mark.parametrize(
    ("header", "change"),
    [
        (b"List-Unsubscribe", lambda value: value.replace(b"/u/", b"/u/x", 1)),
        (b"List-Unsubscribe-Post", lambda value: value.replace(b"One-Click", b"One-Clicks")),
        (b"Subject", lambda value: value[:-2] + b"!\r\n"),
    ],
)
def test_a_changed_signed_header_breaks_the_signature(reminder, rsa_key, header, change):
    original = mime.header_lines(reminder, header.decode())
    tampered = reminder.replace(original, change(original), 1)

    assert tampered != reminder
    assert not verifies(tampered, rsa_key)


def test_a_header_a_relay_adds_above_it_leaves_it_valid(reminder, rsa_key):
    received = b"Received: from mx.test by relay.test; Fri, 30 Apr 2021 05:01:02 +0000\r\n"
    assert verifies(received + reminder, rsa_key)


# Lines a relay or a template may write: spaces and tabs in runs, at a line's end, empty lines
# at the end of the body; headers folded, or given twice.
BODY_LINES = st.lists(st.text(alphabet=" \tab=.;é-", max_size=30), max_size=8)
HEADER_VALUES = st.text(alphabet=" \taZ<>@.;:", min_size=1, max_size=90)


@given(lines=BODY_LINES, subject=HEADER_VALUES, to=HEADER_VALUES, twice=st.booleans(), folded=st.booleans())
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_message_is_canonicalised_as_a_receiver_checks_it(key_file, rsa_key, lines, subject, to, twice, folded):
    """The RSA signature is written here (dkimpy's pure-Python RSA takes 6 ms a mail), so
    dkimpy, as a receiver, checks it on odd bodies and headers."""
    subject_field = b"Subject: " + subject.encode() + (b"\r\n\t(folded)" if folded else b"")
    headers = [b"From: a@webinars.example.org", b"To: " + to.encode(), subject_field, b"Date: Fri, 30 Apr 2021"]
    if twice:
        headers.insert(1, b"Subject: an older subject")  # the bottom one is signed, as RFC 6376 says
    body = "\r\n".join(lines).encode()
    message = b"\r\n".join(headers) + b"\r\n\r\n" + body
    signer = Signer(DOMAIN, SELECTOR, read_private_key(key_file))

    assert verifies(signer.sign(message), rsa_key)


# -- the signature keeps the message valid --------------------------------------------------------------


def test_the_signature_is_folded_with_crlf_and_the_message_parses_cleanly(reminder):
    signature = mime.header_lines(reminder, "DKIM-Signature")
    lines = signature.split(b"\r\n")[:-1]

    assert signature.count(b"\n") == signature.count(b"\r\n"), "CRLF only: the SMTP transport sends no bare LF"
    assert len(lines) > 1, "folded"
    assert all(line[:1] in (b" ", b"\t") for line in lines[1:]), "each further line continues the header"
    assert max(map(len, lines)) <= 78
    message = email.message_from_bytes(reminder, policy=policy.default)
    assert not message.defects
    assert message.get_content_type() == "multipart/mixed"
    assert message["DKIM-Signature"] is not None


def test_signed_mail_is_the_unsigned_message_with_a_signature_on_top(store, webinar, settings, rsa_key):
    """Signing only puts a header on top, computed over the exact bytes of the mail, which
    reads as meant (tests/reading.py)."""
    composer = Composer(webinar, settings)
    readers = people(store, webinar)
    rows = deliveries(store)
    assert {row.template for row in rows} == {"confirmation", "reminder"}

    for delivery in rows:
        reader = readers[delivery.registrant_id]
        signed = composer.message_bytes(delivery, reader, WAVE)
        unsigned = assert_reads_as_meant(composer, delivery, reader, WAVE)
        assert signed == mime.header_lines(signed, "DKIM-Signature") + unsigned
        assert verifies(signed, rsa_key)


# -- (e) DKIM off ------------------------------------------------------------------------------------


def test_with_dkim_off_mail_is_unsigned_and_reads_as_meant(store, webinar, unsigned_settings):
    assert Signer.from_settings(unsigned_settings) is None
    composer = Composer(webinar, unsigned_settings)
    readers = people(store, webinar)

    for delivery in deliveries(store, "reminder-1h"):
        reader = readers[delivery.registrant_id]
        fast = composer.message_bytes(delivery, reader, WAVE)
        assert b"DKIM-Signature" not in fast
        assert fast == assert_reads_as_meant(composer, delivery, reader, WAVE)


# -- (f) configuration errors --------------------------------------------------------------------------


def refusal(tmp_path: Path, **environ: str) -> InputError:
    with pytest.raises(InputError) as refused:
        load_settings(env_file=tmp_path / ".env", environ=environ)
    return refused.value


def problem(error: InputError, key: str):
    [found] = [p for p in error.problems if p.field == key]
    return found


def test_the_three_settings_turn_signing_on(tmp_path, key_file):
    settings = load_settings(
        env_file=tmp_path / ".env",
        environ={
            "DKIM_DOMAIN": "Webinars.Example.org",
            "DKIM_SELECTOR": SELECTOR,
            "DKIM_PRIVATE_KEY_FILE": str(key_file),
        },
    )
    signer = Signer.from_settings(settings)
    assert (signer.domain, signer.selector) == (DOMAIN, SELECTOR), "the domain in lower case"
    assert signer.record_name == "webinars._domainkey.webinars.example.org"


def test_a_partial_set_names_each_missing_setting_and_the_fix(tmp_path):
    error = refusal(tmp_path, DKIM_DOMAIN=DOMAIN)

    assert {p.field for p in error.problems} == {"DKIM_SELECTOR", "DKIM_PRIVATE_KEY_FILE"}
    missing = problem(error, "DKIM_SELECTOR")
    assert "is not set, but DKIM_DOMAIN is: DKIM signing needs all three" in missing.message
    assert missing.fix == "set DKIM_SELECTOR too, or leave DKIM_DOMAIN empty to send unsigned mail"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda folder: folder / "nowhere.pem", "does not exist"),
        (lambda folder: folder, "is a folder, not a key file"),
        (lambda folder: write(folder, b"hello, I am not a key\n"), "is not a PEM private key"),
        (lambda folder: write(folder, public_pem()), "holds a public key, not an RSA or ed25519 private key"),
        (lambda folder: write(folder, encrypted_pem()), "encrypted with a passphrase"),
        (lambda folder: write(folder, ec_pem()), "holds an elliptic-curve key"),
        (lambda folder: write(folder, truncated_pem()), "is damaged"),
    ],
)
def test_a_key_file_that_cannot_sign_is_refused_with_the_reason_and_the_fix(tmp_path, make, says):
    path = make(tmp_path)
    error = refusal(tmp_path, DKIM_DOMAIN=DOMAIN, DKIM_SELECTOR=SELECTOR, DKIM_PRIVATE_KEY_FILE=str(path))

    found = problem(error, "DKIM_PRIVATE_KEY_FILE")
    assert found.message.startswith(f"{str(path)!r} ")
    assert says in found.message
    assert found.fix
    assert "DKIM_PRIVATE_KEY_FILE" in str(error)
    for line in path.read_bytes().splitlines() if path.is_file() else []:
        if len(line) > 20:  # the PEM's base64 lines: nothing of the file's contents is shown
            assert line.decode() not in str(error)


def test_a_key_pasted_in_place_of_its_files_name_is_never_shown(tmp_path, rsa_key):
    pasted = rsa_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, NO_PASSPHRASE).decode()
    error = refusal(tmp_path, DKIM_DOMAIN=DOMAIN, DKIM_SELECTOR=SELECTOR, DKIM_PRIVATE_KEY_FILE=pasted)

    found = problem(error, "DKIM_PRIVATE_KEY_FILE")
    assert "(hidden) looks like a key itself, not the name of a file" in found.message
    assert "give the file's path" in found.fix
    assert pasted.splitlines()[1] not in str(error) + repr(error)


@pytest.mark.parametrize(
    ("key", "value"),
    [("DKIM_DOMAIN", "example"), ("DKIM_DOMAIN", "exa mple.org"), ("DKIM_SELECTOR", "s1; d=evil.example")],
)
def test_a_bad_domain_or_selector_is_refused(tmp_path, key_file, key, value):
    values = {"DKIM_DOMAIN": DOMAIN, "DKIM_SELECTOR": SELECTOR, "DKIM_PRIVATE_KEY_FILE": str(key_file), key: value}
    error = refusal(tmp_path, **values)
    assert [p.field for p in error.problems] == [key]


def test_an_ed25519_key_signs_when_pynacl_is_installed_and_is_refused_clearly_when_not(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    path = write(tmp_path, key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, NO_PASSPHRASE))
    try:
        import nacl  # noqa: F401  (dkimpy's `ed25519` extra)
    except ImportError:
        with pytest.raises(KeyRefused, match="ed25519 key, and signing with one needs PyNaCl") as refused:
            read_private_key(path)
        assert "openssl genrsa" in refused.value.fix
        return
    signer = Signer(DOMAIN, SELECTOR, read_private_key(path))
    message = b"From: a@webinars.example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
    assert signer.key.dns_record.encode() == txt_record(key)
    assert verifies(signer.sign(message), key)


# -- doctor -------------------------------------------------------------------------------------------


def doctor_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if line[5:].startswith("dkim:")]
    return line


def dkim_env(key_file: Path, domain: str = DOMAIN) -> dict[str, str]:
    return {
        "MAIL_FROM": f"Webinar team <{SENDER}>",
        "DKIM_DOMAIN": domain,
        "DKIM_SELECTOR": SELECTOR,
        "DKIM_PRIVATE_KEY_FILE": str(key_file),
    }


def test_doctor_says_signing_is_off_when_it_is(run):
    assert run("init").code == 0
    result = run("doctor")
    assert result.code == 0, result.stdout
    assert doctor_line(result.stdout).startswith("OK   dkim: off: mail goes unsigned")


def test_doctor_says_the_key_loads_and_prints_the_txt_record_to_publish(run, key_file, rsa_key):
    assert run("init").code == 0
    result = run("doctor", env=dkim_env(key_file))

    assert result.code == 0, result.stdout
    line = doctor_line(result.stdout)
    assert line.startswith(f"OK   dkim: on: the rsa 2048-bit key in {key_file} loads and signs for {DOMAIN}")
    assert f"publish this TXT record at {SELECTOR}._domainkey.{DOMAIN}: " in line
    assert line.endswith(txt_record(rsa_key).decode())


def test_doctor_asks_for_a_private_key_file_and_an_aligned_domain(run, key_file):
    assert run("init").code == 0
    key_file.chmod(0o644)
    assert f"run `chmod 600 {key_file}`" in doctor_line(run("doctor", env=dkim_env(key_file)).stdout)

    key_file.chmod(0o600)
    result = run("doctor", env=dkim_env(key_file, domain="elsewhere.example.net"))
    assert result.code == 1
    assert "signed for elsewhere.example.net, so DMARC does not count" in doctor_line(result.stdout)


def test_a_command_with_half_a_dkim_setup_stops_with_exit_code_2(run, key_file):
    result = run("status", env={"DKIM_PRIVATE_KEY_FILE": str(key_file)})
    assert result.code == 2
    assert "DKIM_DOMAIN" in result.stderr
    assert "DKIM_SELECTOR" in result.stderr
    assert "Traceback" not in result.stderr


# -- key files of other kinds ----------------------------------------------------------------------------


def write(folder: Path, data: bytes) -> Path:
    path = folder / "key.pem"
    path.write_bytes(data)
    return path


def public_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def encrypted_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    passphrase = serialization.BestAvailableEncryption(b"passphrase")
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, passphrase)


def ec_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(PEM, serialization.PrivateFormat.PKCS8, NO_PASSPHRASE)


def truncated_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    lines = key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL, NO_PASSPHRASE).splitlines()
    return b"\n".join(lines[:5] + lines[-1:]) + b"\n"


def test_a_preview_is_never_signed(run, key_file, workdir):
    env = dkim_env(key_file)
    assert run("init").code == 0
    assert run("webinar", "add", SAMPLE_DEFINITION, env=env).code == 0
    assert run("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV, env=env).code == 0

    previewed = run("preview", SAMPLE_SLUG, "--eml", "preview.eml", env=env)

    assert previewed.code == 0, previewed.stderr
    assert b"DKIM-Signature" not in (workdir / "preview.eml").read_bytes(), "a signed copy could pass as sent"
