"""Generate the large-data CSVs: ``ROWS`` and ``2 x ROWS`` rows, written in chunks so memory
stays flat. The first ``ROWS`` rows of both files are the same.

- numeric (the default): 10 numeric features ``x0..x9`` and a target ``y`` (a linear function
  of the features plus noise);
- ``--mixed``: a table with text and gaps: 5 numeric features ``x0..x4`` and 5 text ones
  ``c0..c4`` (3 to 8 categories each, plus two rare ones seen in 3 rows and in 1 row of the
  whole file, so that rare categories are grouped), about 5 % empty cells in every feature
  column, and a numeric target ``y`` that depends on the numbers and the categories (plus
  noise; computed before the cells are emptied).

    python make_csv.py ROWS SMALL.csv LARGE.csv [--mixed]  -> {"rows": ..., "bytes": [...]}
"""

import argparse
import json
import os
import sys

import numpy as np
import pandas as pd

FEATURES = 10
CHUNK = 250_000
SEED = 42
TEXT_FEATURES = 5  # --mixed: c0..c4, and FEATURES - TEXT_FEATURES numeric ones
LEVELS = (3, 4, 5, 6, 8)  # categories of c0..c4
WORDS = ("amber", "birch", "cedar", "dune", "ember", "fjord", "grove", "heath")
RARE = (3, 1)  # --mixed: rows (of the whole file) holding each column's rare categories
GAP_SHARE = 0.05

parser = argparse.ArgumentParser()
parser.add_argument("rows", type=int)
parser.add_argument("small")
parser.add_argument("large")
parser.add_argument("--mixed", action="store_true", help="text columns and gaps")
args = parser.parse_args()
rows, small, large = args.rows, args.small, args.large
setup = np.random.default_rng(SEED)
weights = setup.normal(size=FEATURES)
shares = [setup.dirichlet(np.full(k, 2.0)) for k in LEVELS]  # uneven category frequencies
effects = [setup.normal(scale=8.0, size=k) for k in LEVELS]  # what each category adds to y


def numeric_chunk(rng: np.random.Generator, n: int) -> pd.DataFrame:
    features = rng.normal(size=(n, FEATURES)) * 10 + 50
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(FEATURES)])
    frame["y"] = features @ weights + rng.normal(scale=5.0, size=n)
    return frame


def mixed_chunk(rng: np.random.Generator, n: int, first: bool) -> pd.DataFrame:
    numbers = rng.normal(size=(n, FEATURES - TEXT_FEATURES)) * 10 + 50
    target = numbers @ weights[: FEATURES - TEXT_FEATURES] + rng.normal(scale=5.0, size=n)
    frame = pd.DataFrame(numbers, columns=[f"x{i}" for i in range(FEATURES - TEXT_FEATURES)])
    for j, k in enumerate(LEVELS):
        codes = rng.choice(k, size=n, p=shares[j])
        target += effects[j][codes]
        values = np.array(WORDS[:k], dtype=object)[codes]
        if first:  # the rare categories, once in the whole file
            at = 0
            for r, count in enumerate(RARE):
                values[at + 1 : at + 1 + count] = f"rare{r}-{WORDS[j]}"
                at += count
        frame[f"c{j}"] = values
    for column in frame.columns:
        frame.loc[rng.random(n) < GAP_SHARE, column] = np.nan  # empty cells
    frame["y"] = target
    return frame


written = 0
with open(small, "w", encoding="utf-8") as first, open(large, "w", encoding="utf-8") as second:
    chunk_index = 0
    while written < 2 * rows:
        n = min(CHUNK, 2 * rows - written, rows - written if written < rows else CHUNK)
        rng = np.random.default_rng(SEED + 1 + chunk_index)
        frame = mixed_chunk(rng, n, written == 0) if args.mixed else numeric_chunk(rng, n)
        text = frame.to_csv(index=False, header=written == 0, float_format="%.6f")
        if written < rows:
            first.write(text)
        second.write(text)
        written += n
        chunk_index += 1
json.dump({"rows": rows, "bytes": [os.path.getsize(small), os.path.getsize(large)]}, sys.stdout)
