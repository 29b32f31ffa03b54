"""Reading YAML for scenarios and topologies: numbers like 2e15, no duplicate keys, one-line errors.

Every file is read safely and within bounds, so no file, however hostile, can hang the loader, run it
out of memory or crash it with a traceback:

- only a regular file of at most MAX_FILE_BYTES is read (the limits and their reasons:
  sim/config/limits.py): a device (/dev/zero), a FIFO, a socket, a
  folder or a symlink loop is refused after `os.stat`, before anything is opened, and the file is
  opened non-blocking, so a FIFO swapped in meanwhile cannot block the read;
- SafeLoader's constructors only (no object tags, ever), on a composer that counts: a document of
  more than MAX_NODES nodes once aliases are expanded (the "billion laughs" alias bomb), nested
  deeper than MAX_DEPTH, or whose alias refers to the collection it is inside (a recursive structure)
  is refused while it is being read, before it is built;
- YAML 1.1 merge keys (`<<: *defaults`) work: the anchored mapping's keys, overridden by the
  mapping's own keys (the first of several merged mappings wins, as the spec says);
- a number of more than MAX_NUMBER_CHARS characters, and a date that is not on the calendar
  (2024-02-30, hour 25), are refused with their key path.

libyaml (PyYAML's C scanner and parser) reads the events when it is installed, as it is with PyYAML's
wheels; the pure-Python parser otherwise. Composition and construction are Python either way.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.error import MarkedYAMLError
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from sim.config.errors import ScenarioError, format_path, show
from sim.config.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, MAX_NUMBER_CHARS

try:  # PyYAML's C parser (libyaml): the same events, scanned and parsed in C (the whole load ~2.5x faster)
    from yaml.cyaml import CParser as _EventParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _EventParser = None


class YamlLimitError(MarkedYAMLError):
    """A document past one of the limits of sim/config/limits.py (not malformed YAML, just too much)."""

    def __init__(self, problem: str, mark) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class YamlValueError(MarkedYAMLError):
    """A well-formed scalar whose value cannot be: 2024-02-30, a number of 5,000 digits."""

    def __init__(self, problem: str, mark) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _CountingComposer(Composer):
    """PyYAML's composer, counting nodes (aliases expanded) and nesting as it goes.

    An alias counts as the whole of what it names, so an alias bomb (each level a list of ten aliases
    to the level below) is refused after a few levels, in microseconds, however far it would expand.
    """

    def __init__(self) -> None:
        super().__init__()
        self._reset()

    def _reset(self) -> None:
        self._nodes = 0  # nodes so far, aliases expanded
        self._depth = 0  # lists and mappings open around the node being composed
        self._reach = 0  # the deepest level reached inside the collection being composed
        self._size: dict[str, tuple[int, int]] = {}  # anchor: (nodes, levels) of what it names
        self._open: set[str] = set()  # anchors of collections still being composed

    def compose_document(self):
        self._reset()
        return super().compose_document()

    def compose_node(self, parent, index):
        event = self.peek_event()
        anchor = event.anchor
        if isinstance(event, AliasEvent):
            if anchor in self._open:
                raise YamlLimitError(f"alias *{anchor} is inside the collection it names (a recursive structure)",
                                     event.start_mark)
            node = super().compose_node(parent, index)  # refuses an undefined alias
            count, levels = self._size[anchor]
            self._count(count, event.start_mark)
            if self._depth + levels > MAX_DEPTH:
                raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep (with *{anchor} expanded)",
                                     event.start_mark)
            self._reach = max(self._reach, self._depth + levels)
            return node
        before = self._nodes
        self._count(1, event.start_mark)
        if not isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            node = super().compose_node(parent, index)
            if anchor is not None:
                self._size[anchor] = (1, 0)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        if anchor is not None:
            self._open.add(anchor)
        outer, self._reach = self._reach, self._depth
        node = super().compose_node(parent, index)
        if anchor is not None:
            self._open.discard(anchor)
            self._size[anchor] = (self._nodes - before, self._reach - self._depth + 1)
        self._depth -= 1
        self._reach = max(outer, self._reach)
        return node

    def _count(self, n: int, mark) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise YamlLimitError(f"too large: more than {MAX_NODES:,} YAML nodes (keys and values, aliases "
                                 "expanded)", mark)


_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"


class _Constructor(SafeConstructor):
    """SafeConstructor with duplicate keys refused, merge keys as YAML 1.1, bounded numbers and
    real calendar dates."""

    def construct_object(self, node, deep=False):
        """PyYAML's, with a value its tag cannot read (`!!int 2024-01-01`, `!!timestamp soon`,
        `!!bool maybe`) refused as a YAML problem rather than a Python exception."""
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError, IndexError):
            tag = str(node.tag).rsplit(":", 1)[-1]
            what = short_path(node.value, 40) if isinstance(node, ScalarNode) else f"this {node.id}"
            raise YamlValueError(f"cannot read {what} as !!{tag}", node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping node, but found {node.id}", node.start_mark)
        data = {}
        for key_node, value_node in self._pairs(node):
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       "found unhashable key", key_node.start_mark) from None
            data[key] = self.construct_object(value_node, deep=deep)
        return data

    def _pairs(self, node: MappingNode) -> list[tuple]:
        """The mapping's (key, value) nodes, merged ones first so that its own keys win; duplicate
        keys among its own refused."""
        merged: list[tuple] = []
        own: list[tuple] = []
        seen = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                if "<<" in seen:
                    raise ConstructorError(None, None, "duplicate key '<<'", key_node.start_mark)
                seen.add("<<")
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise ConstructorError("while constructing a mapping", node.start_mark,
                                               f"<< (a merge key) takes a mapping or a list of mappings, "
                                               f"not a {source.id}", source.start_mark)
                # YAML 1.1 merge: the first mapping listed wins a key, so it comes last here
                for source in reversed(sources):
                    merged.extend(self._pairs(source))
                continue
            if key_node.tag == _VALUE_TAG:
                key_node = ScalarNode("tag:yaml.org,2002:str", key_node.value, key_node.start_mark,
                                      key_node.end_mark, key_node.style)
            key = self.construct_object(key_node, deep=False)
            try:
                hash(key)
            except TypeError:
                own.append((key_node, value_node))  # construct_mapping refuses it
                continue
            if key in seen:
                raise ConstructorError(None, None, f"duplicate key {show(key)}", key_node.start_mark)
            seen.add(key)
            own.append((key_node, value_node))
        return merged + own

    def construct_yaml_map(self, node):
        yield self.construct_mapping(node)

    def construct_yaml_int(self, node):
        _check_length(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        _check_length(node)
        return super().construct_yaml_float(node)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            what = "date" if len(node.value.strip()) <= 10 else "date and time"
            raise YamlValueError(f"{node.value} is not a real {what} ({exc})", node.start_mark) from None


def _check_length(node) -> None:
    text = str(node.value)
    if len(text) > MAX_NUMBER_CHARS:
        raise YamlValueError(f"number too long ({len(text):,} characters; at most {MAX_NUMBER_CHARS})",
                             node.start_mark)


_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_yaml_map)
_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)
_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


if _EventParser is not None:
    class _Loader(_CountingComposer, _EventParser, _Constructor, Resolver):
        """libyaml's events, composed with limits (this composer wins over the C one), built safely;
        reads `2e15` as a number (YAML 1.1 wants `2.0e15`) and refuses duplicate keys."""

        def __init__(self, stream) -> None:
            _EventParser.__init__(self, stream)
            _CountingComposer.__init__(self)
            _Constructor.__init__(self)
            Resolver.__init__(self)
else:  # pragma: no cover
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, _CountingComposer, _Constructor, Resolver):
        """The pure-Python reader and parser, composed with limits and built safely."""

        def __init__(self, stream) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _CountingComposer.__init__(self)
            _Constructor.__init__(self)
            Resolver.__init__(self)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_text(text: str) -> Any:
    """A YAML document, read with the limits and checks above (raises yaml.YAMLError)."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_value(text: str) -> Any:
    """A `--set` value, read as YAML (numbers, dates, lists, mappings)."""
    return load_text(text)


