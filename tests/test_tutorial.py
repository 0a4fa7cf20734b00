"""The tutorial pages run as tests: every ``console`` block of docs/tutorial.md, in order, in a
fresh directory, its shown output compared. docs/tutorial.es.md shows the same blocks byte for
byte (see :class:`Twin`): each of its console blocks passes when the English one passed, its
python blocks are checked against their files, its skips skip; were its blocks to differ, it
would run in a directory of its own, the same way.

Sybil collects the blocks (its Markdown ``CodeBlockParser`` for ``console`` and ``python``,
``SkipParser`` for ``<!-- skip: next "reason" -->``); the evaluators below run them. In a
console block, ``$ `` starts a command (a trailing backslash continues it on the next line) and
the lines up to the next command are what it prints on stdout. A ``python`` block shows one
file of docs/tutorial_code/ (its first line names it) and must be that file exactly; the
console block after it runs the file, so both pages show, and the tests run, the same code.

Ids bind on first sight: a 32-hex run id, the hex of an ``m-`` model id, or an 8-hex run id
in a table cell matches whatever the command printed the first time the page shows it, and
wherever the page shows it again the same value must be printed (a short id is the start of
its full id); two ids the page shows differently may not be one real id. Commands get the
real value of an id they show. ``...`` right after a digit stands for the rest of a float's
digits; everything else must match exactly (trailing spaces aside).

``mlt ui``, ``mlt serve`` and ``mlflow models serve`` run until stopped: the evaluator starts
them in the background, waits until they answer, compares their first lines on stderr with
the shown ones, and stops them (their process groups) when the page is done. The ports the
pages show (5000 to 5003) are replaced by free ones in commands and back in outputs.
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
from ports import free_port

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"en": ROOT / "docs" / "tutorial.md", "es": ROOT / "docs" / "tutorial.es.md"}
# What a clone holds that the pages use (`mlflow run .` needs the project and its source).
PROJECT_FILES = (
    "MLproject",
    "python_env.yaml",
    "conda.yaml",
    "pyproject.toml",
    "src",
    "docs/tutorial_code",
)
PAGE_PORTS = (5000, 5001, 5002, 5003)
LONG_LIVED = ("mlt ui", "mlt serve", "mlflow models serve")
COMMAND_TIMEOUT = 600
START_TIMEOUT = 180

HEX_ID = r"[0-9a-f]{32}"
# A run id, or the hex part of an m- model id: 32 hex digits standing alone.
FULL_ID = re.compile(rf"(?<![0-9a-f]){HEX_ID}(?![0-9a-f])")
# Tables show run ids cut to 8 characters, as git does: a cell holding exactly that.
SHORT_ID = re.compile(r"(?<=[│┃] )[0-9a-f]{8}(?= +[│┃])")
ANY_ID = re.compile(rf"{FULL_ID.pattern}|{SHORT_ID.pattern}")
FLOAT_TAIL = re.compile(r"(?<=\d)\.\.\.")
SKIPPED = (unittest.SkipTest, pytest.skip.Exception)
CODE_DIR = "docs/tutorial_code/"


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


def trim(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


@dataclass
class Ids:
    """The ids a page has shown, each bound to the real value the first time it appears.

    A page writes one run or model as one id wherever it appears: the first appearance binds
    the shown id to what the command printed, every later one must print that same value (a
    table's 8-character cell is the start of the full id). Two shown ids may not stand for
    the same real one either.
    """

    bound: dict[str, str] = field(default_factory=dict)

    def real(self, shown: str) -> str | None:
        if shown in self.bound:
            return self.bound[shown]
        for other, value in self.bound.items():  # a short id whose full id is known
            if len(shown) < len(other) and other.startswith(shown):
                return value[: len(shown)]
        return None

    def pattern(self, shown: str, groups: dict[str, str]) -> str:
        """The regex for one shown id: its bound value, or a new group that binds it."""
        real = self.real(shown)
        if real is not None:
            return re.escape(real)
        if shown in groups.values():  # the same new id twice in one output
            return f"(?P={next(g for g, s in groups.items() if s == shown)})"
        group = f"id{len(groups)}"
        groups[group] = shown
        prefix = self.real(shown[:8]) if len(shown) > 8 else None
        rest = len(shown) - len(prefix or "")
        return f"(?P<{group}>{re.escape(prefix or '')}[0-9a-f]{{{rest}}})"

    def bind(self, shown: str, real: str) -> str | None:
        for other, value in self.bound.items():
            same_id = other.startswith(shown) or shown.startswith(other)
            same_value = value.startswith(real) or real.startswith(value)
            if same_value and not same_id:
                return f"the page shows {shown} for {real}, which it showed as {other} before"
        self.bound[shown] = real
        return None

    def substitute(self, text: str) -> str:
        """``text`` with every id it shows replaced by the bound value, if any."""
        return ANY_ID.sub(lambda m: self.real(m.group()) or m.group(), text)


def compare(expected: list[str], actual: str, ids: Ids | None = None) -> str | None:
    """None when ``actual`` matches the shown lines, else why not (a diff).

    Ids bind as :class:`Ids` says; ``...`` right after a digit stands for more digits.
    """
    ids = Ids() if ids is None else ids
    shown, actual = trim("\n".join(expected)), trim(actual)
    groups: dict[str, str] = {}
    parts, at = [], 0
    for match in ANY_ID.finditer(shown):
        parts.append(_literal(shown[at : match.start()]))
        parts.append(ids.pattern(match.group(), groups))
        at = match.end()
    parts.append(_literal(shown[at:]))
    found = re.fullmatch("".join(parts), actual)
    if found is None:
        diff = difflib.unified_diff(
            ids.substitute(shown).splitlines(),
            actual.splitlines(),
            "shown on the page",
            "printed",
            lineterm="",
        )
        return "output differs:\n" + "\n".join(diff)
    for group, shown_id in groups.items():
        problem = ids.bind(shown_id, found.group(group))
        if problem:
            return problem
    return None


def _literal(text: str) -> str:
    return r"\d*".join(re.escape(piece) for piece in FLOAT_TAIL.split(text))


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
    ids: Ids = field(default_factory=Ids)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in STORE_ENVIRONMENT}
        bin_dir = str(Path(sys.executable).parent)  # mlt, mlflow and python of this venv
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
        env.update(NO_COLOR="1", TERM="dumb", PYTHONUNBUFFERED="1")
        return env

    def localize(self, command: str) -> str:
        """The command to run: the real ports, and the real value of each id shown."""
        for shown, real in self.ports.items():
            command = re.sub(rf"(?<=[:\s]){shown}\b", str(real), command)
        return self.ids.substitute(command)

    def publish(self, output: str) -> str:
        for shown, real in self.ports.items():
            output = re.sub(rf"(?<=[:\s]){real}\b", str(shown), output)
        return output

    def evaluate(self, example: Example) -> str | None:
        for step in parse_console(example.parsed):
            missing = [i for i in FULL_ID.findall(step.command) if self.ids.real(i) is None]
            if missing:
                return f"$ {step.command}\nuses {missing[0]}, an id the page has not shown yet"
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
        return compare(step.expected, self.publish(done.stdout), self.ids)

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
                shown = self.publish("\n".join(lines[: len(step.expected)]))
                return compare(step.expected, shown, self.ids)
            time.sleep(0.25)
        return f"not answering after {START_TIMEOUT} s:\n{log.read_text(encoding='utf-8')}"

    def stop(self) -> None:
        """SIGTERM to every server still running (its process group: workers, uvicorn), all at
        once so their shutdowns overlap; SIGKILL to any that is still there after 60 s."""
        running = [process for process, _log in reversed(self.background) if process.poll() is None]
        for process in running:
            os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def check_code(example: Example) -> str | None:
    """A ``python`` block shows a file of docs/tutorial_code/ exactly; its first line names it.

    The page's next console block runs that file, so the code on the page is the code run.
    """
    source = example.parsed
    name = source.splitlines()[0][2:] if source.startswith(f"# {CODE_DIR}") else ""
    path = ROOT / name
    if not name or not path.is_file():
        return f"a python block starts with '# {CODE_DIR}NAME.py', a file that exists"
    text = path.read_text(encoding="utf-8")
    if text == source:
        return None
    diff = difflib.unified_diff(
        source.splitlines(), text.splitlines(), "shown on the page", name, lineterm=""
    )
    return "the block differs from its file:\n" + "\n".join(diff)


def parse_page(path: Path, run: PageRun | None = None) -> Document:
    evaluator = run.evaluate if run else (lambda example: None)
    return Document.parse(
        str(path),
        CodeBlockParser("console", evaluator),
        CodeBlockParser("python", check_code),
        SkipParser(),
    )


def _kind(example: Example) -> str:
    if not isinstance(example.parsed, str):
        return "skip"
    return "python" if example.parsed.startswith("# ") else "console"


def _examples(lang: str) -> list:
    """pytest params, one per block (and skip directive), named after the page's lines and
    the block's kind: console, python (MLflow's own code) or skip."""
    path = PAGES[lang]
    if not path.exists():
        return [pytest.param(None, id="missing", marks=pytest.mark.skip(reason=f"no {path}"))]
    return [
        pytest.param(i, id=f"{path.name}:{example.line}:{_kind(example)}")
        for i, example in enumerate(parse_page(path))
    ]


class Page:
    """Runs a page's blocks in order; a test for block i first runs any block before it."""

    def __init__(self, path: Path, workdir: Path) -> None:
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, workdir / name, ignore=shutil.ignore_patterns("*.pyc"))
            else:
                shutil.copy(source, workdir / name)
        self.run = PageRun(workdir, {port: free_port() for port in PAGE_PORTS})
        self.examples = list(parse_page(path, self.run))
        self.done = 0
        self.failed: str | None = None
        self.outcomes: list[str | None] = []  # per block run: None, or why it failed

    def through(self, index: int) -> None:
        """Run the blocks up to ``index`` (those not run yet); block ``index``'s outcome."""
        while self.done <= index:
            i, example = self.done, self.examples[self.done]
            self.done += 1
            if self.failed:
                self.outcomes.append(f"not run: {self.failed} failed before it")
                continue
            try:
                example.evaluate()
                self.outcomes.append(None)
            except SKIPPED:
                self.outcomes.append(None)  # a skipped block is the document's, not a failure
                if i == index:
                    raise
            except Exception as exc:
                self.failed = f"the block at line {example.line}"
                self.outcomes.append(f"failed: {str(exc).strip().splitlines()[0][:300]}")
                raise
        if self.outcomes[index] is not None:
            pytest.fail(self.outcomes[index], pytrace=False)


