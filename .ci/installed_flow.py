#!/usr/bin/env python3
"""What a user installs is what CI tries: the wheel, in a fresh virtual environment outside the
checkout, runs a short flow in an empty folder, and every kind of mail must be written.

    python3 .ci/installed_flow.py

Only the standard library is used; pip reaches the same package indexes as `make test`.
Exits non-zero, naming the step, when anything fails.
"""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from email import policy
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SLUG = "undesa-snu-session-5"
IN_TWO_DAYS = date.today() + timedelta(days=2)
IN_THREE_DAYS = IN_TWO_DAYS + timedelta(days=1)
KINDS = ("confirmation", "reminder", "update", "cancellation", "after")
ANSWERS = ("awaiting", "denial", "waitlisted", "called_off")  # the sample seats everyone: only previewed
FRENCH_READER = "amelie.laurent@example.org"  # the sample's reader of French


def step(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run one command; stop the whole flow, with its output, when it fails."""
    shown = " ".join(map(str, command))
    print(f"$ {shown}", flush=True)
    done = subprocess.run(list(map(str, command)), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"installed flow: '{shown}' exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build_and_install(scratch: Path) -> Path:
    """Build the wheel from the checkout and install it into a new venv; return its bin folder."""
    wheels = scratch / "wheels"
    step(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, REPO)
    (wheel,) = wheels.glob("webinar_ops-*.whl")
    venv = scratch / "venv"
    step(sys.executable, "-m", "venv", venv)
    step(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    return venv / "bin"


def soon(definition: Path) -> Path:
    """A copy of the sample webinar, two days from now, with a message after it."""
    text = definition.read_text(encoding="utf-8")
    text = text.replace('start = "2021-04-30 15:00"', f'start = "{IN_TWO_DAYS} 15:00"')
    text += '\n[[after]]\nsend = "1d"\nnote = "Thank you for joining."\n'
    moved = definition.with_name("soon.toml")
    moved.write_text(text, encoding="utf-8")
    return moved


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="webinar-ops-installed-") as scratch_name:
        scratch = Path(scratch_name)
        bin_folder = build_and_install(scratch)
        folder = scratch / "organiser"
        folder.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBINAR_OPS_", "MAIL_", "SMTP_", "ZOOM_"))}
        env |= {"MAIL_TRANSPORT": "maildir", "MAIL_OUTBOX_DIR": "outbox", "PYTHONPATH": ""}

        def cli(*args: str | Path) -> str:
            return step(bin_folder / "webinar-ops", *args, cwd=folder, env=env)

        cli("init")
        cli("sample", ".")
        definition = soon(folder / f"{SLUG}.toml")
        cli("webinar", "add", definition)
        cli("registrants", "import", SLUG, "registrants-sample.csv")
        cli("sync", SLUG)
        cli("run", "--once")
        cli("remind", SLUG)
        definition.write_text(definition.read_text(encoding="utf-8").replace(str(IN_TWO_DAYS), str(IN_THREE_DAYS)))
        cli("webinar", "add", definition)
        cli("run", "--once")
        for kind in (*KINDS, *ANSWERS):
            cli("preview", SLUG, "--kind", kind, "--eml", folder / f"preview-{kind}.eml")
        cli("webinar", "cancel", SLUG, "--message", "The session moves to next month.")
        cli("run", "--once")
        check_outbox(json.loads(cli("outbox", "--json")), folder / "outbox")
        check_french(folder / "outbox")
        cli("report", SLUG, "--html", "report.html", "--csv", "report.csv")
        check_report(folder / "report.html")
        print("installed flow: every kind of mail and the report were written from the installed wheel")


def check_report(page: Path) -> None:
    """The report's page came from the installed template, with its charts drawn."""
    text = page.read_text(encoding="utf-8")
    if "<svg" not in text or "Registrations over time" not in text:
        sys.exit(f"the installed report {page} has no charts")


def check_outbox(rows: list[dict], maildir: Path) -> None:
    """Every kind but `after` (due after the end) was sent into the Maildir, which holds them all."""
    sent = {row["kind"].split("-")[0] for row in rows if row["state"] == "sent"}
    sent |= {"reminder" for row in rows if row["state"] == "sent" and row["kind"].startswith("manual-reminder")}
    missing = [kind for kind in KINDS if kind != "after" and kind not in sent]
    files = list((maildir / "new").iterdir())
    subjects = [email.message_from_bytes(path.read_bytes())["Subject"] for path in files]
    if missing or len(files) != sum(row["state"] == "sent" for row in rows):
        sys.exit(f"installed flow: no {', '.join(missing)} sent; {len(files)} mails in the Maildir: {subjects}")


def check_french(maildir: Path) -> None:
    """The sample's French reader got her confirmation in French: the wheel carries the catalog."""
    mails = [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in (maildir / "new").iterdir()]
    subjects = [str(mail["Subject"]) for mail in mails if FRENCH_READER in str(mail["To"])]
    if not any(subject.startswith("Inscription confirmée") for subject in subjects):
        sys.exit(f"installed flow: {FRENCH_READER} got no French confirmation: {subjects}")


if __name__ == "__main__":
    main()
