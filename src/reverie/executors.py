"""Where batches of work run: in this process (``local``, the default) or on a Ray cluster (``ray``).

An executor takes a *work* object and a list of jobs and yields ``(job, result)`` as jobs finish. The
work object is built once where it runs (``work.prepare()`` loads the model) and then called as
``work(job, progress, stop)``; it returns the job's result, or None when ``stop`` cut the job short
(nothing partial is ever yielded). ``work.weight(job)`` says how much a job costs, for progress.

Both executors report one :class:`reverie.Progress` stream (fraction of all the work, the job in hand,
an ETA), so the command line draws the same bar whichever runs the work. Results are sent back to the
caller, which writes them: a Ray worker on another machine needs no shared disk.

The Ray executor keeps one actor per device (a GPU, or a group of CPU cores), each holding the model,
and sends it batches as actor tasks. A worker process that dies is restarted and its batch retried
(``retries`` times); a task asking for a GPU on a cluster without one fails before anything is sent.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

import torch
from torch import nn

from reverie.engine.progress import (
    Progress,
    ProgressCallback,
    StopSignal,
    stop_requested,
)
from reverie.errors import ReverieError, unknown_name_message
from reverie.models import ModelSpec, model_on_device

EXECUTORS = ("local", "ray")
RAY_HINT = "install it with: pip install 'reverie[ray]'"
POLL_SECONDS = 0.5      # how often the Ray executor asks its workers how far their batches are
IN_FLIGHT = 2           # batches queued per Ray worker: the next is ready when one finishes
CONNECT_SECONDS = 5.0   # an address that accepts no connection within this is unreachable


class Work(Protocol):
    def prepare(self) -> None: ...
    def weight(self, job: Any) -> float: ...
    def __call__(self, job: Any, progress: ProgressCallback | None, stop: StopSignal | None) -> Any: ...


def _job_event(event: Progress, stage: str, done: float, weight: float, total: float) -> Progress:
    return replace(event, stage=stage, work_done=done + event.fraction * weight, work_total=total,
                   seconds_left=None)


class LocalExecutor:
    """Runs every job in this process, one after the other, on ``work``'s device."""

    name = "local"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def map(self, work: Work, jobs: Sequence[Any], progress: ProgressCallback | None = None,
            stop: StopSignal | None = None) -> Iterator[tuple[Any, Any]]:
        weights = [work.weight(job) for job in jobs]
        total, done = sum(weights), 0.0
        if jobs:
            work.prepare()
        for index, (job, weight) in enumerate(zip(jobs, weights)):
            if stop_requested(stop):
                return
            stage = f"batch {index + 1}/{len(jobs)}"

            def report(event: Progress, stage=stage, done=done, weight=weight) -> None:
                if progress is not None:
                    progress(_job_event(event, stage, done, weight, total))
            result = work(job, report, stop)
            if result is None:
                return
            done += weight
            yield job, result


def make_executor(name: str, *, address: str | None = None, device: str = "auto", workers: int | None = None,
                  cpus_per_worker: int | None = None, retries: int = 3):
    """The executor called ``name`` (``local`` or ``ray``); the Ray options are refused for ``local``."""
    if name not in EXECUTORS:
        raise ReverieError(unknown_name_message("executor", name, EXECUTORS))
    if name == "local":
        given = [flag for flag, value in (("--address", address), ("--workers", workers),
                                          ("--cpus-per-worker", cpus_per_worker)) if value is not None]
        if given:
            raise ReverieError(f"{', '.join(given)} only mean something with --executor ray")
        return LocalExecutor()
    return RayExecutor(address=address, device=device, workers=workers, cpus_per_worker=cpus_per_worker,
                       retries=retries)


def _ray():
    try:
        import ray  # an optional extra: imported only when the Ray executor is chosen
    except ImportError:
        raise ReverieError(f"the ray executor needs Ray; {RAY_HINT}") from None
    return ray


