"""Made-up mixed tables for tests: numeric, text and boolean columns, gaps, a learnable target.

``mixed_csv(path)`` writes one; every knob is a keyword, so a test says what it needs:

    mixed_csv(tmp_path / "pets.csv", rows=120, target="binary", gaps=True, extra={"id": "id"})
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable
from pathlib import Path

CITIES = ("Lisbon", "Porto", "Faro", "Braga", "Coimbra")
COLOURS = ("red", "green", "blue")
SPECIES = ("Adelie", "Gentoo", "Chinstrap")
TARGETS = ("regression", "binary", "multiclass", "boolean", "integer")


def mixed_rows(
    rows: int = 120,
    target: str = "binary",
    gaps: bool = True,
    booleans: bool = True,
    seed: int = 0,
    rare: bool = True,
    extra: dict[str, str] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a table, every cell as text ("" for a gap).

    Columns: ``size`` and ``weight`` (numbers), ``city`` and ``colour`` (text), ``indoor``
    (``True``/``False``), then ``extra`` columns (name -> kind: ``id``, ``date``, ``empty``,
    ``comma`` for decimal-comma numbers, ``words`` for numbers with a stray word), then ``y``.
    ``target``: regression (a number), binary (``yes``/``no``), multiclass (three species),
    boolean (``True``/``False``) or integer (``0``/``1``). With ``gaps``, about one cell in
    twelve of each feature column is empty, and so is the target of rows 7 and 19. ``rare``
    puts two ``Braga`` and one ``Coimbra`` in ``city`` (grouped as rare categories).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}")
    rng = random.Random(seed)
    extra = extra or {}
    header = ["size", "weight", "city", "colour", *(["indoor"] if booleans else []), *extra, "y"]
    out = []
    for i in range(rows):
        size = rng.uniform(1, 10)
        weight = rng.gauss(50, 10)
        city = CITIES[i % 3]
        if rare and i in (5, 9, 13):
            city = CITIES[3 + (i == 9)]
        colour = rng.choice(COLOURS)
        indoor = rng.random() < 0.5
        score = (size - 5.5) + (2.0 if city == "Lisbon" else -1.0 if city == "Faro" else 0.0)
        score += 1.5 if indoor and booleans else 0.0
        score += rng.gauss(0, 0.7)
        y = _target(target, score, i)
        cells = [f"{size:.3f}", f"{weight:.2f}", city, colour]
        if booleans:
            cells.append(str(indoor))
        cells += [_extra(kind, i, rng) for kind in extra.values()]
        if gaps:
            cells = [
                "" if (i * 7 + j * 5) % 12 == 3 and i > 0 else cell for j, cell in enumerate(cells)
            ]
        out.append([*cells, "" if gaps and i in (7, 19) else y])
    return header, out


def _target(kind: str, score: float, i: int) -> str:
    if kind == "regression":
        return f"{10 + 3 * score:.3f}"
    if kind == "binary":
        return "yes" if score > 0 else "no"
    if kind == "boolean":
        return str(score > 0)
    if kind == "integer":
        return "1" if score > 0 else "0"
    return SPECIES[0] if score < -1 else SPECIES[1] if score < 1.5 else SPECIES[2]


_EXTRA: dict[str, Callable[[int, random.Random], str]] = {
    "id": lambda i, rng: f"row-{i:05d}",
    "date": lambda i, rng: f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
    "empty": lambda i, rng: "",
    "comma": lambda i, rng: f"{rng.uniform(0, 100):.2f}".replace(".", ","),
    "words": lambda i, rng: "unknown" if i % 10 == 4 else f"{rng.uniform(0, 9):.1f}",
}


def _extra(kind: str, i: int, rng: random.Random) -> str:
    return _EXTRA[kind](i, rng)


def mixed_csv(path: Path, delimiter: str = ",", decimal_comma: bool = False, **kwargs) -> Path:
    """Write :func:`mixed_rows` as a CSV file (``decimal_comma``: numbers written ``3,5``, for a
    file with ``;`` between fields) and return its path."""
    header, rows = mixed_rows(**kwargs)
    if decimal_comma:
        rows = [[_comma(cell) for cell in row] for row in rows]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _comma(cell: str) -> str:
    try:
        value = float(cell)
    except ValueError:
        return cell
    return cell.replace(".", ",") if math.isfinite(value) and "." in cell else cell