def path_exists(path: Path) -> bool:
    """Whether anything is at `path` (a dangling or looping symlink counts): never raises."""
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def is_regular_file(path: Path) -> bool:
    """Whether `path` is a regular file (following symlinks): never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


_KINDS = [  # what is at a path, when it is not a regular file
    (stat.S_ISDIR, "is a folder, not a file"),
    (stat.S_ISCHR, "is a device, not a regular file"),
    (stat.S_ISBLK, "is a device, not a regular file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
]


def short_path(text: str, width: int = 100) -> str:
    """A path as the user wrote it, cut short if long (a 5,000-character name in a message helps no one)."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def os_problem(exc: OSError) -> str:
    """What an OSError on reading a file means, in plain words."""
    if exc.errno in (errno.ENOENT,):
        return "no such file"
    if exc.errno == errno.ENOTDIR:
        return "no such file (a part of its path is not a folder)"
    if exc.errno == errno.ELOOP:
        return "a symlink loop (too many levels of symbolic links)"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot read: permission denied"
    return f"cannot read: {exc.strerror or exc}"


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A regular file's text (UTF-8, at most `max_bytes`); any problem is a ScenarioError(path,
    "(file)", ...). Never opens a device, a FIFO or a folder, never reads past `max_bytes`."""
    def fail(problem: str) -> ScenarioError:
        return ScenarioError(path, "(file)", problem)

    try:
        if "\0" in str(path):
            raise fail("the path holds a NUL character")
        info = os.stat(path)
        problem = next((text for test, text in _KINDS if test(info.st_mode)), None)
        if problem is None and not stat.S_ISREG(info.st_mode):
            problem = "is not a regular file"
        if problem is not None:
            raise fail(problem)
        if info.st_size > max_bytes:
            raise fail(f"too large ({info.st_size:,} bytes; a scenario or topology file may be at most "
                       f"{max_bytes:,})")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the stat
                raise fail("is not a regular file")
            chunks, size = [], 0
            while size <= max_bytes:
                chunk = os.read(fd, max_bytes + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as exc:
        raise fail(os_problem(exc)) from None
    if size > max_bytes:
        raise fail(f"too large (more than {max_bytes:,} bytes; a scenario or topology file may be at most "
                   f"{max_bytes:,})")
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _not_text(path, data, exc)


def _not_text(path: Path, data: bytes, exc: UnicodeDecodeError):
    line = data[: exc.start].count(b"\n") + 1
    raise ScenarioError(path, "(file)", f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})")


def read_yaml(path: Path) -> dict:
    """A YAML file's top-level mapping; any problem is a ScenarioError naming the file."""
    path = Path(path)
    text = read_text(path)
    try:
        doc = load_text(text)
    except yaml.YAMLError as exc:
        raise yaml_error(path, text, exc) from None
    if not isinstance(doc, dict):
        raise ScenarioError(path, "(top)", "a scenario must be a mapping of keys to values")
    return doc


