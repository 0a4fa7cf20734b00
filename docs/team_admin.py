"""Users and permissions on a tracking server with logins (``mlflow server --app-name basic-auth``).

    export MLFLOW_TRACKING_URI=http://127.0.0.1:5000
    export MLFLOW_TRACKING_USERNAME=admin
    read -rs MLFLOW_TRACKING_PASSWORD && export MLFLOW_TRACKING_PASSWORD   # the admin's
    python docs/team_admin.py --user alice --user bob \\
        --experiment mlt --model diabetes-elasticnet --permission EDIT

For each ``--user`` that does not exist yet, it creates the user with a random password and
prints ``USER PASSWORD`` on stdout, once: hand each password to its user privately (they can
change it later). Users that exist keep their password. Each ``--experiment`` and ``--model``
that does not exist yet is created (by the admin), and every user gets ``--permission`` on each
of them, whether it was made before logins were turned on (it then belongs to nobody and
everyone has only the default permission) or afterwards.

Running it again with the same options changes nothing and prints no password; with another
``--permission`` it changes the grants. What it does goes to stderr, one line per thing.
The admin's login comes from MLflow's two variables, never from the command line (``ps``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import warnings

PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user", action="append", default=[], metavar="NAME")
    parser.add_argument("--experiment", action="append", default=[], metavar="NAME")
    parser.add_argument("--model", action="append", default=[], metavar="NAME")
    parser.add_argument("--permission", default="EDIT", choices=PERMISSIONS)
    args = parser.parse_args(argv)
    missing = [
        name
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
        if not os.environ.get(name)
    ]
    if missing:
        print(
            f"Error: set {', '.join(missing)} (the server and the admin's login)", file=sys.stderr
        )
        return 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecations inside MLflow's server modules
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
        from mlflow.server import get_app_client

    url = os.environ["MLFLOW_TRACKING_URI"]
    auth = get_app_client("basic-auth", tracking_uri=url)
    client = MlflowClient(tracking_uri=url)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        for user in args.user:
            try:
                auth.get_user(user)
                say(f"user {user}: exists, password unchanged")
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                password = secrets.token_urlsafe(16)
                auth.create_user(user, password)
                print(user, password, flush=True)
                say(f"user {user}: created (password on stdout)")

        resources: list[tuple[str, str, str]] = []  # (type, id, what to call it)
        for name in args.experiment:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                experiment_id = client.create_experiment(name)
                say(f"experiment {name!r}: created (id {experiment_id})")
            else:
                experiment_id = experiment.experiment_id
                say(f"experiment {name!r}: exists (id {experiment_id})")
            resources.append(("experiment", experiment_id, f"experiment {name!r}"))
        for name in args.model:
            try:
                client.get_registered_model(name)
                say(f"registered model {name!r}: exists")
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                client.create_registered_model(name)
                say(f"registered model {name!r}: created")
            resources.append(("registered_model", name, f"registered model {name!r}"))

        for user in args.user:
            for kind, resource_id, what in resources:
                say(f"user {user}: {grant(auth, user, kind, resource_id, args.permission)} {what}")
    except MlflowException as exc:
        say(f"Error: {exc.message.splitlines()[0]}")
        return 1
    return 0


def grant(auth, user: str, kind: str, resource_id: str, permission: str) -> str:
    """Give ``user`` exactly ``permission`` on the resource; what was done, in words."""
    from mlflow.exceptions import MlflowException

    try:
        auth.grant_user_permission(user, kind, resource_id, permission)
        return f"{permission} granted on"
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    # A grant exists already: keep it if it is the one asked for, else replace it.
    if auth.get_user_permission(user, kind, resource_id).permission == permission:
        return f"{permission} already on"
    auth.revoke_user_permission(user, kind, resource_id)
    auth.grant_user_permission(user, kind, resource_id, permission)
    return f"{permission} now on"


if __name__ == "__main__":
    sys.exit(main())
