"""Writing output files whole or not at all.

Every file is rendered in memory first, written under a temporary name in the output folder, then
renamed into place (os.replace is atomic on POSIX), so a reader never sees half a file and a failed
run leaves nothing behind.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_files(out_dir: Path, contents: dict[str, str]) -> list[Path]:
    """Write each file to a temporary name in `out_dir`, then rename them all into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    mode = 0o666 & ~_umask()
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in contents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            staged.append((name, Path(tmp)))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            os.chmod(tmp, mode)
        final = []
        for name, tmp in staged:
            os.replace(tmp, out_dir / name)
            final.append(out_dir / name)
        return final
    finally:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
