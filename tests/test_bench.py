"""Unit tests of the benchmark package (bench/): statistics, wrk report parsing, options.

The benchmark itself is run by hand (``python -m bench``); these tests only check the
pieces that turn measurements into figures, and assert no timings.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import stats  # noqa: E402
from bench.cli import parse_args  # noqa: E402
from bench.context import DataInfo  # noqa: E402
from bench.loadgen import Load, parse_time, parse_wrk  # noqa: E402
from bench.record import RunRecord  # noqa: E402
from bench.report import render  # noqa: E402
from bench.report.fmt import times, verdict  # noqa: E402
from bench.scenarios import logins, plots, serving, startup, store_scale, sweep  # noqa: E402
from bench.stats import Spread, Target  # noqa: E402

NAN = float("nan")

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:41234/invocations
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.71ms    2.56ms  43.27ms   83.76%
    Req/Sec     0.86k   101.89     1.05k    71.00%
  Latency Distribution
     50%    4.12ms
     75%    5.48ms
     90%    7.54ms
     99%   14.03ms
  8571 requests in 5.01s, 1.71MB read
Requests/sec:   1710.78
Transfer/sec:    349.48KB
"""

WRK_ERRORS = """\
Running 2s test @ http://127.0.0.1:5001/invocations
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us  100.10us   1.20s    90.00%
    Req/Sec    12.00      3.00     20.00     60.00%
  Latency Distribution
     50%  812.00us
     75%    1.00ms
     90%  500.00ms
     99%    1.20s
  48 requests in 1.00m, 9.00KB read
  Socket errors: connect 1, read 2, write 0, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:      0.80
Transfer/sec:     153.60B
"""


# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([3.0, 1.0, 2.0], 2.0, id="odd"),
        pytest.param([4.0, 1.0, 3.0, 2.0], 2.5, id="even"),
        pytest.param([5.0], 5.0, id="one"),
        pytest.param([1.0, NAN, 3.0], 2.0, id="nan-ignored"),
    ],
)
def test_median(values: list[float], expected: float) -> None:
    assert stats.median(values) == expected


def test_median_of_nothing_is_nan() -> None:
    assert math.isnan(stats.median([]))
    assert math.isnan(stats.median([NAN]))


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.0, 1.0), (0.25, 1.75), (0.5, 2.5), (0.75, 3.25), (1.0, 4.0)],
)
def test_quantile_interpolates_like_numpy(q: float, expected: float) -> None:
    assert stats.quantile([4.0, 2.0, 1.0, 3.0], q) == pytest.approx(expected)


def test_quantile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="within 0..1"):
        stats.quantile([1.0, 2.0], 1.5)


@pytest.mark.parametrize(
    ("q", "expected"),
    [(50, 5.0), (90, 9.0), (99, 10.0), (100, 10.0), (1, 1.0), (0, 1.0)],
)
def test_percentile_is_nearest_rank(q: float, expected: float) -> None:
    assert stats.percentile([float(x) for x in range(1, 11)], q) == expected


def test_spread() -> None:
    s = Spread.of([10.0, 2.0, 4.0, 8.0, 6.0])
    assert (s.median, s.low, s.high, s.n) == (6.0, 2.0, 10.0, 5)
    assert (s.q1, s.q3, s.iqr) == (4.0, 8.0, 4.0)
    empty = Spread.of([])
    assert empty.n == 0 and math.isnan(empty.median)


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        pytest.param([1.0, 2.0], [3.0, 4.0], True, id="apart"),
        pytest.param([3.0, 4.0], [1.0, 2.0], True, id="apart-reversed"),
        pytest.param([1.0, 3.0], [2.0, 4.0], False, id="overlap"),
        pytest.param([1.0], [3.0, 4.0], None, id="one-run"),
    ],
)
def test_separated(ours: list[float], theirs: list[float], expected: bool | None) -> None:
    assert stats.separated(ours, theirs) is expected


