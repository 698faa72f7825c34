"""The `webinar-ops` command line: a thin shell over the library.

Exit codes: 0 success, 1 the operation failed, 2 bad usage or invalid input. `--json`
prints machine-readable JSON on standard output; errors go to standard error without a
traceback unless `--debug` is given. Heavy modules are imported inside the commands so that
`webinar-ops --help` starts quickly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from webinar_ops import __version__
from webinar_ops.errors import WebinarOpsError

if TYPE_CHECKING:
    from datetime import datetime

    from webinar_ops.config import Settings
    from webinar_ops.plan import PlanReport, PreviewMail
    from webinar_ops.providers import Provider
    from webinar_ops.store import Registrant, Store, WebinarRecord

SAMPLE_HINT = "webinar-ops sample . (the sample webinar and its registrants), then webinar-ops webinar add FILE"


class App:
    """What every command shares: settings, the store and the clock, made when first used."""

    def __init__(self, debug: bool = False):
        self.debug = debug

    @cached_property
    def settings(self) -> Settings:
        from webinar_ops.config import load_settings

        return load_settings()

    @cached_property
    def store(self) -> Store:
        from webinar_ops.store import Store

        return Store.open(self.settings.db_path)

    def reload_settings(self) -> None:
        """Forget the settings read so far (after `init` wrote to .env)."""
        self.__dict__.pop("settings", None)

    def webinar(self, slug: str) -> WebinarRecord:
        return self.store.webinar(slug)

    def provider_for(self, webinar: WebinarRecord) -> Provider:
        from webinar_ops.providers import load_provider

        return load_provider(webinar.provider, self.settings, self.store)

    def plan(self, slug: str) -> PlanReport:
        """Bring the webinar's outbox in line with what just changed."""
        from webinar_ops.plan import plan_webinar

        return plan_webinar(self.store, self.store.webinar(slug), self.now(), self.settings.mail_domain)

    def plan_follow_ups(self, slug: str) -> int:
        """Plan the follow-ups by attendance of an ended webinar, now that attendance is known;
        how many mails that planned."""
        from webinar_ops.plan import plan_ended

        return plan_ended(self.store, self.store.webinar(slug), self.now(), self.settings.mail_domain).created

    def now(self) -> datetime:
        from webinar_ops.times import utc_now

        return utc_now()

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


class _Group(click.Group):
    """Turns the library's errors into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            worded = exc if isinstance(exc, WebinarOpsError) else _worded_store_error(ctx.obj, exc)
            if worded is None or (ctx.obj and ctx.obj.debug):
                raise
            from webinar_ops.console import error

            error(f"error: {worded}")
            ctx.exit(worded.exit_code)
        except KeyboardInterrupt:
            from webinar_ops.console import error

            error("interrupted")
            ctx.exit(130)
        finally:
            if ctx.obj:
                ctx.obj.close()


def _worded_store_error(app: App | None, exc: Exception) -> WebinarOpsError | None:
    """A write that the database's file refused (read-only, a full disk) outside
    `Store.transaction`, which words its own, worded the same way; None for anything else."""
    if app is None or "store" not in app.__dict__:
        return None
    import sqlite3

    from webinar_ops.store import StoreUnavailable

    if not isinstance(exc, sqlite3.OperationalError):
        return None
    return StoreUnavailable.from_sqlite(app.store.path, exc)


def _internal_error(exc: BaseException) -> None:
    from webinar_ops.console import error

    error(f"error: unexpected {type(exc).__name__}: {exc}\n(run again with --debug for the details)")


pass_app = click.make_pass_decorator(App)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(__version__, prog_name="webinar-ops")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run the logistics of online webinars: definitions, registrants, providers, reminders."""
    ctx.obj = App(debug=debug)


# -- init ---------------------------------------------------------------------------------


@cli.command()
@pass_app
def init(app: App) -> None:
    """Create the database and, if none is set, a signing key in .env."""
    from webinar_ops.config import ENV_FILE, ensure_secret_key

    if ensure_secret_key(ENV_FILE):
        app.reload_settings()
        click.echo(f"Wrote a new signing key (WEBINAR_OPS_SECRET_KEY) to {ENV_FILE}.")
    else:
        click.echo("A signing key is already set.")
    click.echo(f"Database ready: {app.store.path}")
    click.echo(f"Next: {SAMPLE_HINT}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite files of the same name.")
def sample(folder: Path, force: bool) -> None:
    """Write the sample webinar definition and its registrants CSV into FOLDER (default: here)."""
    from webinar_ops import shipped
    from webinar_ops.errors import InputError

    try:
        definition, people = shipped.write_sample(folder, force=force)
    except FileExistsError as exc:
        raise InputError(f"{exc.args[0]} exists already; keep it, or add --force to overwrite it") from None
    except OSError as exc:
        raise InputError(f"Cannot write the sample into {folder}: {exc.strerror}") from None
    click.echo(f"Wrote {definition} and {people}.")
    click.echo(f"Next: webinar-ops webinar add {definition}")
    click.echo(f"Then: webinar-ops registrants import undesa-snu-session-5 {people}")


@cli.command()
@json_option
def doctor(as_json: bool) -> None:
    """Check the configuration, the database, the provider's credentials and the mail login."""
    from webinar_ops.console import print_json
    from webinar_ops.doctor import diagnose, healthy

    findings = diagnose()
    if as_json:
        print_json({"ok": healthy(findings), "checks": [f.__dict__ for f in findings]})
    else:
        for finding in findings:
            mark = "OK " if finding.ok else "FIX"
            click.echo(f"{mark}  {finding.check}: {finding.detail}")
    if not healthy(findings):
        sys.exit(1)


# -- webinars -----------------------------------------------------------------------------


@cli.group()
def webinar() -> None:
    """Add, list, show and cancel webinars."""


@webinar.command("add")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_app
def webinar_add(app: App, file: Path, as_json: bool) -> None:
    """Create or update the webinar defined in FILE; prints what changed."""
    from webinar_ops.console import print_json, webinar_when
    from webinar_ops.definition import load_definition
    from webinar_ops.mail.compose import check_definition_templates

    definition = load_definition(file)
    check_definition_templates(definition)
    provider = definition.provider.name or app.settings.provider
    saved = app.store.save_webinar(definition, file.read_text(encoding="utf-8-sig"), provider, app.now())
    record = saved.record
    planned = app.plan(record.slug)
    if as_json:
        print_json(
            {"outcome": saved.outcome, "slug": record.slug, "revision": record.revision, "changes": list(saved.changes)}
        )
        return
    click.echo(f"{saved.outcome.capitalize()} webinar {record.slug} (revision {record.revision}): {record.title}")
    click.echo(f"  {webinar_when(record)}")
    for change in saved.changes:
        click.echo(f"  changed {change}")
    if planned.moved or planned.updates:
        click.echo(f"  {planned.moved} unsent mails follow the change; {planned.updates} people get a calendar update")
    if planned.updates:
        click.echo("The updates go out with `webinar-ops run` (or `run --once`).")


@webinar.command("list")
@json_option
@pass_app
def webinar_list(app: App, as_json: bool) -> None:
    """List the webinars, soonest first."""
    from webinar_ops.console import print_json, print_table, webinar_when

    records = app.store.webinars()
    if as_json:
        print_json([_webinar_summary(app.store, r) for r in records])
        return
    if not records:
        click.echo(f"No webinars yet. Start with: {SAMPLE_HINT}")
        return
    rows = [
        (r.slug, r.title, webinar_when(r), sum(app.store.registrant_counts(r.id).values()), r.provider) for r in records
    ]
    print_table(("slug", "title", "when", "registrants", "provider"), rows)


def _webinar_summary(store: Store, record: WebinarRecord) -> dict:
    from webinar_ops import times

    d = record.definition
    return {
        "slug": record.slug,
        "title": d.title,
        "series": d.series,
        "session": d.session,
        "start": times.iso_utc(d.start),
        "end": times.iso_utc(d.end),
        "time_zone": d.time_zone,
        "revision": record.revision,
        "cancelled_at": record.cancelled_at,
        "provider": record.provider,
        "provider_webinar_id": record.provider_webinar_id,
        "registrants": store.registrant_counts(record.id),
    }


