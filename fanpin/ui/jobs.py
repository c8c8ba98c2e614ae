"""Long jobs in the background (model training, the monthly brief): the page stays usable.

A job runs in a worker thread: one worker per user (``ThreadPoolExecutor(max_workers=1)``, so a
user's jobs queue instead of piling up on a 2-core machine), and at most ``MAX_RUNNING`` jobs of
all users at once.  Jobs are kept per user and name in the server process, so a second click
while one runs gets the same job (no second training), and a reload or another tab (the login
survives it, ``fanpin.ui.login``) still sees it.  The job reports ``(step, fraction)``; the page
draws it with ``show`` in the user's language (``job.step.<code>``), refreshing itself every
second without rerunning the rest of the page, and reruns the page once when the job ends.
A finished job says it is done in the user's language; it never shows a server path.

The worker thread must not call Streamlit: a job is a plain function of its inputs (gathered
on the page's own run) and of the ``report`` callback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import streamlit as st

from fanpin.ui.i18n import t
from fanpin.ui.text import md

#: Jobs of all users running at the same time (the machine has two cores).
MAX_RUNNING = 2
#: Step codes a job may report, each with a ``job.step.<code>`` message (others read "working").
STEPS = ("queued", "loading", "features", "gradient_boosting", "logistic_baseline", "evaluating", "feature_importance", "saving", "figures", "document", "done")
Report = Callable[[str, float], None]


@dataclass
class Job:
    """One background job as the page sees it (written by the worker, read by the page)."""

    owner: str
    name: str
    what: str  # a message key naming the job ("job.train", "job.brief")
    started: float = field(default_factory=time.time)
    step: str = "queued"
    fraction: float = 0.0
    finished: float | None = None
    result: object = None
    error: str | None = None
    #: what failed, kept to be said in the reader's language (``error`` is the log's English)
    exception: BaseException | None = None
    future: Future | None = None

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def failed(self) -> bool:
        return self.finished is not None and self.error is not None

    def report(self, step: str, fraction: float) -> None:
        """The job's progress callback: a step code and how far along (0..1)."""
        self.step = str(step).replace(" ", "_")
        self.fraction = min(max(float(fraction), 0.0), 1.0)


class Runner:
    """The server's jobs: a one-thread executor per user, the jobs by (user, name)."""

    def __init__(self, max_running: int = MAX_RUNNING) -> None:
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_running)
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self.jobs: dict[tuple[str, str], Job] = {}

    def start(self, owner: str, name: str, what: str, fn: Callable[[Report], object]) -> Job:
        """Start ``fn(report)`` for ``owner`` unless the same job is running (then that one)."""
        with self._lock:
            job = self.jobs.get((owner, name))
            if job is not None and job.running:
                return job
            job = Job(owner, name, what)
            self.jobs[(owner, name)] = job
            pool = self._executors.setdefault(owner, ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fanpin-job-{owner}"))
            job.future = pool.submit(self._run, job, fn)
        return job

    def _run(self, job: Job, fn: Callable[[Report], object]) -> None:
        with self._slots:
            try:
                job.result = fn(job.report)
                job.report("done", 1.0)
            except Exception as exc:
                logging.getLogger(__name__).exception("background job %s of %s failed", job.name, job.owner)
                job.error = str(exc) or type(exc).__name__
                job.exception = exc
            finally:
                job.finished = time.time()

    def get(self, owner: str, name: str) -> Job | None:
        return self.jobs.get((owner, name))

    def forget(self, owner: str, name: str) -> None:
        with self._lock:
            job = self.jobs.get((owner, name))
            if job is not None and not job.running:
                del self.jobs[(owner, name)]


@st.cache_resource(show_spinner=False)
def runner() -> Runner:
    """The one runner of this server process."""
    return Runner()


def step_text(job: Job) -> str:
    return t(f"job.step.{job.step}") if job.step in STEPS else t("job.step.working")


def progress_text(job: Job) -> str:
    """What is running, the step and the time so far, in the user's language."""
    return t("job.running", what=t(job.what), step=step_text(job), seconds=f"{time.time() - job.started:.0f}")


@st.fragment(run_every=1.0)
def _poll(owner: str, name: str) -> None:
    """Redraws the progress every second; when the job ends, reruns the page once."""
    job = runner().get(owner, name)
    if job is None or not job.running:
        st.rerun()
        return
    st.progress(job.fraction, text=progress_text(job))
    st.caption(t("job.page_usable"))


def failure_text(exc: BaseException | None) -> str:
    """Why a job failed, in the reader's language: a fanpin error says it through its code; anything
    else is named by its kind only (its message may hold server paths; the log has it all)."""
    from fanpin.access.roles import AccessDenied
    from fanpin.core.i18n import translate
    from fanpin.ui.i18n import lang

    if exc is not None and callable(getattr(exc, "text", None)) and getattr(exc, "code", ""):
        return exc.text(translate, lang())
    if isinstance(exc, AccessDenied):
        return t("access.denied", action=exc.code)
    return t("job.unexpected", kind=type(exc).__name__ if exc is not None else "?")


def show(job: Job) -> None:
    """Draw a job: its progress while it runs, then that it is done or why it failed."""
    if job.running:
        _poll(job.owner, job.name)
    elif job.failed:
        st.error(t("job.failed", what=t(job.what), error=md(failure_text(job.exception))))
    else:
        st.success(t("job.done", what=t(job.what), seconds=f"{job.finished - job.started:.0f}"))


def on_click(where, owner: str, name: str, what: str, clicked: Callable[[], bool], prepare: Callable[[], Callable[[Report], object]]) -> object | None:  # noqa: ANN001 - a Streamlit container
    """A job started by a button, in its one shape: ``clicked`` draws the button and says whether it was
    pressed; then ``prepare`` (on the page's run: it may read Streamlit's caches) gathers the inputs and
    returns the job's function, which runs in the background while its progress is drawn in ``where``;
    the result is returned once and the job forgotten, so that the button comes back.  None meanwhile,
    and after a failure (said once, then the button again for another try)."""
    run = runner()
    job = run.get(owner, name)
    if job is None:
        if not clicked():
            return None
        job = run.start(owner, name, what, prepare())
    if job.running or job.failed:
        with where.container():
            show(job)
        if job.failed:
            run.forget(owner, name)
        return None
    run.forget(owner, name)
    return job.result