def test_ratio() -> None:
    assert stats.ratio(3.0, 2.0) == 1.5
    assert math.isnan(stats.ratio(1.0, 0.0))
    assert math.isnan(stats.ratio(NAN, 2.0))
    assert stats.median_ratio([1.0, 2.0, 3.0], [4.0, 4.0, 5.0]) == 0.5


@pytest.mark.parametrize(
    ("value", "limit", "at_most", "met", "shortfall"),
    [
        pytest.param(30.0, 25.0, False, True, 1.0, id="throughput-met"),
        pytest.param(5.0, 25.0, False, False, 5.0, id="throughput-missed"),
        pytest.param(0.05, 0.1, True, True, 1.0, id="latency-met"),
        pytest.param(0.5, 0.1, True, False, 5.0, id="latency-missed"),
        pytest.param(1.0, 1.0, True, True, 1.0, id="on-the-limit"),
    ],
)
def test_target(value: float, limit: float, at_most: bool, met: bool, shortfall: float) -> None:
    target = Target("serving", "req/s", value, limit, at_most)
    assert target.met is met
    assert target.shortfall == pytest.approx(shortfall)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, "**met**"), (1.0004, "**missed** by 0.0 %"), (1.05, "**missed** by 5.0 %"),
     (3.0, "**missed** by 3.00×")],
)  # fmt: skip
def test_verdict(value: float, expected: str) -> None:
    assert verdict(Target("serving", "RSS", value, 1.0, True)) == expected


def test_target_not_measured() -> None:
    target = Target("large", "train wall", NAN, 1.5, True)
    assert target.met is None
    assert math.isnan(target.shortfall)


# --------------------------------------------------------------------------- wrk's report


def test_parse_wrk() -> None:
    load = parse_wrk(WRK_OUTPUT)
    assert load.requests == 8571
    assert load.duration == pytest.approx(5.01)
    assert load.rps == pytest.approx(1710.78)
    assert load.errors == 0
    assert load.p50 == pytest.approx(0.00412)
    assert load.p99 == pytest.approx(0.01403)
    assert set(load.latency) == {"50", "75", "90", "99"}


def test_parse_wrk_units_and_errors() -> None:
    load = parse_wrk(WRK_ERRORS)
    assert load.requests == 48
    assert load.duration == pytest.approx(60.0)
    assert load.rps == pytest.approx(0.8)
    assert load.p50 == pytest.approx(812e-6)
    assert load.latency["90"] == pytest.approx(0.5)
    assert load.p99 == pytest.approx(1.2)
    assert load.errors == 5 + 1 + 2 + 4


def test_parse_wrk_without_a_report_fails() -> None:
    with pytest.raises(ValueError, match="wrk's output"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("812.00us", 812e-6), ("1.23ms", 0.00123), ("5.01s", 5.01), ("1.50m", 90.0), ("1h", 3600)],
)
def test_parse_time(text: str, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds)


def test_parse_time_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="not a wrk time"):
        parse_time("1.23 parsecs")


# --------------------------------------------------------------------------- options


def test_options_defaults_and_quick() -> None:
    full, files = parse_args(["--output", "page.md"])
    assert files.output == "page.md"
    assert (full.repeat, full.sweep_repeat, full.serve_repeat, full.quick) == (3, 2, 2, False)
    assert full.only == ()
    quick, _ = parse_args(["--quick", "--only", "serving,startup"])
    assert quick.repeat == 1 and quick.large_rows < full.large_rows
    assert quick.only == ("serving", "startup")


def test_options_reject_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--only", "serving,nonsense"])
    assert exit_info.value.code == 2
    assert "unknown scenario(s) nonsense" in capsys.readouterr().err


# --------------------------------------------------------------------------- the page


