"""Logins in tracking URIs, secrets kept out of messages, and the warning for an endpoint
without authentication on every interface. No server: see test_team_auth.py for the real one."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from mlflow_tutorial.cli import app
from mlflow_tutorial.config import Tracking
from mlflow_tutorial.credentials import (
    RAW_PASSWORD,
    has_raw_password,
    scrub,
    split_credentials,
    use_uri_credentials,
)
from mlflow_tutorial.output import exposure_warning

LOGIN_ENVS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@pytest.fixture(autouse=True)
def no_login(monkeypatch):
    """No login variables, and whatever a test sets in them (mlt itself, through os.environ)
    is undone afterwards: setenv first makes monkeypatch restore the original state."""
    for name in (*LOGIN_ENVS, "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://alice:pw@host:5000", ("http://host:5000", "alice", "pw")),
        ("https://alice:p%40ss%3Aw@host/base/", ("https://host/base/", "alice", "p@ss:w")),
        ("http://alice:p@ss@host:5000", ("http://host:5000", "alice", "p@ss")),
        ("http://alice@host", ("http://host", "alice", None)),
        ("http://alice:@host", ("http://host", "alice", "")),
        ("http://[::1]:5000", ("http://[::1]:5000", None, None)),
        ("http://host:5000", ("http://host:5000", None, None)),
        ("sqlite:///mlflow.db", ("sqlite:///mlflow.db", None, None)),
    ],
)
def test_split_credentials(uri, expected):
    assert split_credentials(uri) == expected


def test_a_login_in_the_url_goes_to_mlflows_variables(monkeypatch):
    uri = "http://alice:s3cret@127.0.0.1:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracking = Tracking.resolve()
    assert tracking.uri == "http://127.0.0.1:5000"
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "alice"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "s3cret"
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"


def test_a_database_uri_keeps_its_password(monkeypatch):
    uri = "postgresql://mlflow:s3cret@db.internal:5432/mlflow"
    assert use_uri_credentials(uri) == uri
    assert Tracking.resolve(uri).uri == uri


def test_scrub_masks_uri_passwords_and_known_secrets(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pa/ss word")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
    text = (
        "cannot open postgresql://mlflow:dbpw@db/mlflow and http://bob:bobpw@host:1/x; "
        "password pa/ss word (pa%2Fss%20word), token tok-123; http://host:5000/path@x stays"
    )
    assert scrub(text) == (
        "cannot open postgresql://mlflow:***@db/mlflow and http://bob:***@host:1/x; "
        "password *** (***), token ***; http://host:5000/path@x stays"
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]"])
def test_every_interface_gets_a_warning(host):
    message = exposure_warning(host, "the model server", "send it prediction requests")
    assert message == (
        f"--host {host} makes the model server reachable from other machines, and it has no "
        "authentication: anyone who reaches it can send it prediction requests"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "192.0.2.7"])
def test_one_interface_gets_none(host):
    assert exposure_warning(host, "the model server", "send it prediction requests") is None


def test_serve_on_every_interface_warns_first_on_stderr():
    result = CliRunner().invoke(
        app, ["serve", "--host", "0.0.0.0", "--model", "models:/no-such-model@champion"]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    warning, failure = result.stderr.splitlines()
    assert warning == "Warning: " + exposure_warning(
        "0.0.0.0", "the model server", "send it prediction requests"
    )
    assert failure.startswith("Error: ")


def test_serve_binds_one_interface_by_default():
    from mlflow_tutorial.net import DEFAULT_HOST

    assert DEFAULT_HOST == "127.0.0.1"


# -- a password put into the URL as it is --------------------------------------------------------

RAW = "pa/ss?w#rd@x:y"  # every character that breaks a URL's host part


@pytest.mark.parametrize(
    ("uri", "raw"),
    [
        (f"http://alice:{RAW}@127.0.0.1:5000", True),
        ("http://alice:pa/ss@mlflow.example.internal", True),
        ("https://alice:pa?ss@mlflow.example.internal:443/base", True),
        ("http://alice:pa%2Fss@127.0.0.1:5000", False),
        ("http://alice:p@ss:w@127.0.0.1:5000", False),  # "@" and ":" alone are read right
        ("http://127.0.0.1:5000/path@x", False),
        ("http://127.0.0.1:5000", False),
    ],
)
def test_a_raw_password_is_recognized(uri, raw):
    assert has_raw_password(uri) is raw


@pytest.mark.parametrize("where", ["option", "variable"])
def test_a_raw_special_character_password_is_one_line_naming_no_piece_of_it(
    monkeypatch, one_line_error, where
):
    uri = f"http://alice:{RAW}@127.0.0.1:5000"
    if where == "option":
        result = CliRunner().invoke(app, ["models", "-t", uri])
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        result = CliRunner().invoke(app, ["models"])
    one_line_error(result, RAW_PASSWORD)
    assert "percent-encode" in RAW_PASSWORD and "MLFLOW_TRACKING_PASSWORD" in RAW_PASSWORD
    for piece in ("pa", "ss", "rd", "w#", "x:y"):
        assert piece not in result.stderr.replace("password", "").replace("pass", ""), piece


# -- a password on the command line of a long-lived command --------------------------------------

PS_WARNING = (
    "Warning: the password in --tracking-uri shows in the process list (ps) for as long as "
    "{command} runs: leave it out of the URI and set MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD"
)


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["serve", "--model", "models:/no-such-model@champion"], "mlt serve"),
        (["ui", "--port", "1"], "mlt ui"),
    ],
)
def test_a_password_in_a_long_lived_commands_url_is_warned_of_once(free_port, args, command):
    uri = f"http://alice:s3cret-pw@127.0.0.1:{free_port()}"  # nothing listens there
    result = CliRunner().invoke(app, [*args, "-t", uri])
    lines = result.stderr.splitlines()
    assert lines[0] == PS_WARNING.format(command=command)
    assert sum(line.startswith("Warning:") for line in lines) == 1
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_the_same_login_from_the_variable_is_not_warned_of(monkeypatch, free_port):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:s3cret-pw@127.0.0.1:{free_port()}")
    result = CliRunner().invoke(app, ["serve", "--model", "models:/no-such-model@champion"])
    assert result.exit_code == 1
    assert "Warning" not in result.stderr
    assert result.stderr.startswith("Error: cannot reach the tracking server at http://127.0.0.1:")
