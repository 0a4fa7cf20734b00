"""The README documents every command and option the CLI really has."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer.main

from mlflow_tutorial.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_readme_mentions_every_command_and_option() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():
        if f"mlt {name}" not in readme:
            missing.append(f"mlt {name}")
        for param in command.params:
            for option in [*param.opts, *param.secondary_opts]:
                if option.startswith("--") and option not in {"--help"} and option not in readme:
                    missing.append(f"mlt {name} {option}")
    assert not missing, f"not in README.md: {', '.join(missing)}"


def test_cli_reference_is_generated_from_the_real_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "--diff", "docs/cli.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"docs/cli.md is stale: regenerate it with `cog -r docs/cli.md`\n{done.stdout}{done.stderr}"
    )