def fake_record() -> RunRecord:
    """A run with made-up figures for start-up, the sweep and serving."""
    options, _ = parse_args(["--only", "startup,sweep,serving,plots"])
    data = DataInfo(None, "target", ",", 442, "diabetes", ["a", "b"], [[1.0, 2.0]])
    start = startup.StartupResult(
        walls={startup.PYTHON: [0.01, 0.02], startup.MLT: [0.2, 0.3], startup.MLFLOW: [3.0, 4.0]},
        rss_kb={startup.PYTHON: [1e4] * 2, startup.MLT: [2e4] * 2, startup.MLFLOW: [2e5] * 2},
    )
    points = {(0.1, 0.5): {"rmse": 1.0}}
    swept = sweep.SweepResult([0.1], [0.5])
    for label, wall in ((sweep.MLT, 5.0), (sweep.PLAIN, 9.0), (sweep.PLAIN_REQS, 6.0)):
        swept.samples[label] = [
            sweep.SweepSample(wall, wall, 3e5, [wall], [wall], points) for _ in range(2)
        ]
    served = serving.ServingResult(
        "models:/m@champion", "wrk -t2 -c8 -d5s", True, 5, 400, ["1 row", "100 rows"], [1],
        {serving.MLT: "mlt serve", serving.MLFLOW: "mlflow models serve"},
    )  # fmt: skip
    for kind, rps in ((serving.MLT, 3000.0), (serving.MLFLOW, 100.0)):
        loads = {
            name: Load(int(rps * 5), 0, 5.0, rps, {"50": 1 / rps, "99": 4 / rps})
            for name in served.payloads
        }
        cpu = dict.fromkeys(served.payloads, 1.0)
        served.samples.append(serving.ServerSample(kind, 1, 2.0, 3e5, 1, loads, cpu))
    return RunRecord(
        command="python -m bench",
        started=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        duration=60.0,
        machine={"nproc": "2", "python": "3.11"},
        load_start=(0.5, 0.5, 0.5),
        load_end=(0.5, 0.5, 0.5),
        load_samples=[0.5],
        options=options,
        data=data,
        selected=list(options.only),
        results={
            startup.NAME: start,
            sweep.NAME: swept,
            serving.NAME: served,
            plots.NAME: plots.PlotsResult(available=False),
        },
    )


def test_page_has_stable_headings_and_judges_targets() -> None:
    page = render(fake_record())
    headings = [line for line in page.splitlines() if line.startswith("## ")]
    assert headings[:5] == [
        "## Summary",
        "## Targets",
        "## 1. CLI start-up",
        "## 2. A 1-point training sweep",
        "## 3. Serving",
    ]
    assert headings[-8:] == [
        "## 5. Where the time goes: fixed costs per process",
        "## 6. Large data",
        "## 7. Plots",
        "## 8. Tuning",
        "## 9. Batch scoring on Spark",
        "## 10. Logins",
        "## 11. Store scale",
        "## How to reproduce",
    ]
    # 30x the requests/s: the 25x target is met; the same RSS meets <= 1x; p99 is 1/30.
    assert "| serving | req/s, 1 row, 1 worker | ≥ 25× | 30.00× | **met** |" in page
    assert "| serving | req/s, 100 rows, 1 worker | ≥ 10× | 30.00× | **met** |" in page
    assert (
        "| serving | start to first /ping, 1 worker | ≤ 0.5× | 1.00× | **missed** by 2.00× |"
        in page
    )
    assert (
        "| CLI start-up (`--help`), wall | 250 ms | 3.50 s (`mlflow --help`) | 14.00× faster "
        "| yes |" in page
    )
    # Throughput reads the same way as time: how many times better mlt is.
    assert "| serving throughput, 1 row, 1 worker (req/s) | 3,000 | 100 | 30.00× more |" in page
    assert "baseline ÷ mlt" not in page
    assert "Not measured in this run (scenario `fixed-costs` not selected)." in page
    assert "Not measured in this run (scenario `large` not selected)." in page
    assert "Not available in this build: the installed `mlt train` has no `--no-plots`" in page


