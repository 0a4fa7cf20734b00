"""A hyperparameter search with Optuna: ``mlt tune``.

A study searches alpha (log scale) and l1_ratio of the same pipeline ``mlt train`` fits, with a
seeded TPE sampler. **Each trial is chosen by a cross-validated RMSE on the training split**
(``cv_rmse``, ``folds``-fold, shuffled with the seed); the test split is never looked at to
choose. Every trial is still one MLflow run logged by :mod:`.training`'s own code (params,
test-set rmse/mae/r2, the data set), a child of one parent run per study, tagged
``mlt.study``. Only a trial that is the study's best so far when it finishes logs its model
(and plots): the study's best trial always has one, the others cost no model logging.

Where the study lives: Optuna's ``RDBStorage`` (SQLAlchemy), on an SQLite file beside an SQLite
tracking store (``mlflow.db`` -> ``mlflow-optuna.db``) or on a database every worker reaches
(``--storage postgresql://...``, or ``MLT_STUDY_STORAGE``). Measured with
``bench/scripts/study_storage.py`` (seeded TPE, an objective without a fit, so the figures are
the storage's and the sampler's work per trial; 2 shared cores, median seconds per trial over the
first and the last 20 trials):

- a 20-trial study: ``mlflow.optuna.MlflowStorage`` on an SQLite tracking store 2.02 s per
  trial; Optuna's ``RDBStorage`` with one MLflow run per trial 0.30 s on SQLite and 0.35 s on
  PostgreSQL;
- a 200-trial study (another run, at a load average of 25-38 on the 2 cores): ``RDBStorage``
  1.19 s per trial over the first 20 and 0.58 s over the last 20 on SQLite (1.10 s and 0.58 s
  on PostgreSQL), so no growth beyond the noise; ``MlflowStorage`` 1.44 s over its first 20
  trials and 68 s per trial over trials 97-116 (read from its runs' start times), when it
  was stopped after 45 minutes.

``MlflowStorage`` keeps the study as MLflow runs and reads them back through the tracking API at
every step (its trial numbers come from a metric history, and its writes are batched by a
flush thread): seven times the cost per trial at 20 trials, and growing with the study.
Optuna's RDB storage numbers trials in one transaction, so concurrent workers never share a
trial, and its heartbeat (``HEARTBEAT_SECONDS``) lets a live worker fail a dead worker's trial after
``GRACE_SECONDS`` and run it again (:class:`optuna.storages.RetryFailedTrialCallback`). The
price is a second database next to MLflow's, which every worker must reach.

Workers: ``jobs`` processes on this machine (forked after the imports, before any connection
to a store), and any number of ``mlt tune --study NAME`` commands elsewhere, join one study.
The study stops at ``trials`` complete trials: a worker does not start a trial when the study
has that many complete or running, and a trial that finds ``trials`` ahead of it (in trial
order) ends PRUNED without params or a run. A worker with nothing left to start waits for
the trials running elsewhere, so every command on a study reports the same final study.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import os
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .. import __version__
from ..config import Tracking, sqlite_path, store_lock
from ..data import Split, check_test_size, load_dataset, split
from ..errors import (
    ConcurrentChangeError,
    InvalidParameterError,
    MissingDependencyError,
    MltError,
    TrackingError,
)
from ..mlflow_errors import as_mlt_error, is_mlflow_error, mlflow_errors
from ..names import TAG_DATASET, TAG_STUDY, TAG_TRIAL, TAG_VERSION
from ..signals import DeferredSignals
from .comparison import RunSummary, best_run
from .training import (
    TrainOptions,
    _context,
    _fit_and_log,
    _run_tags,
    _tracked_run,
    build_pipeline,
)

DEFAULT_TRIALS = 20
DEFAULT_ALPHA_RANGE = (1e-4, 10.0)
DEFAULT_L1_RATIO_RANGE = (0.0, 1.0)
DEFAULT_FOLDS = 5
CV_METRIC = "cv_rmse"
STORAGE_ENV = "MLT_STUDY_STORAGE"
HEARTBEAT_SECONDS = 5
GRACE_SECONDS = 30  # a RUNNING trial without a heartbeat this long is failed and run again
PARENT_WAIT_SECONDS = 60  # how long a joining worker waits for the study's parent run
STORAGE_ATTEMPTS = 5  # opening the study storage while other workers create its tables
RETRIES = 3
SETTLE_SECONDS = 0.5  # how often a worker looks at trials running elsewhere
# A RUNNING trial that no worker has begun (no WORKER_ATTR for it), seen so this long by a
# waiting worker: its worker died while Optuna started it, before any heartbeat. It is
# failed, and another trial run in its place.
ORPHAN_SECONDS = 120

# Attributes of the Optuna study and its trials.
PARENT_ATTR = "mlflow_parent_run_id"
SETTINGS_ATTR = "mlt_settings"
RUN_ATTR = "mlflow_run_id"
WORKER_ATTR = "mlt_worker"  # {"worker": host:pid, "trial": number}, set as a trial begins
MODEL_ATTR = "mlflow_model_uri"

# Tags on the parent run.
TAG_BEST_RUN = "mlt.best.run_id"
TAG_BEST_TRIAL = "mlt.best.trial"
TAG_BEST_PARAM = "mlt.best."
HISTORY_PLOT = "plots/optimization_history.png"


@dataclass(frozen=True)
class TuneOptions:
    """How to search; what to train on is :class:`TrainOptions`."""

    trials: int = DEFAULT_TRIALS
    timeout: float | None = None
    study: str | None = None
    jobs: int = 1
    alpha_range: tuple[float, float] = DEFAULT_ALPHA_RANGE
    l1_ratio_range: tuple[float, float] = DEFAULT_L1_RATIO_RANGE
    folds: int = DEFAULT_FOLDS
    storage: str | None = None


@dataclass(frozen=True)
class TrialReport:
    """One finished trial, for progress lines (reported by the process that ran it)."""

    number: int
    params: dict[str, float]
    cv_rmse: float
    best_cv_rmse: float
    complete: int
    total: int
    run_id: str
    model_logged: bool


@dataclass(frozen=True)
class TuneResult:
    """A study after this command's trials."""

    study: str
    storage: str  # without a password
    experiment_id: str
    experiment_name: str
    parent_run_id: str
    trials: int  # complete trials in the study
    ran: int  # trials this command completed (every worker)
    best_trial: int
    best_params: dict[str, float]
    best_cv_rmse: float
    best_run_id: str
    best_model_uri: str
    metrics: dict[str, float] = field(default_factory=dict)  # the best run's test metrics

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TrialCallback = Callable[[TrialReport], None]
# Called once when this command waits for trials running elsewhere: (running, complete).
WaitCallback = Callable[[int, int], None]


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError(
            "mlt tune needs Optuna: pip install 'mlflow-tutorial[tune]'"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def validate(options: TuneOptions) -> None:
    """Raise :class:`InvalidParameterError` for an option out of range."""
    if options.trials < 1:
        raise InvalidParameterError(f"--trials must be at least 1, got {options.trials}")
    if options.timeout is not None and not options.timeout > 0:
        raise InvalidParameterError(f"--timeout must be above 0, got {options.timeout}")
    if options.jobs < 1:
        raise InvalidParameterError(f"--jobs must be at least 1, got {options.jobs}")
    if options.folds < 2:
        raise InvalidParameterError(f"--folds must be at least 2, got {options.folds}")
    low, high = options.alpha_range
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise InvalidParameterError(
            f"--alpha must be LOW,HIGH with 0 < LOW <= HIGH (a log scale), got {low:g},{high:g}"
        )
    low, high = options.l1_ratio_range
    if not 0 <= low <= high <= 1:
        raise InvalidParameterError(
            f"--l1-ratio must be LOW,HIGH with 0 <= LOW <= HIGH <= 1, got {low:g},{high:g}"
        )
    if options.study is not None and (
        not options.study.strip() or "'" in options.study or not options.study.isprintable()
    ):
        raise InvalidParameterError(f"invalid study name {options.study!r}")


def study_storage(storage: str | None, tracking_uri: str) -> str:
    """The study's database URL: the explicit one, then ``MLT_STUDY_STORAGE``, then an SQLite
    file beside an SQLite tracking store. Other stores need one given."""
    url = storage or os.environ.get(STORAGE_ENV)
    if url:
        return url
    path = sqlite_path(tracking_uri)
    if path is None:
        raise InvalidParameterError(
            f"a study with the tracking store {masked(tracking_uri)} needs a database every "
            f"worker reaches: give --storage URL, e.g. "
            f"postgresql://HOST/DB (or set {STORAGE_ENV})"
        )
    return f"sqlite:///{path.with_name(path.stem + '-optuna.db')}"


def masked(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def cv_rmse(
    parts: Split,
    alpha: float,
    l1_ratio: float,
    standardize: bool = True,
    random_state: int | None = None,
    folds: int = DEFAULT_FOLDS,
) -> float:
    """The mean RMSE of ``folds``-fold cross-validation on the training split (shuffled with
    ``random_state``): the number a study minimizes."""
    from sklearn.model_selection import KFold, cross_val_score

    model = build_pipeline(alpha, l1_ratio, standardize, random_state)
    scores = cross_val_score(
        model,
        parts.X_train,
        parts.y_train,
        cv=KFold(folds, shuffle=True, random_state=random_state),
        scoring="neg_root_mean_squared_error",
    )
    return float(-scores.mean())


def tune(
    options: TuneOptions | None = None,
    train_options: TrainOptions | None = None,
    tracking: Tracking | None = None,
    on_trial: TrialCallback | None = None,
    on_wait: WaitCallback | None = None,
) -> TuneResult:
    """Run (or join, or resume) a study until it has ``options.trials`` complete trials or
    ``options.timeout`` seconds have passed; return the study's best trial.

    ``on_trial`` is called in the process that ran the trial (with ``jobs`` > 1, also in the
    forked workers). ``on_wait`` is called when the command has no trial left to start and
    waits for trials running in other commands. Ctrl-C or SIGTERM ends the trial being run
    KILLED in MLflow (FAIL in Optuna) and the parent run KILLED; the same call resumes the
    study.
    """
    options = options or TuneOptions()
    train_options = train_options or TrainOptions()
    tracking = tracking or Tracking.resolve()
    validate(options)
    check_test_size(train_options.test_size)
    url = study_storage(options.storage, tracking.uri)
    optuna = _optuna()
    data = load_dataset(train_options.dataset, train_options.data, train_options.target)
    parts = split(data, train_options.test_size, train_options.random_state)
    if options.folds > len(parts.y_train):
        raise InvalidParameterError(
            f"--folds {options.folds} is more than the {len(parts.y_train)} training rows"
        )
    name = options.study or f"{tracking.experiment}-{data.name}"
    if options.jobs > 1:
        # Imported once, before the fork, so forked workers start without importing them.
        import mlflow.sklearn  # noqa: F401
        import sklearn.model_selection  # noqa: F401
    work = _Worker(
        name, url, options, train_options, tracking, data, parts, optuna, on_trial, main=True
    )
    work.on_wait = on_wait
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        with _workers(work, options.jobs - 1) as children:
            try:
                work.run()
                children.wait()
            except BaseException as exc:
                children.stop()
                with contextlib.suppress(MltError):  # the first error is the one to report
                    work.finish("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
                raise
            work.finish("FINISHED")
        return work.result(children.ran)


@dataclass
class _Children:
    """Forked worker processes and what they report back."""

    processes: list[Any] = field(default_factory=list)
    queue: Any = None
    ran: int = 0

    def wait(self) -> None:
        errors = []
        for process in self.processes:
            process.join()
        while self.queue is not None and not self.queue.empty():
            ran, message = self.queue.get()
            self.ran += ran
            if message:
                errors.append(message)
        failed = [p for p in self.processes if p.exitcode not in (0, None)]
        if errors or failed:
            raise TrackingError(
                f"a worker failed: {errors[0]}"
                if errors
                else f"a worker ended with status {failed[0].exitcode}"
            )

    def stop(self) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.join(GRACE_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()


@contextlib.contextmanager
def _workers(work: _Worker, n: int) -> Iterator[_Children]:
    """``n`` forked copies of ``work`` (spawned where fork is unsafe), started before this
    process touches a store: forked connections would be shared."""
    children = _Children()
    if n:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        context: Any = multiprocessing.get_context(method)
        children.queue = context.SimpleQueue()
        for index in range(1, n + 1):
            process = context.Process(
                target=_child, args=(work, index, children.queue), daemon=False
            )
            process.start()
            children.processes.append(process)
    yield children


def _child(work: _Worker, index: int, queue: Any) -> None:
    from ..signals import interrupt

    signal.signal(signal.SIGTERM, interrupt)
    work.main = False
    work.index = index
    try:
        work.run()
    except KeyboardInterrupt:
        queue.put((work.ran, None))
        sys.exit(130)
    except BaseException as exc:
        translated = as_mlt_error(exc) if not isinstance(exc, MltError) else exc
        queue.put((work.ran, translated.message if translated else repr(exc)))
        sys.exit(1)
    queue.put((work.ran, None))


class _Worker:
    """One process's part of a study: open (or create) the study, run trials, and in the
    command's own process, record the best trial on the parent run."""

    def __init__(
        self,
        name: str,
        url: str,
        options: TuneOptions,
        train_options: TrainOptions,
        tracking: Tracking,
        data: Any,
        parts: Split,
        optuna: Any,
        on_trial: TrialCallback | None,
        main: bool,
    ) -> None:
        self.name, self.url, self.options = name, url, options
        self.train_options, self.tracking = train_options, tracking
        self.data, self.parts, self.optuna = data, parts, optuna
        self.on_trial, self.main, self.index = on_trial, main, 0
        self.on_wait: WaitCallback | None = None
        self.ran = 0
        self.study: Any = None
        self.context: Any = None
        self.parent_run_id: str | None = None
        self.pending: tuple[contextlib.ExitStack, TrialReport, DeferredSignals] | None = None
        self.held: DeferredSignals | None = None  # signals held between Optuna's steps
        self.unbegun: dict[int, float] = {}  # trial number -> when first seen not begun
        self.told_wait = False

    def __getstate__(self) -> dict[str, Any]:  # for spawn: the module is imported again
        state = dict(self.__dict__)
        state["optuna"] = None
        state["on_trial"] = None  # a closure of the command's: not picklable
        state["on_wait"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.optuna = _optuna()

    # -- the study -------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """What every worker of the study must share: the data, the split, the folds."""
        o, d = self.train_options, self.data
        return {
            "experiment": self.tracking.experiment,
            "dataset": d.name,
            "target": d.target,
            "n_rows": d.n_rows,
            "features": list(d.features),
            "test_size": o.test_size,
            "random_state": o.random_state,
            "standardize": o.standardize,
            "folds": self.options.folds,
        }

    def open(self) -> None:
        optuna = self.optuna
        self.tracking.activate()
        self.context = _context(
            self.tracking, None, self.data, self.parts, self.train_options, self.name
        )
        retry = optuna.storages.RetryFailedTrialCallback(max_retry=RETRIES)
        kwargs: dict[str, Any] = {}
        if sqlite_path(self.url):
            # Workers wait for each other's writes rather than fail at SQLite's 5 s default.
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
        # Workers that start together all create Optuna's tables if they are missing. On
        # SQLite a file lock keeps them apart; PostgreSQL refuses the slower worker's
        # CREATE TYPE or CREATE TABLE (a unique violation in its catalog, or "already
        # exists"), and by then the tables exist, so that worker simply opens the storage
        # again.
        for attempt in range(1, STORAGE_ATTEMPTS + 1):
            try:
                with (
                    mlflow_errors(prefix=f"cannot open the study storage {masked(self.url)}"),
                    _storage_errors(self.url),
                    store_lock(self.url),  # SQLite: creating the tables is not safe in parallel
                ):
                    storage = optuna.storages.RDBStorage(
                        self.url,
                        heartbeat_interval=HEARTBEAT_SECONDS,
                        grace_period=GRACE_SECONDS,
                        heartbeat_stale_trial_callback=lambda study, trial: _stale(
                            retry, study, trial
                        ),
                        **kwargs,
                    )
                break
            except ConcurrentChangeError:
                if attempt == STORAGE_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
        sampler = optuna.samplers.TPESampler(seed=self.train_options.random_state)
        created = True
        with _storage_errors(self.url):
            try:
                self.study = optuna.create_study(
                    storage=storage, study_name=self.name, sampler=sampler, direction="minimize"
                )
            except optuna.exceptions.DuplicatedStudyError:
                created = False
                self.study = optuna.load_study(
                    storage=storage, study_name=self.name, sampler=sampler
                )
            if created:
                self.study.set_user_attr(SETTINGS_ATTR, self.settings())
        self.parent_run_id = self._parent(created)
        self._check_settings()

    def _parent(self, created: bool) -> str:
        client = self.tracking.client()
        if created:
            with mlflow_errors(prefix="cannot create the study's run"):
                run = client.create_run(
                    self.context.experiment_id,
                    run_name=self.name,
                    tags={
                        TAG_STUDY: self.name,
                        TAG_VERSION: __version__,
                        TAG_DATASET: self.data.name,
                    },
                )
            with _storage_errors(self.url):
                self.study.set_user_attr(PARENT_ATTR, run.info.run_id)
            return run.info.run_id
        deadline = time.monotonic() + PARENT_WAIT_SECONDS
        while True:
            with _storage_errors(self.url):
                parent = self.study.user_attrs.get(PARENT_ATTR)
            if parent:
                break
            if time.monotonic() > deadline:
                raise TrackingError(
                    f"study {self.name!r} has no parent run after {PARENT_WAIT_SECONDS} s: "
                    "the worker that created it may have died; start it again with another "
                    "--study"
                )
            time.sleep(0.2)
        if self.main:
            with mlflow_errors(prefix="cannot resume the study's run"):
                client.update_run(parent, status="RUNNING")
        return parent

    def _check_settings(self) -> None:
        with _storage_errors(self.url):
            started = self.study.user_attrs.get(SETTINGS_ATTR) or {}
        for key, value in self.settings().items():
            if key in started and started[key] != value:
                raise InvalidParameterError(
                    f"study {self.name!r} was started with {key} {started[key]!r}, not "
                    f"{value!r}: give the same options or another --study"
                )

    # -- trials ----------------------------------------------------------------------------

    def run(self) -> None:
        self.open()
        optuna = self.optuna
        states = (
            optuna.trial.TrialState.COMPLETE,
            optuna.trial.TrialState.RUNNING,
            optuna.trial.TrialState.WAITING,
        )
        first = [True]

        def objective(trial: Any) -> float:
            self._release_held()  # Optuna has recorded the trial's start: a signal may act
            self._begin(trial)
            if first[0]:
                # A stream of its own for each worker and each resumption: the number of the
                # first trial it runs, unique in the study (0 for a new study: reproducible).
                first[0] = False
                seed = self.train_options.random_state
                if seed is not None and trial.number:
                    seed = _seed(seed, trial.number)
                self.study.sampler = optuna.samplers.TPESampler(seed=seed)
            ahead = self.study.get_trials(deepcopy=False, states=states)
            if sum(t.number < trial.number for t in ahead) >= self.options.trials:
                self.study.stop()
                raise optuna.TrialPruned("the study has its trials")
            return self.trial(trial)

        def stop_when_full(study: Any, _trial: Any) -> None:
            if len(study.get_trials(deepcopy=False, states=states)) >= self.options.trials:
                study.stop()

        timeout = self.options.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self._needs_trials(deadline):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                # Ctrl-C and SIGTERM wait while Optuna starts a trial (its row written, no
                # heartbeat yet): a trial stopped there would stay RUNNING for good.
                self.held = DeferredSignals()
                self.study.optimize(
                    objective,
                    n_trials=None,
                    timeout=left,
                    callbacks=[self._recorded, stop_when_full],
                    gc_after_trial=False,
                )
                self._release_held()
        finally:
            self._abandon()
            self._release_held(raise_now=False)

    def _release_held(self, raise_now: bool = True) -> None:
        held, self.held = self.held, None
        if held is not None:
            held.release(raise_now)

    def _begin(self, trial: Any) -> None:
        """Mark the trial as begun by this worker, its first heartbeat written before the
        mark (Optuna's heartbeat thread writes its own at the same time): a trial with the
        mark is left to the heartbeat rule, one without it to the orphan rule."""
        storage = self.study._storage  # RDBStorage, behind Optuna's cache
        if getattr(storage, "get_heartbeat_interval", lambda: None)():
            storage.record_heartbeat(trial._trial_id)
        worker = f"{socket.gethostname()}:{os.getpid()}"
        trial.set_user_attr(WORKER_ATTR, {"worker": worker, "trial": trial.number})

    def _needs_trials(self, deadline: float | None) -> bool:
        """Whether this worker should run trials: the study has fewer than ``trials``
        complete, running or waiting, or a failed trial waits to be run again. While the
        last trials run in other workers, wait for them (a dead worker's trial is failed
        after ``GRACE_SECONDS`` and queued again, an orphan after ``ORPHAN_SECONDS``), so
        that every command on a study ends with the same complete trials and the same best
        one."""
        optuna = self.optuna
        state = optuna.trial.TrialState
        while True:
            with _storage_errors(self.url):
                optuna.storages.fail_stale_trials(self.study)
                trials = self.study.get_trials(
                    deepcopy=False, states=(state.COMPLETE, state.RUNNING, state.WAITING)
                )
                orphans = self._orphans(trials)
                for number in orphans:
                    self.study.tell(number, state=state.FAIL, skip_if_finished=True)
            if orphans:
                continue
            complete = sum(t.state == state.COMPLETE for t in trials)
            if complete >= self.options.trials:
                return False
            if len(trials) < self.options.trials or any(t.state == state.WAITING for t in trials):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if not self.told_wait and self.main and self.on_wait:
                self.on_wait(len(trials) - complete, complete)  # the rest run: none waits
                self.told_wait = True
            time.sleep(SETTLE_SECONDS)

    def _orphans(self, trials: list[Any]) -> list[int]:
        """The RUNNING trials not begun (see :meth:`_begin`) that this worker has seen so
        for ``ORPHAN_SECONDS`` (its own clock: workers' clocks may differ)."""
        running = self.optuna.trial.TrialState.RUNNING
        now = time.monotonic()
        unbegun = {t.number for t in trials if t.state == running and not _begun(t)}
        self.unbegun = {n: self.unbegun.get(n, now) for n in unbegun}
        return [n for n, seen in self.unbegun.items() if now - seen > ORPHAN_SECONDS]

    def trial(self, trial: Any) -> float:
        import mlflow

        o, t = self.options, self.train_options
        alpha = trial.suggest_float("alpha", *o.alpha_range, log=True)
        l1_ratio = trial.suggest_float("l1_ratio", *o.l1_ratio_range)
        score = cv_rmse(self.parts, alpha, l1_ratio, t.standardize, t.random_state, o.folds)
        best = _best_value(self.study)
        log_model = best is None or score < best
        tags = {**_run_tags(self.context), TAG_STUDY: self.name, TAG_TRIAL: str(trial.number)}
        # The run stays open until Optuna has recorded the trial (see ``_recorded``), and
        # Ctrl-C and SIGTERM wait in between: a FINISHED run is a COMPLETE trial, always.
        stack = contextlib.ExitStack()
        run = stack.enter_context(
            _tracked_run(
                experiment_id=self.context.experiment_id,
                parent_run_id=self.parent_run_id,
                run_name=f"{self.name}-{trial.number}",
                tags=tags,
            )
        )
        try:
            trial.set_user_attr(RUN_ATTR, run.info.run_id)
            mlflow.log_params({"cv_folds": o.folds})
            mlflow.log_metric(CV_METRIC, score)
            result = _fit_and_log(self.context, run, alpha, l1_ratio, {}, log_model=log_model)
            if result.model_uri:
                trial.set_user_attr(MODEL_ATTR, result.model_uri)
            held = DeferredSignals()  # until Optuna has recorded the trial
        except BaseException:
            if not stack.__exit__(*sys.exc_info()):
                raise
        report = TrialReport(
            number=trial.number,
            params={"alpha": alpha, "l1_ratio": l1_ratio},
            cv_rmse=score,
            best_cv_rmse=score if best is None else min(best, score),
            complete=0,
            total=o.trials,
            run_id=run.info.run_id,
            model_logged=bool(result.model_uri),
        )
        self.pending = (stack, report, held)
        return score

    def _recorded(self, study: Any, trial: Any) -> None:
        """Optuna's callback once a trial is recorded: end its run, report it, and let a
        signal that came in meanwhile stop the study (signals stay held otherwise, until
        the next trial's objective starts or the study stops)."""
        import mlflow

        if self.pending is None:
            return
        stack, report, signals = self.pending
        self.pending = None
        try:
            if trial.state == self.optuna.trial.TrialState.COMPLETE:
                stack.close()
                self.ran += 1
                if self.on_trial:
                    complete = self.optuna.trial.TrialState.COMPLETE
                    done = len(study.get_trials(deepcopy=False, states=(complete,)))
                    self.on_trial(dataclasses.replace(report, complete=done))
            else:
                mlflow.end_run("FAILED")
                stack.close()  # its run ended already: nothing more is written
        finally:
            if signals.caught:
                signals.release()  # KeyboardInterrupt: the study stops here
            else:
                self.held = signals  # until the next trial's objective starts

    def _abandon(self) -> None:
        """A trial left between its objective and its record (an error in Optuna's tell)."""
        import mlflow

        if self.pending is not None:
            _stack, _report, signals = self.pending
            self.pending = None
            with contextlib.suppress(Exception):
                mlflow.end_run("KILLED")
            signals.release(raise_now=False)

    # -- the end ---------------------------------------------------------------------------

    def finish(self, status: str) -> None:
        """Record the best trial on the parent run and end it with ``status`` (main only)."""
        if not self.main or self.parent_run_id is None:
            return
        client = self.tracking.client()
        best = self._best_trial()
        with mlflow_errors(prefix="cannot record the study's best trial"):
            if best is not None:
                from mlflow.entities import Metric, RunTag

                tags = {
                    TAG_BEST_TRIAL: str(best.number),
                    TAG_BEST_RUN: best.user_attrs.get(RUN_ATTR, ""),
                    **{f"{TAG_BEST_PARAM}{k}": repr(v) for k, v in best.params.items()},
                }
                if best.user_attrs.get(MODEL_ATTR):
                    tags[f"{TAG_BEST_PARAM}model_uri"] = best.user_attrs[MODEL_ATTR]
                complete = self._complete()
                client.log_batch(
                    self.parent_run_id,
                    metrics=[
                        Metric(f"best_{CV_METRIC}", best.value, int(time.time() * 1000), complete)
                    ],
                    tags=[RunTag(k, v) for k, v in tags.items()],
                )
                client.log_figure(
                    self.parent_run_id, history_figure(self._complete_trials()), HISTORY_PLOT
                )
            client.set_terminated(self.parent_run_id, status)

    def _complete_trials(self) -> list[Any]:
        with _storage_errors(self.url):
            return self.study.get_trials(
                deepcopy=False, states=(self.optuna.trial.TrialState.COMPLETE,)
            )

    def _complete(self) -> int:
        return len(self._complete_trials())

    def _best_trial(self) -> Any:
        if self.study is None:
            return None
        with _storage_errors(self.url):
            try:
                return self.study.best_trial
            except ValueError:  # no complete trial yet
                return None

    def result(self, ran_elsewhere: int) -> TuneResult:
        best = self._best_trial()
        if best is None:
            raise TrackingError(f"study {self.name!r} has no complete trial")
        run_id = best.user_attrs.get(RUN_ATTR, "")
        with mlflow_errors(prefix="cannot read the best trial's run"):
            metrics = dict(self.tracking.client().get_run(run_id).data.metrics)
        return TuneResult(
            study=self.name,
            storage=masked(self.url),
            experiment_id=self.context.experiment_id,
            experiment_name=self.context.experiment_name,
            parent_run_id=self.parent_run_id or "",
            trials=self._complete(),
            ran=self.ran + ran_elsewhere,
            best_trial=best.number,
            best_params=dict(best.params),
            best_cv_rmse=float(best.value),
            best_run_id=run_id,
            best_model_uri=best.user_attrs.get(MODEL_ATTR, ""),
            metrics=metrics,
        )


def _seed(seed: int, number: int) -> int:
    import numpy as np

    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def _begun(trial: Any) -> bool:
    mark = trial.user_attrs.get(WORKER_ATTR)
    # A retry of a failed trial carries the failed one's attributes: its mark names another.
    return isinstance(mark, dict) and mark.get("trial") == trial.number


def _best_value(study: Any) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:
        return None


def _stale(retry: Any, study: Any, trial: Any) -> None:
    """A dead worker's trial: run it again, and end its MLflow run KILLED."""
    retry(study, trial)
    run_id = trial.user_attrs.get(RUN_ATTR)
    if not run_id:
        return
    from mlflow import MlflowClient

    try:
        MlflowClient().set_terminated(run_id, "KILLED")
    except Exception as exc:
        if not is_mlflow_error(exc):
            raise


@contextlib.contextmanager
def _storage_errors(url: str) -> Iterator[None]:
    """SQLAlchemy's errors from the study's database, as a :class:`TrackingError`."""
    with mlflow_errors(prefix=f"study storage {masked(url)}"):
        yield


def history_figure(trials: list[Any]) -> Any:
    """The study's optimization history: each trial's cv_rmse and the best so far."""
    from .plots import _figure

    trials = sorted(trials, key=lambda t: t.number)
    numbers = [t.number for t in trials]
    values = [t.value for t in trials]
    best = [min(values[: i + 1]) for i in range(len(values))]
    figure = _figure(6.0, 4.0)
    axes = figure.add_subplot()
    axes.scatter(numbers, values, s=14, color="tab:blue", label=CV_METRIC)
    axes.step(numbers, best, where="post", color="tab:red", label="best so far")
    axes.set_xlabel("trial")
    axes.set_ylabel(f"{CV_METRIC} (cross-validated, training split)")
    axes.set_title("Optimization history")
    axes.legend(loc="upper right")
    return figure


def best_trial_run(tracking: Tracking, study: str) -> RunSummary:
    """The run of the study's best trial by cross-validated RMSE (it has the model)."""
    if "'" in study or "`" in study:
        raise InvalidParameterError(f"invalid study name {study!r}")
    return best_run(tracking, CV_METRIC, filter_string=f"tags.`{TAG_STUDY}` = '{study}'")