class Twin:
    """A page whose blocks are, one for one, another page's (docs/tutorial.es.md shows the
    English page's console and python blocks byte for byte, in the same order, and only its
    prose and skip reasons differ). Its console blocks are not run a second time: each passes
    when the same block of the other page passed. Its python blocks are still checked against
    their files and its skip directives still skip, with its own reasons."""

    def __init__(self, path: Path, same_as: Page) -> None:
        self.same_as = same_as
        self.examples = list(parse_page(path))  # evaluating a console block runs nothing
        self.done = 0

    def through(self, index: int) -> None:
        try:
            self.same_as.through(index)
        except (*SKIPPED, pytest.fail.Exception, Exception):
            pass  # its outcome is recorded; skips come from this page's own directives, below
        outcome = self.same_as.outcomes[index]
        if outcome is not None:
            pytest.fail(f"the same block of the other page: {outcome}", pytrace=False)
        while self.done <= index:
            i, example = self.done, self.examples[self.done]
            self.done += 1
            try:
                example.evaluate()
            except SKIPPED:
                if i == index:
                    raise


def twins(first: Path, second: Path) -> bool:
    """Whether two pages show the same console and python blocks, and skip directives in the
    same places, in the same order."""

    def shape(path: Path) -> list[tuple[str, str | None]]:
        return [
            (_kind(e), e.parsed if isinstance(e.parsed, str) else None) for e in parse_page(path)
        ]

    return shape(first) == shape(second)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Page]]:
    opened: dict[str, Page] = {}

    class Lazy(dict):
        def __missing__(self, lang: str) -> Page | Twin:
            if lang != "en" and twins(PAGES["en"], PAGES[lang]):
                self[lang] = Twin(PAGES[lang], self["en"])
                return self[lang]
            workdir = tmp_path_factory.mktemp(f"tutorial-{lang}")
            self[lang] = opened[lang] = Page(PAGES[lang], workdir)
            return opened[lang]

    yield Lazy()
    for page in opened.values():
        page.run.stop()


