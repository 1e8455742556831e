"""``flask --app wsgi stations reindex``: rebuild the nearby-search index from the database."""
from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from service.stations import geo

stations_cli = AppGroup("stations", help="户外劳动者驿站 / rest stations")


@stations_cli.command("reindex")
def reindex():
    """Rebuild the Redis GEO index and station records (one process at a time, under a Redis lock)."""
    started = time.monotonic()
    try:
        count = geo.rebuild()
    except geo.RebuildBusy:
        raise click.ClickException("another process is rebuilding the station index; try again later") from None
    click.echo(f"indexed {count} station(s) in {time.monotonic() - started:.1f}s")
