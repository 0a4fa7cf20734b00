"""Logins for a tracking server, and keeping every secret out of what mlt prints.

A tracking URI may carry a login: ``http://alice:PASSWORD@mlflow.example.internal:5000``.
mlt takes it out of the URI and hands it to MLflow through MLflow's own environment variables,
``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``, for this process and the
processes it starts. The URI that mlt keeps, uses and prints has no credentials. A database URI
(``postgresql://user:PASSWORD@host/db``) keeps its password, which the driver needs.

Whatever may still carry a secret on its way to a person (an error from a store whose URI holds
a password, a message quoting a token) goes through :func:`scrub`, which masks the password of
every URI in the text and every secret mlt knows of.

A password with ``/``, ``?`` or ``#`` put into a URI as it is ends the URI's host part early
(``http://alice:pa/ss@host`` reads as host ``alice``, port ``pa``): mlt refuses such a URI with
one line that quotes none of it (:class:`~mlflow_tutorial.errors.TrackingError`).

Only the standard library is imported here: the CLI imports this module at start-up.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .errors import TrackingError
from .net import is_http

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
TOKEN_ENV = "MLFLOW_TRACKING_TOKEN"
# Environment variables that hold a URI which MLflow reads by itself.
URI_ENVS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
MASK = "***"
RAW_PASSWORD = (
    "the login in the tracking URI cannot be read: percent-encode the special characters of "
    "the password (/ as %2F, ? as %3F, # as %23, @ as %40, : as %3A), or leave the login out "
    f"of the URI and set {USERNAME_ENV} and {PASSWORD_ENV}"
)

# scheme://user:password@ in any text; the password stops at the first "@", "/" or blank.
_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*):(?P<password>[^\s/?#@]+)@"
)


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """``(uri without its login, user, password)``; user and password are percent-decoded,
    None when absent."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=host))
    return clean, unquote(user) or None, unquote(password) if colon else None


def use_uri_credentials(uri: str) -> str:
    """For an ``http(s)://`` URI with a login: hand the login to MLflow (this process's
    environment, which its child processes inherit) and return the URI without it. The same
    URI in ``MLFLOW_TRACKING_URI`` or ``MLFLOW_REGISTRY_URI`` is replaced by the clean one, so
    MLflow never reads the password from a URI. Other URIs come back as they are."""
    if not is_http(uri):
        return uri
    if has_raw_password(uri):
        raise TrackingError(RAW_PASSWORD)
    clean, user, password = split_credentials(uri)
    if user is None and password is None:
        return uri
    if user is not None:
        os.environ[USERNAME_ENV] = user
    if password is not None:
        os.environ[PASSWORD_ENV] = password
    for name in URI_ENVS:
        if os.environ.get(name) == uri:
            os.environ[name] = clean
    return clean


def has_raw_password(uri: str) -> bool:
    """Whether ``uri`` looks like ``scheme://user:PASS@host`` with a ``/``, ``?`` or ``#`` left
    as it is in PASS: what reads as its host part is ``user:start-of-password``, whose "port"
    is not a number, and an ``@`` follows. (A password whose start is all digits escapes
    this: ``http://alice:12/x@host`` is a valid URI of host ``alice``, port 12.)"""
    parts = urlsplit(uri)
    after_host = uri.partition("://")[2][len(parts.netloc) :]
    if "@" in parts.netloc or "@" not in after_host or ":" not in parts.netloc:
        return False
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        return True
    return False


def password_in_argument(uri: str | None) -> bool:
    """Whether ``uri`` (given on the command line) holds a password, which anyone on the
    machine can read in the process list (``ps``) for as long as the process runs."""
    if not uri:
        return False
    return has_raw_password(uri) or bool(split_credentials(uri)[2])


def known_secrets() -> set[str]:
    """The secrets this process knows of: MLflow's password and token variables, and the
    passwords of the URIs in its URI variables."""
    found = {os.environ.get(PASSWORD_ENV), os.environ.get(TOKEN_ENV)}
    for name in URI_ENVS:
        found.add(split_credentials(os.environ.get(name, ""))[2])
    return {secret for secret in found if secret}


def scrub(text: str) -> str:
    """``text`` with every known secret (also percent-encoded) and the password of every URI
    replaced by ``***``."""
    for secret in sorted(known_secrets(), key=len, reverse=True):
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, MASK)
    return _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
