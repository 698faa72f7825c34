"""Security, end to end: what a log, a listing, a shared folder or a hostile template could give away.

1. No secret (the signing key, the SMTP password, the Zoom client secret, Zoom's access tokens and the
   host's start_url) reaches standard output, standard error, the logs, `--json` output, a stored error
   or any file of the project, whether plain or in the base64 that carries it on the wire.
2. The database (with its -wal and -shm), the Maildir and every file holding a join link are readable
   by their owner only, whatever the umask.
3. Join tokens are 128-bit HMACs under WEBINAR_OPS_SECRET_KEY, compared in constant time.
4. A personal join link reaches its owner's mail and preview and the listing that asks for links, and
   nothing else: not another person's mail, not a masked listing, not an error.
5. Organiser templates render in Jinja2's sandbox: an escape is refused with a clear error, and what
   people typed is only ever substituted.
6. The local Zoom with every fault at once: everyone is registered exactly once.

Everything runs through the real command line, in separate processes, against a real SMTP server that
requires a login (aiosmtpd) and the local Zoom, both on loopback.
"""

from __future__ import annotations

import base64
import email
import hmac
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from email import policy
from pathlib import Path

import pytest
from conftest import SAMPLE_CSV, SAMPLE_SLUG, TEST_SECRET_KEY, Ran, definition_variant
from dotenv import dotenv_values
from smtp_servers import smtp_server
from test_zoom import (
    FUTURE,
    RecordingZoom,
    assert_each_registered_once,
    every_file,
    leaks,
    make_zoom,  # noqa: F401 (a fixture, used by name below)
    open_desk,  # noqa: F401 (a fixture, used by name below)
    people,
    secret_values,
)

from webinar_ops import tokens
from webinar_ops.config import Settings, known_keys
from webinar_ops.definition import load_definition
from webinar_ops.people import Person
from webinar_ops.providers import load_provider
from webinar_ops.store import Store

KEYS = known_keys()  # every key webinar-ops reads, its plugins' too

AMELIE = "amelie.laurent@example.org"
JI_WOO = "ji-woo.kim@example.org"
KWAME = "kwame.mensah@example.org"
SAMPLE_PEOPLE = 15
SMTP_USER = "mailer@webinars.example.org"
ZOOM_REFUSES = f"{'a' * 64}@{'b' * 60}.example.org"  # too long for Zoom: a stored, per-person error
WALK_IN = "walk.in@example.org"


# -- the organiser's terminal ------------------------------------------------------------------------------


class Terminal:
    """The organiser's terminal in the project folder: each command runs the real `webinar-ops` in its
    own process, and everything it printed is kept, to be searched afterwards. `hidden` names values
    that must never be shown, not even in this test's own failure messages."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.env: dict[str, str] = {}
        self.printed: dict[str, str] = {}
        self.hidden: dict[str, str] = {}
        self.hidden_later: list[Callable[[], dict[str, str]]] = []  # secrets known only once issued

    def __call__(self, *args: str, expect: int | None = 0, **env: str) -> Ran:
        base = {k: v for k, v in os.environ.items() if k not in KEYS}
        process = subprocess.run(
            [sys.executable, "-m", "webinar_ops", *map(str, args)],
            cwd=self.folder,
            env={**base, **self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        label = f"#{len(self.printed) // 2 + 1} {' '.join(map(str, args))}" + "".join(f" with {k}" for k in env)
        self.printed[f"stdout of {label}"] = process.stdout
        self.printed[f"stderr of {label}"] = process.stderr
        if expect is not None and process.returncode != expect:
            pytest.fail(
                f"`{label}` exited with {process.returncode}, not {expect}:\n"
                f"{self.redact(process.stdout)}\n{self.redact(process.stderr)}"
            )
        return Ran(process.returncode, process.stdout, process.stderr)

    def redact(self, text: str) -> str:
        """`text` with every hidden value, and the project's signing key, replaced by its name."""
        env_file = self.folder / ".env"
        hidden = {"the signing key": dotenv_values(env_file).get("WEBINAR_OPS_SECRET_KEY")} if env_file.exists() else {}
        hidden.update(self.hidden)
        for more in self.hidden_later:
            hidden.update(more())
        for name, value in hidden.items():
            text = text.replace(value, f"[{name}]") if value else text
        return text

    def links(self, slug: str = SAMPLE_SLUG) -> dict[str, str]:
        """Everyone's personal join link, as `registrants list --show-links --json` gives them."""
        listed = self("registrants", "list", slug, "--show-links", "--json").json()
        return {row["email"]: row["join_url"] for row in listed if row["join_url"]}


