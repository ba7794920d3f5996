"""Turn the bytes of one input into decoded text and its YAML documents, with exact positions.

A `Source` keeps what the output must reproduce around the text (a UTF-8 byte-order mark, the
newline style); a `Document` is one composed node tree whose marks index into `Source.text`.
Documents are found by the parser, never by splitting on `---`, which can occur inside block
scalars. libyaml's marks count characters, so every position here is a `str` index.

Everything the rest of the program needs to know about bad input is raised here as an
`InputError` carrying the file, line and column, before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

BOM = "\ufeff"
MERGE_TAG = "tag:yaml.org,2002:merge"


class InputError(Exception):
    """Bad input: reported as `FILE:LINE:COL: message` (1-based) and exit code 2."""

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path = path
        self.line = line
        self.column = column
        self.message = message


@dataclass(frozen=True)
class Source:
    """One input's decoded text; `text` has no BOM, `newline` is the style new lines use."""

    path: str
    text: str
    bom: bool = False
    newline: str = "\n"


@dataclass(frozen=True)
class Document:
    """One YAML document of a source: its index in the stream and its composed root node."""

    index: int
    root: Node


def decode(data: bytes, path: str) -> Source:
    """Decode UTF-8 input, remembering a BOM and the newline style; reject anything else."""
    bom = data.startswith(BOM.encode())
    if bom:
        data = data[len(BOM.encode()) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        head = data[: error.start].decode("utf-8", errors="replace")
        line = head.count("\n") + 1
        column = len(head) - (head.rfind("\n") + 1) + 1
        raise InputError(
            path,
            line,
            column,
            f"not UTF-8 (byte 0x{data[error.start]:02x}); Kubernetes manifests must be UTF-8",
        ) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    return Source(path=path, text=text, bom=bom, newline=newline)


def encode(source: Source, text: str) -> bytes:
    """The bytes to write for `text` produced from `source`: its BOM restored."""
    return ((BOM if source.bom else "") + text).encode("utf-8")


def parse(source: Source) -> list[Document]:
    """Compose every document of `source`, checking it as a Kubernetes manifest stream.

    Raises `InputError` for YAML syntax errors, duplicate mapping keys, and keys that are
    themselves collections (what a Go template such as `{{ .Values.x }}` parses into).
    """
    documents: list[Document] = []
    loader = yaml.CSafeLoader(source.text)
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is None:
                continue
            check_keys(root, source)
            documents.append(Document(index=len(documents), root=root))
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(error, source) from None
    except yaml.YAMLError as error:  # reader errors: control characters and the like
        raise InputError(source.path, 1, 1, str(error).splitlines()[0]) from None
    finally:
        loader.dispose()
    return documents


def _syntax_error(error: yaml.MarkedYAMLError, source: Source) -> InputError:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = error.problem or "invalid YAML"
    if error.context:
        problem = f"{problem} ({error.context})"
    if _looks_like_template(source.text):
        problem += "; this looks like a template ({{ ... }}): render it first (helm template)"
    return InputError(source.path, line, column, problem)


def _looks_like_template(text: str) -> bool:
    return "{{" in text and "}}" in text


def check_keys(root: Node, source: Source) -> None:
    """Reject duplicate keys and non-scalar keys anywhere below `root`.

    The API server and kubectl reject duplicate fields, and PyYAML silently keeps the last
    one, so a stream that passed through here would change meaning without this check.
    """
    seen: set[int] = set()
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias: its anchor was checked already
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            keys: dict[tuple[str, str], ScalarNode] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode):
                    raise _at(
                        source,
                        key,
                        "a mapping key is itself a mapping or list"
                        + (
                            "; this looks like a template ({{ ... }}): render it first"
                            if _looks_like_template(source.text)
                            else ""
                        ),
                    )
                if key.tag != MERGE_TAG:
                    identity = (key.tag, key.value)
                    if identity in keys:
                        first = keys[identity].start_mark.line + 1
                        raise _at(source, key, f"duplicate key {key.value!r} (first on line {first})")
                    keys[identity] = key
                if not isinstance(value, ScalarNode):
                    stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(item for item in node.value if not isinstance(item, ScalarNode))


def _at(source: Source, node: Node, message: str) -> InputError:
    mark = node.start_mark
    return InputError(source.path, mark.line + 1, mark.column + 1, message)


def walk(node: Node) -> Iterator[Node]:
    """Every node below and including `node`, depth first, each alias target once."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, MappingNode):
            for key, value in reversed(current.value):
                stack.append(value)
                stack.append(key)
        elif isinstance(current, SequenceNode):
            stack.extend(reversed(current.value))