@webinar.command("show")
@click.argument("slug")
@json_option
@pass_app
def webinar_show(app: App, slug: str, as_json: bool) -> None:
    """Show everything about one webinar: agenda, speakers, questions, readings, contacts."""
    from webinar_ops.console import print_json, webinar_report

    record = app.webinar(slug)
    if as_json:
        print_json({**_webinar_summary(app.store, record), "definition": record.definition.to_dict()})
        return
    click.echo(webinar_report(record))


@webinar.command("cancel")
@click.argument("slug")
@click.option("--message", help="A few words for the registrants: why, or what comes instead.")
@json_option
@pass_app
def webinar_cancel(app: App, slug: str, message: str | None, as_json: bool) -> None:
    """Cancel webinar SLUG: each registrant gets a cancellation whose invite removes it from
    their calendar, no reminder goes any more, and the provider's webinar is cancelled."""
    from webinar_ops.console import print_json
    from webinar_ops.errors import OperationError
    from webinar_ops.plan import plan_webinar
    from webinar_ops.sync import cancel_webinar_at_provider

    record = app.webinar(slug)
    was_cancelled = record.cancelled_at is not None
    record = app.store.cancel_webinar(record, _organiser_message(message), app.now())
    planned = plan_webinar(app.store, record, app.now(), app.settings.mail_domain)
    try:
        at_provider = cancel_webinar_at_provider(app.store, app.provider_for(record), record, app.now())
        provider_note = "cancelled at the provider" if at_provider else "not published at a provider"
    except OperationError as exc:
        provider_note = f"{exc}; the next sync tries again"
    if as_json:
        print_json(
            {
                "slug": slug,
                "already_cancelled": was_cancelled,
                "cancellations_planned": planned.created,
                "mails_withdrawn": planned.withdrawn,
                "provider": provider_note,
            }
        )
        return
    if was_cancelled:
        click.echo(f"{slug} was already cancelled on {record.cancelled_at}.")
        return
    click.echo(
        f"Cancelled {slug}: {planned.created} cancellations to send, {planned.withdrawn} unsent mails withdrawn; "
        f"{provider_note}.\nThe cancellations go out with `webinar-ops run` (or `run --once`)."
    )


def _organiser_message(message: str | None) -> str | None:
    """The organiser's --message for the people a mail goes to: plain text, its lines kept,
    without control or text-direction characters (the mails escape any markup in it)."""
    from webinar_ops.errors import InputError, Problem
    from webinar_ops.validate import paragraphs

    if message is None:
        return None
    try:
        return paragraphs(message, "message", max_length=2000) or None
    except ValueError as exc:
        fix = "write plain text of at most 2,000 characters; line breaks are kept"
        raise InputError("The --message cannot be sent.", [Problem("--message", str(exc), fix=fix)]) from exc


@webinar.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Delete it even though it has sent mail.")
@json_option
@pass_app
def webinar_delete(app: App, slug: str, yes: bool, force: bool, as_json: bool) -> None:
    """Delete webinar SLUG (a test webinar) and everything that belongs to it: registrants,
    mail, revisions, and the webinar at its provider when webinar-ops created it there."""
    from webinar_ops.console import print_json
    from webinar_ops.errors import InputError
    from webinar_ops.store import REGISTRANT_STATUSES
    from webinar_ops.tidy import delete_webinar, require_deletable

    record = app.webinar(slug)
    require_deletable(app.store, record, force)  # before the question: a refusal needs no answer
    if not yes:
        people = sum(app.store.registrant_counts(record.id)[status] for status in REGISTRANT_STATUSES)
        question = f"Delete {slug} ({record.title}) and its {_people(people)}, for good?"
        if not click.confirm(question, default=False, err=True):
            raise InputError("Nothing was deleted.")
    report = delete_webinar(app.store, record, lambda: app.provider_for(record), force=force)
    if as_json:
        print_json({"slug": slug, "removed": report.removed, "provider": report.at_provider})
        return
    rows = ", ".join(f"{count} {table}" for table, count in report.removed.items())
    where = {
        "deleted": f"deleted at {record.provider} too",
        "left alone": f"the webinar at {record.provider} is the host's own and was left alone",
        "not published": f"{record.provider} never held it",
    }[report.at_provider]
    click.echo(f"Deleted {slug} ({rows}); {where}.")


# -- registrants --------------------------------------------------------------------------


@cli.group()
def registrants() -> None:
    """Import, add, list, approve, deny and cancel registrants."""


@registrants.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; write nothing.")
@click.option("--force", is_flag=True, help="Add people even before registration opens or after it closes.")
@json_option
@pass_app
def registrants_import(app: App, slug: str, file: Path, dry_run: bool, force: bool, as_json: bool) -> None:
    """Import registrants from a CSV FILE: all of it, or nothing if any row is bad."""
    from webinar_ops.registrants import apply_import, outside_registration, plan_import, require_registration_open

    record = app.webinar(slug)
    plan = plan_import(app.store, record, file)
    if plan.new and dry_run and not force and (why := outside_registration(record, app.now())):
        _warn(f"{why}: the import needs --force")
    elif plan.new and not dry_run and (warning := require_registration_open(record, app.now(), force)):
        _warn(warning)
    before = app.store.seats(record.id)
    if dry_run:
        waitlisted = _would_wait(before, len(plan.new))
    else:
        apply_import(app.store, record, plan, app.now())
        app.plan(slug)
        waitlisted = app.store.seats(record.id).waiting - before.waiting
    _print_import(plan, dry_run, as_json, waitlisted)


def _warn(text: str) -> None:
    """A warning for the organiser, on standard error (so --json output stays whole)."""
    from webinar_ops.console import error

    error(f"warning: {text}")


def _would_wait(seats: Any, newcomers: int) -> int:
    """How many of `newcomers` an import would waitlist: those past the free seats (all of
    them while someone already waits)."""
    if seats.capacity is None:
        return 0
    return newcomers if seats.waiting else max(0, newcomers - seats.free)


def _print_import(plan: Any, dry_run: bool, as_json: bool, waitlisted: int = 0) -> None:
    from webinar_ops.console import print_json, print_table

    counts = {
        "added": len(plan.new),
        "updated": len(plan.updated),
        "unchanged": plan.unchanged,
        "left_cancelled": len(plan.left_cancelled),
        "waitlisted": waitlisted,
    }
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "file": plan.source,
                **counts,
                "new": [p.email for p in plan.new],
                "updates": {p.email: changes for _, p, changes in plan.updated},
            }
        )
        return
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{plan.source}: {counts['added']} {verb} added, {counts['updated']} {verb} updated, "
        f"{counts['unchanged']} unchanged."
    )
    if waitlisted and dry_run:
        click.echo(f"{waitlisted} of them would be waitlisted: the webinar has no seat left for them.")
    elif waitlisted:
        click.echo(
            f"{waitlisted} of them {'is' if waitlisted == 1 else 'are'} on the waitlist: every seat was taken "
            "(see `webinar-ops registrants waitlist`)."
        )
    if plan.left_cancelled:
        click.echo(
            f"{len(plan.left_cancelled)} cancelled registrants were left cancelled "
            "(re-register one with `registrants add`)."
        )
    if dry_run and plan.new:
        rows = [(p.email, p.first_name, p.last_name, p.time_zone) for p in plan.new[:50]]
        print_table(("email", "first name", "last name", "time zone"), rows, title="To add")
        if len(plan.new) > 50:
            click.echo(f"... and {len(plan.new) - 50} more")
    if dry_run and plan.updated:
        rows = [(p.email, ", ".join(changes)) for _, p, changes in plan.updated[:50]]
        print_table(("email", "fields changing"), rows, title="To update")
    if dry_run:
        click.echo("Dry run: nothing was written.")