class _Worker:
    """A Ray actor: holds the prepared work (the model) and runs jobs one at a time; answers ``status``
    while it runs one. The actor is threaded (IN_FLIGHT + 1 calls at a time) so that a status call is
    never queued behind the jobs; a lock keeps the jobs themselves one at a time (two renders sharing
    one model's hooks would spoil each other)."""

    def __init__(self, work: Work, threads: int | None):
        if threads is not None:
            torch.set_num_threads(threads)
        self.work = work
        self.work.prepare()
        self.lock = threading.Lock()
        self.state = (0.0, None)  # (fraction of the current job done, its id)

    def run(self, job_id: int, job: Any) -> Any:
        with self.lock:
            self.state = (0.0, job_id)

            def report(event: Progress) -> None:
                self.state = (event.fraction, job_id)
            return self.work(job, report, None)

    def status(self) -> tuple[float, int | None]:
        return self.state

    def pid(self) -> int:
        return os.getpid()


class RayExecutor:
    """Runs jobs on Ray actors: in a local Ray instance this process starts, or on the cluster at
    ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``). ``workers`` actors (default: one per GPU
    when the work uses GPUs, else one per ``cpus_per_worker`` cores, default 2); each dead worker is
    restarted and its job retried up to ``retries`` times."""

    name = "ray"

    def __init__(self, address: str | None = None, device: str = "auto", workers: int | None = None,
                 cpus_per_worker: int | None = None, retries: int = 3):
        if workers is not None and workers < 1:
            raise ReverieError(f"--workers must be at least 1, got {workers}")
        if cpus_per_worker is not None and cpus_per_worker < 1:
            raise ReverieError(f"--cpus-per-worker must be at least 1, got {cpus_per_worker}")
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise ReverieError(f"unknown device '{device}' for a Ray cluster (valid: auto, cpu, cuda)")
        self.address, self.device, self.workers = address, device, workers
        self.cpus_per_worker, self.retries = cpus_per_worker, retries
        self.ray = _ray()
        if address not in (None, "auto"):
            _check_reachable(address)  # at once: before anything is planned, read or written
        self._started = False
        self.actors: list[Any] = []

    # --- connecting ------------------------------------------------------------------------------

    def __enter__(self):
        ray = self.ray
        if ray.is_initialized():  # a Python caller's own Ray session: use it as it is
            return self
        try:
            if self.address is None:
                ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                         configure_logging=True)
            else:
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"at {self.address}" if self.address else "locally"
            raise ReverieError(f"cannot connect to Ray {where}: {_first_line(error)}") from None
        self._started = True
        return self

    def __exit__(self, *exc_info) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self._started:
            self.ray.shutdown()
            self._started = False

    def resources(self) -> dict[str, float]:
        return dict(self.ray.cluster_resources())

    def _shape(self) -> tuple[int, dict[str, float]]:
        """How many actors, and what each asks for; a ReverieError when the cluster cannot hold one."""
        available = self.resources()
        cpus, gpus = available.get("CPU", 0.0), available.get("GPU", 0.0)
        hidden = ("memory", "object_store_memory")
        shown = ", ".join(f"{value:g} {name}" for name, value in sorted(available.items())
                          if name not in hidden and not name.startswith(("node:", "accelerator_type:")))[:200]
        wants_gpu = self.device.startswith("cuda") or (self.device == "auto" and gpus >= 1)
        if wants_gpu:
            if gpus < 1:
                raise ReverieError(f"--device {self.device} needs a GPU but the Ray cluster has none "
                                   f"(resources: {shown}); use --device cpu")
            count = self.workers or int(gpus)
            need = {"num_gpus": 1, "num_cpus": self.cpus_per_worker or 1}
            if count > gpus:
                raise ReverieError(f"--workers {count} asks for {count} GPUs but the Ray cluster has {gpus:g}")
        else:
            per = self.cpus_per_worker or min(2, max(1, int(cpus)))
            if cpus < per:
                raise ReverieError(f"a worker needs {per} CPUs but the Ray cluster has {cpus:g} "
                                   f"(resources: {shown}); lower --cpus-per-worker")
            count = self.workers or max(1, int(cpus // per))
            if count * per > cpus:
                raise ReverieError(f"--workers {count} with {per} CPUs each needs {count * per} CPUs but the "
                                   f"Ray cluster has {cpus:g}")
            need = {"num_gpus": 0, "num_cpus": per}
        return count, need

    # --- running ---------------------------------------------------------------------------------

    def map(self, work: Work, jobs: Sequence[Any], progress: ProgressCallback | None = None,
            stop: StopSignal | None = None) -> Iterator[tuple[Any, Any]]:
        if not jobs:
            return
        ray = self.ray
        count, need = self._shape()
        count = min(count, len(jobs))
        actor_class = ray.remote(_Worker)
        threads = need["num_cpus"] if not need["num_gpus"] else None
        self.actors = [actor_class.options(max_restarts=self.retries, max_task_retries=self.retries,
                                           max_concurrency=IN_FLIGHT + 1, **need).remote(work, threads)
                       for _ in range(count)]
        weights = [work.weight(job) for job in jobs]
        total, done = sum(weights), 0.0
        waiting = list(range(len(jobs)))[::-1]           # job indices not yet sent, the next last
        running: dict[Any, tuple[int, Any]] = {}          # object ref -> (job index, actor)
        fractions: dict[int, float] = {}                  # job index -> last reported fraction
        finished = 0

        def send(actor) -> None:
            index = waiting.pop()
            running[actor.run.remote(index, jobs[index])] = (index, actor)

        for actor in self.actors:
            for _ in range(IN_FLIGHT):
                if waiting:
                    send(actor)
        while running:
            if stop_requested(stop):
                return
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                index, actor = running.pop(ref)
                result = self._result(ref, index)
                fractions.pop(index, None)
                done += weights[index]
                finished += 1
                if waiting:
                    send(actor)
                yield jobs[index], result
            self._poll(fractions)
            if progress is not None:
                partial = sum(fractions.get(i, 0.0) * weights[i] for i, _ in running.values())
                progress(Progress(f"{len(self.actors)} Ray workers, {finished}/{len(jobs)} batches", 0, 0,
                                  done + partial, total, float("nan")))

    def _result(self, ref, index: int) -> Any:
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, ReverieError):
                raise ReverieError(str(cause)) from None
            raise
        except ray.exceptions.RayActorError as error:
            raise ReverieError(f"a Ray worker died {self.retries + 1} times running batch {index + 1}; "
                               f"the finished batches are kept, run again to continue "
                               f"({_first_line(error)})") from None

    def _poll(self, fractions: dict[int, float]) -> None:
        """Each busy worker's progress through its current job (workers restarting are skipped)."""
        ray = self.ray
        refs = [actor.status.remote() for actor in self.actors]
        try:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_SECONDS)
        except ray.exceptions.RayError:
            return
        for ref in ready:
            try:
                fraction, index = ray.get(ref)
            except ray.exceptions.RayError:
                continue
            if index is not None:
                fractions[index] = fraction


def _check_reachable(address: str) -> None:
    """A one-line error, within seconds, for a cluster address nothing answers at (Ray itself would keep
    retrying for a minute)."""
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ReverieError(f"Ray address must be auto, HOST:PORT or ray://HOST:PORT, got '{address}'")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
            pass
    except OSError as error:
        raise ReverieError(f"cannot reach Ray at {address}: {error.strerror or error}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


class ModelWork:
    """Work that holds a model on one device: picklable before :meth:`prepare` (an executor ships it to a
    worker process, which prepares it once: the model is loaded there and held). Subclasses give
    ``weight(item)`` and ``__call__(item, progress, stop)``; after :meth:`prepare`, ``self.loaded`` is
    (model, device)."""

    def __init__(self, spec: ModelSpec, model: nn.Module | None = None, device: str = "auto"):
        self.spec, self.model, self.device = spec, model, device
        self.loaded: tuple[nn.Module, torch.device] | None = None

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "model": self.model, "device": self.device}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["spec"], state["model"], state["device"])

    def prepare(self) -> None:
        if self.loaded is None:
            self.loaded = model_on_device(self.spec, self.model, self.device)
