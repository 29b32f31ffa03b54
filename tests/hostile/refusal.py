"""The contract every hostile-input case checks, through the real `sim` command in a subprocess.

A refused input gives exit status 2, exactly one line on stderr, `error: WHERE: what is wrong` (WHERE
is a file and key path, or an option such as `--workers`), in the user's terms (no Python reprs), no
traceback, nothing on stdout, and nothing written. A hang is a failure too: each command has a
timeout (a guard, not a timing assertion).

Each test module in tests/hostile/ lists its cases in a module-level CASES list of Case records, one
per bad input; tests/hostile/test_corpus.py counts them by category.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CATEGORIES = ("yaml", "dates_magnitudes", "messages", "paths", "arguments", "sweeps", "outputs")

# Python internals that must never reach the user
REPRS = ("Traceback", "datetime.date(", "datetime.datetime(", "<class ", "object at 0x", "{'", "Error(", "\\n")


@dataclass(frozen=True)
class Case:
    """One hostile input: its category, an id, and what the refusal must say."""

    category: str
    name: str
    says: tuple[str, ...] = ()  # fragments the error line must contain

    def __post_init__(self) -> None:
        assert self.category in CATEGORIES, self.category


def run_sim(*args: str, cwd: Path | None = None, timeout: float = 120, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m sim ARGS` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, input=stdin, env={**os.environ, **(env or {})})


def assert_refused(proc: subprocess.CompletedProcess, *says: str, untouched: tuple[Path, ...] = ()) -> str:
    """The refusal contract; returns the error line. `untouched`: paths that must not exist or be
    empty folders afterwards (nothing written)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and proc.stderr == lines[0] + "\n", f"want one stderr line, got:\n{proc.stderr[-2000:]}"
    line = lines[0]
    assert line.startswith("error: "), line
    for internal in REPRS:
        assert internal not in line, f"{internal!r} in {line!r}"
    for fragment in says:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert proc.stdout == "", proc.stdout[-2000:]
    for path in untouched:
        assert not path.exists() or (path.is_dir() and not any(path.iterdir())), f"{path} was written"
    return line
