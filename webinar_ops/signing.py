"""DKIM signatures (RFC 6376) on outgoing mail.

Signing is on when DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE are all set (see
config.py). A `Signer` is made from them once per Composer, and `Composer.message_bytes`
hands it each finished message: the signature is computed over exactly the bytes that are
sent, and put on top of them as a DKIM-Signature header, folded, with CRLF line ends.

An RSA signature is written here, with RFC 6376's relaxed canonical forms and OpenSSL's RSA
(`cryptography`): 0.8 ms a mail, where dkimpy's pure-Python RSA takes 6 ms. dkimpy is the
reference: it checks each key when it is loaded, verifies in the tests what is written here,
and signs ed25519 keys.

The key file is a PEM private key, PKCS#1 or PKCS#8: RSA (`openssl genrsa -out dkim.pem 2048`),
or ed25519 (`openssl genpkey -algorithm ed25519 -out dkim.pem`, which needs PyNaCl, dkimpy's
`ed25519` extra). `cryptography` reads it and derives its public half, which goes into DNS as
the TXT record `SELECTOR._domainkey.DOMAIN`; `webinar-ops doctor` prints it. The key's
contents never appear in an error or a log.

dkimpy and cryptography are imported only when signing is on: dkimpy brings dnspython, which
costs about 50 ms at start-up, and most installations never sign.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Protocol

# The headers the signature covers, when the message has them. The mail checklist's list:
# dkimpy's default lacks List-Unsubscribe-Post, which RFC 8058 wants signed, and Gmail checks
# that both List-Unsubscribe headers are.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"auto-submitted",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
# Relaxed for both: a relay that refolds a header or trims a line's trailing spaces does
# not break the signature.
CANONICALIZATION = (b"relaxed", b"relaxed")
MIN_RSA_BITS = 1024  # RFC 8301: verifiers refuse shorter keys
KEY_FIX = (
    "make a key with `openssl genrsa -out dkim.pem 2048`, keep it readable by you only (chmod 600), "
    "and publish the TXT record that `webinar-ops doctor` prints"
)
_OTHER_KIND = "holds a key of a kind DKIM does not use; DKIM signs with RSA or ed25519 keys"


class KeyRefused(ValueError):
    """A DKIM private key file that cannot be used: what is wrong and how to fix it. The text
    never holds the key; `conceal` says that the setting's value itself must not be shown."""

    def __init__(self, message: str, fix: str = KEY_FIX, conceal: bool = False):
        super().__init__(message)
        self.fix = fix
        self.conceal = conceal


@dataclass(frozen=True)
class PrivateKey:
    """A DKIM key as dkimpy takes it, with its public half as DNS publishes it."""

    kind: str  # "rsa" or "ed25519": the k= tag of the DNS record
    bits: int
    public_key: str  # base64: the p= tag of the DNS record
    signing_key: bytes = field(repr=False)  # PEM for RSA, the base64 seed for ed25519

    @property
    def algorithm(self) -> bytes:
        """The signature's a= tag."""
        return b"rsa-sha256" if self.kind == "rsa" else b"ed25519-sha256"

    @property
    def dns_record(self) -> str:
        """The TXT record's value that lets receivers check this key's signatures."""
        return f"v=DKIM1; k={self.kind}; p={self.public_key}"

    def describe(self) -> str:
        """What kind of key this is, for people: `rsa 2048-bit` or `ed25519`."""
        return f"{self.kind} {self.bits}-bit" if self.kind == "rsa" else self.kind


class DkimSettings(Protocol):
    """The DKIM keys of the configuration (config.Settings has them); this module sits below
    config, which checks the keys with its functions."""

    dkim_domain: str | None
    dkim_selector: str | None
    dkim_private_key_file: Path | None


