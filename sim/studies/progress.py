"""Progress bars of studies (tqdm.auto: a text bar on a terminal, a widget in a notebook).

A bar is drawn only when asked for and when someone can see it: stderr is a terminal, or the code
runs in a Jupyter kernel. Piped or redirected output (a CI log, `2> file`) gets none, as `sim sweep`'s
bar (sim.studies.sweep.Progress) decides. Bars go to stderr only: what a study writes to stdout and
to its files is the same with or without one.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from sim.studies.executor import map_tasks


class NoBar:
    """What `progress_bar` hands back when no bar is drawn: the same calls, doing nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *exc) -> None:
        pass


def in_notebook() -> bool:
    """Whether this runs inside a Jupyter kernel (IPython's ZMQ shell), where tqdm.auto draws a widget."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def wants_bar(enabled: bool = True, stream=None) -> bool:
    """Whether to draw a bar: asked for, and stderr (or `stream`) a terminal or a notebook's output."""
    stream = sys.stderr if stream is None else stream
    tty = hasattr(stream, "isatty") and stream.isatty()
    return bool(enabled) and (tty or in_notebook())


def progress_bar(total: int, description: str, unit: str = "run", enabled: bool = True, initial: int = 0, stream=None):
    """A tqdm.auto bar over `total` steps on stderr, or a NoBar when `wants_bar` says no.
    Use as a context manager, calling `.update()` per finished step."""
    if not wants_bar(enabled, stream):
        return NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=description, unit=unit, file=sys.stderr if stream is None else stream,
                dynamic_ncols=True, leave=True)


def map_ordered_with_progress(fn: Callable[[Any], Any], tasks: Sequence, workers: int = 1, dask: str | None = None,
                              description: str = "runs", progress: bool = False) -> list:
    """fn over the tasks on the studies' executor (sim.studies.executor.map_tasks), the results in
    the order of the tasks (whatever order they finish in), a bar stepping as each finishes."""
    tasks = list(tasks)
    results: dict[int, Any] = {}
    with progress_bar(len(tasks), description, enabled=progress) as bar:
        for index, result in map_tasks(fn, tasks, workers, dask):
            results[index] = result
            bar.update(1)
    return [results[i] for i in range(len(tasks))]
