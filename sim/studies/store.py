"""A sweep's folder on disk: its manifest, one file per finished replication, and resume.

    OUT/sweep.json                               the SweepSpec and a digest of the scenario it ran, so
                                                 that `resume` continues the same sweep
    OUT/replications/cellCCC_repIIIIII.json      one finished replication (written whole, then renamed)

A replication's file exists only once it is complete, so what is pending after an interruption is
exactly what has no sound file: the half-written temporary files an interrupted run leaves are
cleared on resume, and a replication file that is damaged (empty, cut short, not the replication its
name says) is deleted and run again. Records are read back in (cell, index) order, whatever order
they finished in.

Everything that could refuse a sweep (`check_out`) is checked before anything is written; a sweep
that fails before any replication finished removes what it wrote (`Started.undo`).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sim.config.errors import ScenarioError
from sim.outputs.files import write_files
from sim.version import package_version

if TYPE_CHECKING:  # pragma: no cover
    from sim.studies.sweep import SweepSpec

MANIFEST = "sweep.json"
REPLICATIONS = "replications"
DIGEST_KEY = "scenario_sha256"
# what a replication record holds, and the type of each (see sim.studies.sweep.summarise)
RECORD_KEYS = {"cell": int, "replication": int, "seed": int, "inputs": dict, "largest_run_flop": (int, float),
               "first_end_at_or_above": dict, "bands": dict}
# the option that sets each field of the SweepSpec, for saying what a resume changed
SPEC_OPTIONS = {"scenario": "the scenario file", "n": "-n", "root_seed": "--seed", "overrides": "--set",
                "grid": "--grid", "thresholds_flop": "--threshold"}


def replication_path(out: Path, cell: int, index: int) -> Path:
    return out / REPLICATIONS / f"cell{cell:03d}_rep{index:06d}.json"


def _all(spec: SweepSpec) -> list[tuple[int, int]]:
    return [(c, i) for c in range(len(spec.cells())) for i in range(spec.n)]


def manifest_text(spec: SweepSpec, digest: str) -> str:
    """sweep.json: the spec, the digest of the resolved scenario and the sim version that ran it (the
    report shows it; `--resume` compares only the spec and the digest)."""
    return json.dumps({**json.loads(spec.to_json()), DIGEST_KEY: digest, "version": package_version()}, indent=2,
                      sort_keys=True) + "\n"


# --- before anything is written -------------------------------------------------------------------

def check_out(spec: SweepSpec, out: Path, resume: bool, digest: str) -> bool:
    """Refuse (ScenarioError) an output folder this sweep cannot use, writing nothing: a file, a
    folder that cannot be created or written, a sweep already there (without `resume`), or (with
    `resume`) a different sweep, one whose scenario changed, or a damaged sweep.json.

    Returns whether a sweep is already there to continue.
    """
    if out.exists() and not out.is_dir():
        raise ScenarioError(str(out), "(sweep)", "is a file, not a folder; choose another --out")
    existing = _existing_ancestor(out)
    if not existing.is_dir():
        raise ScenarioError(str(out), "(sweep)", f"cannot create this folder: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ScenarioError(str(out), "(sweep)", f"cannot write here: {existing} is not writable")
    manifest = out / MANIFEST
    reps = out / REPLICATIONS
    if manifest.is_symlink() or manifest.is_dir():
        raise ScenarioError(str(manifest), "(sweep)", "is not a file written by sim sweep; choose another --out")
    if reps.exists() and not reps.is_dir():
        raise ScenarioError(str(reps), "(sweep)", "is a file, not the replications folder; choose another --out")
    if not manifest.exists():
        if reps.is_dir() and any(reps.glob("*.json")):
            raise ScenarioError(str(out), "(sweep)", f"replication files but no {MANIFEST}: the sweep they belong to "
                                                     "is unknown; choose another --out")
        return False
    if not resume:
        raise ScenarioError(str(out), "(sweep)",
                            "a sweep is already here: pass --resume to finish it, or choose another --out")
    recorded = _read_manifest(manifest)
    mine = json.loads(spec.to_json())
    changed = [key for key in mine if recorded.get(key) != mine[key]]
    if changed:
        key = changed[0]
        values = (f": {recorded.get(key)} there, {mine[key]} here" if key in ("n", "root_seed")
                  and isinstance(recorded.get(key), int) else "")
        raise ScenarioError(str(manifest), "(sweep)",
                            f"--resume must repeat the sweep's scenario, -n, --seed, --set, --grid and --threshold "
                            f"({SPEC_OPTIONS.get(key, key)} differs from the one in {MANIFEST}{values})")
    if DIGEST_KEY not in recorded:
        raise ScenarioError(str(manifest), "(sweep)",
                            "records no digest of the scenario (an older sim wrote it), so a resume could mix "
                            "two scenarios; start a new sweep in another --out")
    if recorded[DIGEST_KEY] != digest:
        raise ScenarioError(str(manifest), "(sweep)",
                            "the scenario changed since the sweep started (its content, after extends and --set, "
                            "is not the one recorded); start a new sweep in another --out")
    return True


def recorded_thresholds(out: Path) -> tuple[float, ...] | None:
    """The FLOP thresholds the sweep in `out` records (so that `--resume` without --threshold uses
    them), or None when there is no readable sweep.json (check_out then says what is wrong)."""
    try:
        recorded = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    values = recorded.get("thresholds_flop") if isinstance(recorded, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return tuple(float(v) for v in values)


def _existing_ancestor(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (what creating `path` would write into)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _read_manifest(manifest: Path) -> dict:
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = "empty" if isinstance(exc, ValueError) and not manifest.read_bytes().strip() else "not readable JSON"
        raise ScenarioError(str(manifest), "(sweep)", f"is damaged ({why}); the sweep cannot be resumed: "
                                                      "start a new one in another --out") from None
    if not isinstance(recorded, dict):
        raise ScenarioError(str(manifest), "(sweep)", "is damaged (not a JSON object); the sweep cannot be resumed: "
                                                      "start a new one in another --out")
    return recorded


# --- starting, and undoing a start ----------------------------------------------------------------

@dataclass
class Started:
    """What `open_sweep` wrote, so that a sweep failing before any replication finished can remove it."""

    out: Path
    created: list[Path] = field(default_factory=list)  # folders and files this sweep made

    def undo(self) -> None:
        """Remove what this sweep wrote (called only while no replication of it has finished)."""
        for path in reversed(self.created):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def open_sweep(spec: SweepSpec, out: Path, resume: bool, digest: str) -> Started:
    """Start a sweep in `out` (write its manifest), or check that `resume` continues the one there.

    `digest` is the hash of the sweep's resolved scenario (sweep.scenario_digest). Refuses
    (ScenarioError, nothing written) whatever `check_out` refuses. Returns what it wrote.
    """
    started = Started(out)
    there = check_out(spec, out, resume, digest)
    if resume and out.is_dir():
        clear_strays(out)
    if there:
        return started
    out_abs = Path(os.path.abspath(out))
    top = _existing_ancestor(out_abs)
    if top != out_abs:  # the folders made for `out`: removing the topmost removes them all
        started.created.append(top / out_abs.relative_to(top).parts[0])
    else:
        started.created.append(out / MANIFEST)
        if not (out / REPLICATIONS).exists():
            started.created.append(out / REPLICATIONS)
    write_files(out, {MANIFEST: manifest_text(spec, digest)})
    return started


def clear_strays(out: Path) -> None:
    """Delete the temporary files of replications half-written by an interrupted run."""
    for folder in (out, out / REPLICATIONS):
        for stray in folder.glob(".*.tmp"):
            stray.unlink(missing_ok=True)


# --- replication files ----------------------------------------------------------------------------

def save_replication(out: Path, record: dict) -> None:
    """Stream one finished replication to disk, whole or not at all."""
    path = replication_path(out, record["cell"], record["replication"])
    write_files(path.parent, {path.name: json.dumps(record, sort_keys=True) + "\n"})


def read_replication(out: Path, cell: int, index: int, seed: int | None = None) -> dict | None:
    """Replication (cell, index)'s record, or None when its file is missing or damaged: unreadable,
    not JSON, keys missing or of the wrong type, another replication's (cell, index or `seed`)."""
    path = replication_path(out, cell, index)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    for key, kind in RECORD_KEYS.items():
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            return None
    if (record["cell"], record["replication"]) != (cell, index) or (seed is not None and record["seed"] != seed):
        return None
    number = (int, float)
    sound = (all(isinstance(v, number) for v in record["inputs"].values())
             and all(v is None or isinstance(v, str) for v in record["first_end_at_or_above"].values())
             and all(isinstance(series, dict) and all(isinstance(v, number) for v in series.values())
                     for series in record["bands"].values())
             and isinstance(record.get("disruptions", []), list))
    return record if sound else None


def pending(spec: SweepSpec, out: Path) -> list[tuple[int, int]]:
    """(cell, replication) pairs without a sound finished file; damaged files are deleted (they are
    run again)."""
    from sim.world.streams import replication_seeds

    todo = []
    seeds: dict[int, int] = {}
    for c, i in _all(spec):
        path = replication_path(out, c, i)
        if not path.exists() and not path.is_symlink():
            todo.append((c, i))
            continue
        if i not in seeds:
            seeds[i] = replication_seeds(spec.root_seed, i)[1]
        if read_replication(out, c, i, seeds[i]) is None:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            todo.append((c, i))
    return todo


def load_replications(spec: SweepSpec, out: Path) -> list[dict]:
    """Every finished replication, in (cell, index) order (a damaged file is refused, naming it)."""
    records = []
    for c, i in _all(spec):
        path = replication_path(out, c, i)
        if not path.exists():
            continue
        record = read_replication(out, c, i)
        if record is None:
            raise ScenarioError(str(path), "(sweep)", "is damaged; run the sweep again with --resume to redo it")
        records.append(record)
    return records
