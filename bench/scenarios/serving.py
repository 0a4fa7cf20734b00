"""Serving one registered model: ``mlt serve`` vs ``mlflow models serve --env-manager local``.

Each repetition starts a fresh server of each kind, for 1 and for 2 worker processes, one at
a time, in alternating order. Measured: process start to the first 200 on ``GET /ping``;
then, per payload (1, 100 and 1,000-row ``dataframe_split`` bodies), a fixed-duration ``wrk``
round with 8 connections (requests/s, p50, p99), the server's CPU time per request (from
``/proc``, summed over its process group), and the group's RSS after the load. Both servers
must return the same predictions.
"""

from __future__ import annotations

import http.client
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..context import EXPERIMENT, Context
from ..loadgen import Load, run_client, run_wrk, wrk_available, wrk_command, wrk_script
from ..proc import BenchError, free_port, post, running_server
from ..stats import NAN, Target, median_ratio

NAME = "serving"
TITLE = "Serving"

MLT = "mlt serve"
MLFLOW = "mlflow models serve"
KINDS = (MLT, MLFLOW)
WORKERS = (1, 2)
CONNECTIONS = 8
PAYLOAD_ROWS = (1, 100, 1000)
WARMUP_REQUESTS = 20
STORE_PLACEHOLDER = "sqlite:///$TMP/mlflow.db"


def payload_name(rows: int) -> str:
    return "1 row" if rows == 1 else f"{rows:,} rows"


@dataclass
class ServerSample:
    kind: str
    workers: int
    ready: float  # process start to first 200 on /ping
    rss_kb: float  # summed RSS of the process group after the load
    processes: int
    loads: dict[str, Load]
    server_cpu: dict[str, float]  # CPU seconds of the group during each payload's round

    def cpu_per_request(self, payload: str) -> float:
        load = self.loads[payload]
        return self.server_cpu[payload] / load.requests if load.requests else NAN


@dataclass
class ServingResult:
    model_uri: str
    client: str  # how the load was generated, for the page
    uses_wrk: bool
    seconds: int
    requests: int
    payloads: list[str]
    workers: list[int]
    commands: dict[str, str]
    samples: list[ServerSample] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # "mlt serve, 2 workers": why
    identical: bool = True
    max_prediction_diff: float = 0.0

    def of(self, kind: str, workers: int) -> list[ServerSample]:
        return [s for s in self.samples if s.kind == kind and s.workers == workers]

    def values(self, kind: str, workers: int, what: str, payload: str = "") -> list[float]:
        """One figure over the repetitions: ready, rss_kb, rps, p50, p99 or cpu."""
        found = []
        for s in self.of(kind, workers):
            if what in ("ready", "rss_kb"):
                found.append(getattr(s, what))
            elif what == "cpu":
                found.append(s.cpu_per_request(payload))
            else:
                found.append(getattr(s.loads[payload], what))
        return found

    def mlt_ratio(self, workers: int, what: str, payload: str = "") -> float:
        """median for mlt ÷ median for mlflow, same configuration."""
        return median_ratio(
            self.values(MLT, workers, what, payload), self.values(MLFLOW, workers, what, payload)
        )


def bodies(ctx: Context) -> dict[str, bytes]:
    columns, rows = ctx.data.columns, ctx.data.rows
    out = {}
    for n in PAYLOAD_ROWS:
        data = [rows[i % len(rows)] for i in range(n)]  # the data may have fewer rows
        split = {"dataframe_split": {"columns": columns, "data": data}}
        out[payload_name(n)] = json.dumps(split).encode()
    return out


def prepare_model(ctx: Context) -> tuple[str, str, Path]:
    """Train and register one model on a fresh store; its URI, the store's URI and home."""
    home, uri = ctx.home("serving-store")
    ctx.run([ctx.tool("mlt"), "train", "--format", "json", "-t", uri, "-e", EXPERIMENT,
             *ctx.data.mlt_args()], "serving-train", cwd=home, tracking_uri=uri)  # fmt: skip
    registered = ctx.run(
        [ctx.tool("mlt"), "register", "-t", uri, "-e", EXPERIMENT, "--format", "json"],
        "serving-register", cwd=home, tracking_uri=uri,
    )  # fmt: skip
    version = json.loads(registered.stdout)
    alias = (version.get("aliases") or ["champion"])[0]
    return f"models:/{version['name']}@{alias}", uri, home


def run(ctx: Context) -> ServingResult:
    model_uri, uri, home = prepare_model(ctx)
    return measure(ctx, model_uri, uri, home, bodies(ctx), list(WORKERS), "serving")