@pytest.fixture
def terminal(workdir: Path) -> Terminal:
    return Terminal(workdir)


@pytest.fixture
def umask_022():
    """An ordinary umask: files are made readable by everyone unless the code says otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def future_webinar(folder: Path, extra: dict[str, str] | None = None) -> Path:
    """The sample webinar moved to 2031, so that its mail is still to come."""
    return definition_variant(folder, {**FUTURE, **(extra or {})}, name="webinar.toml")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode().rstrip("=")


def smtp_secrets(user: str, password: str, name: str = "SMTP password") -> dict[str, str]:
    """The password as typed, and as it travels in AUTH PLAIN, AUTH LOGIN and HTTP Basic."""
    return {
        name: password,
        f"{name} in AUTH PLAIN": b64(f"\0{user}\0{password}"),
        f"{name} in AUTH LOGIN": b64(password),
        f"{name} in Basic": b64(f"{user}:{password}"),
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def token_of(link: str) -> str:
    """The secret part of a personal join link: the local provider's /j/TOKEN, or Zoom's ?tk=TOKEN."""
    return link.partition("?tk=")[2] or link.rpartition("/")[2]


def readable(raw: bytes) -> dict[str, str]:
    """A mail's parts as its reader's program shows them: text, HTML, the calendar part and the
    attached invite (unfolded), each decoded, plus the raw message."""
    message = email.message_from_bytes(raw, policy=policy.default)
    parts = {"raw": raw.decode("utf-8", "replace")}
    for number, part in enumerate(p for p in message.walk() if not p.is_multipart()):
        content = part.get_content()
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        if part.get_content_type() in ("text/calendar", "application/ics"):
            text = text.replace("\r\n ", "").replace("\n ", "")  # iCalendar folds long lines
        parts[f"{number}:{part.get_content_type()}"] = text
    return parts


def recipient(raw: bytes) -> str:
    return email.message_from_bytes(raw, policy=policy.default)["To"].addresses[0].addr_spec


def maildir_messages(folder: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((folder / "new").iterdir())]


# -- 1. secrets ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["local", "zoom"])
def test_no_secret_reaches_any_output_log_stored_error_or_file(provider, terminal, workdir, make_zoom, umask_022):  # noqa: F811
    smtp_password = "smtp-" + secrets.token_urlsafe(18)
    wrong_password = "wrong-" + secrets.token_urlsafe(18)
    zoom = make_zoom(RecordingZoom, plan="business", seed=13, client_secret="zs-" + secrets.token_urlsafe(24))
    wrong_zoom_secret = "rotated-" + secrets.token_urlsafe(24)
    short_key = "short-" + secrets.token_hex(4)
    cli = terminal
    known = {
        "the too short signing key": short_key,
        **smtp_secrets(SMTP_USER, smtp_password),
        **smtp_secrets(SMTP_USER, wrong_password, "the wrong SMTP password"),
    }
    if provider == "zoom":
        known["the wrong Zoom secret"] = wrong_zoom_secret
        known["the wrong Zoom secret in Basic"] = b64(f"{zoom.client_id}:{wrong_zoom_secret}")
        cli.hidden_later.append(lambda: secret_values(zoom))  # the tokens it issues, the start_url it makes
    cli.hidden = known
    with smtp_server(username=SMTP_USER, password=smtp_password) as server:
        cli.env = {
            "WEBINAR_OPS_PROVIDER": provider,
            "MAIL_TRANSPORT": "smtp",
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_SECURITY": "none",
            "SMTP_USERNAME": SMTP_USER,
            "SMTP_PASSWORD": smtp_password,
            "SMTP_TIMEOUT": "10",
            **(zoom.environment() if provider == "zoom" else {}),
        }

        cli("init")
        known["the signing key"] = dotenv_values(workdir / ".env")["WEBINAR_OPS_SECRET_KEY"]
        cli("webinar", "add", future_webinar(workdir))
        cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV)
        cli("registrants", "add", SAMPLE_SLUG, "--email", ZOOM_REFUSES, "--first-name", "Long")
        if provider == "zoom":
            refused = cli("sync", SAMPLE_SLUG, expect=1, ZOOM_CLIENT_SECRET=wrong_zoom_secret)
            assert "check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET" in cli.redact(refused.stderr)
            stored = cli("status", SAMPLE_SLUG, "--json").json()[0]["provider_error"]
            assert "check ZOOM_ACCOUNT_ID" in cli.redact(stored), "the refusal is stored, to be shown by status"
            cli("sync", SAMPLE_SLUG, expect=1)  # Zoom refuses the long address, alone
            zoom.expire_tokens()  # the next sync meets a 401, then a 503, and fetches a fresh token
            zoom.set_faults(error_next=1, error_statuses=[503])
            zoom.add_registrant_from_zoom_page(zoom.state()["webinars"][0]["id"], WALK_IN, "Walk", "In")
            cli("--debug", "sync", SAMPLE_SLUG, "--json", expect=1)
        else:
            cli("sync", SAMPLE_SLUG)
            cli("--debug", "sync", SAMPLE_SLUG, "--json")
        cli("status", "--json", WEBINAR_OPS_SECRET_KEY=short_key, expect=2)

        refused = cli("run", "--once", SMTP_PASSWORD=wrong_password, expect=1)
        assert "login refused" in cli.redact(refused.stderr)
        cli("--debug", "run", "--once", SMTP_PASSWORD=wrong_password, expect=1)
        cli("doctor", "--json", SMTP_PASSWORD=wrong_password, expect=None)
        assert server.handler.received == [], "nothing is sent without the right password"
        if provider == "zoom":
            logged = cli("run", "--once", ZOOM_CLIENT_SECRET=wrong_zoom_secret)  # the sync's failure is logged
            assert "sync failed" in cli.redact(logged.stderr)
        else:
            cli("run", "--once")
        cli("remind", SAMPLE_SLUG)
        cli("remind", SAMPLE_SLUG, "--to", AMELIE, MAIL_TRANSPORT="maildir")
        cli("preview", SAMPLE_SLUG, "--registrant", AMELIE, "--eml", "data/amelie.eml", "--html", "data/amelie.html")
        cli("registrants", "cancel", SAMPLE_SLUG, KWAME)
        for listing in (
            ("status",),
            ("status", SAMPLE_SLUG, "--json"),
            ("outbox",),
            ("outbox", "--json"),
            ("registrants", "list", SAMPLE_SLUG),
            ("registrants", "list", SAMPLE_SLUG, "--json"),
            ("registrants", "list", SAMPLE_SLUG, "--show-links", "--json"),
            ("webinar", "list", "--json"),
            ("webinar", "show", SAMPLE_SLUG),
            ("webinar", "show", SAMPLE_SLUG, "--json"),
        ):
            cli(*listing)
        cli("doctor", "--json", expect=None)

    mailed = {recipient(r.data) for r in server.handler.received}
    assert len(mailed) >= SAMPLE_PEOPLE, "every confirmation and reminder went through the login"
    assert mode(workdir / ".env") == 0o600, ".env holds the signing key and may hold passwords"
    if provider == "zoom":
        assert len(zoom.issued) >= 3, "tokens were issued, expired and issued again"
        known.update(secret_values(zoom))
    files = {name: data for name, data in every_file(workdir).items() if name != ".env"}
    assert any(name.startswith("data/webinar_ops.db") for name in files)
    assert leaks(known, {**cli.printed, **files}) == []


# -- 2. private files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask-022", "umask-002"])
def test_the_database_the_maildir_and_previews_are_readable_by_their_owner_only(umask, terminal, workdir):
    previous = os.umask(umask)  # inherited by every command below
    try:
        cli = terminal
        cli("init")
        cli("webinar", "add", future_webinar(workdir))
        cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV)
        cli("sync", SAMPLE_SLUG)
        cli("remind", SAMPLE_SLUG)
        cli("preview", SAMPLE_SLUG, "--registrant", AMELIE, "--eml", "amelie.eml", "--html", "amelie.html")
        with Store.open(workdir / "data" / "webinar_ops.db") as store:  # a writer holds the -wal and -shm open
            store.write("UPDATE webinars SET updated_at = updated_at")
            database_files = sorted((workdir / "data").glob("webinar_ops.db*"))
            database_modes = {path.name: mode(path) for path in database_files}
    finally:
        os.umask(previous)

    assert database_modes == {"webinar_ops.db": 0o600, "webinar_ops.db-shm": 0o600, "webinar_ops.db-wal": 0o600}
    assert mode(workdir / ".env") == 0o600
    outbox = workdir / "data" / "outbox"
    folders = [outbox, *(outbox / sub for sub in ("tmp", "new", "cur"))]
    assert {str(f.relative_to(workdir)): mode(f) for f in folders} == {
        str(f.relative_to(workdir)): 0o700 for f in folders
    }
    mails = sorted((outbox / "new").iterdir())
    assert len(mails) == SAMPLE_PEOPLE
    assert {mode(path) for path in mails} == {0o600}
    for preview in ("amelie.eml", "amelie.html"):  # they hold Amélie's personal link
        assert mode(workdir / preview) == 0o600, preview


# -- 3. tokens -------------------------------------------------------------------------------------------------

WEBINAR_ID = "81234567890"
OTHER_KEY = "another-signing-key-" + "x" * 24


def local_links(workdir: Path, key: str, addresses: list[str], name: str) -> list[str]:
    """Register `addresses` with the local provider of a fresh project signed with `key`."""
    settings = Settings(db_path=workdir / "data" / f"{name}.db", secret_key=key)
    with Store.open(settings.db_path) as store:
        provider = load_provider("local", settings, store)
        provider.publish(load_definition(future_webinar(workdir)), WEBINAR_ID)
        registered = provider.register(WEBINAR_ID, [Person(a, "Someone") for a in addresses], approve=True)
    return [r.join_url for r in registered]


def test_join_tokens_are_128_bit_hmacs_of_the_webinar_and_the_address_under_the_signing_key(workdir):
    addresses = [f"person{n}@example.org" for n in range(200)]
    links = local_links(workdir, TEST_SECRET_KEY, addresses, "first")
    found = [token_of(link) for link in links]

    raw = [base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) for token in found]
    assert {len(value) * 8 for value in raw} == {128}
    distinct = len(set(found))
    assert distinct == len(addresses)
    for bit in range(128):  # each bit is as often set as not: nothing in a token is predictable
        share = sum(value[bit // 8] >> (bit % 8) & 1 for value in raw) / len(raw)
        assert 0.3 < share < 0.7, bit
    # (Tokens are compared as booleans below, so that a failure does not print one.)
    pairs = list(zip(addresses, found, strict=True))
    assert not [a for a, token in pairs if a.split("@")[0] in token], "a token shows its address"
    assert not [a for a, token in pairs if not tokens.verify(TEST_SECRET_KEY, token, "join", WEBINAR_ID, a)]
    same = local_links(workdir, TEST_SECRET_KEY, addresses[:3], "again") == links[:3]
    assert same, "the same person registered again gets the same link"

    others = [token_of(link) for link in local_links(workdir, OTHER_KEY, addresses, "other")]
    shared = len(set(others) & set(found))
    assert shared == 0, "another signing key gives other tokens"
    assert not [a for a, token in pairs if tokens.verify(OTHER_KEY, token, "join", WEBINAR_ID, a)]


def test_a_token_verifies_only_for_its_own_person_webinar_and_purpose_and_not_when_tampered_with():
    token = tokens.sign(TEST_SECRET_KEY, "join", WEBINAR_ID, AMELIE)

    def verifies(candidate: str, *subject: str, key: str = TEST_SECRET_KEY) -> bool:
        return tokens.verify(key, candidate, *(subject or ("join", WEBINAR_ID, AMELIE)))

    assert verifies(token)
    assert not verifies(token, "join", WEBINAR_ID, JI_WOO), "another person's token"
    assert not verifies(token, "join", "81234567891", AMELIE), "another webinar's token"
    assert not verifies(token, "unsubscribe", WEBINAR_ID, AMELIE), "a token for another purpose"
    assert not verifies(token, key=OTHER_KEY), "a token signed with another key"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position, char in enumerate(token):
        for other in (alphabet[(alphabet.index(char) + 1) % 64], alphabet[(alphabet.index(char) + 32) % 64]):
            assert not verifies(token[:position] + other + token[position + 1 :]), f"changed at {position}"
    for name, changed in {
        "cut short": token[:-1],
        "lengthened": token + "A",
        "upper case": token.upper(),
        "empty": "",
        "padded": token + "==",
    }.items():
        assert not verifies(changed), name


def test_tokens_are_compared_in_constant_time(monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    token = tokens.sign(TEST_SECRET_KEY, "join", WEBINAR_ID, AMELIE)

    assert tokens.verify(TEST_SECRET_KEY, token, "join", WEBINAR_ID, AMELIE)
    assert not tokens.verify(TEST_SECRET_KEY, token, "join", WEBINAR_ID, JI_WOO)
    assert len(compared) == 2
    assert all(given == token.encode() for given, _ in compared), "the token given is what is compared"

    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: True)  # the answer is compare_digest's alone
    assert tokens.verify(TEST_SECRET_KEY, "not the token", "join", WEBINAR_ID, AMELIE)


def test_init_writes_a_fresh_256_bit_signing_key_for_each_project(terminal, workdir, tmp_path):
    terminal("init")
    other = Terminal(tmp_path / "elsewhere")
    other.folder.mkdir()
    other("init")

    first, second = (dotenv_values(t.folder / ".env")["WEBINAR_OPS_SECRET_KEY"] for t in (terminal, other))
    differ = first != second
    assert differ, "two projects got the same signing key"
    assert len(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))) * 8 >= 256


# -- 4. a personal link reaches its owner only -----------------------------------------------------------------


def test_each_persons_join_link_reaches_their_own_mail_and_nothing_else(terminal, workdir):
    cli = terminal
    with smtp_server() as server:
        cli.env = {
            "MAIL_TRANSPORT": "smtp",
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_SECURITY": "none",
            "SMTP_TIMEOUT": "10",
        }
        cli("init")
        cli("webinar", "add", future_webinar(workdir))
        cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV)
        cli("sync", SAMPLE_SLUG)
        links = cli.links()
        cli.hidden = {f"{person}'s join link": token_of(link) for person, link in links.items()}
        # Spam filters quote what they found; the outbox keeps the server's words, without the link.
        server.handler.reject(JI_WOO, at="data", reply=f"554 5.6.0 Rejected: {links[JI_WOO]} is on a block list")
        server.handler.fail_temporarily(KWAME, reply=f"451 4.7.1 Greylisted, see {token_of(links[KWAME])}")

        cli("run", "--once")  # the confirmations, over SMTP
        # A refusal of the sender's authentication (DMARC) stops the wave: the error printed must
        # not show the link either.
        server.handler.reject(AMELIE, at="data", reply=f"554 5.7.1 DMARC policy: {links[AMELIE]} is not allowed")
        stopped = cli("remind", SAMPLE_SLUG, "--to", AMELIE, expect=1)
        assert "Sending stopped" in cli.redact(stopped.stderr)
        cli("remind", SAMPLE_SLUG, MAIL_TRANSPORT="maildir")  # a reminder to everyone, into the Maildir
        previews = {person: cli("preview", SAMPLE_SLUG, "--registrant", person).stdout for person in (AMELIE, KWAME)}
        for listing in (
            ("registrants", "list", SAMPLE_SLUG),
            ("registrants", "list", SAMPLE_SLUG, "--json"),
            ("status", SAMPLE_SLUG),
            ("status", SAMPLE_SLUG, "--json"),
            ("outbox", SAMPLE_SLUG),
            ("outbox", SAMPLE_SLUG, "--json"),
            ("sync", SAMPLE_SLUG, "--json"),
        ):
            cli(*listing)
        cli("preview", SAMPLE_SLUG, "--registrant", "nobody@example.org", expect=2)
        cli("remind", SAMPLE_SLUG, "--to", "nobody@example.org", expect=None)

    assert len(links) == SAMPLE_PEOPLE
    assert len(set(map(token_of, links.values()))) == SAMPLE_PEOPLE
    smtp_mails = [r.data for r in server.handler.received]
    maildir_mails = maildir_messages(workdir / "data" / "outbox")
    assert len(smtp_mails) == SAMPLE_PEOPLE - 2  # Ji-woo's was refused, Kwame's waits for a retry
    assert len(maildir_mails) == SAMPLE_PEOPLE
    for raw in smtp_mails + maildir_mails:
        owner = recipient(raw)
        parts = readable(raw)
        shown = {
            kind: text for kind, text in parts.items() if kind.endswith(("text/plain", "text/html", "calendar", "ics"))
        }
        assert len(shown) == 4, list(parts)  # text, HTML, the calendar part and the invite.ics
        assert all(links[owner] in text for text in shown.values()), owner
        others = [p for p, link in links.items() if p != owner and any(token_of(link) in t for t in parts.values())]
        assert others == [], f"the mail to {owner} holds the links of {others}"

    for person, shown in previews.items():
        own = links[person] in shown
        assert own, f"the preview for {person} has their link"
        assert [p for p, link in links.items() if p != person and token_of(link) in shown] == []

    everything_else = {
        label: text for label, text in cli.printed.items() if "--show-links" not in label and "preview" not in label
    }
    everything_else["the outbox's errors"] = "\n".join(
        str(row[0])
        for row in sqlite3.connect(workdir / "data" / "webinar_ops.db").execute(
            "SELECT coalesce(last_error, '') || coalesce(reason, '') FROM deliveries"
        )
    )
    assert "block list" in cli.redact(everything_else["the outbox's errors"]), "the server's words are kept"
    shown = [
        f"{person}'s join link in {where}"
        for where, text in everything_else.items()
        for person, link in links.items()
        if token_of(link)[:8] in text  # the masked listing shows only the first few characters
    ]
    assert shown == []


# -- 5. organiser templates ------------------------------------------------------------------------------------

# Each reaches for Python's internals; the first ones plainly, so `webinar add` can refuse them at once.
PLAIN_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "{{ lipsum.__globals__['os'].popen('touch PWNED').read() }}",
    "{{ joiner.__init__.__globals__.__builtins__.__import__('os').system('touch PWNED') }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ person|attr('__class__') }}",
    "{{ webinar.title.__class__.__base__.__subclasses__() }}",
    "{% include '../../.env' %}",
    "{% include '/etc/passwd' %}",
]
# ...and these in disguise, which only the sandbox, while rendering, can see through.
DISGUISED_ESCAPES = [
    "{{ ''['__cla' ~ 'ss__'] }}",
    "{{ (cycler|attr('__in' ~ 'it__'))|attr('__glo' ~ 'bals__') }}",
    "{{ '{0.__class__.__mro__}'.format(person) }}",
    "{% include join_url %}",
    "{% include google_calendar_link %}",  # the join link inside, percent-encoded
    "{% include calendar_file_link %}",
    "{% include unsubscribe_link %}",
]


def with_own_templates(workdir: Path, reminder_text: str | None = None) -> Path:
    """The future webinar with `[mail] templates = "mytemplates"`, its reminder text replaced."""
    folder = workdir / "mytemplates"
    folder.mkdir(exist_ok=True)
    (folder / "reminder.subject.txt").write_text("Soon: {{ webinar.title }}\n", encoding="utf-8")
    if reminder_text is not None:
        (folder / "reminder.txt").write_text(
            f"Dear {{{{ person.first_name }}}},\n\n{reminder_text}\n", encoding="utf-8"
        )
    return future_webinar(workdir, {"[reminders]": '[mail]\ntemplates = "mytemplates"\n\n[reminders]'})


def assert_refused_plainly(ran: Ran, terminal: Terminal) -> None:
    """One clear error, naming the file and line and why, and nothing from Python or the host."""
    error, printed = terminal.redact(ran.stderr), terminal.redact(ran.stdout + ran.stderr)
    assert "Traceback" not in error
    assert "mytemplates/reminder.txt:3: " in error, "the error names the file and the line"
    assert "the sandbox refuses" in error or "there is no template" in error
    assert not (terminal.folder / "PWNED").exists(), "the template ran a command"
    for inside in ("<class", "<module", "<function", "[the signing key]", "root:"):
        assert inside not in printed


@pytest.mark.parametrize("escape", PLAIN_ESCAPES)
def test_webinar_add_refuses_a_template_that_reaches_for_pythons_internals(escape, terminal, workdir):
    terminal("init")

    refused = terminal("webinar", "add", with_own_templates(workdir, escape), expect=2)

    assert_refused_plainly(refused, terminal)
    assert terminal("webinar", "list", "--json").json() == [], "nothing was added"


@pytest.mark.parametrize("escape", PLAIN_ESCAPES + DISGUISED_ESCAPES)
def test_a_template_changed_after_webinar_add_is_refused_when_a_mail_is_written(escape, terminal, workdir):
    cli = terminal
    cli("init")
    cli("webinar", "add", with_own_templates(workdir))
    cli("registrants", "import", SAMPLE_SLUG, SAMPLE_CSV)
    cli("sync", SAMPLE_SLUG)
    links = cli.links()
    with_own_templates(workdir, escape)  # the organiser edits the folder afterwards

    # Kwame reads English, the language of the edited template (Amélie's mails are French).
    previewed = cli("preview", SAMPLE_SLUG, "--registrant", KWAME, expect=2)
    sent = cli("remind", SAMPLE_SLUG, expect=1)

    for ran in (previewed, sent):
        assert_refused_plainly(ran, cli)
        assert not any(token_of(link) in ran.stderr for link in links.values()), "an error shows a join link"
        assert "/c/" not in ran.stderr, "an error shows a calendar file link"
        assert "/u/" not in ran.stderr, "an error shows an unsubscribe link"
    # Nothing the edited (English) template writes went out; Amélie's French mail, written from
    # the default French templates, may have gone before the wave met the first English one.
    outbox = workdir / "data" / "outbox"
    sent = maildir_messages(outbox) if (outbox / "new").exists() else []
    assert all(AMELIE in str(email.message_from_bytes(raw)["To"]) for raw in sent)
    manual = [row for row in cli("outbox", "--json").json() if row["kind"].startswith("manual-")]
    assert len(manual) == SAMPLE_PEOPLE
    english = [row for row in manual if row["email"] != AMELIE]
    assert {row["state"] for row in english} == {"pending"}, "the mail waits for a mended template"


def test_what_people_type_is_substituted_never_evaluated(terminal, workdir):
    cli = terminal
    cli("init")
    cli(
        "webinar",
        "add",
        future_webinar(workdir, {'title = "Strengthening': 'title = "{{ 6 * 7 }} and {% raw %} Strengthening'}),
    )
    cli("registrants", "add", SAMPLE_SLUG, "--email", AMELIE, "--first-name", "{{ 7 * 7 }}", "--last-name",
        "{% for x in range(3) %}x{% endfor %}")  # fmt: skip
    cli("sync", SAMPLE_SLUG)

    shown = cli("preview", SAMPLE_SLUG, "--registrant", AMELIE).stdout
    cli("remind", SAMPLE_SLUG)

    [mail] = maildir_messages(workdir / "data" / "outbox")
    parts = readable(mail)
    words = [text for kind, text in parts.items() if kind.endswith(("text/plain", "text/html"))]
    for place in (shown, *words):
        assert "{{ 7 * 7 }}" in place
        assert "{{ 6 * 7 }} and {% raw %} Strengthening" in place
        for evaluated in ("Dear 49", "42 and", "xxx"):
            assert evaluated not in place
    assert "{{ 6 * 7 }} and {% raw %}" in email.message_from_bytes(mail, policy=policy.default)["Subject"]


# -- 6. Zoom's faults, all at once -----------------------------------------------------------------------------


def test_every_zoom_fault_at_once_registers_everyone_exactly_once(make_zoom, open_desk):  # noqa: F811
    count = 1500
    fake = make_zoom(
        plan="pro",  # the account's plan...
        seed=21,
        faults={  # each strikes at least once (the countdowns), then now and then
            "error_next": 1,
            "error_rate": 0.05,
            "error_statuses": [500, 502, 503, 504],
            "drop_next": 1,
            "drop_rate": 0.03,
            "lost_batch_next": 1,
            "lost_batch_rate": 0.05,
        },
    )
    desk = open_desk(fake, zoom_plan="business")  # ...and the faster one the organiser wrote in .env
    desk.define()
    desk.import_people(people(count))
    expired = []

    def expire_halfway(done: int, total: int) -> None:
        if done < total:
            expired.append(fake.expire_tokens())

    began = time.monotonic()
    report = desk.sync(progress=expire_halfway)
    took = time.monotonic() - began

    injected = dict(fake.faults_injected)
    refused_tokens = sum(1 for r in fake.requests if r.status == 401)
    print(
        f"\nZoom faults at once: {count} people in {took:.1f} s, {len(fake.requests)} requests; "
        f"injected {injected}; 429 {dict(fake.throttled)}; tokens expired {len(expired)}, "
        f"refused {refused_tokens}, issued {fake.state()['counters']['tokens_issued']}"
    )
    assert report.failed == []
    assert report.registered == count
    assert_each_registered_once(desk, {p[0] for p in people(count)})
    assert not fake.re_added(), "a batch whose answer was lost was sent again blindly"
    assert all(injected.get(kind, 0) >= 1 for kind in ("error", "drop", "lost_batch")), injected
    assert fake.throttled.get("QPS", 0) >= 1
    assert expired, "tokens expired mid-sync"
    assert refused_tokens >= 1
    assert len(fake.state()["webinars"]) == 1
