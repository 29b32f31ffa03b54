"""Benchmark: sweep replications per second on 1 and 2 workers, the parallel efficiency, and the
overhead of a Dask LocalCluster against the local process pool.

    python benchmarks/bench_sweep.py [-n 40] [--dask-n 200]      # the issue's figure: --dask-n 1000

Prints its figures; asserts nothing. Every sweep writes to a fresh temporary folder.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.studies.sweep import SweepSpec, run_sweep


def timed_sweep(n: int, workers: int, dask: str | None = None, seed: int = 0) -> float:
    """Wall seconds for a whole sweep of the baseline (start-up included)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_sweep(SweepSpec(scenario=None, n=n, root_seed=seed), Path(tmp) / "out", workers=workers,
                  dask=dask, progress=False)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="replications for the 1- and 2-worker rates")
    parser.add_argument("--dask-n", type=int, default=200, help="replications for the Dask overhead (issue: 1000)")
    args = parser.parse_args()

    one = timed_sweep(args.n, 1)
    two = timed_sweep(args.n, 2)
    print(f"{args.n} replications, 1 worker:  {one:7.1f} s  {args.n / one:6.2f} replications/s")
    print(f"{args.n} replications, 2 workers: {two:7.1f} s  {args.n / two:6.2f} replications/s")
    print(f"parallel efficiency on 2 workers: {one / (2 * two):.0%}")

    pool = timed_sweep(args.dask_n, 2)
    try:
        dask = timed_sweep(args.dask_n, 2, dask="local")
    except Exception as exc:  # noqa: BLE001 - the optional extra may be missing
        print(f"dask: skipped ({exc})")
        return
    print(f"{args.dask_n} replications, process pool (2): {pool:7.1f} s")
    print(f"{args.dask_n} replications, Dask LocalCluster (2): {dask:7.1f} s")
    print(f"Dask overhead against the pool: {dask / pool - 1:+.1%}")
    print(f"projected 1,000 replications on 2 workers: {1000 * pool / args.dask_n / 60:.1f} min")


if __name__ == "__main__":
    main()
