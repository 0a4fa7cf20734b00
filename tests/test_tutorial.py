"""The tutorial pages run as tests: every ``console`` block of docs/tutorial.md and
docs/tutorial.es.md, in order, in a fresh directory per page, its shown output compared.

Sybil collects the blocks (its Markdown ``CodeBlockParser`` for ``console`` and ``SkipParser``
for ``<!-- skip: next "reason" -->``); the evaluator below runs them. In a block, ``$ `` starts a
command (a trailing backslash continues it on the next line) and the lines up to the next
command are what it prints on stdout. When comparing, 32-hex run ids (8-hex ones in a table
cell) and ``m-`` model ids match any others, and ``...`` right after a digit stands for the
rest of a float's digits; everything else must match exactly (trailing spaces aside).

``mlt ui`` and ``mlt serve`` run until stopped: the evaluator starts them in the background,
waits until they answer, compares their first lines on stderr with the shown ones, and stops
them when the page is done. The ports the pages show (5000 and 5001) are replaced by free
ones in commands and back in outputs.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser, SkipParser

from mlflow_tutorial.config import STORE_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"en": ROOT / "docs" / "tutorial.md", "es": ROOT / "docs" / "tutorial.es.md"}
# What a clone holds that the pages use (`mlflow run .` needs the project and its source).
PROJECT_FILES = ("MLproject", "python_env.yaml", "conda.yaml", "pyproject.toml", "src")
PAGE_PORTS = (5000, 5001)
LONG_LIVED = ("mlt ui", "mlt serve")
COMMAND_TIMEOUT = 600
START_TIMEOUT = 180

RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
MODEL_ID = re.compile(r"\bm-[0-9a-f]{32}\b")
# Tables show run ids cut to 8 characters, as git does: a cell holding exactly that.
SHORT_RUN_ID = re.compile(r"(?<=[│┃] )[0-9a-f]{8}(?= +[│┃])")
FLOAT_TAIL = re.escape(re.escape("..."))  # "..." as it reads once escaped
SKIPPED = (unittest.SkipTest, pytest.skip.Exception)


@dataclass
class Step:
    command: str
    expected: list[str]


def parse_console(source: str) -> list[Step]:
    """``$ command`` lines (with backslash continuations) and the output lines after each."""
    steps: list[Step] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if not steps:
                raise ValueError(f"a console block must start with '$ ', got {line!r}")
            steps[-1].expected.append(line)
            i += 1
            continue
        command = [line[2:]]
        while command[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            command.append(lines[i])
        steps.append(Step("\n".join(command), []))
        i += 1
    return steps


def normalize(text: str) -> str:
    text = MODEL_ID.sub("m-<model-id>", text)
    text = RUN_ID.sub("<run-id>", text)
    text = SHORT_RUN_ID.sub("<short>", text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def output_pattern(expected: str) -> re.Pattern[str]:
    """The shown output as a regex: literal, but ``...`` after a digit is more digits."""
    escaped = re.escape(normalize(expected))
    return re.compile(re.sub(r"(?<=\d)" + FLOAT_TAIL, r"\\d*", escaped))


def compare(expected: list[str], actual: str) -> str | None:
    """None when ``actual`` matches the shown lines, else a diff for the failure message."""
    shown = "\n".join(expected)
    if output_pattern(shown).fullmatch(normalize(actual)):
        return None
    diff = difflib.unified_diff(
        normalize(shown).splitlines(),
        normalize(actual).splitlines(),
        "shown on the page",
        "printed",
        lineterm="",
    )
    return "output differs:\n" + "\n".join(diff)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class PageRun:
    """One page's shell session: its directory, its environment, its background servers."""

    workdir: Path
    ports: dict[int, int] = field(default_factory=dict)
    background: list[tuple[subprocess.Popen, Path]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in STORE_ENVIRONMENT}
        bin_dir = str(Path(sys.executable).parent)  # mlt, mlflow and python of this venv
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
        env.update(NO_COLOR="1", TERM="dumb", PYTHONUNBUFFERED="1")
        return env

    def localize(self, command: str) -> str:
        for shown, real in self.ports.items():
            command = re.sub(rf"(?<=[:\s]){shown}\b", str(real), command)
        return command

    def publish(self, output: str) -> str:
        for shown, real in self.ports.items():
            output = re.sub(rf"(?<=[:\s]){real}\b", str(shown), output)
        return output

    def evaluate(self, example: Example) -> str | None:
        for step in parse_console(example.parsed):
            failure = (
                self.start(step) if step.command.startswith(LONG_LIVED) else self.execute(step)
            )
            if failure:
                return f"$ {step.command}\n{failure}"
        return None

    def execute(self, step: Step) -> str | None:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", self.localize(step.command)],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if done.returncode != 0:
            return f"exit code {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        return compare(step.expected, self.publish(done.stdout))

    def start(self, step: Step) -> str | None:
        """Start a server in the background; its first stderr lines are the shown output."""
        command = self.localize(step.command)
        port = next((real for real in self.ports.values() if str(real) in command), None)
        log = self.workdir / f".background-{len(self.background)}.log"
        with open(log, "w", encoding="utf-8") as handle:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=handle,
                start_new_session=True,
            )
        self.background.append((process, log))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = log.read_text(encoding="utf-8")
            if process.poll() is not None:
                return f"exited with {process.returncode}:\n{text}"
            lines = text.splitlines()
            if len(lines) >= len(step.expected) and (port is None or _answers(port)):
                return compare(step.expected, self.publish("\n".join(lines[: len(step.expected)])))
            time.sleep(0.25)
        return f"not answering after {START_TIMEOUT} s:\n{log.read_text(encoding='utf-8')}"

    def stop(self) -> None:
        for process, _log in reversed(self.background):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def parse_page(path: Path, run: PageRun | None = None) -> Document:
    evaluator = run.evaluate if run else (lambda example: None)
    return Document.parse(str(path), CodeBlockParser("console", evaluator), SkipParser())


