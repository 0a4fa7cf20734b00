"""Gated promotion, alias history and rollback against a basic-auth ``mlflow server`` on
PostgreSQL, for real: every mlt command a subprocess with the server's URL and a login.

alice trains and owns the model (MANAGE); bob has MLflow's default permission on it (READ).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from team_support import AuthServer, basic_auth_server, clean_env, query, run_mlt

# slow; and one worker runs the whole module, so its server (and database) is set up once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_team_promotion")]

PASSWORDS = {"alice": secrets.token_urlsafe(12), "bob": secrets.token_urlsafe(12)}
NAME = "gate-model"


@pytest.fixture(scope="module")
def server(postgres_cluster, postgres_db, tmp_path_factory) -> Iterator[AuthServer]:
    home = tmp_path_factory.mktemp("gate-server")
    with basic_auth_server(postgres_cluster, postgres_db, home, PASSWORDS) as started:
        yield started


def env_for(server: AuthServer, cwd: Path, user: str) -> dict[str, str]:
    tmp = cwd.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**clean_env(MLFLOW_TRACKING_URI=server.url, TMPDIR=str(tmp)), **server.login(user)}


def mlt(server: AuthServer, cwd: Path, user: str, *args: str, code: int = 0):
    done = run_mlt(cwd, env_for(server, cwd, user), *args)
    assert done.returncode == code, (
        f"mlt {' '.join(args)} exited {done.returncode}:\n{done.stderr}\n{server.log_tail()}"
    )
    return done


def at_once(server: AuthServer, cwd: Path, user: str, *commands: list[str]) -> list:
    """Start every command at once; wait for all. (returncode, stdout, stderr) of each."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlflow_tutorial", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env_for(server, cwd, user),
        )
        for args in commands
    ]
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        results.append((proc.returncode, stdout, stderr))
    return results


def aliases(server: AuthServer) -> dict[str, int]:
    rows = query(
        server.db, "SELECT alias, version FROM registered_model_aliases WHERE name = %s", NAME
    )
    return dict(rows)


def history_tags(server: AuthServer) -> dict[str, str]:
    rows = query(
        server.db,
        "SELECT key, value FROM registered_model_tags"
        " WHERE name = %s AND key LIKE 'mlt.history.%%'",
        NAME,
    )
    return dict(rows)


def history(server: AuthServer, cwd: Path, alias: str = "champion") -> list[dict]:
    moves = json.loads(mlt(server, cwd, "alice", "models", NAME, "--history", "-f", "json").stdout)
    return [m for m in moves if m["alias"] == alias]


@pytest.fixture(scope="module")
def trained(server, tmp_path_factory) -> dict[float, str]:
    """alice's runs on the built-in data, one per alpha (run ids by alpha), and her model:
    version 1 (alpha 5, the weakest) @champion."""
    cwd = tmp_path_factory.mktemp("alice") / "client"
    cwd.mkdir()
    done = mlt(server, cwd, "alice", "train", "--alpha", "5,0.1,1", "--no-plots", "-f", "json")
    runs = {r["params"]["alpha"]: r["run_id"] for r in json.loads(done.stdout)}
    mlt(server, cwd, "alice", "register", "--run", runs[5.0], "--name", NAME)
    return runs


@pytest.fixture
def client_dir(tmp_path: Path) -> Path:
    path = tmp_path / "client"
    path.mkdir()
    return path


def test_read_only_user_gets_403_and_nothing_is_recorded(server, trained, client_dir):
    before = (aliases(server), history_tags(server))
    assert before[0]["champion"] == 1 and len(before[1]) == 1

    for args in (
        ["register", "--if-better", "--run", trained[0.1][:8], "--name", NAME],
        ["register", "--version", "1", "--name", NAME, "--alias", "stable"],
    ):
        done = mlt(server, client_dir, "bob", *args, code=1)
        assert done.stdout == ""
        # One line that names the model and the permission missing.
        assert done.stderr.startswith("Error: user 'bob' may not "), done.stderr
        assert f"registered model '{NAME}' (needs EDIT" in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
    assert (aliases(server), history_tags(server)) == before
    versions = query(server.db, "SELECT count(*) FROM model_versions WHERE name = %s", NAME)
    assert versions == [(1,)]


def test_if_better_history_and_rollback(server, trained, client_dir):
    done = mlt(
        server, client_dir, "alice", "register", "--if-better", "--run", trained[1.0][:8],
        "--name", NAME, "-f", "json",
    )  # fmt: skip
    promoted = json.loads(done.stdout)
    assert promoted["outcome"] == "promoted", promoted
    assert promoted["challenger"]["score"] < promoted["champion"]["score"]
    assert aliases(server)["champion"] == promoted["version"]

    # A weaker one is kept (exit 3), and nothing is recorded.
    tags = history_tags(server)
    kept = mlt(
        server, client_dir, "alice", "register", "--if-better", "--run", trained[5.0],
        "--name", NAME, "-f", "json", code=3,
    )  # fmt: skip
    assert json.loads(kept.stdout)["outcome"] == "kept"
    assert history_tags(server) == tags

    rollback = mlt(server, client_dir, "alice", "register", "--version", "1", "--name", NAME)
    assert json.loads(rollback.stdout)["version"] == 1
    assert aliases(server)["champion"] == 1
    moves = history(server, client_dir)
    assert [(m["from_version"], m["to_version"], m["why"]) for m in moves[:2]] == [
        (promoted["version"], 1, "manual"),
        (1, promoted["version"], "if-better"),
    ]
    assert {m["who"] for m in moves} == {"alice"}


def test_two_racing_promotions_leave_a_history_that_matches_the_alias(server, trained, client_dir):
    # Both challengers beat version 1 (alpha 5); each is compared, registered and promoted
    # at the same moment. One may find the alias moved under it and say so (exit 1).
    mlt(server, client_dir, "alice", "register", "--version", "1", "--name", NAME)
    results = at_once(
        server,
        client_dir,
        "alice",
        ["register", "--if-better", "--run", trained[0.1], "--name", NAME, "-f", "json"],
        ["register", "--if-better", "--run", trained[1.0], "--name", NAME, "-f", "json"],
    )
    promoted = []
    for code, stdout, stderr in results:
        if code == 0:
            promoted.append(json.loads(stdout)["version"])
        else:
            assert code == 1 and stdout == "", stderr
            assert stderr.startswith(f"Error: alias 'champion' of '{NAME}' moved to version ")
    assert promoted
    final = aliases(server)["champion"]
    assert final in promoted
    assert history(server, client_dir)[0]["to_version"] == final

    # Plain moves race too, three rounds: the newest record always names the alias's version.
    for round_ in range(3):
        results = at_once(
            server,
            client_dir,
            "alice",
            *(["register", "--version", str(v), "--name", NAME, "-a", "blue"] for v in (1, 2)),
        )
        assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
        final = aliases(server)["blue"]
        newest = history(server, client_dir, "blue")[0]
        assert newest["to_version"] == final, (round_, history(server, client_dir, "blue"))
