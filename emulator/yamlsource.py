"""YAML documents that remember where each value came from.

Scenario mistakes are reported as `file:line: message`, so every value keeps the line it was
written on. The loader also keeps timestamps as strings and keys as the text written (a key
`on:` stays "on", never True) before JSON Schema sees them, and refuses duplicate keys,
which plain PyYAML silently collapses into the last one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import EmulatorError

JsonPath = tuple[str | int, ...]
# Values one document may hold, each use of an alias (`*name`) counted in full: enough for
# thousands of literal rows, and a bound on what a few nested aliases can blow up into.
MAX_VALUES = 1_000_000


class _Loader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]  # Any without types-PyYAML
    """SafeLoader without the timestamp resolver, with keys taken as written."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)

# libyaml's parser, when PyYAML was built with it (the wheels are): the same nodes and marks,
# several times (5-10x) faster than PyYAML's own. Its composer recurses in C without a depth
# limit, so a document nested deep enough would crash the process: every text is first read
# as a stream of events (libyaml's parser keeps its own stack, no recursion) and refused when
# it nests deeper than MAX_DEPTH, which also bounds every recursive step after it.
_FastBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 64
_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class _FastLoader(_FastBase):  # type: ignore[misc]
    construct_mapping = _Loader.construct_mapping
    yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
    yaml_constructors = _Loader.yaml_constructors


def _check_depth(text: str) -> None:
    """YamlSyntaxError when a value in `text` nests deeper than MAX_DEPTH."""
    depth = 0
    for event in yaml.parse(text, Loader=_FastBase):
        if isinstance(event, _OPENING):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlSyntaxError(
                    event.start_mark.line + 1,
                    f"not valid YAML: values nested too deeply (more than {MAX_DEPTH} levels)",
                )
        elif isinstance(event, _CLOSING):
            depth -= 1


@dataclass(frozen=True)
class Document:
    """One YAML document: its data, and the line of every key and list item in it."""

    data: Any
    line: int
    lines: dict[JsonPath, int]
    duplicate_keys: list[tuple[JsonPath, int]]

    def line_of(self, path: JsonPath) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return self.line


class YamlSyntaxError(EmulatorError):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


def load_documents(text: str, *, shipped: bool = False) -> Iterator[Document]:
    """Each document of a YAML stream, with line numbers (1-based). `shipped`: the text is
    one of the project's own files, checked by the test suite, so not for depth."""
    loader: Any = _FastLoader(text)
    try:
        if not shipped:
            _check_depth(text)
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except RecursionError:  # PyYAML composes nested values recursively
                deepest = loader.get_mark().line + 1
                raise YamlSyntaxError(deepest, "not valid YAML: values nested too deeply") from None
            assert node is not None  # check_node() said there is one
            lines: dict[JsonPath, int] = {}
            duplicates: list[tuple[JsonPath, int]] = []
            _Indexer(lines, duplicates).index(node, ())
            data = loader.construct_document(node)
            yield Document(data, node.start_mark.line + 1, lines, duplicates)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = None if mark is None else mark.line + 1
        problem = " ".join(part for part in (error.context, error.problem) if part)
        if "maximum nesting depth" in problem:  # libyaml's own limit, met before ours
            problem = f"values nested too deeply (more than {MAX_DEPTH} levels)"
        raise YamlSyntaxError(line, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(None, f"not valid YAML: {error}") from None
    finally:
        loader.dispose()


class _Indexer:
    """Records the line of every key and list item, and the keys given twice. Refuses what
    would make every later step loop or blow up: an alias inside the value it names (a
    value that contains itself), and more than MAX_VALUES values."""

    def __init__(self, lines: dict[JsonPath, int], duplicates: list[tuple[JsonPath, int]]) -> None:
        self.lines = lines
        self.duplicates = duplicates
        self.visited = 0
        self._open: set[int] = set()  # the nodes being indexed, from the root down

    def index(self, node: yaml.Node, path: JsonPath) -> None:
        self.visited += 1
        if self.visited > MAX_VALUES:
            raise YamlSyntaxError(
                None,
                f"the document holds more than {MAX_VALUES:,} values (each use of an alias "
                "counted in full): too big to check",
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return
        if id(node) in self._open:
            raise YamlSyntaxError(
                self.lines.get(path, node.start_mark.line + 1),
                f"{format_path(path) or 'the document'}: an alias refers to a value that "
                "contains it, which would make it endless",
            )
        self._open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*path, key)
                if child in self.lines:
                    self.duplicates.append((child, key_node.start_mark.line + 1))
                    continue
                self.lines[child] = key_node.start_mark.line + 1
                self.index(value_node, child)
        else:
            for position, item in enumerate(node.value):
                self.index(item, (*path, position))
        self._open.discard(id(node))


def utf8_problem(error: UnicodeDecodeError) -> tuple[int, str]:
    """The line of the first byte of a file that is not UTF-8, and what to say about it."""
    data = bytes(error.object)
    return data[: error.start].count(b"\n") + 1, f"not UTF-8 text (byte {data[error.start]:#04x})"


def format_path(path: JsonPath) -> str:
    """`lifecycle[1].for` for ('lifecycle', 1, 'for')."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
