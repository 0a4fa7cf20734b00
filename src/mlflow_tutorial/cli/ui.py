"""``mlt ui``: MLflow's web UI on the store mlt uses."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..net import DEFAULT_HOST, UI_PORT
from ..output import info, warn_if_exposed
from .app import app
from .common import TrackingUri, command, tracking, warn_if_password_in_argument


@app.command()
@command
def ui(
    host: Annotated[
        str,
        typer.Option(
            metavar="HOST", help="Interface to listen on (0.0.0.0 exposes the UI: no login)"
        ),
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option("--port", "-p", metavar="INT", help="Port to listen on")
    ] = UI_PORT,
    tracking_uri: TrackingUri = None,
) -> None:
    """Open MLflow's web UI on the runs and models mlt records (Ctrl-C stops it).

    Examples: mlt ui     (then open http://127.0.0.1:5000)

    mlt ui --port 5050
    """
    from ..tracking.ui import run_ui

    def ready(server: Any) -> None:
        if not server.started:
            info(f"The tracking server serves MLflow's UI: {server.url}", style="bold")
            return
        info(f"MLflow UI at {server.url} (store {server.tracking_uri})", style="bold")
        info("  stop with Ctrl-C")

    warn_if_exposed(host, "the UI", "read and change runs and models")
    warn_if_password_in_argument(tracking_uri, "mlt ui")
    run_ui(tracking(tracking_uri, None), host=host, port=port, on_ready=ready)
