"""The `webinar-ops` command line: a thin shell over the library.

Exit codes: 0 success, 1 the operation failed, 2 bad usage or invalid input. `--json`
prints machine-readable JSON on standard output; errors go to standard error without a
traceback unless `--debug` is given. Heavy modules are imported inside the commands so that
`webinar-ops --help` starts quickly.
"""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from webinar_ops import __version__
from webinar_ops.errors import WebinarOpsError

if TYPE_CHECKING:
    from datetime import datetime

    from webinar_ops.config import Settings
    from webinar_ops.providers import Provider
    from webinar_ops.store import Store, WebinarRecord

SAMPLE_WEBINAR = Path("data/webinars/undesa-snu-session-5.toml")
SAMPLE_REGISTRANTS = Path("data/registrants-sample.csv")


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
        except WebinarOpsError as exc:
            if ctx.obj and ctx.obj.debug:
                raise
            from webinar_ops.console import error

            error(f"error: {exc}")
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            from webinar_ops.console import error

            error("interrupted")
            ctx.exit(130)
        finally:
            if ctx.obj:
                ctx.obj.close()


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
    from webinar_ops.config import ENV_FILE
    from webinar_ops.tokens import new_secret_key

    if not app.settings.secret_key:
        _append_private(ENV_FILE, f"WEBINAR_OPS_SECRET_KEY={new_secret_key()}\n")
        app.reload_settings()
        click.echo(f"Wrote a new signing key (WEBINAR_OPS_SECRET_KEY) to {ENV_FILE}.")
    else:
        click.echo("A signing key is already set.")
    click.echo(f"Database ready: {app.store.path}")
    click.echo(f"Next: webinar-ops webinar add {SAMPLE_WEBINAR}")


def _append_private(path: Path, text: str) -> None:
    import os

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(descriptor, 0o600)  # a copied .env.example may be world-readable; it now holds a secret
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        if path.stat().st_size and not path.read_text(encoding="utf-8").endswith("\n"):
            handle.write("\n")
        handle.write(text)


# -- webinars -----------------------------------------------------------------------------


@cli.group()
def webinar() -> None:
    """Add, list and show webinar definitions."""


@webinar.command("add")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_app
def webinar_add(app: App, file: Path, as_json: bool) -> None:
    """Create or update the webinar defined in FILE; prints what changed."""
    from webinar_ops.console import print_json, webinar_when
    from webinar_ops.definition import load_definition

    definition = load_definition(file)
    provider = definition.provider.name or app.settings.provider
    saved = app.store.save_webinar(definition, file.read_text(encoding="utf-8-sig"), provider, app.now())
    record = saved.record
    if as_json:
        print_json(
            {"outcome": saved.outcome, "slug": record.slug, "revision": record.revision, "changes": list(saved.changes)}
        )
        return
    click.echo(f"{saved.outcome.capitalize()} webinar {record.slug} (revision {record.revision}): {record.title}")
    click.echo(f"  {webinar_when(record)}")
    for change in saved.changes:
        click.echo(f"  changed {change}")


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
        click.echo(f"No webinars yet. Add one with: webinar-ops webinar add {SAMPLE_WEBINAR}")
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


# -- registrants --------------------------------------------------------------------------


@cli.group()
def registrants() -> None:
    """Import, add, list and cancel registrants."""


@registrants.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; write nothing.")
@json_option
@pass_app
def registrants_import(app: App, slug: str, file: Path, dry_run: bool, as_json: bool) -> None:
    """Import registrants from a CSV FILE: all of it, or nothing if any row is bad."""
    from webinar_ops.registrants import apply_import, plan_import

    record = app.webinar(slug)
    plan = plan_import(app.store, record, file)
    if not dry_run:
        apply_import(app.store, record, plan, app.now())
    _print_import(plan, dry_run, as_json)