def yaml_error(source: Any, text: str, exc: yaml.YAMLError) -> ScenarioError:
    """A YAML problem as a ScenarioError: the key path when there is one to name, else the line."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
    context = getattr(exc, "context", None) or ""
    if context and not context.startswith("while"):  # "expected a single document in the stream"
        problem = f"{' '.join(context.split())}, {problem}"
    if isinstance(exc, YamlLimitError):
        return ScenarioError(source, where, problem)
    if mark is not None and (problem.startswith("duplicate key") or isinstance(exc, YamlValueError)):
        try:
            key_path = _key_path_at(load_nodes(text), mark.index)
        except (yaml.YAMLError, RecursionError):
            key_path = None
        if key_path:
            return ScenarioError(source, format_path(key_path), f"{problem} ({where})")
    if isinstance(exc, YamlValueError):
        return ScenarioError(source, where, problem)
    tag = re.match(r"could not determine a constructor for the tag '(.*)'$", problem)
    if tag:  # !!python/object and every other tag SafeLoader does not build
        name = re.sub(r"^tag:yaml\.org,2002:", "!!", tag.group(1))
        return ScenarioError(source, where, f"tag {short_path(name, 60)} is not allowed: a scenario holds plain "
                                            "values (numbers, text, dates, lists, mappings)")
    if isinstance(exc, ConstructorError):
        return ScenarioError(source, where, problem)
    return ScenarioError(source, where, f"malformed YAML: {problem}")


def load_nodes(text: str):
    """The composed node tree (limits checked, nothing constructed)."""
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _key_path_at(node: Any, index: int, path: tuple = (), seen: set | None = None) -> tuple | None:
    """Key path of the mapping key, or value, that starts at character `index` of the YAML text."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # aliases may point back up the tree
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        children = [(path + (getattr(k, "value", "?"),), k, v) for k, v in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = [(path + (i,), None, v) for i, v in enumerate(node.value)]
    else:
        return None
    for here, key_node, value in children:
        if key_node is not None and key_node.start_mark.index == index:
            return here
        if isinstance(value, yaml.ScalarNode) and value.start_mark.index == index:
            return here
        found = _key_path_at(value, index, here, seen)
        if found:
            return found
    return None