def test_tuning_and_spark_sections_judge_their_targets() -> None:
    from bench.scenarios import spark, tune

    record = fake_record()
    tuned = tune.TuneBenchResult(20, (20, 200), grid_cv_rmse=55.0, grid_points=20)
    tuned.samples = {
        tune.jobs_label(1): [tune.TuneSample(10.0, 9.0, 54.0)],
        tune.jobs_label(2): [tune.TuneSample(7.0, 12.0, 54.5)],
    }
    tuned.intervals = {20: [0.5] * 19, 200: [0.5] * 180 + [0.9] * 19}
    scored = spark.SparkBenchResult(1000, {spark.MLT: [2.0], spark.SPARK: [4.0]})
    scored.tiny_walls = {spark.MLT: [1.0], spark.SPARK: [6.0]}
    record.results.update({tune.NAME: tuned, spark.NAME: scored})
    record.selected.extend([tune.NAME, spark.NAME])
    page = render(record)
    assert "| tune | cv_rmse of 20 trials ÷ a 20-point grid | ≤ 1× | 0.98× | **met** |" in page
    assert "| tune | wall, --jobs 2 ÷ --jobs 1 | ≤ 0.65× | 0.70× | **missed** by 7.7 % |" in page
    assert (
        "last 20 of 200 ÷ first 20 of 20 (mlt ÷ mlt) | ≤ 1.5× | 1.80× | **missed** by 1.20×" in page
    )
    assert "Spark's fixed cost (1,000 rows, Spark − mlt predict): 5.00 s" in page


def test_the_logins_section_gives_the_ratios_and_the_request_counts() -> None:
    record = fake_record()
    result = logins.LoginsResult(
        walls={logins.OPEN: [6.0, 6.0], logins.CACHED: [6.6, 6.6], logins.UNCACHED: [21.0, 21.0]},
        cpus={label: [3.0, 3.0] for label in logins.LABELS},
        server_cpus={label: [1.0, 1.0] for label in logins.LABELS},
        requests={"mlt compare": {"GET /health": 1, "POST /api/2.0/mlflow/runs/search": 1}},
        command="mlt train --alpha 0.1,1 --l1-ratio 0.2,0.8 -e EXPERIMENT",
    )
    record.selected.append(logins.NAME)
    record.results[logins.NAME] = result
    page = render(record)
    assert "| logins | 4-point grid with logins (cache on) ÷ without logins, wall | ≤ 1.5× " in page
    assert "| 1.10× | **met** |" in page
    assert "| logins, no cache (MLflow's default) | 21.00 s" in page
    assert "| mlt compare | 2 |" in page
    assert "| `POST /api/2.0/mlflow/runs/search` | 1 |" in page


@pytest.mark.parametrize(
    ("mlt_over_baseline", "kind", "expected"),
    [
        pytest.param(0.5, "time", "2.00× faster", id="faster"),
        pytest.param(2.0, "time", "2.00× slower", id="slower"),
        pytest.param(1.15, "memory", "1.15× more memory", id="more-memory"),
        pytest.param(0.25, "cpu", "4.00× less CPU", id="less-cpu"),
        pytest.param(30.0, "rate", "30.00× more", id="more-requests"),
        pytest.param(0.5, "rate", "2.00× fewer", id="fewer-requests"),
        pytest.param(1.001, "time", "the same (1.00×)", id="same"),
        pytest.param(NAN, "time", "n/a", id="not-measured"),
    ],
)
def test_times_says_how_many_times_better_or_worse(
    mlt_over_baseline: float, kind: str, expected: str
) -> None:
    assert times(mlt_over_baseline, kind) == expected


# --------------------------------------------------------------------------- store scale


def fake_store_scale() -> store_scale.StoreScaleResult:
    """mlt lists at 1.2x search_runs, its top 5 at 1.5x the ordered search; 10x the runs
    cost 4x (all) for mlt."""
    result = store_scale.StoreScaleResult([100, 1000, 10000], 1000)
    walls = {
        store_scale.MLT_ALL: {100: 2.0, 1000: 2.5, 10000: 10.0},
        store_scale.PLAIN_ALL: {100: 3.0, 1000: 3.5, 10000: 8.0},
        store_scale.MLT_TOP: {100: 2.0, 1000: 2.0, 10000: 6.0},
        store_scale.PLAIN_TOP: {100: 3.0, 1000: 3.0, 10000: 4.0},
        store_scale.MLT_MODELS: {1000: 1.0},
        store_scale.PLAIN_MODELS: {1000: 4.0},
    }
    for label, by_size in walls.items():
        result.walls[label] = {n: [w, w * 1.1] for n, w in by_size.items()}
        result.cpus[label] = {n: [w] for n, w in by_size.items()}
    result.build_seconds = {100: 5.0, 1000: 9.0, 10000: 30.0}
    return result


