"""Batch scoring on Spark: ``mlt predict --spark local[2]`` against ``mlt predict`` on the same
generated CSV (the large-data scenario's rows), and Spark's fixed cost (the same two on 1,000
rows, where the work is nothing and start-up is everything)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field

from ..context import EXPERIMENT, Context, script
from ..stats import median, ratio

NAME = "spark"
TITLE = "Batch scoring on Spark"

MLT = "mlt predict"
SPARK = "mlt predict --spark local[2]"
TINY_ROWS = 1_000


@dataclass
class SparkBenchResult:
    rows: int
    walls: dict[str, list[float]] = field(default_factory=dict)  # label -> walls, big input
    tiny_walls: dict[str, list[float]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)

    def rows_per_s(self, label: str) -> float:
        return ratio(self.rows, median(self.walls.get(label, [])))

    def fixed_cost(self) -> float:
        """What Spark adds when there is no work: 1,000 rows, Spark minus mlt predict."""
        return median(self.tiny_walls.get(SPARK, [])) - median(self.tiny_walls.get(MLT, []))


def run(ctx: Context) -> SparkBenchResult:
    rows = ctx.options.large_rows
    folder = ctx.work / "spark-data"
    folder.mkdir()
    big, tiny = folder / "rows.csv", folder / "tiny.csv"
    ctx.log(f"spark: generating {rows:,} rows")
    ctx.run([ctx.tool("python"), str(script("make_csv.py")), str(rows), str(big),
             str(folder / "rows-2x.csv")], "spark-make-csv")  # fmt: skip
    (folder / "rows-2x.csv").unlink()
    with open(big, encoding="utf-8") as source, open(tiny, "w", encoding="utf-8") as out:
        for _ in range(TINY_ROWS + 1):
            out.write(source.readline())
    home, uri = ctx.home("spark-model")
    trained = ctx.run([ctx.tool("mlt"), "train", "--data", str(tiny), "--target", "y",
                       "--no-plots", "-f", "json", "-t", uri, "-e", EXPERIMENT],
                      "spark-train", cwd=home, tracking_uri=uri)  # fmt: skip
    model = json.loads(trained.stdout)["model_uri"]
    result = SparkBenchResult(rows)

    def score(label: str, source, i: int) -> float:
        output = ctx.work / f"spark-out-{i}"
        args = [ctx.tool("mlt"), "predict", "--model", model, "--input", str(source),
                "--output", str(output), "-t", uri]  # fmt: skip
        if label == SPARK:
            args[2:2] = ["--spark", "local[2]"]
        m = ctx.run(args, f"spark-{label.split()[-1]}-{source.stem}-{i}", cwd=home,
                    tracking_uri=uri, sample_tree=True)  # fmt: skip
        shutil.rmtree(output, ignore_errors=True)
        if output.is_file():
            output.unlink()
        spark = "--spark local[2] " if label == SPARK else ""
        result.commands[label] = (
            f"mlt predict {spark}--model MODEL_URI --input rows.csv --output OUT "
            "-t sqlite:///$TMP/mlflow.db"
        )
        return m.wall

    labels = [MLT, SPARK]
    for i in range(ctx.options.repeat):
        for label in labels if i % 2 == 0 else labels[::-1]:
            for source, walls in ((big, result.walls), (tiny, result.tiny_walls)):
                ctx.log(f"spark {i + 1}/{ctx.options.repeat}: {label} on {source.name}")
                walls.setdefault(label, []).append(score(label, source, i))
                ctx.log(f"  {walls[label][-1]:.2f} s")
    return result
