"""Scenario errors: one line naming the file, the key path and what is wrong.

Pydantic reports problems with its own locations (union branch names, `[key]`, dates as reprs)
and wording; `from_pydantic` turns them into the user's key path and plain words.
"""
from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sim.config.limits import FIRST_DATE, LAST_DATE

if TYPE_CHECKING:  # pragma: no cover - only for the annotation; pydantic loads with the schema
    import pydantic

_MISSING = object()


class ScenarioError(ValueError):
    """A scenario or its overrides are wrong: `file: key.path: problem`, on one line."""

    def __init__(self, file: str, key_path: str, problem: str):
        self.file, self.key_path, self.problem = str(file), key_path, " ".join(str(problem).split())
        super().__init__(f"{self.file}: {self.key_path}: {self.problem}")

    def __reduce__(self):
        """Pickled whole (a pool worker's error comes back to the parent as itself), subclasses with
        other constructor arguments too: rebuilt from its class, attributes and message."""
        return (_rebuild_error, (type(self), self.args, self.__dict__))


def _rebuild_error(cls: type, args: tuple, state: dict) -> ScenarioError:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


def format_path(loc: Iterable) -> str:
    parts = [_key_text(p) for p in loc]
    return ".".join(parts) if parts else "(top)"


def _key_text(part: Any) -> str:
    """A key path part as YAML writes it: dates ISO, null, true/false."""
    if part is None:
        return "null"
    if isinstance(part, bool):
        return "true" if part else "false"
    if isinstance(part, dt.date):
        return part.isoformat() if not isinstance(part, dt.datetime) else str(part)
    return str(part)


def from_pydantic(exc: pydantic.ValidationError, source_of: Callable[[tuple], str],
                  model: Any = None) -> ScenarioError:
    """The first validation error as a ScenarioError; `source_of` names the file that wrote a key path.
    With the `model` validated against, an unknown key gets the closest allowed keys suggested."""
    err = _pick_union_branch(exc.errors(include_url=False))
    loc = tuple(_loc_part(p) for p in err["loc"] if not _is_union_tag(p))
    is_key = bool(loc) and loc[-1] == "[key]"  # the mapping key itself is wrong, not its value
    loc = loc[:-1] if is_key else loc
    kind, msg = err["type"], err["msg"].removeprefix("Value error, ").removeprefix("Input ")
    if kind == "extra_forbidden":
        msg = "unknown key"
        if model is not None and loc:
            msg += did_you_mean(loc[-1], keys_allowed_at(model, loc[:-1]))
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
    elif kind in _BOUNDS and isinstance(err.get("input"), dt.date):
        msg = f"should be a date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"
    elif kind in _BOUNDS and isinstance(err.get("ctx", {}).get(_BOUNDS[kind][0]), (int, float)):
        key, words = _BOUNDS[kind]
        msg = f"should be {words} {show_number(err['ctx'][key])}"
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


_BOUNDS = {  # pydantic's bound errors: the ctx key and the words (pydantic's own, numbers written plainly)
    "greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "greater than or equal to"),
    "less_than": ("lt", "less than"), "less_than_equal": ("le", "less than or equal to"),
}


def show_number(x: Any) -> str:
    """A number as a person writes it: 31, 0.5, 36525, 1e15 (no 1000000000000000.0)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return show(x)
    if isinstance(x, int) and x.bit_length() > 64:
        # about its number of digits: Python refuses to write a whole number of over 4,300 digits as text
        return f"a number of about {int(x.bit_length() * 0.30103) + 1:,} digits"
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # inf, nan
    if x == int(x) and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.12g}".replace("e+", "e").replace("e0", "e").replace("e-0", "e-")


_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ ./+-]*$")


def show(value: Any, width: int = 60) -> str:
    """A value as the user wrote it (YAML terms), cut short if long: dates as 2024-01-01, a mapping
    as {a: 1}, a list as [1, 2], text in single quotes, null, True/False; never a Python repr."""
    parts: list[str] = []
    _render(value, parts, width + 1, top=True)
    text = "".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def _render(value: Any, out: list[str], budget: int, top: bool = False) -> None:
    """Append `value`'s text to `out`, stopping once `budget` characters are written."""
    if sum(map(len, out)) > budget:
        return
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("True" if value else "False")  # YAML reads True as true (and Python users write it)
    elif isinstance(value, dt.datetime):
        out.append(str(value))
    elif isinstance(value, dt.date):
        out.append(value.isoformat())
    elif isinstance(value, int):
        out.append(str(value) if value.bit_length() <= 64 else show_number(value))
    elif isinstance(value, float):
        out.append(_float_text(value))
    elif isinstance(value, str):
        text = " ".join(value.split()) if value.strip() else value
        out.append(f"'{text}'" if top or not _PLAIN.match(text) else text)
    elif isinstance(value, (bytes, bytearray)):
        out.append(f"binary data ({len(value):,} bytes)")
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(", ")
            _render(key, out, budget)
            out.append(": ")
            _render(item, out, budget)
            if sum(map(len, out)) > budget:
                break
        out.append("}")
    elif isinstance(value, (list, tuple, set, frozenset)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            _render(item, out, budget)
            if sum(map(len, out)) > budget:
                break
        out.append("]")
    else:
        out.append(f"a {type(value).__name__}")


def _float_text(x: float) -> str:
    """A float as written: 0.375, 1e-6, 1e9 (not 1000000000.0), 2.5e16, inf."""
    text = repr(x)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa.removesuffix('.0')}e{int(exponent)}"
    if text.endswith(".0"):
        digits = text[:-2].lstrip("-")
        zeros = len(digits) - len(digits.rstrip("0"))
        if zeros >= 6:
            m = digits.rstrip("0")
            sign = "-" if x < 0 else ""
            return f"{sign}{m[0]}{'.' + m[1:] if len(m) > 1 else ''}e{zeros + len(m) - 1}"
    return text


_show = show  # the name used before


def known_names(names) -> str:
    """'(known: a, b)' for an error message naming an unknown choice, or '(none defined)'."""
    return f"(known: {', '.join(sorted(names))})" if names else "(none defined)"


def did_you_mean(word: Any, choices: Iterable[Any], cutoff: float = 0.6) -> str:
    """' (did you mean a or b?)' naming the choices closest to a misspelt word, or '' when none is close
    (difflib's similarity of at least `cutoff`)."""
    close = difflib.get_close_matches(str(word), sorted({str(c) for c in choices}), n=3, cutoff=cutoff)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def keys_allowed_at(model: Any, loc: Iterable) -> set[str]:
    """The keys a pydantic model allows in the mapping at key path `loc` (the parent of an unknown
    key), following fields, mappings' values, list items and optional or union branches; empty when
    the path leads to no model."""
    import typing

    from pydantic import BaseModel

    def models_in(annotation: Any) -> list:
        """The models an annotation may hold at this level (Annotated, Optional and unions unwrapped)."""
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            return models_in(typing.get_args(annotation)[0])
        if origin is typing.Union or type(annotation).__name__ == "UnionType":
            return [m for arg in typing.get_args(annotation) for m in models_in(arg)]
        return [annotation]

    level = models_in(model)
    for part in loc:
        following = []
        for node in level:
            if isinstance(node, type) and issubclass(node, BaseModel):
                field = node.model_fields.get(str(part))
                if field is not None:
                    following += models_in(field.annotation)
            elif typing.get_origin(node) in (dict, list):
                following += models_in(typing.get_args(node)[-1])
        level = following
    models = [node for node in level if isinstance(node, type) and issubclass(node, BaseModel)]
    return {key for node in models for key in node.model_fields}
