"""CLI start-up: ``mlt --help`` vs ``mlflow --help``, with ``python -c pass`` as the floor."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context, Options

NAME = "startup"
TITLE = "CLI start-up"

PYTHON, MLT, MLFLOW = "python -c pass", "mlt --help", "mlflow --help"


@dataclass
class StartupResult:
    walls: dict[str, list[float]]
    rss_kb: dict[str, list[float]]


def runs_for(options: Options) -> int:
    return max(3, 2 * options.repeat + 1)


def run(ctx: Context) -> StartupResult:
    commands = {
        PYTHON: [ctx.tool("python"), "-c", "pass"],
        MLT: [ctx.tool("mlt"), "--help"],
        MLFLOW: [ctx.tool("mlflow"), "--help"],
    }
    walls: dict[str, list[float]] = {k: [] for k in commands}
    rss: dict[str, list[float]] = {k: [] for k in commands}
    ctx.log(f"1. CLI start-up ({runs_for(ctx.options)} runs each)")
    for label, args in commands.items():  # warm the page cache; not counted
        ctx.run(args, f"startup-warmup-{label.split()[0]}")
    for i in range(runs_for(ctx.options)):
        order = list(commands.items())
        if i % 2:
            order.reverse()
        for label, args in order:
            result = ctx.run(args, f"startup-{label.split()[0]}-{i}")
            walls[label].append(result.wall)
            rss[label].append(result.maxrss_kb)
    return StartupResult(walls, rss)