class Signer:
    """Signs finished messages as one domain and selector. Made once, used for every mail."""

    def __init__(self, domain: str, selector: str, key: PrivateKey):
        self.domain = domain
        self.selector = selector
        self.key = key
        self._rsa = None  # the key as OpenSSL holds it, loaded at the first signature

    def __repr__(self) -> str:
        return f"Signer(d={self.domain}, s={self.selector}, {self.key.describe()})"

    @classmethod
    def from_settings(cls, settings: DkimSettings) -> Signer | None:
        """The signer the settings describe, or None when DKIM is off; made once per
        settings and kept, so the key file is read once a process, not once a webinar.
        Raises KeyRefused when the key file cannot be used (load_settings refuses such
        settings, so this happens only when the file changed since)."""
        values = (settings.dkim_domain, settings.dkim_selector, settings.dkim_private_key_file)
        if not any(values):
            return None
        if not all(values):
            raise ValueError("DKIM signing needs DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE together")
        return _signer(*values)

    @property
    def record_name(self) -> str:
        """Where receivers look for the public key: the DNS name of the TXT record."""
        return f"{self.selector}._domainkey.{self.domain}"

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line ends) with its DKIM-Signature header on top."""
        return self.signature(message) + message

    def signature(self, message: bytes) -> bytes:
        """The DKIM-Signature header for `message`, folded and ending in CRLF. It covers the
        headers of SIGNED_HEADERS that the message has, and the whole body."""
        if self.key.kind == "rsa":
            return self._rsa_signature(message)
        return self._dkimpy_signature(message)

    def _rsa_signature(self, message: bytes) -> bytes:
        # dkimpy does RSA in pure Python: 6 ms a mail, ten times a mail's composing. The
        # canonical forms are RFC 6376's few rules, and OpenSSL signs in a tenth of a ms;
        # tests/test_dkim.py has dkimpy verify what this writes.
        head, _, body = message.partition(b"\r\n\r\n")
        fields = _header_fields(head)
        names = {name.lower() for name, _ in fields}
        signed = [name for name in SIGNED_HEADERS if name in names]
        body_hash = base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest())
        tags = _folded(
            [
                b"v=1;",
                b"a=rsa-sha256;",
                b"c=relaxed/relaxed;",
                b"d=" + self.domain.encode() + b";",
                b"s=" + self.selector.encode() + b";",
                b"t=%d;" % int(time.time()),
                [b"h=" + signed[0], *(b":" + name for name in signed[1:-1]), b":" + signed[-1] + b";"],
                b"bh=" + body_hash + b";",
                b"b=",
            ]
        )
        data = b"".join(_relaxed_header(name, value) + b"\r\n" for name, value in _pick(fields, signed))
        data += _relaxed_header(b"DKIM-Signature", tags)
        signature = base64.b64encode(self._openssl_rsa().sign(data, *_pkcs1_sha256()))
        folded = b"".join(b"\r\n " + signature[i : i + 72] for i in range(0, len(signature), 72))
        return b"DKIM-Signature:" + tags + folded + b"\r\n"

    def _openssl_rsa(self):
        if self._rsa is None:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            self._rsa = load_pem_private_key(self.key.signing_key, password=None)
        return self._rsa

    def _dkimpy_signature(self, message: bytes) -> bytes:
        import dkim

        signer = dkim.DKIM(message, signature_algorithm=self.key.algorithm, linesep=b"\r\n")
        present = {name.lower() for name, _ in signer.headers}
        return signer.sign(
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.key.signing_key,
            canonicalize=CANONICALIZATION,
            include_headers=[name for name in SIGNED_HEADERS if name in present],
        )


def _pkcs1_sha256() -> tuple:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PKCS1v15(), hashes.SHA256()


def _header_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """The header section as (name, value) pairs, a value with its folding as written."""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
        else:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    return fields


def _pick(fields: list[tuple[bytes, bytes]], names: list[bytes]) -> list[tuple[bytes, bytes]]:
    """The fields `h=` names, in its order; a name given twice takes the instances from the
    bottom up (RFC 6376, 5.4.2)."""
    unused = list(fields)
    picked = []
    for name in names:
        for index in range(len(unused) - 1, -1, -1):
            if unused[index][0].lower() == name:
                picked.append(unused.pop(index))
                break
    return picked


_WSP = re.compile(rb"[ \t]+")
_TRAILING_WSP = re.compile(rb"[ \t]+\r\n")


def _relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376, 3.4.2: the name in lower case, the value unfolded, runs of white space as one
    space, none at either end of the value."""
    value = _WSP.sub(b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.strip().lower() + b":" + value


def _relaxed_body(body: bytes) -> bytes:
    """RFC 6376, 3.4.4: runs of white space as one space, none at a line's end, no empty
    lines at the end, and a non-empty body ends with CRLF."""
    body = _TRAILING_WSP.sub(b"\r\n", _WSP.sub(b" ", body))
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


def _folded(tags: list[bytes | list[bytes]]) -> bytes:
    """The tags of a DKIM-Signature, `v=1; a=…`, folded before a tag, or inside h= before a
    colon (where RFC 6376 allows white space), so that no line passes 78 characters."""
    out, width = [], len("DKIM-Signature:")
    for tag in tags:
        for position, atom in enumerate(tag if isinstance(tag, list) else [tag]):
            space = b"" if position else b" "
            if width + len(space) + len(atom) > 76:
                out.append(b"\r\n " + atom)
                width = 1 + len(atom)
            else:
                out.append(space + atom)
                width += len(space) + len(atom)
    return b"".join(out)


@lru_cache(maxsize=8)
def _signer(domain: str, selector: str, path: Path) -> Signer:
    try:
        key = read_private_key(path)
    except KeyRefused as exc:
        raise KeyRefused(f"DKIM_PRIVATE_KEY_FILE {path} {exc}", fix=exc.fix) from None
    return Signer(domain, selector, key)


# -- settings -----------------------------------------------------------------------------------

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def domain_name(value: str) -> str:
    """A DKIM_DOMAIN: a domain name in ASCII (an internationalised one in its xn-- form)."""
    name = value.strip().lower().rstrip(".")
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("is not a domain name: write the domain of your sender address, such as example.org")
    return name


def selector_name(value: str) -> str:
    """A DKIM_SELECTOR: one or more DNS labels, such as `webinars` or `2026.mail`."""
    name = value.strip().lower()
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValueError("is not a selector: use letters, digits and hyphens, such as webinars")
    return name


def key_file(value: str) -> Path:
    """A DKIM_PRIVATE_KEY_FILE: a path to a usable key. Raises KeyRefused saying why not."""
    if "-----" in value or "PRIVATE KEY" in value.upper() or len(value) > 255:
        raise KeyRefused(
            "looks like a key itself, not the name of a file",
            fix="put the key in a file readable by you only (chmod 600) and give the file's path",
            conceal=True,
        )
    path = Path(value).expanduser()
    read_private_key(path)
    return path


# -- the key ------------------------------------------------------------------------------------


def read_private_key(path: Path) -> PrivateKey:
    """The key in the PEM file `path`, checked by signing and verifying a probe message
    with it. Raises KeyRefused saying what is wrong (to follow the file's name), never
    what the file holds."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyRefused("does not exist") from None
    except IsADirectoryError:
        raise KeyRefused("is a folder, not a key file") from None
    except OSError as exc:
        raise KeyRefused(
            f"cannot be read ({exc.strerror})",
            fix="make the file readable by the user who runs webinar-ops, and by no one else (chmod 600)",
        ) from None
    key = _load(data)
    _check_signs(key)
    return key


def _load(data: bytes) -> PrivateKey:
    """The DKIM key in the PEM `data`, with its public half, as `cryptography` reads them.
    Its own errors are not passed on: they can quote what it parsed."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization as pem
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = pem.load_pem_private_key(data, password=None)
    except TypeError:  # it needs a password
        raise KeyRefused(
            "holds a key encrypted with a passphrase, which a service cannot type in",
            fix="write it out unencrypted with `openssl pkey -in OLD.pem -out dkim.pem`, readable by you only",
        ) from None
    except UnsupportedAlgorithm:
        raise KeyRefused(_OTHER_KIND) from None
    except ValueError:
        raise KeyRefused(_unreadable(data)) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyRefused(f"holds a {key.key_size}-bit RSA key; receivers refuse keys under {MIN_RSA_BITS} bits")
        public = key.public_key().public_bytes(pem.Encoding.DER, pem.PublicFormat.SubjectPublicKeyInfo)
        signing_key = key.private_bytes(pem.Encoding.PEM, pem.PrivateFormat.TraditionalOpenSSL, pem.NoEncryption())
        return PrivateKey("rsa", key.key_size, base64.b64encode(public).decode("ascii"), signing_key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        if find_spec("nacl") is None:  # dkimpy signs ed25519 with PyNaCl
            raise KeyRefused(
                "holds an ed25519 key, and signing with one needs PyNaCl, which is not installed",
                fix="install it (`pip install 'dkimpy[ed25519]'`), or use an RSA key: "
                "`openssl genrsa -out dkim.pem 2048`",
            )
        public = key.public_key().public_bytes(pem.Encoding.Raw, pem.PublicFormat.Raw)
        seed = key.private_bytes(pem.Encoding.Raw, pem.PrivateFormat.Raw, pem.NoEncryption())
        return PrivateKey("ed25519", 256, base64.b64encode(public).decode("ascii"), base64.b64encode(seed))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyRefused("holds an elliptic-curve key; DKIM signs with RSA or ed25519 keys")
    raise KeyRefused(_OTHER_KIND)


def _unreadable(data: bytes) -> str:
    """Why `data`, which cryptography could not read, is no private key: told by the label of
    its first PEM block, which is all of the file an error may describe."""
    found = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----", data)
    if found is None:
        return "is not a PEM private key (a file starting -----BEGIN PRIVATE KEY-----)"
    label = found.group(1).decode("ascii")
    if not label.endswith("PRIVATE KEY"):
        return f"holds a {label.lower()}, not an RSA or ed25519 private key"
    return "is damaged: it does not hold a whole, valid private key"


def _check_signs(key: PrivateKey) -> None:
    """Sign a probe and verify it against the DNS record we derived: a key that passes signs
    every mail, and the record that doctor prints is the one that verifies it."""
    import dkim

    probe = b"From: probe@example.invalid\r\nSubject: probe\r\n\r\nprobe\r\n"
    try:
        signature = dkim.sign(probe, b"probe", b"example.invalid", key.signing_key, signature_algorithm=key.algorithm)
    except Exception:  # dkimpy's own errors can quote what it parsed; the key must not be shown
        raise KeyRefused("holds a key that dkimpy cannot sign with") from None
    record = key.dns_record.encode("ascii")
    if not dkim.verify(signature + probe, dnsfunc=lambda name, timeout=5: record):
        raise KeyRefused("is damaged: its signatures do not match its public key")
