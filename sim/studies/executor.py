"""The one executor of the studies: run a function over many tasks, serially, on a local process pool
or on a Dask cluster, and hand back each result with the index of its task.

Sweeps, the tornado study and topology comparison all map a pure, picklable function over a list of
tasks; only where the work runs differs. Results come back as they finish (a sweep streams each to
disk at once); `map_ordered` restores the input order for callers that need it. The shape (one
runner, flat records back) follows Desmod's and Mesa's `batch_run`.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from sim.config.errors import ScenarioError

MAX_CHUNK = 10  # tasks per Dask task at most


def map_tasks(fn: Callable[[Any], Any], tasks: Sequence, workers: int = 1,
              dask: str | None = None) -> Iterator[tuple[int, Any]]:
    """Yield (index of the task, fn(task)) for every task, in whatever order they finish.

    `dask`: None for no Dask (serial when `workers` <= 1, else a process pool of `workers`), "local"
    for a Dask LocalCluster of `workers` worker processes, or a scheduler address.
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


def _map_pool(fn, tasks: list, workers: int) -> Iterator[tuple[int, Any]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _map_dask(fn, tasks: list, workers: int, address: str) -> Iterator[tuple[int, Any]]:
    try:
        from distributed import as_completed
    except ImportError:  # pragma: no cover - the extra is not installed
        raise ScenarioError("--dask", address, "needs the dask extra: pip install -e '.[dask]'") from None
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
        return Client(address), None
    # tasks are pure CPU: the workers' statistical profiler (a stack sample every 10 ms) and
    # frequent system monitoring only take cycles from them on a small machine
    with dask.config.set({"distributed.worker.profile.enabled": False,
                          "distributed.admin.system-monitor.interval": "2s"}):
        cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
    return Client(cluster), cluster
