"""Scenario errors: one line naming the file, the key path and what is wrong.

Pydantic reports problems with its own locations (union branch names, `[key]`, dates as reprs)
and wording; `from_pydantic` turns them into the user's key path and plain words.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:  # pragma: no cover - only for the annotation; pydantic loads with the schema
    import pydantic

_MISSING = object()


class ScenarioError(ValueError):
    """A scenario or its overrides are wrong: `file: key.path: problem`, on one line."""

    def __init__(self, file: str, key_path: str, problem: str):
        self.file, self.key_path, self.problem = str(file), key_path, " ".join(str(problem).split())
        super().__init__(f"{self.file}: {self.key_path}: {self.problem}")


def format_path(loc: Iterable) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts) if parts else "(top)"


def from_pydantic(exc: pydantic.ValidationError, source_of: Callable[[tuple], str]) -> ScenarioError:
    """The first validation error as a ScenarioError; `source_of` names the file that wrote a key path."""
    err = _pick_union_branch(exc.errors(include_url=False))
    loc = tuple(_loc_part(p) for p in err["loc"] if not _is_union_tag(p))
    is_key = bool(loc) and loc[-1] == "[key]"  # the mapping key itself is wrong, not its value
    loc = loc[:-1] if is_key else loc
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ").removeprefix("Input ")
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "required key is missing"
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        msg = "should be a mapping of keys to values"
    elif kind == "list_type":
        msg = "should be a list"
    elif kind == "string_type":
        msg = "should be text" if not is_key else "this name should be text; put it in quotes"
    elif kind.startswith("date_"):
        quoted = isinstance(err.get("input"), str) and re.match(r"^\d{4}-\d\d-\d\d$", err["input"])
        msg = "should be a date written YYYY-MM-DD" + (", without quotes" if quoted else "")
    elif kind == "too_short" and err.get("ctx", {}).get("min_length") == 1:
        msg = "must not be empty"
    elif is_key:
        msg = f"key {msg}"
    if "input" in err and kind not in ("value_error", "missing", "extra_forbidden", "too_short"):
        msg = f"{msg} (got {_show(err['input'])})"
    return ScenarioError(source_of(loc), format_path(loc), msg)


def _pick_union_branch(errors: list[dict]) -> dict:
    """The first error, or for a value that fits no branch of a union (a number or a ramp), the error
    of the branch the user meant: a mapping was meant as the ramp, a number as the number."""
    err = errors[0]
    at = next((i for i, p in enumerate(err["loc"]) if _is_union_tag(p)), None)
    if at is None:
        return err
    prefix = err["loc"][:at]
    branches = [e for e in errors if e["loc"][:at] == prefix and len(e["loc"]) > at and _is_union_tag(e["loc"][at])]
    value = next((e["input"] for e in branches if len(e["loc"]) == at + 1 and "input" in e), _MISSING)
    if value is _MISSING:
        return err
    if isinstance(value, dict):
        meant = [e for e in branches if not _is_scalar_tag(e["loc"][at])]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        meant = [e for e in branches if _is_scalar_tag(e["loc"][at])]
    else:
        kinds = []
        for e in branches:
            tag = e["loc"][at]
            name = "a number" if _is_scalar_tag(tag) else (
                "a ramp {points: {date: value, ...}}" if "RampSpec" in tag else f"a {tag}")
            if name not in kinds:
                kinds.append(name)
        return {"type": "union", "loc": prefix, "msg": f"should be {' or '.join(kinds)}", "input": value}
    return meant[0] if meant else err


def _is_union_tag(part: Any) -> bool:
    """Pydantic names union branches in locations (e.g. 'constrained-float', 'function-after[...,
    RampSpec]'); drop them from key paths. ('date' is not among them: it is MixPoint's key.)"""
    return isinstance(part, str) and (
        part in ("float", "int", "str", "bool", "RampSpec")
        or part.startswith(("function-", "constrained-"))
    )


def _is_scalar_tag(tag: str) -> bool:
    return tag in ("float", "int", "str", "bool") or tag.startswith("constrained-")


_DATE_REPR = re.compile(r"^datetime\.date\((\d+), (\d+), (\d+)\)$")


def _loc_part(part: Any) -> Any:
    """Pydantic writes a date used as a key as 'datetime.date(2025, 1, 1)'; give it back as the date."""
    match = _DATE_REPR.match(part) if isinstance(part, str) else None
    return dt.date(*map(int, match.groups())) if match else part


def _show(value: Any, width: int = 60) -> str:
    """A value as the user wrote it, cut short if long."""
    text = value.isoformat() if isinstance(value, dt.date) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
