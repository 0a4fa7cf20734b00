"""Generate the large-data CSVs: ``ROWS`` and ``2 x ROWS`` rows of 10 numeric features
``x0..x9`` and a target ``y`` (a linear function of the features plus noise), written in
chunks so memory stays flat. The first ``ROWS`` rows of both files are the same.

    python make_csv.py ROWS SMALL.csv LARGE.csv   -> {"rows": ..., "bytes": [...]} on stdout
"""

import json
import os
import sys

import numpy as np
import pandas as pd

FEATURES = 10
CHUNK = 250_000
SEED = 42

rows = int(sys.argv[1])
small, large = sys.argv[2], sys.argv[3]
weights = np.random.default_rng(SEED).normal(size=FEATURES)
columns = [f"x{i}" for i in range(FEATURES)]
written = 0
with open(small, "w", encoding="utf-8") as first, open(large, "w", encoding="utf-8") as second:
    chunk_index = 0
    while written < 2 * rows:
        n = min(CHUNK, 2 * rows - written, rows - written if written < rows else CHUNK)
        rng = np.random.default_rng(SEED + 1 + chunk_index)
        features = rng.normal(size=(n, FEATURES)) * 10 + 50
        target = features @ weights + rng.normal(scale=5.0, size=n)
        frame = pd.DataFrame(features, columns=columns)
        frame["y"] = target
        text = frame.to_csv(index=False, header=written == 0, float_format="%.6f")
        if written < rows:
            first.write(text)
        second.write(text)
        written += n
        chunk_index += 1
json.dump({"rows": rows, "bytes": [os.path.getsize(small), os.path.getsize(large)]}, sys.stdout)
