"""The installed package's version, read without importing the simulator (`sim --version` stays fast)."""
from __future__ import annotations

DISTRIBUTION = "sim-buildout"


def package_version() -> str:
    """The version of the installed `sim-buildout` distribution, or "0+unknown" from a bare source tree."""
    from importlib import metadata  # ~20 ms to import: only when a version is asked for

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"