# A page's blocks run in order, in one process; the Spanish page's with the English page's,
# whose blocks it shows (see Twin).
@pytest.mark.slow
@pytest.mark.xdist_group("tutorial")
@pytest.mark.parametrize("index", _examples("en"))
def test_tutorial_en(pages: dict[str, Page | Twin], index: int) -> None:
    pages["en"].through(index)


@pytest.mark.slow
@pytest.mark.xdist_group("tutorial")
@pytest.mark.parametrize("index", _examples("es"))
def test_tutorial_es(pages: dict[str, Page | Twin], index: int) -> None:
    pages["es"].through(index)


def _commands(path: Path) -> list[str]:
    """What a page runs, in order: commands, the files its python blocks show, its skips."""
    commands = []
    for example in parse_page(path):
        kind = _kind(example)
        if kind == "console":
            commands += [step.command for step in parse_console(example.parsed)]
        elif kind == "python":
            commands.append(f"<file {example.parsed.splitlines()[0][2:]}>")
        else:
            commands.append(f"<skip {example.parsed[0]}>")
    return commands


def test_both_pages_run_the_same_commands() -> None:
    english, spanish = _commands(PAGES["en"]), _commands(PAGES["es"])
    assert english, "docs/tutorial.md has no console block"
    assert spanish == english