def measure(
    ctx: Context,
    model_uri: str,
    uri: str,
    home: Path,
    payloads: dict[str, bytes],
    workers: list[int],
    tag: str,
) -> ServingResult:
    """Both servers on ``model_uri``, each payload under load, per worker count."""
    opts = ctx.options
    use_wrk = opts.use_wrk and wrk_available()
    scripts = {}
    for n, (name, body) in enumerate(payloads.items()):
        body_path = ctx.work / f"{tag}-payload-{n}.json"
        body_path.write_bytes(body)
        scripts[name] = ctx.work / f"{tag}-payload-{n}.lua"
        scripts[name].write_text(wrk_script(body_path), encoding="utf-8")

    def command(kind: str, port: int, workers: int) -> list[str]:
        if kind == MLT:
            return [ctx.tool("mlt"), "serve", "--model", model_uri, "--port", str(port),
                    "--workers", str(workers), "-t", uri]  # fmt: skip
        return [ctx.tool("mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
                "--host", "127.0.0.1", "--port", str(port), "-w", str(workers)]  # fmt: skip

    def shown(kind: str) -> str:
        text = shlex.join([kind.split()[0], *command(kind, 0, 1)[1:]]).replace(
            "--port 0", "--port PORT"
        )
        text = text.replace("--workers 1", "--workers N").replace("-w 1", "-w N")
        if kind == MLFLOW:
            return f"MLFLOW_TRACKING_URI={STORE_PLACEHOLDER} {text}"
        return text.replace(uri, STORE_PLACEHOLDER)

    if use_wrk:
        client = " ".join(wrk_command(0, ctx.work / "x.lua", CONNECTIONS, opts.serve_seconds)[:4])
    else:
        client = f"Python client ({CONNECTIONS} threads, {opts.requests} requests per round): " + (
            "`--no-wrk` given" if not opts.use_wrk else "wrk is not installed"
        )
    result = ServingResult(
        model_uri, client, use_wrk, opts.serve_seconds, opts.requests, list(payloads), workers,
        {kind: shown(kind) for kind in KINDS},
    )  # fmt: skip
    if not ctx.has_option("serve", "--workers"):
        result.unavailable[f"{MLT}, 2 workers"] = "this build of `mlt serve` has no `--workers`"
    reference: dict[str, list[Any]] = {}
    configs = [(kind, w) for w in workers for kind in KINDS]
    ctx.log(
        f"{tag}: {model_uri}, {opts.serve_repeat} start(s) per server and worker count, "
        f"load: {'wrk' if use_wrk else 'Python client'}"
    )
    for i in range(opts.serve_repeat):
        for k, (kind, w) in enumerate(configs if i % 2 == 0 else configs[::-1]):
            if kind == MLT and w > 1 and result.unavailable:
                continue
            port = free_port()
            label = f"{tag}-{i}-{k}-{kind.split()[0]}-{w}"
            ctx.log(f"serve {i + 1}/{opts.serve_repeat}: {kind}, {w} worker(s), port {port}")
            with running_server(
                command(kind, port, w), port, ctx.env(uri), home, ctx.logs / f"{label}.err"
            ) as server:
                check_predictions(result, reference, kind, port, payloads)
                loads, cpu = {}, {}
                for name, body in payloads.items():
                    before = server.cpu_s()
                    if use_wrk:
                        loads[name] = run_wrk(port, scripts[name], CONNECTIONS, opts.serve_seconds)
                    else:
                        loads[name] = run_client(port, body, opts.requests, CONNECTIONS)
                    cpu[name] = server.cpu_s() - before
                rss, count = server.rss_kb()
            sample = ServerSample(kind, w, server.ready, rss, count, loads, cpu)
            result.samples.append(sample)
            ctx.log(
                f"  ready {server.ready:.2f} s, RSS {rss / 1024:.0f} MB; "
                + "; ".join(
                    f"{n}: {x.rps:.0f} req/s p99 {x.p99 * 1000:.1f} ms"
                    + (f" ({x.errors} errors)" if x.errors else "")
                    for n, x in loads.items()
                )
            )
    return result


def check_predictions(
    result: ServingResult,
    reference: dict[str, list[Any]],
    kind: str,
    port: int,
    payloads: dict[str, bytes],
) -> None:
    """Same payload, same model: every server must answer the same; also the warm-up."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for name, body in payloads.items():
            status, raw = post(conn, body)
            if status != 200:
                raise BenchError(f"{kind}: /invocations answered {status}: {raw[:300]!r}")
            values = json.loads(raw)["predictions"]  # numbers, or a classifier's labels
            expected = reference.setdefault(name, values)
            if len(values) != len(expected):
                result.identical = False
                continue
            numbers = all(isinstance(x, (int, float)) for x in values + expected)
            diff = (
                max((abs(a - b) for a, b in zip(values, expected, strict=True)), default=0.0)
                if numbers
                else float(values != expected)
            )
            result.max_prediction_diff = max(result.max_prediction_diff, diff)
            result.identical = result.identical and values == expected
            for _ in range(WARMUP_REQUESTS):
                post(conn, body)
    finally:
        conn.close()


def targets(result: ServingResult) -> list[Target]:
    """The serving goals, per worker count, as ratios mlt ÷ mlflow of the same run."""
    found = []
    one, *more = result.payloads
    for w in result.workers:
        if not result.of(MLT, w) or not result.of(MLFLOW, w):
            continue
        suffix = f", {w} worker{'s' if w > 1 else ''}"
        found.append(
            Target(NAME, f"req/s, {one}{suffix}", result.mlt_ratio(w, "rps", one), 25, False)
        )
        found.append(
            Target(NAME, f"p99 latency, {one}{suffix}", result.mlt_ratio(w, "p99", one), 0.1, True)
        )
        for name in more:
            found.append(
                Target(NAME, f"req/s, {name}{suffix}", result.mlt_ratio(w, "rps", name), 10, False)
            )
        found.append(
            Target(NAME, f"start to first /ping{suffix}", result.mlt_ratio(w, "ready"), 0.5, True)
        )
        found.append(
            Target(NAME, f"RSS after the load{suffix}", result.mlt_ratio(w, "rss_kb"), 1.0, True)
        )
    return found