def _examples(lang: str) -> list:
    """pytest params, one per block (and skip directive), named after the page's lines."""
    path = PAGES[lang]
    if not path.exists():
        return [pytest.param(None, id="missing", marks=pytest.mark.skip(reason=f"no {path}"))]
    return [
        pytest.param(i, id=f"{path.name}:{example.line}")
        for i, example in enumerate(parse_page(path))
    ]


class Page:
    """Runs a page's blocks in order; a test for block i first runs any block before it."""

    def __init__(self, lang: str, workdir: Path) -> None:
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, workdir / name, ignore=shutil.ignore_patterns("*.pyc"))
            else:
                shutil.copy(source, workdir / name)
        self.run = PageRun(workdir, {port: _free_port() for port in PAGE_PORTS})
        self.examples = list(parse_page(PAGES[lang], self.run))
        self.done = 0
        self.failed: str | None = None

    def through(self, index: int) -> None:
        while self.done <= index:
            i, example = self.done, self.examples[self.done]
            self.done += 1
            if self.failed:
                if i == index:
                    pytest.fail(f"not run: {self.failed} failed before it", pytrace=False)
                continue
            try:
                example.evaluate()
            except SKIPPED:
                if i == index:
                    raise
            except Exception:
                self.failed = f"the block at line {example.line}"
                raise


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Page]]:
    opened: dict[str, Page] = {}

    class Lazy(dict):
        def __missing__(self, lang: str) -> Page:
            self[lang] = opened[lang] = Page(lang, tmp_path_factory.mktemp(f"tutorial-{lang}"))
            return opened[lang]

    yield Lazy()
    for page in opened.values():
        page.run.stop()


@pytest.mark.slow
@pytest.mark.parametrize("index", _examples("en"))
def test_tutorial_en(pages: dict[str, Page], index: int) -> None:
    pages["en"].through(index)


@pytest.mark.slow
@pytest.mark.parametrize("index", _examples("es"))
def test_tutorial_es(pages: dict[str, Page], index: int) -> None:
    pages["es"].through(index)


def _commands(path: Path) -> list[str]:
    commands = []
    for example in parse_page(path):
        if isinstance(example.parsed, str):
            commands += [step.command for step in parse_console(example.parsed)]
        else:
            commands.append(f"<skip {example.parsed[0]}>")
    return commands


def test_both_pages_run_the_same_commands() -> None:
    english, spanish = _commands(PAGES["en"]), _commands(PAGES["es"])
    assert english, "docs/tutorial.md has no console block"
    assert spanish == english


@pytest.mark.parametrize(
    ("block", "passes"),
    [
        pytest.param("$ echo 3.14159265\n3.14...\n", True, id="float-tail"),
        pytest.param("$ echo 3.14159265\n3.15...\n", False, id="float-tail-differs"),
        pytest.param("$ echo 3.14159265\n3.14\n", False, id="no-tail-no-match"),
        pytest.param("$ echo hello\ngoodbye\n", False, id="changed-output"),
        pytest.param("$ echo hello\n", False, id="output-not-shown"),
        pytest.param("$ echo hello; echo extra\nhello\n", False, id="extra-line"),
        pytest.param(f"$ echo run {'a' * 32}\nrun {'0' * 32}\n", True, id="run-id"),
        pytest.param("$ echo m-" + "b" * 32 + "\nm-" + "c" * 32 + "\n", True, id="model-id"),
        pytest.param(f"$ echo run {'a' * 31}\nrun {'0' * 31}\n", False, id="not-an-id"),
        pytest.param("$ echo '│ 0a1b2c3d │'\n│ 99999999 │\n", True, id="short-id-in-a-cell"),
        pytest.param("$ echo '0a1b2c3d'\n99999999\n", False, id="short-id-outside-a-table"),
        pytest.param("$ printf 'a\\\\nb\\n' | \\\ncat\na\\nb\n", True, id="continuation"),
        pytest.param("$ false\n", False, id="exit-code"),
        pytest.param("$ echo 1:5001\n1:5001\n", True, id="page-port"),
    ],
)
def test_the_evaluator_fails_when_output_stops_matching(
    tmp_path: Path, block: str, passes: bool
) -> None:
    from sybil.example import SybilFailure

    page = tmp_path / "page.md"
    page.write_text(f"Text.\n\n```console\n{block}```\n", encoding="utf-8")
    run = PageRun(tmp_path, {5001: _free_port()})
    (example,) = list(parse_page(page, run))
    if passes:
        example.evaluate()
    else:
        with pytest.raises(SybilFailure):
            example.evaluate()


def test_skip_directive_skips_the_next_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        '<!-- skip: next "not here" -->\n\n```console\n$ false\n```\n', encoding="utf-8"
    )
    skip, block = parse_page(page, PageRun(tmp_path))
    skip.evaluate()
    with pytest.raises(unittest.SkipTest, match="not here"):
        block.evaluate()