def emit(digit: str, times: int = 32) -> str:
    """A shell word that prints ``digit`` ``times`` times, so the command shows no id."""
    return f"$(printf '{digit}%.0s' $(seq {times}))"


@pytest.mark.parametrize(
    ("block", "passes"),
    [
        pytest.param("$ echo 3.14159265\n3.14...\n", True, id="float-tail"),
        pytest.param("$ echo 3.14159265\n3.15...\n", False, id="float-tail-differs"),
        pytest.param("$ echo 3.14159265\n3.14\n", False, id="no-tail-no-match"),
        pytest.param("$ echo hello\ngoodbye\n", False, id="changed-output"),
        pytest.param("$ echo hello\n", False, id="output-not-shown"),
        pytest.param("$ echo hello; echo extra\nhello\n", False, id="extra-line"),
        pytest.param(f"$ echo run {emit('a')}\nrun {'0' * 32}\n", True, id="run-id"),
        pytest.param(f"$ echo m-{emit('b')}\nm-{'c' * 32}\n", True, id="model-id"),
        pytest.param(f"$ echo run {emit('a', 31)}\nrun {'0' * 31}\n", False, id="not-an-id"),
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
    run = PageRun(tmp_path, {5001: free_port()})
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


def test_the_spanish_page_shows_the_english_pages_blocks() -> None:
    """What lets the Spanish page's console blocks pass on the English page's run (Twin): the
    same blocks, byte for byte, in the same order. A page that stops being a twin runs its own
    blocks."""
    assert twins(PAGES["en"], PAGES["es"])


def _write(path: Path, *parts: str) -> Path:
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


SKIP_EN, SKIP_ES = '<!-- skip: next "not here" -->', '<!-- skip: next "aquí no" -->'
HELLO = "```console\n$ echo hello\nhello\n```"


@pytest.mark.parametrize(
    ("second", "same"),
    [
        pytest.param(["Otro texto.", SKIP_ES, "```console\n$ false\n```", HELLO], True, id="prose"),
        pytest.param(
            ["Text.", SKIP_EN, "```console\n$ false\n```", HELLO.replace("o\n`", "o!\n`")],
            False,
            id="other-output",
        ),  # fmt: skip
        pytest.param(["Text.", "```console\n$ false\n```", HELLO], False, id="no-skip"),
        pytest.param(["Text.", SKIP_EN, "```console\n$ false\n```"], False, id="a-block-less"),
    ],
)
def test_twins_are_pages_with_the_same_blocks(tmp_path: Path, second: list[str], same: bool):
    first = _write(tmp_path / "a.md", "Text.", SKIP_EN, "```console\n$ false\n```", HELLO)
    assert twins(first, _write(tmp_path / "b.md", *second)) is same


def test_a_twin_fails_where_its_page_fails_and_skips_with_its_own_reason(tmp_path: Path):
    blocks = [SKIP_EN, "```console\n$ false\n```", "```console\n$ echo hi\nbye\n```", HELLO]
    english = _write(tmp_path / "en.md", *blocks)
    spanish = _write(tmp_path / "es.md", SKIP_ES, *blocks[1:])
    workdir = tmp_path / "run"
    workdir.mkdir()
    twin = Twin(spanish, Page(english, workdir))
    twin.through(0)
    with pytest.raises(unittest.SkipTest, match="aquí no"):
        twin.through(1)
    with pytest.raises(pytest.fail.Exception, match="the same block of the other page: failed"):
        twin.through(2)
    with pytest.raises(pytest.fail.Exception, match="not run: the block at line 7 failed"):
        twin.through(3)


A, B = "a" * 32, "b" * 32  # ids as a page shows them
ONE, TWO = "1" * 32, "2" * 32  # and as commands print them


def cell(text: str) -> str:
    return f"│ {text} │"


@pytest.mark.parametrize(
    ("blocks", "fails_at"),
    [
        pytest.param([f"$ echo {emit('1')}\n{A}\n"] * 2, None, id="same"),
        pytest.param(
            [f"$ echo {emit('1')}\n{A}\n", f"$ echo {emit('2')}\n{A}\n"],
            1,
            id="one-id-two-values",
        ),
        pytest.param(
            [f"$ echo {emit('1')}\n{A}\n", f"$ echo {emit('1')}\n{B}\n"],
            1,
            id="two-ids-one-value",
        ),
        pytest.param([f"$ echo {emit('1')} {emit('1')}\n{A} {B}\n"], 0, id="one-output-two-ids"),
        pytest.param([f"$ echo {emit('1')} {emit('2')}\n{A} {A}\n"], 0, id="one-output-one-id"),
        pytest.param(
            [f"$ echo m-{emit('1')}\nm-{A}\n", f"$ echo models:/m-{emit('1')}\nmodels:/m-{A}\n"],
            None,
            id="model-id",
        ),
        pytest.param(
            [f"$ echo m-{emit('1')}\nm-{A}\n", f"$ echo m-{emit('2')}\nm-{A}\n"],
            1,
            id="model-id-two-values",
        ),
        pytest.param(
            [f'$ echo "{cell(emit("1", 8))}"\n{cell(A[:8])}\n', f"$ echo {emit('1')}\n{A}\n"],
            None,
            id="short-then-full",
        ),
        pytest.param(
            [f'$ echo "{cell(emit("1", 8))}"\n{cell(A[:8])}\n', f"$ echo {emit('2')}\n{A}\n"],
            1,
            id="short-then-other-full",
        ),
        pytest.param(
            [f"$ echo {emit('1')}\n{A}\n", f'$ echo "{cell(emit("2", 8))}"\n{cell(A[:8])}\n'],
            1,
            id="full-then-other-short",
        ),
        pytest.param(
            [f"$ echo {emit('1')}\n{A}\n", f"$ echo {A} | tr 1 3\n{'3' * 32}\n"],
            None,
            id="a-command-gets-the-real-id",
        ),
        pytest.param([f"$ echo {A}\n{A}\n"], 0, id="a-command-uses-an-unknown-id"),
    ],
)
def test_an_id_keeps_its_value_across_the_page(
    tmp_path: Path, blocks: list[str], fails_at: int | None
) -> None:
    """The page shows ``a…`` and ``b…``; the commands print ``1…``, ``2…``: bound on first sight."""
    from sybil.example import SybilFailure

    page = tmp_path / "page.md"
    page.write_text("".join(f"Text.\n\n```console\n{b}```\n\n" for b in blocks), encoding="utf-8")
    examples = list(parse_page(page, PageRun(tmp_path)))
    for i, example in enumerate(examples):
        if i == fails_at:
            with pytest.raises(SybilFailure):
                example.evaluate()
            return
        example.evaluate()
    assert fails_at is None


def test_a_python_block_must_be_its_file(tmp_path: Path) -> None:
    from sybil.example import SybilFailure

    name = next((ROOT / CODE_DIR).glob("*.py")).name
    text = (ROOT / CODE_DIR / name).read_text(encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(f"```python\n{text}```\n\n```python\n{text}# changed\n```\n", encoding="utf-8")
    same, changed = parse_page(page)
    same.evaluate()
    with pytest.raises(SybilFailure, match="differs from its file"):
        changed.evaluate()


def _make_images():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import make_images
    finally:
        sys.path.pop(0)
    return make_images


def test_the_pages_show_the_committed_screenshots() -> None:
    """Each UI screenshot docs/make_images.py makes is committed and shown on both pages.

    What each screenshot shows (the runs, plots and alias the pages name, MLflow's
    model-training view) is checked by make_images.py itself when it takes them: it waits for
    each of those texts on the UI page before the screenshot, and fails without them. That
    needs Chromium, which the tests do not assume."""
    make_images = _make_images()
    shown = {shot.image for shot in make_images.shots("1", "0" * 32)}
    for image in shown:
        assert (ROOT / "docs" / "images" / image).stat().st_size > 10_000, image
    for page in PAGES.values():
        text = page.read_text(encoding="utf-8")
        assert all(f"images/{image}" in text for image in shown), page.name
