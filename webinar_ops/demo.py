"""`webinar-ops demo`: the whole flow on the sample webinar, in a few minutes, offline.

It copies the sample definition to start a few minutes from now (same zone, agenda shifted
with it, reminders a minute or two before the start), imports the sample registrants,
registers them with the `local` provider, and runs the real service until every demo mail
has gone into the local Maildir.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from webinar_ops import shipped, times
from webinar_ops.config import ENV_FILE, ensure_secret_key
from webinar_ops.definition import load_definition
from webinar_ops.mail.outbox import Outbox
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.sync import sync_webinar
from webinar_ops.transports import transport_plugin

SAMPLE = shipped.SAMPLE_WEBINAR
SAMPLE_REGISTRANTS = shipped.SAMPLE_REGISTRANTS
DEMO_FOLDER = Path("data/demo")
TERMINAL = ("sent", "failed", "skipped", "missed")


def demo_definition(sample_text: str, slug: str, start_wall: datetime, offsets: list[int]) -> str:
    """The sample's text, moved to start at `start_wall` (the zone's wall time) under `slug`."""
    shift = start_wall - datetime(2021, 4, 30, 15, 0)

    def shifted(match: re.Match) -> str:
        clock = datetime.strptime(match.group(2), "%H:%M") + shift
        return f'{match.group(1)} = "{clock:%H:%M}"'

    text = re.sub(r'^(start|end) = "(\d\d:\d\d)"', shifted, sample_text, flags=re.M)
    text = text.replace('slug = "undesa-snu-session-5"', f'slug = "{slug}"')
    text = text.replace('start = "2021-04-30 15:00"', f'start = "{start_wall:%Y-%m-%d %H:%M}"')
    listed = ", ".join(f'"{minutes}m"' for minutes in offsets)
    return text.replace('offsets = ["7d", "1d", "1h"]', f"offsets = [{listed}]")


def run_demo(app: Any, start_in: int, make_service: Any, serve: Any) -> None:
    """Set up the demo webinar, then serve until all its mail is out; print where to look."""
    if ensure_secret_key(ENV_FILE):
        app.reload_settings()
        click.echo(f"Wrote a new signing key to {ENV_FILE}.")
    settings, store = app.settings, app.store
    webinar = _add_demo_webinar(app, start_in)
    d = webinar.definition
    click.echo(f"Demo webinar {webinar.slug}: {times.format_span(d.start, d.end, d.time_zone)}")
    plan = plan_import(store, webinar, SAMPLE_REGISTRANTS)
    apply_import(store, webinar, plan, app.now())
    report = sync_webinar(store, load_provider(webinar.provider, settings, store), webinar, app.now())
    click.echo(
        f"Imported {len(plan.new)} registrants; {report.registered} registered with the {webinar.provider} provider."
    )
    plan_webinar(store, store.webinar(webinar.slug), app.now(), settings.mail_domain)
    total = sum(sum(by_state.values()) for by_state in Outbox(store).counts(webinar.id).values())
    leads = ", ".join(times.format_duration(o) for o in d.reminder_offsets)
    click.echo(f"{total} mails planned: a confirmation now, and reminders {leads} before the start.")
    _serve_with_progress(app, webinar, total, make_service(settings), serve)
    _summary(app, webinar)


def _add_demo_webinar(app: Any, start_in: int) -> Any:
    now = app.now()
    sample = load_definition(SAMPLE)
    # Rounded up to the minute, so the first reminder falls due at least a minute from now.
    start_utc = (now + timedelta(minutes=start_in + 1)).replace(second=0, microsecond=0)
    start_wall = times.in_zone(start_utc, sample.time_zone).replace(tzinfo=None)
    slug = f"demo-{now:%Y%m%d-%H%M%S}"
    offsets = sorted({start_in - 1, max(1, start_in - 2)}, reverse=True)
    DEMO_FOLDER.mkdir(parents=True, exist_ok=True)
    path = DEMO_FOLDER / f"{slug}.toml"
    path.write_text(demo_definition(SAMPLE.read_text(encoding="utf-8"), slug, start_wall, offsets), encoding="utf-8")
    definition = load_definition(path)
    saved = app.store.save_webinar(definition, path.read_text(encoding="utf-8"), "local", now)
    return saved.record


def _serve_with_progress(app: Any, webinar: Any, total: int, service: Any, serve: Any) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    def done() -> int:
        counts = Outbox(app.store).counts(webinar.id)
        return sum(n for by_state in counts.values() for state, n in by_state.items() if state in TERMINAL)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("Mails out", total=total)

        def finished() -> bool:
            progress.update(task, completed=done(), description=_waiting_for(app, webinar))
            return done() >= total

        serve(service, finished)
        progress.update(task, completed=done(), description="Mails out")


def _waiting_for(app: Any, webinar: Any) -> str:
    nxt = Outbox(app.store).next_delivery(webinar.id)
    if not nxt:
        return "Mails out"
    seconds = max(0, int((times.parse_iso_utc(nxt["due_at"]) - times.utc_now()).total_seconds()))
    return f"Next: {nxt['kind']} in {seconds:>3} s"


def _summary(app: Any, webinar: Any) -> None:
    from webinar_ops.mail.compose import Composer
    from webinar_ops.private_files import write_private

    store, settings = app.store, app.settings
    click.echo("")
    for kind, by_state in Outbox(store).counts(webinar.id).items():
        click.echo(f"  {kind:<14} " + ", ".join(f"{n} {state}" for state, n in sorted(by_state.items())))
    person = store.registrant(webinar.id, "amelie.laurent@example.org") or store.registrants(webinar.id)[0]
    preview = DEMO_FOLDER / f"{webinar.slug}-reminder.html"
    offset = int(webinar.definition.reminder_offsets[-1].total_seconds() // 60)
    html = Composer(webinar, settings).render("reminder", person, app.now(), offset).html
    write_private(preview, html)  # it holds the person's personal join link
    hint = transport_plugin(settings.mail_transport).reading_hint(settings)
    if hint:
        click.echo(f"\n{hint}")
    click.echo(f"HTML preview of {person.first_name}'s last reminder: {preview}")
    click.echo(f"See it all with `webinar-ops status {webinar.slug}` and `webinar-ops outbox {webinar.slug}`.")