@registrants.command("add")
@click.argument("slug")
@click.option("--email", required=True, help="The person's email address.")
@click.option("--first-name", required=True)
@click.option("--last-name")
@click.option("--organisation")
@click.option("--job-title")
@click.option("--country", help="Two-letter country code, such as KR.")
@click.option("--time-zone", help="IANA zone, such as Europe/Paris; mails show times in it.")
@click.option("--language", help="Language tag, such as en, fr or fr-CA; mails are in it when the webinar has it.")
@click.option(
    "--answer",
    "answers",
    multiple=True,
    metavar="ID=VALUE",
    help="An answer to one of the webinar's registration questions, by its id; repeat for each.",
)
@click.option("--source", help="Where they came from, such as newsletter (counted by status).")
@click.option("--force", is_flag=True, help="Add them even before registration opens or after it closes.")
@pass_app
def registrants_add(
    app: App, slug: str, answers: tuple[str, ...], force: bool, source: str | None, **values: str | None
) -> None:
    """Register one person for the webinar SLUG."""
    from webinar_ops.registrants import add_person, require_registration_open

    record = app.webinar(slug)
    known = app.store.registrant(record.id, (values.get("email") or "").strip().lower())
    if (known is None or known.is_cancelled) and (warning := require_registration_open(record, app.now(), force)):
        _warn(warning)
    email, outcome = add_person(app.store, record, values, app.now(), _answer_options(answers), source=source)
    app.plan(slug)
    click.echo(f"{email}: {outcome}.")
    row = app.store.registrant(record.id, email)
    if outcome in ("added", "re-activated") and row.is_waitlisted:
        place = app.store.waitlist_place(row.id)
        click.echo(f"Every seat is taken: they are number {place} on the waitlist, and get a mail that says so.")
    elif outcome in ("added", "re-activated"):
        click.echo(f"The next `webinar-ops sync {slug}` registers them with the provider.")


def _answer_options(given: tuple[str, ...]) -> dict[str, str]:
    """`--answer ID=VALUE` options as {id: value}; one without `=` is refused, naming the fix."""
    from webinar_ops.errors import InputError, Problem

    answers = {}
    for option in given:
        key, equals, value = option.partition("=")
        if not equals or not key.strip():
            raise InputError(
                "This person cannot be added:",
                [Problem("command line", f"{option!r} gives no question id", field="--answer", fix="write ID=VALUE")],
            )
        answers[key.strip()] = value
    return answers


@registrants.command("list")
@click.argument("slug")
@click.option(
    "--status",
    type=click.Choice(["pending", "approved", "denied", "cancelled", "waitlisted"]),
    help="Only this status.",
)
@click.option("--show-links", is_flag=True, help="Show personal join links in full (they are secrets).")
@json_option
@pass_app
def registrants_list(app: App, slug: str, status: str | None, show_links: bool, as_json: bool) -> None:
    """List the registrants of SLUG. Personal join links are masked unless --show-links."""
    from webinar_ops.console import mask_link, print_json, print_table

    record = app.webinar(slug)
    rows = app.store.registrants(record.id, *(("status = ?", [status]) if status else ()))
    answers = app.store.webinar_answers(record.id)
    questions = [q.id for q in record.definition.registration.questions if not q.person_field]
    if not show_links:
        rows = [replace(row, join_url=mask_link(row.join_url)) for row in rows]
    if as_json:
        print_json(
            [
                {
                    **{k: v for k, v in asdict(row).items() if k not in ("id", "webinar_id")},
                    "answers": answers.get(row.id, {}),
                }
                for row in rows
            ]
        )
        return
    table = [
        (
            r.email,
            " ".join(filter(None, (r.first_name, r.last_name))),
            r.organisation,
            r.time_zone,
            r.status,
            _sync_state(r),
            r.join_url,
            *((_shown_answers(questions, answers.get(r.id, {})),) if questions else ()),
        )
        for r in rows
    ]
    columns = ("email", "name", "organisation", "time zone", "status", "provider", "join link")
    print_table(
        (*columns, "answers") if questions else columns,
        table,
        title=f"{record.slug}: {len(rows)} registrants",
    )


def _shown_answers(questions: list[str], answers: dict[str, str]) -> str:
    """`sector: Government; agree: yes`: the answers in the questions' order."""
    return "; ".join(f"{key}: {answers[key]}" for key in questions if key in answers)


