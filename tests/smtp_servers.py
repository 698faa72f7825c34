"""A real SMTP server on loopback for tests: aiosmtpd in a thread, with a programmable handler.

Start one with the `smtp_server()` context manager and program its `handler`:

    with smtp_server() as server:
        server.handler.fail_temporarily("a@example.org")      # 451 at DATA, once
        server.handler.reject("b@example.org")                # 550 at RCPT, always
        server.handler.drop("c@example.org")                  # close without answering DATA, once
        server.handler.stall(5)                               # the next DATA waits 5 s, once
        server.handler.random_faults(seed=7, temporary=0.1, drop=0.05)  # a share of every DATA
        SmtpTransport(server.host, server.port, security="none").send(...)
        server.handler.received                               # [Received(mail_from, rcpt_tos, data)]
        server.handler.connections                            # client connections that said EHLO/HELO

`smtp_server(username=..., password=...)` requires AUTH (LOGIN or PLAIN, offered without TLS:
this is loopback). `smtp_server(tls="starttls")` offers STARTTLS, and `tls="ssl"` speaks TLS
from the first byte, both with a certificate for 127.0.0.1 from a throwaway trustme CA;
`server.client_context()` is an SSL context that trusts that CA. `require_starttls=True`
refuses everything but EHLO/NOOP/QUIT before STARTTLS.

Only accepted messages are recorded: a 451, a 550, a drop or a client that gave up during a
stall leaves no `Received`. Each refusal is also counted in `handler.refusals` (recipient,
reply) so a test can tell "never tried" from "tried and refused", and each stall's outcome in
`handler.stalls`: "answered", or "abandoned" when the client hung up first.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"
TEMPORARY_REPLY = "451 4.3.0 Temporary local problem, please try again later"
PERMANENT_REPLY = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"
_DROP = object()


@dataclass(frozen=True)
class Received:
    """One message the server accepted (answered 250 to its DATA)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly the bytes the client sent, dot-stuffing undone

    def message(self) -> EmailMessage:
        """The message parsed back (modern `email.policy.default` API)."""
        return email.message_from_bytes(self.data, policy=policy.default)


@dataclass
class Handler:
    """aiosmtpd handler whose answers a test programs. Safe to use from the test's thread."""

    received: list[Received] = field(default_factory=list)
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (recipient, reply) for every 4xx/5xx/drop
    stalls: list[str] = field(default_factory=list)  # "answered" or "abandoned", per stall
    connections: int = 0
    _temporary: dict[str, list] = field(default_factory=dict)  # recipient -> [remaining, reply]
    _rejected: dict[str, tuple[str, str]] = field(default_factory=dict)  # recipient -> (at, reply)
    _drops: dict[str | None, int] = field(default_factory=dict)  # recipient (None: any) -> remaining
    _stall: tuple[float, str | None] | None = None
    _held: threading.Event | None = None  # the next DATA's reply waits until it is set
    _random: tuple[random.Random, float, float] | None = None  # (generator, temporary share, drop share)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- programming ----------------------------------------------------------------------

    def fail_temporarily(self, recipient: str, times: int = 1, reply: str = TEMPORARY_REPLY) -> None:
        """Answer `reply` (a 4xx) to the first `times` DATA commands addressed to `recipient`."""
        with self._lock:
            self._temporary[recipient.lower()] = [times, reply]

    def reject(self, recipient: str, at: str = "rcpt", reply: str | None = None) -> None:
        """Answer a 5xx (550 5.1.1 by default) to every RCPT (`at="rcpt"`) or DATA
        (`at="data"`) for `recipient`."""
        assert at in ("rcpt", "data")
        with self._lock:
            self._rejected[recipient.lower()] = (at, reply or PERMANENT_REPLY.format(address=recipient))

    def accept(self, recipient: str) -> None:
        """Take `recipient` again, after `reject`: their mailbox is back."""
        with self._lock:
            self._rejected.pop(recipient.lower(), None)

    def drop(self, recipient: str | None = None, times: int = 1) -> None:
        """Close the connection without answering, after the whole message of the next `times`
        DATA commands for `recipient` (any recipient when None) came in. Nothing is recorded."""
        with self._lock:
            self._drops[recipient.lower() if recipient else None] = times

    def stall(self, seconds: float, recipient: str | None = None) -> None:
        """Once: wait `seconds` before answering the next DATA (for `recipient`, or any), then
        carry on normally if the client is still there."""
        with self._lock:
            self._stall = (seconds, recipient.lower() if recipient else None)

    def hold_next_reply(self) -> None:
        """Keep the reply to the next DATA, and the message out of `received`, until
        `release()` (or 30 s): a test can then look at what happened before the reply."""
        with self._lock:
            self._held = threading.Event()

    def release(self) -> None:
        """Let the held reply go (see `hold_next_reply`)."""
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            held.set()

    def random_faults(self, seed: int, temporary: float = 0.0, drop: float = 0.0) -> None:
        """From now on, answer a share `temporary` of all DATA commands with a 451 and drop the
        connection (as `drop` does) on a share `drop` of them, drawn by a generator seeded with
        `seed`. A recipient rejected at DATA (`reject`) is always rejected instead."""
        assert 0 <= temporary + drop <= 1
        with self._lock:
            self._random = (random.Random(seed), temporary, drop)

    # -- reading --------------------------------------------------------------------------

    def to(self, recipient: str) -> list[Received]:
        """The accepted messages addressed to `recipient`."""
        with self._lock:
            return [r for r in self.received if recipient.lower() in (t.lower() for t in r.rcpt_tos)]

    # -- aiosmtpd hooks -------------------------------------------------------------------

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self._count_connection(server)
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self._count_connection(server)
        return f"250 {server.hostname}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            at, reply = self._rejected.get(address.lower(), (None, None))
            if at == "rcpt":
                self.refusals.append((address, reply))
                return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        recipients = [r.lower() for r in envelope.rcpt_tos]
        with self._lock:
            stall = self._stall
            if stall and (stall[1] is None or stall[1] in recipients):
                self._stall = None
            else:
                stall = None
        with self._lock:
            held = self._held
        if held is not None:
            await asyncio.get_running_loop().run_in_executor(None, held.wait, 30)
        if stall:
            try:
                await asyncio.sleep(stall[0])  # cancelled by aiosmtpd if the client hangs up
            except asyncio.CancelledError:
                with self._lock:
                    self.stalls.append("abandoned")
                raise
            with self._lock:
                self.stalls.append("answered")
        with self._lock:
            reply = self._decide(envelope, recipients)
        if reply is _DROP:
            server.transport.close()
            await asyncio.sleep(3600)  # never answer; aiosmtpd cancels this when the connection is gone
        if reply is not None:
            return reply
        return "250 2.0.0 OK: queued"

    def _decide(self, envelope, recipients: list[str]) -> str | object | None:
        """Under the lock: the refusal for this DATA, _DROP, or None after recording it."""
        for key in [*recipients, None]:
            if self._drops.get(key, 0) > 0:
                self._drops[key] -= 1
                self.refusals.append((",".join(envelope.rcpt_tos), "(connection dropped)"))
                return _DROP
        for recipient in recipients:
            at, reply = self._rejected.get(recipient, (None, None))
            if at == "data":
                self.refusals.append((recipient, reply))
                return reply
        if self._random is not None:
            generator, temporary, drop = self._random
            draw = generator.random()
            if draw < drop:
                self.refusals.append((",".join(envelope.rcpt_tos), "(connection dropped)"))
                return _DROP
            if draw < drop + temporary:
                self.refusals.append((",".join(envelope.rcpt_tos), TEMPORARY_REPLY))
                return TEMPORARY_REPLY
        for recipient in recipients:
            remaining = self._temporary.get(recipient)
            if remaining and remaining[0] > 0:
                remaining[0] -= 1
                self.refusals.append((recipient, remaining[1]))
                return remaining[1]
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content)))
        return None

    def _count_connection(self, server) -> None:
        # One aiosmtpd SMTP object per TCP connection; it says EHLO again after STARTTLS.
        if not getattr(server, "_counted_by_test_handler", False):
            server._counted_by_test_handler = True
            with self._lock:
                self.connections += 1


