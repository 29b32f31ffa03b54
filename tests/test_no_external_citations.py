"""The project stands on its own: no file points at notes that do not ship with it.

Citations name the published source (docs/sources.md) instead. The needles are built from pieces
so that this file does not match itself.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEEDLES = (
    "shared" + "/reference",
    "../" + "shared",
    "DESIGN" + ".md",
    "DEVELOPERS" + ".md",
)
SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".hypothesis", "build", "dist", "results", "venv", ".venv"}


def _project_files() -> list[Path]:
    """Files in the repository: tracked and not ignored (git), else a walk of the tree."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True, timeout=60,
        ).stdout
        files = [ROOT / name for name in out.decode("utf-8", "replace").split("\0") if name]
        if files:
            return [f for f in files if f.is_file()]
    except (OSError, subprocess.SubprocessError):
        pass
    found = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found.extend(Path(folder) / n for n in names)
    return found


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def test_no_file_cites_material_outside_the_project():
    hits = []
    for path in _project_files():
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for needle in NEEDLES:
                if needle in line:
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {needle}")
    assert not hits, "citations of files that do not ship with the project:\n" + "\n".join(hits)
