"""Alias history: every alias move mlt makes, recorded in the registry itself.

MLflow keeps no history of aliases: ``set_registered_model_alias`` overwrites the pointer and
nothing remembers where it was. mlt records each move as a tag of the registered model, where
MLflow's UI shows it and a team server shares it with everyone::

    mlt.history.1764460000123.3f9a1c = {"alias": "champion", "from": 1, "to": 2,
                                        "when": "2026-11-30T00:06:40.123+00:00",
                                        "who": "alice", "why": "if-better", ...}

The key holds the time in milliseconds (the order of the moves) and a random suffix (two
moves in one millisecond). A move is written with a time after every record it sees, so the
history is ordered even when clients' clocks disagree.

Two moves of one alias at once (two clients promoting together) end with the alias on one of
the two versions; the records must say which. After writing its record, a move checks that
the newest record of the alias names the version the alias now points at, and mends its own
record when it does not (:func:`_settle`): a move overtaken by another one at the same moment
is placed just before it. So the newest record always matches the alias, as long as every
move goes through :func:`record_move` (``versions.set_alias`` is the one way mlt moves an
alias).
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..config import Tracking
from ..errors import ModelNotFoundError
from ..mlflow_errors import USERNAME_ENV, mlflow_errors
from ..names import TAG_HISTORY_PREFIX as TAG_PREFIX

# How long a move waits for the other writer of a simultaneous move to mend its record before
# it places its own record last, and how far back a record counts as "at the same moment".
SETTLE_SECONDS = 10.0
RACE_WINDOW_MS = 5 * 60 * 1000

# Why an alias moved (``why`` in a record).
WHY_BEST = "best"  # mlt register --best (the best run by a metric)
WHY_RUN = "run"  # mlt register --run ID
WHY_IF_BETTER = "if-better"  # mlt register --if-better: the challenger beat the holder
WHY_MANUAL = "manual"  # mlt register --version N: pointed by hand (a rollback, for instance)


@dataclass(frozen=True)
class AliasMove:
    """One recorded move of an alias."""

    name: str
    alias: str
    from_version: int | None
    to_version: int
    when: str  # ISO 8601, UTC
    who: str
    why: str
    details: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # the tag holding the record

    @property
    def when_ms(self) -> int:
        return _key_ms(self.key)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("key")
        return out


def current_user() -> str:
    """MLflow's user where there is one (the tracking server's login), else the OS user."""
    user = os.environ.get(USERNAME_ENV)
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


def record_move(
    client: Any,
    name: str,
    alias: str,
    from_version: int | None,
    to_version: int,
    why: str,
    details: Mapping[str, Any] | None = None,
    current: Callable[[], int | None] | None = None,
) -> AliasMove:
    """Record that ``alias`` of ``name`` moved from ``from_version`` to ``to_version``, just
    after the move. ``current`` reads where the alias points now (to settle a race)."""
    history = _read(client, name)
    move = _write(
        client,
        name,
        alias,
        from_version,
        to_version,
        why,
        dict(details or {}),
        after=max((m.when_ms for m in history), default=0),
    )
    if current is not None:
        move = _settle(client, move, current)
    return move


def alias_history(client: Any, name: str, alias: str | None = None) -> list[AliasMove]:
    """The recorded moves of ``name``'s aliases (of one ``alias`` if given), newest first."""
    moves = [m for m in _read(client, name) if alias is None or m.alias == alias]
    return sorted(moves, key=lambda m: (m.when_ms, m.key), reverse=True)


def _read(client: Any, name: str) -> list[AliasMove]:
    with mlflow_errors():
        model = client.get_registered_model(name)
    return _parse_all(name, model.tags or {})


def _parse_all(name: str, tags: Mapping[str, str]) -> list[AliasMove]:
    moves = []
    for key, value in tags.items():
        if key.startswith(TAG_PREFIX):
            move = _parse(name, key, value)
            if move is not None:
                moves.append(move)
    return moves