@registrants.command("export")
@click.argument("slug")
@click.option("--format", "form", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write to this file, not out.")
@pass_app
def registrants_export(app: App, slug: str, form: str, output: Path | None) -> None:
    """Export every registrant of SLUG with their fields, status and answers: CSV for a
    spreadsheet (UTF-8 that Excel opens; a value starting with = + - @ is written as text),
    or JSON. Join links are left out: they are secrets."""
    from webinar_ops.registrants import EXPORT_FIELDS, export_csv, export_rows

    columns, rows = export_rows(app.store, app.webinar(slug))
    if form == "csv":
        text = export_csv(columns, rows)
    else:
        shown = [{**{name: row[name] for name in EXPORT_FIELDS}, "answers": row["answers"]} for row in rows]
        text = json.dumps(shown, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    from webinar_ops.private_files import write_private

    write_private(output, text)
    click.echo(f"Wrote {len(rows)} registrants of {slug} to {output}.", err=True)


def _sync_state(row: Registrant) -> str:
    if row.provider_registrant_id:
        held = row.provider_status or "registered"
        return f"{held}; {row.sync_error}" if row.sync_error else held  # a decision it refused
    if row.sync_error:
        return f"failed: {row.sync_error}"
    return "not yet" if row.is_active else "-"


@registrants.command("cancel")
@click.argument("slug")
@click.argument("email")
@pass_app
def registrants_cancel(app: App, slug: str, email: str) -> None:
    """Cancel the registration of EMAIL for SLUG, here and at the provider."""
    from webinar_ops.sync import cancel_registration

    record = app.webinar(slug)
    done = cancel_registration(app.store, app.provider_for(record), record, email, app.now())
    app.plan(slug)
    if done.already:
        click.echo(f"{done.registrant.email} was already cancelled.")
        return
    where = "here and at the provider" if done.told_provider else "here; the provider is told at the next sync"
    click.echo(f"Cancelled {done.registrant.email} for {slug}, {where}.")
    for row in done.promoted:
        click.echo(f"{row.email} moved from the waitlist to a seat; their confirmation goes out now.")
    for address, message in done.failed:
        click.echo(f"  not registered with the provider yet: {address}: {message}", err=True)


@registrants.command("waitlist")
@click.argument("slug")
@json_option
@pass_app
def registrants_waitlist(app: App, slug: str, as_json: bool) -> None:
    """The waitlist of SLUG, first in line first: place, name, address, since when."""
    from webinar_ops.console import print_json, print_table

    record = app.webinar(slug)
    queue = app.store.waitlist(record.id)
    seats = app.store.seats(record.id)
    people = [
        {
            "place": place,
            "email": row.email,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "since": row.waitlisted_at,
        }
        for place, row in enumerate(queue, start=1)
    ]
    if as_json:
        print_json({"slug": slug, "capacity": seats.capacity, "seats_taken": seats.taken, "waitlist": people})
        return
    rows = [
        (p["place"], " ".join(filter(None, (p["first_name"], p["last_name"]))), p["email"], p["since"]) for p in people
    ]
    click.echo(f"{slug}: {_seats_line(seats)}")
    if rows:
        print_table(("place", "name", "email", "since (UTC)"), rows, title="Waitlist")


def _seats_line(seats: Any) -> str:
    """`capacity 100: 98 seats taken, 12 on the waitlist`."""
    if seats.capacity is None:
        return f"no capacity set: {seats.taken} approved, {seats.waiting} on the waitlist"
    return f"capacity {seats.capacity}: {seats.taken} seats taken, {seats.waiting} on the waitlist"


@registrants.command("promote")
@click.argument("slug")
@click.argument("email")
@pass_app
def registrants_promote(app: App, slug: str, email: str) -> None:
    """Give EMAIL, on the waitlist of SLUG, a seat now, out of turn: past the capacity when
    every seat is taken. Their confirmation goes out at once."""
    from webinar_ops import validate
    from webinar_ops.errors import InputError, NotFound
    from webinar_ops.sync import register_promoted

    record = app.webinar(slug)
    record.require_not_cancelled("registrants can be promoted")
    try:
        address = validate.email_address(email)
    except ValueError as exc:
        raise InputError(f"Cannot promote: {exc}.") from exc
    row = app.store.registrant(record.id, address)
    if row is None:
        raise NotFound(f"{address} is not registered for {slug}.")
    if not row.is_waitlisted:
        raise InputError(f"{address} is not on the waitlist of {slug}: their registration is {row.status}.")
    app.store.promote(row.id, app.now())
    seats = app.store.seats(record.id)
    click.echo(f"{address} has a seat now ({_seats_line(seats)}).")
    if seats.capacity is not None and seats.taken > seats.capacity:
        over = seats.taken - seats.capacity
        click.echo(
            f"That is {over} over the capacity: nobody else moves up until cancellations bring the seats taken "
            f"below {seats.capacity}."
        )
    report = register_promoted(app.store, app.provider_for(record), record, app.now())
    for failed, message in report.failed:
        click.echo(f"  not registered with the provider yet: {failed}: {message}", err=True)
    app.plan(slug)


@registrants.command("copy")
@click.argument("from_slug", metavar="FROM_SLUG")
@click.argument("to_slug", metavar="TO_SLUG")
@click.option(
    "--status",
    type=click.Choice(["approved", "pending"]),
    default="approved",
    show_default=True,
    help="Copy the registrants in this status.",
)
@click.option("--force", is_flag=True, help="Copy them even when TO_SLUG's registration is not open.")
@json_option
@pass_app
def registrants_copy(app: App, from_slug: str, to_slug: str, status: str, force: bool, as_json: bool) -> None:
    """Register the people of FROM_SLUG for TO_SLUG (a postponed or follow-on session). Its
    sync registers them with its provider, and its plan sends them its confirmation."""
    from webinar_ops.console import print_json
    from webinar_ops.tidy import copy_registrants

    report = copy_registrants(app.store, app.webinar(from_slug), app.webinar(to_slug), status, app.now(), force)
    if report.warning:
        _warn(report.warning)
    app.plan(to_slug)
    if as_json:
        already = [{"email": email, "status": held} for email, held in report.already]
        copied = {"from": from_slug, "to": to_slug, "status": status, "added": report.added}
        print_json({**copied, "waitlisted": report.waitlisted, "already": already})
        return
    click.echo(f"Copied {_people(len(report.added))} ({status}) from {from_slug} to {to_slug}.")
    if report.waitlisted:
        click.echo(
            f"{_people(len(report.waitlisted))} of them wait on {to_slug}'s waitlist: every seat was taken "
            f"(see `webinar-ops registrants waitlist {to_slug}`)."
        )
    if report.already:
        click.echo(f"{_people(len(report.already))} {to_slug} already holds, left as they are:")
        for email, held in report.already:
            click.echo(f"  {email} ({held})")
    if report.added:
        click.echo(f"The next `webinar-ops sync {to_slug}` registers them with its provider; its confirmation follows.")


_DECISION_WORDS = {"approved": ("approve", "Approved"), "denied": ("deny", "Denied")}


@registrants.command("approve")
@click.argument("slug")
@click.argument("emails", nargs=-1, metavar="EMAIL...")
@click.option("--all-pending", is_flag=True, help="Approve everyone whose request awaits approval.")
@json_option
@pass_app
def registrants_approve(app: App, slug: str, emails: tuple[str, ...], all_pending: bool, as_json: bool) -> None:
    """Approve requests for SLUG, by address or every pending one: each gets the confirmation
    with their join link, and the provider is told."""
    _decide(app, slug, emails, all_pending, "approved", None, as_json)


@registrants.command("deny")
@click.argument("slug")
@click.argument("emails", nargs=-1, metavar="EMAIL...")
@click.option("--all-pending", is_flag=True, help="Deny everyone whose request awaits approval.")
@click.option("--message", help="A few words for them, carried by the denial mail.")
@json_option
@pass_app
def registrants_deny(
    app: App, slug: str, emails: tuple[str, ...], all_pending: bool, message: str | None, as_json: bool
) -> None:
    """Deny requests for SLUG, by address or every pending one: each gets a short, courteous
    mail without a join link, and the provider is told."""
    _decide(app, slug, emails, all_pending, "denied", _organiser_message(message), as_json)


def _decide(
    app: App, slug: str, emails: tuple[str, ...], all_pending: bool, status: str, message: str | None, as_json: bool
) -> None:
    from webinar_ops.console import print_json
    from webinar_ops.errors import InputError
    from webinar_ops.registrants import decide_people

    verb, done = _DECISION_WORDS[status]
    if bool(emails) == all_pending:
        raise InputError(f"Name the people to {verb} by their addresses, or give --all-pending (not both).")
    record = app.webinar(slug)
    decisions = decide_people(app.store, record, emails, status, app.now(), message, all_pending)
    at_provider = _tell_the_provider(app, record) if decisions.changed else None
    planned = app.plan(slug)
    if as_json:
        print_json(
            {
                "slug": slug,
                "decision": status,
                "changed": [{"email": d.email, "was": d.was, "now": d.became} for d in decisions.changed],
                "unchanged": [{"email": d.email, "why": d.why, "mistake": d.mistake} for d in decisions.unchanged],
                "provider": at_provider,
                "mails_planned": planned.created,
            }
        )
    else:
        _print_decisions(slug, decisions, done, at_provider)
    if decisions.failed:
        click.echo(f"error: nobody was {done.lower()}: mend the addresses above and try again.", err=True)
        sys.exit(2)


def _tell_the_provider(app: App, record: WebinarRecord) -> str:
    """Send the provider the decisions it does not hold yet, now if it can (the next sync
    does otherwise); what happened, in a few words."""
    from webinar_ops.errors import WebinarOpsError
    from webinar_ops.sync import SyncReport, push_decisions

    if record.provider_webinar_id is None:
        return "not published at a provider yet: the next sync registers them as decided"
    report = SyncReport()
    try:
        push_decisions(app.store, app.provider_for(record), record, app.now(), report)
    except WebinarOpsError as exc:
        return f"not told yet ({exc}); the next sync tries again"
    told = f"{report.decided} decision{'s' if report.decided != 1 else ''} sent to {record.provider}"
    if report.failed:
        return f"{told}; {len(report.failed)} refused, tried again at the next sync: " + "; ".join(
            f"{email}: {why}" for email, why in report.failed
        )
    return told


def _print_decisions(slug: str, decisions: Any, done: str, at_provider: str | None) -> None:
    changed, unchanged = decisions.changed, decisions.unchanged
    click.echo(f"{done} {_people(len(changed))} for {slug}" + (":" if changed else "."))
    for outcome in changed:
        seatless = outcome.became == "waitlisted" and outcome.was != "waitlisted"
        waits = "; every seat is taken, so they wait on the waitlist" if seatless else ""
        click.echo(f"  {outcome.email} (was {outcome.was}{waits})")
    if unchanged:
        click.echo(f"Not changed: {_people(len(unchanged))}:")
        for outcome in unchanged:
            click.echo(f"  {outcome.email}: {outcome.why}")
    if at_provider:
        click.echo(f"Provider: {at_provider}.")
    if changed:
        click.echo("Their mails go out with `webinar-ops run` (or `run --once`).")


@cli.command()
@click.argument("slug")
@click.option("--show-links", is_flag=True, help="Show the panelists' own join links in full (they are secrets).")
@json_option
@pass_app
def speakers(app: App, slug: str, show_links: bool, as_json: bool) -> None:
    """List the speakers and the moderator of SLUG, each once: their part, their address and
    where they stand as panelists. Their join links are masked unless --show-links."""
    from webinar_ops.console import mask_link, print_json, print_table
    from webinar_ops.mail.outbox import Outbox

    record = app.webinar(slug)
    rows = app.store.speakers(record.id, removed=True)
    mails = {row.id: Outbox(app.store).speaker_mails(row.id) for row in rows}
    if not show_links:
        rows = [replace(row, join_url=mask_link(row.join_url)) for row in rows]
    zone = record.definition.time_zone
    if as_json:
        print_json([{**_speaker_entry(row, zone), "mails": _speaker_mails(mails[row.id])} for row in rows])
        return
    table = [
        (
            row.name,
            ", ".join(filter(None, (row.role, row.organisation))),
            "yes" if row.moderates else "",
            row.email,
            "; ".join(f"{_clock_span(slot, zone)} {slot.title}" for slot in row.slots()),
            row.panelist_status,
            row.join_url,
            "; ".join(f"{mail['kind']} {mail['state']}" for mail in _speaker_mails(mails[row.id])),
        )
        for row in rows
    ]
    columns = ("name", "role, organisation", "moderates", "email", f"items ({zone})", "panelist", "join link", "mails")
    print_table(columns, table, title=f"{record.slug}: {_counted(len(rows), 'speaker')}")


def _speaker_entry(row: Any, zone: str) -> dict:
    """One speaker as `speakers --json` gives them: instants in ISO UTC, and each item's
    times on the event's clock too."""
    from webinar_ops import times

    entry = {k: v for k, v in asdict(row).items() if k not in ("id", "webinar_id", "slots_json", "panelist_error")}
    items = [
        {
            "title": slot.title,
            "start": times.iso_utc(slot.start),
            "end": slot.end and times.iso_utc(slot.end),
            "clock": _clock_span(slot, zone),
        }
        for slot in row.slots()
    ]
    return {**entry, "items": items, "panelist_status": row.panelist_status, "panelist_error": row.panelist_error}


def _speaker_mails(deliveries: list) -> list[dict]:
    """A speaker's mail as `speakers` shows it: each kind, its state, when it was sent or is due,
    and why it was not sent, if it was not."""
    return [
        {"kind": d.kind, "state": d.state.value, "sent_at": d.sent_at, "due_at": d.due_at, "reason": d.reason}
        for d in deliveries
    ]


def _clock_span(slot: Any, zone: str) -> str:
    from webinar_ops import times

    return times.format_clock_span(slot.start, slot.end, zone)


# -- the suppression list -----------------------------------------------------------------


@cli.group()
def suppressions() -> None:
    """Addresses no mail goes to, for any webinar: hard bounces and the organiser's word."""


@suppressions.command("list")
@json_option
@pass_app
def suppressions_list(app: App, as_json: bool) -> None:
    """Show every suppressed address, with why, when and from where."""
    from dataclasses import asdict

    from webinar_ops.console import print_json, print_table

    entries = app.store.suppressions()
    if as_json:
        print_json([asdict(entry) for entry in entries])
        return
    print_table(
        ("address", "reason", "since (UTC)", "source", "detail"),
        [(e.email, e.reason, e.suppressed_at, e.source, e.detail or "") for e in entries],
    )


@suppressions.command("add")
@click.argument("email")
@click.option("--reason", default="organiser", show_default=True, help="Why no mail goes to it.")
@pass_app
def suppressions_add(app: App, email: str, reason: str) -> None:
    """Send no more mail to EMAIL, for any webinar."""
    from webinar_ops.deliver import suppress_address

    entry = suppress_address(app.store, email, reason, app.now())
    click.echo(f"Suppressed {entry.email}: {entry.reason}. Its mails are skipped from now on.")


@suppressions.command("remove")
@click.argument("email")
@pass_app
def suppressions_remove(app: App, email: str) -> None:
    """Take EMAIL off the list: its mails still to come go out again."""
    from webinar_ops.deliver import lift_suppression

    reopened = lift_suppression(app.store, email, app.now())
    back = _counted(reopened, "skipped mail")
    click.echo(f"{email.strip().casefold()} is off the suppression list; {back} back in the queue.")


# -- sync and status ----------------------------------------------------------------------


@cli.group()
def attendance() -> None:
    """Who attended a webinar, once it has ended: from its provider, or from a file."""


@attendance.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what it says; record nothing.")
@click.option(
    "--time-zone", "zone_name", metavar="ZONE", help="The zone of the file's wall times (default: the webinar's)."
)
@json_option
@pass_app
def attendance_import(app: App, slug: str, file: Path, dry_run: bool, zone_name: str | None, as_json: bool) -> None:
    """Record who attended from FILE: Zoom's Attendee Report or Participants export, or any
    CSV with an email column. All of it, or nothing if any row is bad; it replaces an earlier
    import."""
    from webinar_ops.attendance_import import apply_attendance_import, plan_attendance_import

    record = app.webinar(slug)
    plan = plan_attendance_import(app.store, record, file, app.now(), zone_name)
    planned = 0
    if not dry_run:
        apply_attendance_import(app.store, record, plan, app.now())
        planned = app.plan_follow_ups(slug)
    _print_attendance_import(plan, app.store.attendance_figures(record.id), dry_run, as_json, planned)


def _print_attendance_import(plan: Any, figures: Any, dry_run: bool, as_json: bool, planned: int) -> None:
    from webinar_ops.attendance_import import FORMS
    from webinar_ops.console import print_json

    counts = {
        "format": plan.file.form,
        "sessions": len(plan.file.joins),
        "absentee_rows": plan.file.absentee_rows,
        "attended": plan.attended,
        "unmatched": plan.matched.unmatched,
        "expected": figures.expected,
        "recorded": not dry_run,
        "follow_ups_planned": planned,
    }
    if as_json:
        print_json(counts)
        return
    form = FORMS[plan.file.form]
    click.echo(
        f"Read {plan.file.source} ({form}): {_counted(counts['sessions'], 'session')}, "
        f"{_counted(counts['absentee_rows'], 'row')} of absentees."
    )
    unmatched = _counted(plan.matched.unmatched, "session")
    click.echo(f"Attended: {_counted(plan.attended, 'registrant')}; {unmatched} matched no registrant.")
    if dry_run:
        click.echo("Dry run: nothing was recorded.")
    else:
        click.echo(f"Recorded: {figures.attended} of {figures.expected} attended ({_percent(figures.rate)}).")
        _echo_follow_ups(planned)


def _echo_follow_ups(planned: int) -> None:
    if planned:
        click.echo(f"Follow-ups by attendance planned: {_counted(planned, 'mail')}.")


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


@attendance.command("pull")
@click.argument("slug")
@json_option
@pass_app
def attendance_pull(app: App, slug: str, as_json: bool) -> None:
    """Ask SLUG's provider now who attended, and record it (replacing what was known).

    Exits non-zero, saying why, when the provider cannot tell yet (Zoom prepares its
    participant lists some time after the end) or refuses.
    """
    from webinar_ops import times
    from webinar_ops.console import print_json
    from webinar_ops.sync import pull_attendance

    record = app.webinar(slug)
    pulled = pull_attendance(app.store, app.provider_for(record), record, app.now(), force=True)
    planned = app.plan_follow_ups(slug) if pulled.outcome == "recorded" else 0
    if as_json:
        known = pulled.figures
        figures = {**known.__dict__, "absent": known.absent, "rate": known.rate} if known else {}
        print_json(
            {
                "slug": slug,
                "provider": record.provider,
                "outcome": pulled.outcome,
                "reason": pulled.reason,
                "retry_after": times.iso_utc(pulled.retry_after) if pulled.retry_after else None,
                "unmatched": pulled.unmatched,
                **figures,
                "follow_ups_planned": planned,
            }
        )
    else:
        click.echo(f"{slug}: {pulled.summary()}", err=pulled.outcome != "recorded")
        _echo_follow_ups(planned)
    if pulled.outcome != "recorded":
        sys.exit(1)


@cli.command()
@click.argument("slug")
@click.option(
    "--republish",
    is_flag=True,
    help="Compare the provider's copy of the webinar with the definition and update it where it "
    "differs, e.g. after someone changed it on the provider's site.",
)
@json_option
@pass_app
def sync(app: App, slug: str, republish: bool, as_json: bool) -> None:
    """Publish SLUG to its provider, register waiting people, pull in new sign-ups."""
    from webinar_ops.console import print_json, progress_bar
    from webinar_ops.sync import sync_webinar

    record = app.webinar(slug)
    if republish:
        record = app.store.republish(record)
    provider = app.provider_for(record)
    with progress_bar(f"Registering with {provider.name}") as advance:
        report = sync_webinar(app.store, provider, record, app.now(), progress=advance)
    app.plan(slug)
    if as_json:
        print_json({"slug": slug, "provider": provider.name, **report.__dict__})
    else:
        _print_sync(slug, provider.name, report)
    if report.failed or report.panelists_refused:
        sys.exit(1)


def _print_sync(slug: str, provider: str, report: Any) -> None:
    if report.published == "unchanged":
        click.echo(f"Nothing to change at {provider}.")
    elif report.published == "waiting":
        click.echo(f"The webinar's update waits for {provider}'s daily limit to reset; registrations went on.")
    elif report.published:
        click.echo(f"Webinar {report.published} at {provider}.")
    click.echo(
        f"{slug}: {report.registered} registered, {len(report.failed)} failed, "
        f"{report.cancelled} cancellations sent, {report.decided} decisions sent, "
        f"{report.pulled_new} new from {provider}, {report.pulled_updated} updated from {provider}."
    )
    if report.panelists_added or report.panelists_removed or report.panelists_refused:
        click.echo(
            f"Speakers: {report.panelists_added} made panelists, {report.panelists_removed} removed as panelists, "
            f"{len(report.panelists_refused)} refused (tried again at the next sync)."
        )
    if report.deferred:
        click.echo(f"{report.deferred} waiting for the provider's daily limit to reset.")
    for email, message in report.failed:
        click.echo(f"  failed: {email}: {message}", err=True)
    for email, message in report.panelists_refused:
        click.echo(f"  speaker refused: {email}: {message}", err=True)
    if not report.changed_anything and not report.failed and not report.panelists_refused:
        click.echo("Already in step: nothing to do.")


@cli.command()
@click.argument("slug", required=False)
@json_option
@pass_app
def status(app: App, slug: str | None, as_json: bool) -> None:
    """Per webinar: when, provider, registrants by status, and mail by kind and state."""
    from webinar_ops.console import print_json, print_status

    records = [app.webinar(slug)] if slug else app.store.webinars()
    summaries = [_status_summary(app.store, record, app.now()) for record in records]
    if as_json:
        print_json(summaries)
        return
    if not records:
        click.echo(f"No webinars yet. Start with: {SAMPLE_HINT}")
    for record, summary in zip(records, summaries, strict=True):
        print_status(record, summary)


def _status_summary(store: Store, record: WebinarRecord, now: datetime) -> dict:
    from webinar_ops.mail.outbox import Outbox

    mail = Outbox(store)
    return {
        **_webinar_summary(store, record),
        "provider_error": record.provider_error,
        "approval": _awaiting_approval(store, record, now),
        "sync": store.sync_counts(record.id),
        "unsubscribed": store.unsubscribed_count(record.id),
        "seats": asdict(store.seats(record.id)),
        "mail": mail.counts(record.id, "registrants"),
        "speaker_mail": mail.counts(record.id, "speakers"),
        "manual_sends": mail.manual_sends(record.id),
        "next_mail": mail.next_delivery(record.id),
        "not_sent": mail.reasons(record.id),
        "registration": _registration_window(record),
        "sources": store.source_counts(record.id),
        "attendance": _attendance_summary(store, record, now),
        "waiting_for_attendance": _waiting_for_attendance(store, record, now),
    }


def _attendance_summary(store: Store, record: WebinarRecord, now: datetime) -> dict:
    """Who attended once it is known (the figures, from which source, since when); until
    then whether the webinar has ended, and the tries made to learn it."""
    check = store.attendance_check(record.id)
    summary = {k: v for k, v in asdict(check).items() if k != "webinar_id"}
    summary |= {"known": check.known, "ended": now >= record.definition.end}
    if check.known:
        figures = store.attendance_figures(record.id)
        summary |= {**asdict(figures), "absent": figures.absent, "rate": figures.rate}
    return summary


def _waiting_for_attendance(store: Store, record: WebinarRecord, now: datetime) -> list[dict]:
    """The follow-ups by attendance that wait for it: their names, until when (UTC), and
    what each version does if it is still not known then."""
    from webinar_ops import times
    from webinar_ops.plan import follow_ups_waiting

    return [
        {"mail": list(w.names), "until": times.iso_utc(w.until), "otherwise": w.otherwise}
        for w in follow_ups_waiting(store, record, now)
    ]


def _registration_window(record: WebinarRecord) -> dict:
    """When registration opens and closes (UTC), and whether it is open now."""
    from webinar_ops import times

    options = record.definition.registration
    return {
        "opens": times.iso_utc(options.opens) if options.opens else None,
        "closes": times.iso_utc(options.closes) if options.closes else None,
        "closes_at_start": options.closes_at_start,
        "now": options.window(times.utc_now()),
    }


def _awaiting_approval(store: Store, record: WebinarRecord, now: datetime) -> dict:
    """How many requests await the organiser's approval, and since when the oldest has waited."""
    from webinar_ops import times

    pending, oldest = store.pending_requests(record.id)
    waited = int((now - times.parse_iso_utc(oldest)).total_seconds()) if oldest else None
    return {
        "mode": record.definition.provider.approval,
        "pending": pending,
        "oldest_since": oldest,
        "oldest_waited_seconds": waited,
    }


STANDARD_OUTPUT = Path("-")  # `--html -`: the page to the output, for a pipe


@cli.command()
@click.argument("slug", required=False)
@click.option("--series", help="Put every session of this series (the definitions' `series`) side by side.")
@click.option(
    "--html", "html_file", type=click.Path(path_type=Path), help="Write the report as one HTML page (-: to the output)."
)
@click.option(
    "--csv", "csv_file", type=click.Path(path_type=Path), help="Write its figures as one CSV table (-: to the output)."
)
@click.option("--with-names", is_flag=True, help="Add every registrant's name, address, status and attendance.")
@click.option("--language", help="Write the HTML page in this language, such as fr (default: the webinar's).")
@json_option
@pass_app
def report(
    app: App,
    slug: str | None,
    series: str | None,
    html_file: Path | None,
    csv_file: Path | None,
    with_names: bool,
    language: str | None,
    as_json: bool,
) -> None:
    """The report of SLUG, or of a series: registrations over time against the mail sent,
    registrants by country, organisation, time zone and language, approval and waitlist,
    mail with bounces, attendance and the agenda as held. Without --with-names it holds no
    personal data, and categories of fewer than 5 people count as "other", so it can be shared."""
    from webinar_ops.report import page_language, series_report, webinar_report
    from webinar_ops.report.as_csv import as_csv
    from webinar_ops.report.as_json import as_json as report_json
    from webinar_ops.report.as_text import as_text
    from webinar_ops.report.files import write_all

    if (slug is None) == (series is None):
        raise click.UsageError("Give a webinar's SLUG or --series SERIES, one of the two.")
    if series and with_names:
        raise click.UsageError("--with-names lists the registrants of one webinar: give its SLUG, not --series.")
    if series:
        made = series_report(app.store, series, app.now())
    else:
        made = webinar_report(app.store, app.webinar(slug), app.now(), with_names)
    language = page_language(app.store, made, language)
    to_output = [path for path in (html_file, csv_file) if path == STANDARD_OUTPUT]
    if len(to_output) + as_json > 1:
        raise click.UsageError("Only one of --json, --html - and --csv - can go to the output.")
    texts = [(csv_file, as_csv(made))] if csv_file else []
    if html_file:
        from webinar_ops.report.as_html import as_html  # draws with matplotlib: only when asked for

        texts.append((html_file, as_html(made, language)))
    write_all([(path, text) for path, text in texts if path != STANDARD_OUTPUT], private=with_names)
    for path, text in texts:
        if path == STANDARD_OUTPUT:
            click.echo(text, nl=False)
        else:
            click.echo(f"Wrote {path}.", err=True)
    if as_json:
        click.echo(report_json(made), nl=False)
    elif not texts:
        click.echo(as_text(made), nl=False)


# -- mail -------------------------------------------------------------------------------


@cli.command()
@click.option("--host", help="Listen on this address (default: the host of WEBINAR_OPS_BASE_URL).")
@click.option("--port", type=int, help="Listen on this port (default: the port of WEBINAR_OPS_BASE_URL).")
@pass_app
def serve(app: App, host: str | None, port: int | None) -> None:
    """The web service the mails link to: one-click unsubscribe, join pages, /healthz."""
    from urllib.parse import urlsplit

    from webinar_ops.web import serve as serve_web

    base = urlsplit(app.settings.base_url)
    host = host or base.hostname or "127.0.0.1"
    port = port or base.port or (443 if base.scheme == "https" else 80)
    app.store  # noqa: B018 - creates and migrates the database before the first request
    click.echo(f"Serving {app.settings.base_url} on {host}:{port}; Ctrl-C stops.", err=True)
    serve_web(app.settings, host, port)


@cli.command()
@click.option("--once", is_flag=True, help="Sync, send everything due now, and exit (for cron).")
@pass_app
def run(app: App, once: bool) -> None:
    """Run the background service: sends each mail on time, syncs with providers."""
    import logging

    from webinar_ops.jobs import send_due, sync_registrations

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = app.settings
    if once:
        sync_registrations.run(settings)
        report, following = send_due.run(settings)
        click.echo(
            f"Sent {report.sent}, retrying {report.retrying}, failed {report.failed}, "
            f"skipped {report.skipped}, missed {report.missed}."
        )
        if following:
            click.echo(f"Next mail due at {following:%Y-%m-%d %H:%M:%S} UTC.")
        _exit_if_stopped(report)
        return
    _serve_until_signalled(_service(settings))


def _people(count: int) -> str:
    return f"{count} person" if count == 1 else f"{count} people"


def _print_audience(audience: Any, template: str, as_json: bool) -> None:
    """What `remind --dry-run` says: exactly whom the send would reach, and why not the others."""
    from webinar_ops.console import print_json

    reached = [person.email for person in audience.reached]
    if as_json:
        left_out = [{"email": email, "why": why} for email, why in audience.left_out]
        print_json({"would_send": reached, "left_out": left_out})
        return
    click.echo(
        f"Would send the {template} to {_people(len(reached))}" + (": " + ", ".join(reached) if reached else ".")
    )
    if audience.left_out:
        click.echo(f"Left out: {_people(len(audience.left_out))}:")
        for email, why in audience.left_out:
            click.echo(f"  {email}: {why}")


def _exit_if_stopped(report: Any) -> None:
    """A wave the mail server could not take (it cannot be reached) is no success: say so, exit 1.
    The mail stays pending and goes out on a later run."""
    if report.stopped:
        click.echo(f"error: the mail could not be sent: {report.stopped}. It stays pending for a later run.", err=True)
        sys.exit(1)


def _service(settings: Settings) -> Any:
    from webinar_ops.jobs import send_due, sync_registrations
    from webinar_ops.schedule import Service

    return Service(
        settings,
        send=lambda stop: send_due.run(settings, stop),
        sync=lambda: sync_registrations.run(settings),
    )


def _serve_until_signalled(service: Any, until: Any = None) -> None:
    import signal

    def stop(signum: int, frame: object) -> None:
        service.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("webinar-ops is running; Ctrl-C or SIGTERM stops it after the message in flight.", err=True)
    service.run_until_stopped(until)


class _ChoiceOf(click.Choice):
    """A choice whose values are read when a command needs them, not when the command line
    loads: the kinds of mail and the outbox's states come from modules `--help` can do without."""

    def __init__(self, values: Callable[[], Iterable[str]]):
        self._values = values
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._values())


def _kinds_by_hand() -> list[str]:
    from webinar_ops.mail import kinds

    return _reminder_first(kinds.BY_HAND)


def _every_kind() -> list[str]:
    from webinar_ops.mail import kinds

    return _reminder_first(kinds.KINDS)


def _states() -> list[str]:
    from webinar_ops.mail.outbox import State

    return [state.value for state in State]


def _reminder_first(names: Iterable[str]) -> list[str]:
    """The kinds of mail for a `--kind` option: the reminder, its default, first."""
    from webinar_ops.mail import kinds

    return sorted(names, key=lambda name: name != kinds.REMINDER.template)


@cli.command()
@click.argument("slug")
@click.option(
    "--kind",
    "template",
    type=_ChoiceOf(_kinds_by_hand),
    default="reminder",
    show_default=True,
    help="Which mail to send.",
)
@click.option("--to", "to", metavar="EMAIL", help="Send only to this registrant (a resend).")
@click.option("--dry-run", is_flag=True, help="Show who would receive it; send nothing.")
@json_option
@pass_app
def remind(app: App, slug: str, template: str, to: str | None, dry_run: bool, as_json: bool) -> None:
    """Send a mail now to every approved registrant of SLUG (or one, with --to).

    A manual send is a mail of its own: it neither replaces nor repeats the scheduled ones.
    """
    from webinar_ops.console import print_json
    from webinar_ops.deliver import send_due
    from webinar_ops.plan import manual_audience, plan_manual
    from webinar_ops.transports import load_transport

    record = app.webinar(slug)
    if dry_run:
        _print_audience(manual_audience(app.store, record, template, app.now(), to=to), template, as_json)
        return
    kind = plan_manual(app.store, record, template, app.now(), app.settings.mail_domain, to=to)
    report = send_due(app.store, app.settings, load_transport(app.settings), kind=kind)
    if as_json:
        print_json({"kind": kind, **report.__dict__})
    else:
        click.echo(
            f"The {template}, sent now: sent {report.sent}, retrying {report.retrying}, failed {report.failed}, "
            f"skipped {report.skipped}."
        )
    _exit_if_stopped(report)
    if report.failed:
        sys.exit(1)


@cli.command()
@click.argument("slug")
@click.option(
    "--kind",
    "template",
    type=_ChoiceOf(_every_kind),
    default="reminder",
    show_default=True,
    help="update: as the real update after the last move or new title, from what the reader was last told; "
    "after: the first [[after]] message.",
)
@click.option("--registrant", "email", metavar="EMAIL", help="Whose mail to show (default: the first registrant).")
@click.option(
    "--speaker",
    "speaker_name",
    metavar="NAME",
    help="With a speakers' kind (briefing, speaker_reminder, practice_reminder, speaker_cancellation): "
    "whose mail to show, by address or a part of the name (default: the first speaker).",
)
@click.option("--html", "html_file", type=click.Path(path_type=Path), help="Also write the HTML part to this file.")
@click.option("--eml", "eml_file", type=click.Path(path_type=Path), help="Also write the whole message to this file.")
@click.option("--language", help="Show it as a reader of this language would get it, such as fr (default: theirs).")
@click.option("--offset", help="With --kind reminder: which reminder, such as 7d or 1h (default: the last one).")
@click.option(
    "--as",
    "audience",
    type=click.Choice(["attended", "absent"]),
    help="With --kind after: the version for those who attended, or were absent (its first such message).",
)
@pass_app
def preview(
    app: App,
    slug: str,
    template: str,
    email: str | None,
    html_file: Path | None,
    eml_file: Path | None,
    language: str | None,
    offset: str | None,
    audience: str | None,
    speaker_name: str | None,
) -> None:
    """Show a mail as one registrant (or speaker) would receive it, without sending anything."""
    from webinar_ops.mail import kinds
    from webinar_ops.mail.compose import Composer
    from webinar_ops.private_files import write_private

    record = app.webinar(slug)
    if template in kinds.FOR_SPEAKERS or speaker_name is not None:
        _preview_for_speaker(app, record, template, speaker_name, email, language, offset, html_file, eml_file)
        return
    registrant = _preview_registrant(app.store, record, email, app.now())
    if language is not None:
        registrant = replace(registrant, language=_language_option(language))
    composer = Composer(record, app.settings, answers=app.store.answers)
    click.echo(f"Language: {composer.language_for(registrant)}", err=True)
    mail = _preview_delivery(app.store, record, template, offset, registrant, audience)
    details = json.loads(mail.details) if mail.details else None
    words = composer.render(template, registrant, app.now(), mail.offset_minutes, details)
    click.echo(f"To: {registrant.email}\nSubject: {words.subject}\n\n{words.text}")
    if html_file:
        write_private(html_file, words.html)  # it holds the registrant's personal join link
        click.echo(f"HTML written to {html_file}", err=True)
    if eml_file:
        write_private(eml_file, composer.message_bytes(mail, registrant, app.now(), sign=False))
        click.echo(f"Message written to {eml_file}", err=True)


def _preview_for_speaker(
    app: App,
    record: WebinarRecord,
    template: str,
    speaker_name: str | None,
    email: str | None,
    language: str | None,
    offset: str | None,
    html_file: Path | None,
    eml_file: Path | None,
) -> None:
    """`preview` of a speakers' kind, for the speaker --speaker names."""
    from webinar_ops.errors import InputError
    from webinar_ops.mail import kinds
    from webinar_ops.mail.compose import Composer
    from webinar_ops.plan import preview_speaker_delivery, speaker_named
    from webinar_ops.private_files import write_private

    if template not in kinds.FOR_SPEAKERS:
        raise InputError(f"--speaker goes with a speakers' kind ({', '.join(kinds.FOR_SPEAKERS)}), not {template}.")
    if email is not None or offset is not None:
        raise InputError(f"--registrant and --offset do not go with --kind {template}: use --speaker.")
    speaker = speaker_named(app.store, record, speaker_name)
    if language is not None:
        speaker = replace(speaker, language=_language_option(language))
    letters = Composer(record, app.settings).speakers
    click.echo(f"Language: {letters.language_for(speaker)}", err=True)
    mail = preview_speaker_delivery(record, template, speaker)
    words = letters.render(template, speaker, app.now(), mail.offset_minutes)
    click.echo(f"To: {speaker.email or '(no address)'}\nSubject: {words.subject}\n\n{words.text}")
    if html_file:
        write_private(html_file, words.html)  # it holds the speaker's own panelist link
        click.echo(f"HTML written to {html_file}", err=True)
    if eml_file:
        if not speaker.email:
            raise InputError(f"{speaker.name} has no address in the definition, so no message can be written.")
        write_private(eml_file, letters.message_bytes(mail, speaker, app.now(), sign=False))
        click.echo(f"Message written to {eml_file}", err=True)


def _preview_offset(record: WebinarRecord, offset: str | None) -> timedelta:
    """The reminder offset to preview: the one asked for, which the webinar must have, or its last."""
    from webinar_ops import times
    from webinar_ops.errors import InputError

    offsets = record.definition.reminder_offsets
    if offset is None:
        return min(offsets, default=timedelta(hours=1))
    listed = ", ".join(times.format_duration(o) for o in sorted(offsets, reverse=True)) or "none"
    try:
        wanted = times.parse_duration(offset)
    except ValueError as exc:
        raise InputError(f"--offset {offset!r}: {exc}; {record.slug} has the reminders {listed}.") from None
    if wanted not in offsets:
        raise InputError(f"{record.slug} has no reminder {offset} before the start; its reminders: {listed}.")
    return wanted


def _preview_delivery(
    store: Store,
    record: WebinarRecord,
    template: str,
    offset: str | None = None,
    registrant: Registrant | None = None,
    audience: str | None = None,
) -> PreviewMail:
    """The delivery planning would make of `template` for the preview (plan.preview_delivery),
    with the reminder asked for by `--offset`, the after-message's version by `--as`."""
    from webinar_ops.errors import InputError
    from webinar_ops.mail import kinds
    from webinar_ops.plan import preview_delivery

    if offset is not None and template != kinds.REMINDER.template:
        raise InputError("--offset goes with --kind reminder.")
    lead = _preview_offset(record, offset) if template == kinds.REMINDER.template else None
    return preview_delivery(store, record, template, lead, registrant, audience)


def _language_option(value: str) -> str:
    """A --language value as a tag, or a usage error (exit 2) that says what to write."""
    from webinar_ops import validate

    try:
        return validate.language(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; write a tag such as en, fr or fr-CA", param_hint="--language") from exc


def _preview_registrant(store: Store, record: WebinarRecord, email: str | None, now: datetime) -> Registrant:
    """The registrant whose mail a preview shows: the one asked for, else the first approved
    one, else a sample reader who is not stored (and so gets no personal links)."""
    from webinar_ops import times
    from webinar_ops.errors import NotFound
    from webinar_ops.people import Person
    from webinar_ops.store import Registrant

    if email:
        row = store.registrant(record.id, email.strip().lower())
        if row is None:
            raise NotFound(f"{email} is not registered for {record.slug}.")
        return row
    rows = store.registrants(record.id, "status = 'approved'")
    if rows:
        return rows[0]
    sample = Person(email="participant@example.org", first_name="Participant")
    return Registrant.sample(record.id, sample, times.iso_utc(now))


@cli.command()
@click.argument("slug", required=False)
@click.option("--state", type=_ChoiceOf(_states))
@click.option("--limit", default=200, show_default=True, help="At most this many rows.")
@json_option
@pass_app
def outbox(app: App, slug: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """List outgoing mail with its state and, where it did not go, why."""
    from webinar_ops.console import print_json, print_table
    from webinar_ops.mail.outbox import Outbox

    webinar_id = app.webinar(slug).id if slug else None
    rows = Outbox(app.store).listing(webinar_id, state, limit)
    shown = ("kind", "revision", "due_at", "state", "attempts", "sent_at", "reason", "last_error", "message_id")
    if as_json:
        print_json([{"slug": slug, "email": email, **{k: getattr(d, k) for k in shown}} for d, email, slug in rows])
        return
    print_table(
        ("webinar", "to", "kind", "due (UTC)", "state", "tries", "why"),
        [(slug, email, d.kind, d.due_at, d.state, d.attempts, d.reason or d.last_error) for d, email, slug in rows],
    )


@cli.command()
@click.argument("slug")
@pass_app
def retry(app: App, slug: str) -> None:
    """Put SLUG's failed mail back in the queue, due now."""
    from webinar_ops.mail.outbox import Outbox

    count = Outbox(app.store).retry_failed(app.webinar(slug), app.now())
    click.echo(f"{count} failed deliveries are queued again; `webinar-ops run` (or run --once) sends them.")


# -- demo ---------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--start-in",
    default=3,
    show_default=True,
    help="Minutes until the demo webinar starts (2 to 60).",
    type=click.IntRange(2, 60),
)
@pass_app
def demo(app: App, start_in: int) -> None:
    """Run the whole flow on the sample webinar, moved to start in a few minutes, until every
    mail has gone into the local Maildir."""
    from webinar_ops.demo import run_demo

    run_demo(app, start_in, _service, _serve_until_signalled)


# -- the local Zoom -----------------------------------------------------------------------


@cli.command("fake-zoom")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--plan", type=click.Choice(["free", "pro", "business"]), default="pro", show_default=True)
@click.option("--account-id", default="fake-account-id", show_default=True)
@click.option("--client-id", default="fake-client-id", show_default=True)
@click.option("--client-secret", default="fake-client-secret", show_default=True)
@click.option(
    "--fail-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Share of API requests answered with a 500 or 503.",
)
@click.option("--seed", type=int, help="Seed the faults, to repeat a run exactly.")
@click.option(
    "--report-delay",
    default=30 * 60,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds after a webinar's end until its participant lists answer.",
)
def fake_zoom(
    port: int,
    plan: str,
    account_id: str,
    client_id: str,
    client_secret: str,
    fail_rate: float,
    seed: int | None,
    report_delay: float,
) -> None:
    """Run a stand-in for Zoom's API on 127.0.0.1, for demos and trials, until Ctrl-C or SIGTERM.

    It prints the ZOOM_* settings that point the zoom provider at it; more faults can be set
    while it runs with POST /_fake/faults, and who attended a webinar with POST
    /_fake/webinars/ID/participants and /_fake/webinars/ID/end (see docs/zoom.md).
    """
    import signal
    import threading

    from webinar_ops.providers.zoom.standin import FakeZoom

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    fake = FakeZoom(
        plan=plan,
        account_id=account_id,
        client_id=client_id,
        client_secret=client_secret,
        seed=seed,
        faults={"error_rate": fail_rate},
        port=port,
        report_delay=report_delay,
        log=lambda line: click.echo(line, err=True),
    )
    with fake:
        for key, value in fake.environment().items():
            click.echo(f"{key}={value}")
        click.echo(f"The local Zoom listens on {fake.url}; Ctrl-C or SIGTERM stops it.", err=True)
        while not stopping.wait(0.5):  # a short wait, so the signal is seen promptly
            pass
    click.echo("The local Zoom has stopped.", err=True)


def main() -> None:
    """The console script's entry point."""
    try:
        cli(prog_name="webinar-ops")
    except WebinarOpsError:
        raise
    except Exception as exc:  # the last guard: a person sees one line, not a traceback
        if "--debug" in sys.argv:
            raise
        _internal_error(exc)
        sys.exit(1)
