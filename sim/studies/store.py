"""A sweep's folder on disk: its manifest, one file per finished replication, and resume.

    OUT/sweep.json                               the SweepSpec, so that `resume` continues the same sweep
    OUT/replications/cellCCC_repIIIIII.json      one finished replication (written whole, then renamed)

A replication's file exists only once it is complete, so what is pending after an interruption is
exactly what has no file; the half-written temporary files an interrupted run leaves are cleared on
resume. Records are read back in (cell, index) order, whatever order they finished in.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from sim.config.errors import ScenarioError
from sim.outputs.tables import write_files

if TYPE_CHECKING:  # pragma: no cover
    from sim.studies.sweep import SweepSpec

MANIFEST = "sweep.json"


def replication_path(out: Path, cell: int, index: int) -> Path:
    return out / "replications" / f"cell{cell:03d}_rep{index:06d}.json"


def _all(spec: SweepSpec) -> list[tuple[int, int]]:
    return [(c, i) for c in range(len(spec.cells())) for i in range(spec.n)]


def pending(spec: SweepSpec, out: Path) -> list[tuple[int, int]]:
    """(cell, replication) pairs without a finished file."""
    return [(c, i) for c, i in _all(spec) if not replication_path(out, c, i).exists()]


def open_sweep(spec: SweepSpec, out: Path, resume: bool) -> None:
    """Start a sweep in `out` (write its manifest), or check that `resume` continues the one there.

    Without `resume`, an existing sweep is refused; with it, the manifest must match `spec`.
    """
    manifest = out / MANIFEST
    if not manifest.exists():
        write_files(out, {MANIFEST: spec.to_json()})
        return
    if not resume:
        raise ScenarioError(str(out), "(sweep)", "a sweep is already here: pass --resume to finish it, or choose another --out")
    if manifest.read_text() != spec.to_json():
        raise ScenarioError(str(manifest), "(sweep)", "--resume must repeat the sweep's scenario, -n, --seed, --set and --grid")
    clear_strays(out)


def clear_strays(out: Path) -> None:
    """Delete the temporary files of replications half-written by an interrupted run."""
    for stray in (out / "replications").glob(".*.tmp"):
        stray.unlink()


def save_replication(out: Path, record: dict) -> None:
    """Stream one finished replication to disk, whole or not at all."""
    path = replication_path(out, record["cell"], record["replication"])
    write_files(path.parent, {path.name: json.dumps(record, sort_keys=True) + "\n"})


def load_replications(spec: SweepSpec, out: Path) -> list[dict]:
    """Every finished replication, in (cell, index) order."""
    return [json.loads(replication_path(out, c, i).read_text())
            for c, i in _all(spec) if replication_path(out, c, i).exists()]