def test_store_scale_targets() -> None:
    found = {t.label: t for t in store_scale.targets(fake_store_scale())}
    listing, top, growth = found.values()
    assert "whole listing, 10,000 runs" in listing.label and listing.met
    assert math.isclose(listing.value, 10.5 / 8.4)
    assert "top 5" in top.label and top.met is False and math.isclose(top.value, 1.5)
    assert "÷ 1,000 runs" in growth.label and growth.met and math.isclose(growth.value, 4.0)


def test_store_scale_section_and_summary() -> None:
    record = fake_record()
    record.selected.append(store_scale.NAME)
    record.results[store_scale.NAME] = fake_store_scale()
    page = render(record)
    section = page.split("## 11. Store scale", 1)[1]
    assert (
        "| 10,000 | every run | 10.50 s (10.00 s–11.00 s, n=2) | 8.40 s (8.00 s–8.80 s, n=2) "
        "| 1.25× slower |" in section
    )
    assert "| 100 | top 5 by rmse | 2.10 s (2.00 s–2.20 s, n=2) |" in section
    assert "(mlt is 4.00× faster)" in section  # mlt models vs search_model_versions
    assert "both sides listed every run and every version" in section
    assert (
        "| `mlt models`, 1,000 versions (`search_model_versions`) | 1.05 s | 4.20 s "
        "| 4.00× faster |" in page
    )
    assert "| store-scale | top 5, 10,000 runs" in page


def test_store_scale_check_finds_disagreements() -> None:
    import json

    best = ["a", "b", "c", "d", "e"]
    outputs = {
        store_scale.MLT_TOP: json.dumps([{"run_id": r} for r in best]),
        store_scale.PLAIN_TOP: json.dumps({"rows": 5, "first": best}),
        store_scale.MLT_ALL: "run_id,x\n" + "".join(f"{r},1\n" for r in best),
        store_scale.PLAIN_ALL: json.dumps({"rows": 5, "first": best}),
    }
    assert store_scale.check(outputs, 5) == []
    outputs[store_scale.PLAIN_TOP] = json.dumps({"rows": 5, "first": best[::-1]})
    outputs[store_scale.MLT_ALL] = "run_id,x\na,1\n"
    problems = store_scale.check(outputs, 5)
    assert len(problems) == 2 and "top 5 differ" in problems[0] and "listed 1" in problems[1]


def test_plots_target_against_the_tutorial_script() -> None:
    result = plots.PlotsResult(True, 6, {plots.ONE: [3.0, 3.2], plots.TUTORIAL: [8.0, 8.0]})
    (found,) = [t for t in plots.targets(result) if "tutorial script" in t.label]
    assert math.isclose(found.value, 3.1 / 8.0) and found.met
    result.walls[plots.ONE] = [4.4]
    (found,) = [t for t in plots.targets(result) if "tutorial script" in t.label]
    assert found.met is False and math.isclose(found.shortfall, 1.1)


def test_every_section_says_how_many_times_better_or_worse() -> None:
    page = render(fake_record())
    assert "| req/s, 1 row | 30.00× more |" in page  # serving: mlt ÷ mlflow = 30
    assert "| p99, 1 row | 30.00× lower |" in page
    # The sweep: mlt takes 5 s, the plain script 9 s.
    assert "| plain script, inferred requirements |" in page and "| 1.80× faster |" in page
    assert "| `mlflow --help` | 3.50 s (3.00 s–4.00 s, n=2) | 195 MB | 14.00× faster |" in page
    assert "÷ mlt" not in page and "mlt ÷ mlflow" not in page