def _parse(name: str, key: str, value: str) -> AliasMove | None:
    """A record from its tag; None for a tag that is not one (edited by hand, say)."""
    try:
        data = json.loads(value)
        _key_ms(key)
        return AliasMove(
            name=name,
            alias=str(data["alias"]),
            from_version=None if data.get("from") is None else int(data["from"]),
            to_version=int(data["to"]),
            when=str(data["when"]),
            who=str(data.get("who") or ""),
            why=str(data.get("why") or ""),
            details=dict(data.get("details") or {}),
            key=key,
        )
    except (ValueError, KeyError, TypeError):
        return None


def _key_ms(key: str) -> int:
    return int(key.removeprefix(TAG_PREFIX).split(".", 1)[0])


def _write(
    client: Any,
    name: str,
    alias: str,
    from_version: int | None,
    to_version: int,
    why: str,
    details: dict[str, Any],
    after: int,
) -> AliasMove:
    when_ms = max(int(time.time() * 1000), after + 1)
    when = datetime.fromtimestamp(when_ms / 1000, tz=timezone.utc).isoformat(
        timespec="milliseconds"
    )
    move = AliasMove(
        name, alias, from_version, to_version, when, current_user(), why, details, _key(when_ms)
    )
    _store(client, move)
    return move


def _rewrite(client: Any, move: AliasMove, at_ms: int) -> AliasMove:
    """``move`` again under a key of time ``at_ms`` (the old tag deleted)."""
    moved = AliasMove(**{**asdict(move), "key": _key(at_ms)})
    _store(client, moved)
    with mlflow_errors(prefix=f"cannot record the move of alias {move.alias!r} of {move.name!r}"):
        client.delete_registered_model_tag(move.name, move.key)
    return moved


def _key(when_ms: int) -> str:
    return f"{TAG_PREFIX}{when_ms:013d}.{secrets.token_hex(3)}"


def _store(client: Any, move: AliasMove) -> None:
    value: dict[str, Any] = {
        "alias": move.alias,
        "from": move.from_version,
        "to": move.to_version,
        "when": move.when,
        "who": move.who,
        "why": move.why,
    }
    if move.details:
        value["details"] = move.details
    with mlflow_errors(prefix=f"cannot record the move of alias {move.alias!r} of {move.name!r}"):
        client.set_registered_model_tag(
            move.name, move.key, json.dumps(value, separators=(",", ":"))
        )


def _settle(client: Any, mine: AliasMove, current: Callable[[], int | None]) -> AliasMove:
    """Make the newest record of the alias name the version it points at, as far as this move
    is concerned.

    - The newest record matches the alias: done.
    - This move is the newest record but the alias points elsewhere: another move overtook it
      at the same moment. Its record is placed just before that move's record; if that one is
      not written yet, it will be written after this one, and be the newest.
    - The alias points at this move's version but another record is newer: that record's
      writer mends it (the case above). If it has not after :data:`SETTLE_SECONDS` (it
      stopped), this record is written again as the newest.
    - Otherwise another move is the alias's last one: its writer settles it.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        points_at = current()
        moves = alias_history(client, mine.name, mine.alias)
        if not moves or moves[0].to_version == points_at:
            return mine
        newest = moves[0]
        if newest.key == mine.key:
            if points_at == mine.to_version:
                return mine
            overtaking = [
                m
                for m in moves[1:]
                if m.to_version == points_at and mine.when_ms - m.when_ms <= RACE_WINDOW_MS
            ]
            if not overtaking:
                return mine  # the overtaking move's record comes later, and last
            return _rewrite(client, mine, overtaking[0].when_ms - 1)
        if points_at != mine.to_version:
            return mine
        if time.monotonic() >= deadline:
            return _rewrite(client, mine, newest.when_ms + 1)
        time.sleep(0.2)


def list_history(tracking: Tracking, name: str | None = None) -> list[AliasMove]:
    """The alias moves of one registered model, or of every one, newest first."""
    client = tracking.client(create=False)
    if name is not None:
        with mlflow_errors(f"registered model {name!r}", not_found=ModelNotFoundError):
            client.get_registered_model(name)
        return alias_history(client, name)
    moves: list[AliasMove] = []
    token = None
    while True:
        with mlflow_errors():
            page = client.search_registered_models(max_results=1000, page_token=token)
        for model in page:
            moves.extend(_parse_all(model.name, model.tags or {}))
        token = page.token
        if not token:
            return sorted(moves, key=lambda m: (m.when_ms, m.key), reverse=True)