def _print_import(plan: Any, dry_run: bool, as_json: bool) -> None:
    from webinar_ops.console import print_json, print_table

    counts = {
        "added": len(plan.new),
        "updated": len(plan.updated),
        "unchanged": plan.unchanged,
        "left_cancelled": len(plan.left_cancelled),
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
@click.option("--language", help="Language code, such as en or fr.")
@pass_app
def registrants_add(app: App, slug: str, **values: str | None) -> None:
    """Register one person for the webinar SLUG."""
    from webinar_ops.registrants import add_person

    record = app.webinar(slug)
    email, outcome = add_person(app.store, record, values, app.now())
    click.echo(f"{email}: {outcome}.")
    if outcome in ("added", "re-activated"):
        click.echo(f"The next `webinar-ops sync {slug}` registers them with the provider.")


@registrants.command("list")
@click.argument("slug")
@click.option("--status", type=click.Choice(["pending", "approved", "denied", "cancelled"]), help="Only this status.")
@click.option("--show-links", is_flag=True, help="Show personal join links in full (they are secrets).")
@json_option
@pass_app
def registrants_list(app: App, slug: str, status: str | None, show_links: bool, as_json: bool) -> None:
    """List the registrants of SLUG. Personal join links are masked unless --show-links."""
    from webinar_ops.console import mask_link, print_json, print_table

    record = app.webinar(slug)
    rows = app.store.registrants(record.id, *(("status = ?", [status]) if status else ()))
    for row in rows:
        row["join_url"] = row["join_url"] if show_links else mask_link(row["join_url"])
    if as_json:
        print_json([{k: v for k, v in row.items() if k not in ("id", "webinar_id")} for row in rows])
        return
    table = [
        (
            r["email"],
            " ".join(filter(None, (r["first_name"], r["last_name"]))),
            r["organisation"],
            r["time_zone"],
            r["status"],
            _sync_state(r),
            r["join_url"],
        )
        for r in rows
    ]
    print_table(
        ("email", "name", "organisation", "time zone", "status", "provider", "join link"),
        table,
        title=f"{record.slug}: {len(rows)} registrants",
    )


def _sync_state(row: dict) -> str:
    if row["provider_registrant_id"]:
        return row["provider_status"] or "registered"
    if row["sync_error"]:
        return f"failed: {row['sync_error']}"
    return "not yet" if row["status"] in ("pending", "approved") else "-"


@registrants.command("cancel")
@click.argument("slug")
@click.argument("email")
@pass_app
def registrants_cancel(app: App, slug: str, email: str) -> None:
    """Cancel the registration of EMAIL for SLUG, here and at the provider."""
    from webinar_ops.registrants import cancel_person
    from webinar_ops.sync import cancel_at_provider

    record = app.webinar(slug)
    row = cancel_person(app.store, record, email, app.now())
    if row["status"] == "cancelled":
        click.echo(f"{row['email']} was already cancelled.")
        return
    told = row["provider_registrant_id"] is not None and cancel_at_provider(
        app.store, app.provider_for(record), record, row, app.now()
    )
    where = "here and at the provider" if told else "here; the provider is told at the next sync"
    click.echo(f"Cancelled {row['email']} for {slug}, {where}.")


# -- sync and status ----------------------------------------------------------------------


@cli.command()
@click.argument("slug")
@json_option
@pass_app
def sync(app: App, slug: str, as_json: bool) -> None:
    """Publish SLUG to its provider, register waiting people, pull in new sign-ups."""
    from webinar_ops.console import print_json, progress_bar
    from webinar_ops.sync import sync_webinar

    record = app.webinar(slug)
    provider = app.provider_for(record)
    with progress_bar(f"Registering with {provider.name}") as advance:
        report = sync_webinar(app.store, provider, record, app.now(), progress=advance)
    if as_json:
        print_json({"slug": slug, "provider": provider.name, **report.__dict__})
    else:
        _print_sync(slug, provider.name, report)
    if report.failed:
        sys.exit(1)


def _print_sync(slug: str, provider: str, report: Any) -> None:
    if report.published:
        click.echo(f"Webinar {report.published} at {provider}.")
    click.echo(
        f"{slug}: {report.registered} registered, {len(report.failed)} failed, "
        f"{report.cancelled} cancellations sent, {report.pulled_new} new from {provider}, "
        f"{report.pulled_updated} updated from {provider}."
    )
    if report.deferred:
        click.echo(f"{report.deferred} waiting for the provider's daily limit to reset.")
    for email, message in report.failed:
        click.echo(f"  failed: {email}: {message}", err=True)
    if not report.changed_anything and not report.failed:
        click.echo("Already in step: nothing to do.")


@cli.command()
@click.argument("slug", required=False)
@json_option
@pass_app
def status(app: App, slug: str | None, as_json: bool) -> None:
    """Show each webinar (or just SLUG): when, provider, registrants by status and sync state."""
    from webinar_ops.console import print_json, print_table, webinar_when

    records = [app.webinar(slug)] if slug else app.store.webinars()
    summaries = [
        {**_webinar_summary(app.store, r), "provider_error": r.provider_error, "sync": app.store.sync_counts(r.id)}
        for r in records
    ]
    if as_json:
        print_json(summaries)
        return
    if not records:
        click.echo(f"No webinars yet. Add one with: webinar-ops webinar add {SAMPLE_WEBINAR}")
    for record, summary in zip(records, summaries, strict=True):
        counts, synced = summary["registrants"], summary["sync"]
        click.echo(f"{record.slug} (revision {record.revision}): {record.title}")
        click.echo(f"  {webinar_when(record)}")
        hosted = record.provider_webinar_id or "not created yet (run sync)"
        click.echo(f"  provider: {record.provider}, webinar {hosted}")
        if record.provider_error:
            click.echo(f"  provider error: {record.provider_error}")
        print_table(
            ("pending", "approved", "denied", "cancelled", "registered at provider", "waiting", "sync failed"),
            [
                (
                    counts["pending"],
                    counts["approved"],
                    counts["denied"],
                    counts["cancelled"],
                    synced["registered"],
                    synced["waiting"],
                    synced["failed"],
                )
            ],
        )


# -- demo ---------------------------------------------------------------------------------


@cli.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Run the whole flow on the sample data with the embedded defaults."""
    click.echo("== init")
    ctx.invoke(init)
    click.echo(f"\n== webinar add {SAMPLE_WEBINAR}")
    ctx.invoke(webinar_add, file=SAMPLE_WEBINAR, as_json=False)
    slug = ctx.obj.store.find_webinar("undesa-snu-session-5").slug
    click.echo(f"\n== registrants import {slug} {SAMPLE_REGISTRANTS}")
    ctx.invoke(registrants_import, slug=slug, file=SAMPLE_REGISTRANTS, dry_run=False, as_json=False)
    click.echo(f"\n== sync {slug}")
    ctx.invoke(sync, slug=slug, as_json=False)
    click.echo("\n== status")
    ctx.invoke(status, slug=None, as_json=False)


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
