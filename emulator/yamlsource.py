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

JsonPath = tuple[str | int, ...]


# libyaml's parser when PyYAML was built with it (the wheels are): the same nodes and marks,
# several times faster, which is most of loading the built-in scenarios at start-up.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
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


class YamlSyntaxError(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


def load_documents(text: str) -> Iterator[Document]:
    """Each document of a YAML stream, with line numbers (1-based)."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            lines: dict[JsonPath, int] = {}
            duplicates: list[tuple[JsonPath, int]] = []
            _index(node, (), lines, duplicates)
            data = loader.construct_document(node)
            yield Document(data, node.start_mark.line + 1, lines, duplicates)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = None if mark is None else mark.line + 1
        problem = " ".join(part for part in (error.context, error.problem) if part)
        raise YamlSyntaxError(line, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(None, f"not valid YAML: {error}") from None
    finally:
        loader.dispose()


def _index(
    node: yaml.Node,
    path: JsonPath,
    lines: dict[JsonPath, int],
    duplicates: list[tuple[JsonPath, int]],
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if child in lines:
                duplicates.append((child, key_node.start_mark.line + 1))
                continue
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index(item, (*path, position), lines, duplicates)


def format_path(path: JsonPath) -> str:
    """`lifecycle[1].for` for ('lifecycle', 1, 'for')."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
