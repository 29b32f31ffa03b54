"""The one executor of the studies: run a function over many tasks, serially, on a local process pool
or on a Dask cluster, and hand back each result with the index of its task.

Sweeps, the tornado study and topology comparison all map a pure, picklable function over a list of
tasks; only where the work runs differs. Results come back as they finish (a sweep streams each to
disk at once); `map_ordered` restores the input order for callers that need it. The shape (one
runner, flat records back) follows Desmod's and Mesa's `batch_run`.

A task's error comes back to the caller whole (ScenarioError pickles with its file, key path and
problem); a study names the failed task in a `StudyError`. Pool workers die with the process that
started them (`die_with_parent`): killing a sweep leaves no workers behind.
"""
from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from typing import Any, Callable, Iterator, Sequence

from sim.config.errors import ScenarioError

MAX_CHUNK = 10  # tasks per Dask task at most
DASK_CONNECT_TIMEOUT_S = 5  # a scheduler that does not answer in this long is refused
WATCH_INTERVAL_S = 0.5  # how often a pool worker checks that its parent is alive (where prctl is missing)
PR_SET_PDEATHSIG = 1  # linux/prctl.h

# a scheduler address: local, tcp://HOST:PORT or HOST:PORT (HOST a name, an IPv4 address or [IPv6])
_ADDRESS = re.compile(r"^(?:tcp://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
                      r":(?P<port>\d{1,5})$")


class StudyError(Exception):
    """A task of a study failed for a reason other than bad input; the message names the task and
    says what went wrong, on one line (the command reports it as `error: MESSAGE`, exit status 1)."""


class WorkerDied(StudyError):
    """A pool worker process died (killed, or out of memory) while tasks were running."""


class OptionError(ScenarioError):
    """A bad command-line option: `--option: problem` on one line (exit status 2, like a bad scenario)."""

    def __init__(self, option: str, problem: str):
        super().__init__(option, "", problem)
        self.args = (f"{self.file}: {self.problem}",)


def map_tasks(fn: Callable[[Any], Any], tasks: Sequence, workers: int = 1,
              dask: str | None = None) -> Iterator[tuple[int, Any]]:
    """Yield (index of the task, fn(task)) for every task, in whatever order they finish.

    `dask`: None for no Dask (serial when `workers` <= 1, else a process pool of `workers`), "local"
    for a Dask LocalCluster of `workers` worker processes, or a scheduler address. A task's exception
    is raised here as itself; a pool whose worker died raises WorkerDied.
    """
    tasks = list(tasks)
    if not tasks:
        return
    if dask is not None:
        yield from _map_dask(fn, tasks, workers, dask)
    elif workers <= 1:
        for i, task in enumerate(tasks):
            yield i, fn(task)
    else:
        yield from _map_pool(fn, tasks, workers)


def map_ordered(fn: Callable[[Any], Any], tasks: Sequence, workers: int = 1, dask: str | None = None) -> list:
    """fn over the tasks, as `map_tasks` runs them, the results in the order of the tasks."""
    results: dict[int, Any] = dict(map_tasks(fn, tasks, workers, dask))
    return [results[i] for i in range(len(results))]


def run_chunk(fn: Callable[[Any], Any], tasks: list) -> list:
    """Several tasks in one (a Dask task), in order."""
    return [fn(task) for task in tasks]


# --- a local process pool -------------------------------------------------------------------------

def die_with_parent(parent: int) -> None:
    """A pool worker's initializer: the worker dies when `parent` (the process that started the pool)
    does, even by SIGKILL, instead of waiting forever for tasks that will never come.

    On Linux the kernel sends the worker SIGKILL when its parent exits (prctl PR_SET_PDEATHSIG);
    everywhere, a watchdog thread also ends the worker once its parent has changed or `parent` is gone.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watchdog alone
            pass
    ppid = os.getppid()
    if not _alive(parent):  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, ppid), name="die-with-parent", daemon=True).start()


def _watch(parent: int, ppid: int) -> None:
    while os.getppid() == ppid and _alive(parent):
        time.sleep(WATCH_INTERVAL_S)
    os._exit(1)


def _alive(pid: int) -> bool:
    """Whether process `pid` exists and has not exited (a zombie has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process: it exists
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):  # no /proc (not Linux): kill(pid, 0) said it exists
        return True


def _map_pool(fn, tasks: list, workers: int) -> Iterator[tuple[int, Any]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            try:
                result = future.result()
            except BrokenProcessPool:
                raise WorkerDied("a worker process died while running tasks (killed, or out of memory?)") from None
            yield futures[future], result
    finally:
        # on an error (or when the caller stops early) the tasks not yet started are dropped, and
        # only the few running ones are waited for
        pool.shutdown(wait=True, cancel_futures=True)


# --- Dask -----------------------------------------------------------------------------------------

def check_dask(address: str) -> None:
    """Refuse a --dask value that is neither `local` nor a scheduler address, or Dask not installed
    (OptionError), before anything runs or is written."""
    if address != "local" and not _valid_address(address):
        shown = " ".join(str(address).split()) or "(empty)"
        raise OptionError("--dask", f"not a scheduler address: {shown} (expected local, tcp://HOST:PORT or HOST:PORT)")
    try:
        import distributed  # noqa: F401
    except ImportError:  # pragma: no cover - the extra is not installed
        raise OptionError("--dask", "needs the dask extra: pip install -e '.[dask]'") from None


def _valid_address(address: str) -> bool:
    match = _ADDRESS.match(address)
    return bool(match) and 1 <= int(match["port"]) <= 65535


def probe_dask(address: str) -> None:
    """Connect to the scheduler at `address` and hang up; OptionError if it does not answer (a
    sweep checks this before writing anything). "local" needs no check."""
    check_dask(address)
    if address != "local":
        _connect(address).close()


def _connect(address: str):
    """A client of the scheduler at `address`, or OptionError after DASK_CONNECT_TIMEOUT_S."""
    from distributed import Client

    try:
        return Client(address, timeout=f"{DASK_CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if "Timed out" in reason:
            reason = f"no answer in {DASK_CONNECT_TIMEOUT_S} s"
        raise OptionError("--dask", f"cannot reach scheduler at {address} ({reason})") from None


def _map_dask(fn, tasks: list, workers: int, address: str) -> Iterator[tuple[int, Any]]:
    check_dask(address)
    from distributed import as_completed

    client, cluster = _dask_client(workers, address)
    try:
        # a few tasks per Dask task: Dask's per-task overhead (scheduler round trips, on the same
        # cores as the workers) then stays small; each finished chunk is handed back at once
        size = max(1, min(MAX_CHUNK, len(tasks) // (4 * max(workers, 1))))
        starts = range(0, len(tasks), size)
        futures = {client.submit(run_chunk, fn, tasks[s:s + size], pure=False): s for s in starts}
        for future in as_completed(futures):
            start = futures[future]
            for offset, result in enumerate(future.result()):
                yield start + offset, result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_client(workers: int, address: str):
    """A client of a new LocalCluster ("local"; the cluster returned to be closed) or of a scheduler."""
    import dask
    from distributed import Client, LocalCluster

    if address != "local":
        return _connect(address), None
    # tasks are pure CPU: the workers' statistical profiler (a stack sample every 10 ms) and
    # frequent system monitoring only take cycles from them on a small machine
    with dask.config.set({"distributed.worker.profile.enabled": False,
                          "distributed.admin.system-monitor.interval": "2s"}):
        cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
    return Client(cluster), cluster