class _Controller(Controller):
    auth_required = False

    def factory(self) -> SMTP:
        server = super().factory()
        # Set after construction: passing auth_required=True without TLS makes aiosmtpd warn
        # on every connection, and a loopback test has no use for that warning.
        server._auth_required = self.auth_required
        return server


@dataclass
class SmtpServer:
    """A running server: where it listens, its handler, and its CA when it speaks TLS."""

    host: str
    port: int
    handler: Handler
    ca: trustme.CA | None
    controller: Controller

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this server's certificate."""
        assert self.ca is not None, "this server was started without tls"
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _authenticator(username: str, password: str):
    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            mechanism in ("LOGIN", "PLAIN")
            and isinstance(auth_data, LoginPassword)
            and auth_data.login == username.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: let aiosmtpd answer 535 itself (with the default it answers nothing).
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return authenticate


@contextlib.contextmanager
def smtp_server(
    *,
    handler: Handler | None = None,
    username: str | None = None,
    password: str | None = None,
    tls: str | None = None,
    require_starttls: bool = False,
    idle_timeout: float = 300,
) -> Iterator[SmtpServer]:
    """Run a real aiosmtpd server on 127.0.0.1 (a free port) for the block.

    `username`/`password`: require AUTH LOGIN or PLAIN. `tls`: None, "starttls" or "ssl".
    `require_starttls`: refuse mail before STARTTLS. `idle_timeout`: seconds before the server
    hangs up on a silent client.
    """
    assert tls in (None, "starttls", "ssl")
    handler = handler or Handler()
    ca = trustme.CA() if tls else None
    server_context = None
    if ca is not None:
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(HOST, "localhost").configure_cert(server_context)
    options: dict = {"timeout": idle_timeout, "server_hostname": "mx.test"}
    if username is not None:
        options.update(authenticator=_authenticator(username, password or ""), auth_require_tls=False)
    if tls == "starttls":
        options.update(tls_context=server_context, require_starttls=require_starttls)
    elif tls == "ssl":
        options.update(ssl_context=server_context)
    last_error: Exception | None = None
    for _ in range(5):  # another process may take the free port between probe and bind
        controller = _Controller(handler, hostname=HOST, port=free_port(), **options)
        controller.auth_required = username is not None
        try:
            controller.start()
        except Exception as exc:  # aiosmtpd re-raises the bind error as it is
            last_error = exc
            continue
        break
    else:
        raise RuntimeError(f"could not start the test SMTP server: {last_error}")
    try:
        yield SmtpServer(HOST, controller.port, handler, ca, controller)
    finally:
        controller.stop()
