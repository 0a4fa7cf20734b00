"""What the benchmark needs to know about its data, found the way mlt finds it (run once in
the measured virtualenv, not timed): the delimiter and target column, the row count, and the
first rows of features for the serving payloads.

    python data_info.py [CSV] [TARGET] [ROWS]   -> JSON on stdout
"""

import json
import sys

from mlflow_tutorial.data import load_dataset, sniff_delimiter

path = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
target = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 100
sep = ","
if path:
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        sep = sniff_delimiter("".join(line for _, line in zip(range(20), handle, strict=False)))
data = load_dataset("diabetes" if not path else None, path, target)
first = data.X.head(rows)
if first.isna().to_numpy().any():  # a gap is sent as null (JSON has no NaN)
    first = first.astype(object).where(first.notna(), None)
head = first.to_dict(orient="split")
json.dump(
    {
        "columns": head["columns"],
        "data": head["data"],
        "n_rows": data.n_rows,
        "name": data.name,
        "target": data.target,
        "sep": sep,
    },
    sys.stdout,
)
