"""Turn the bytes of one input into decoded text and its YAML documents, with exact positions.

A `Source` keeps what the output must reproduce around the text (a UTF-8 byte-order mark, the
newline style); a `Document` is one composed node tree whose marks index into `Source.text`.
Documents are found by the parser, never by splitting on `---`, which can occur inside block
scalars. libyaml's marks count characters, so every position here is a `str` index.

Everything the rest of the program needs to know about bad input is raised here as an
`InputError` carrying the file, line and column, before anything is written.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

import yaml
from yaml._yaml import CParser
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

BOM = "\ufeff"
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"
PLAIN_TAG = "!plain"  # a plain scalar whose type is resolved only when it is read (model.scalar)


class InputError(Exception):
    """Bad input: reported as `FILE:LINE:COL: message` (1-based) and exit code 2."""

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path = path
        self.line = line
        self.column = column
        self.message = message


class Source(NamedTuple):
    """One input's decoded text, or a piece of it; `text` has no BOM, `newline` is the style new
    lines use, and `origin` is the index in the whole input of `text[0]` (the marks of its nodes
    index the whole input)."""

    path: str
    text: str
    bom: bool = False
    newline: str = "\n"
    origin: int = 0


class Document(NamedTuple):
    """One YAML document of a source: its number in the stream (from 0) and its root node."""

    number: int
    root: Node


def decode(data: bytes, path: str, kind: str = "Kubernetes manifests") -> Source:
    """Decode UTF-8 input, remembering a BOM and the newline style; reject anything else.

    `kind` is what the error message says must be UTF-8 ("config files", ...).
    """
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
            f"not UTF-8 (byte 0x{data[error.start]:02x}); {kind} must be UTF-8",
        ) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    return Source(path=path, text=text, bom=bom, newline=newline)


def encode(source: Source, text: str) -> bytes:
    """The bytes to write for `text` produced from `source`: its BOM restored."""
    return ((BOM if source.bom else "") + text).encode("utf-8")


class Composer(CParser):
    """libyaml's parser and composer, without PyYAML's per-scalar type resolution.

    Resolving every plain scalar through PyYAML's regular expressions costs more than parsing;
    most scalars are never read, so plain ones are tagged `PLAIN_TAG` and resolved on demand.
    """

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return PLAIN_TAG if implicit[0] else STR_TAG
        return SEQ_TAG if kind is SequenceNode else MAP_TAG


_constructor = yaml.constructor.SafeConstructor()
_resolver = yaml.resolver.Resolver()
_CONSTRUCT = {
    "tag:yaml.org,2002:null": lambda node: None,
    "tag:yaml.org,2002:bool": _constructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": _constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _constructor.construct_yaml_float,
}


@functools.lru_cache(maxsize=65536)
def plain_tag(text: str) -> str:
    """The type YAML 1.1 (PyYAML, go-yaml v2) gives an unquoted scalar."""
    return _resolver.resolve(ScalarNode, text, (True, False))


def scalar(node: ScalarNode) -> Any:
    """The value Kubernetes reads from a scalar node: null, bool, int, float, else a string.

    Timestamps, binary and other exotic YAML 1.1 types stay strings; so does `=`.
    """
    tag = node.tag
    if tag == PLAIN_TAG:
        tag = plain_tag(node.value)
    if tag == STR_TAG:
        return node.value
    construct = _CONSTRUCT.get(tag)
    return construct(node) if construct else node.value


def json_key(node: Node) -> str:
    """A mapping key as Kubernetes reads it: the JSON object key its YAML-to-JSON conversion
    (sigs.k8s.io/yaml) makes of it. `1`, `true`, `null` and `"1"` are the strings "1", "true",
    "null" and "1", so `1` and `true`, which Python would take for one dict key, stay two, and
    `1` and `"1"` are one. A key that is not a scalar is its text (check_keys rejects it)."""
    if not isinstance(node, ScalarNode):
        return f"<{node.tag}>"
    value = scalar(node)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def is_merge_key(node: Node) -> bool:
    return node.tag == MERGE_TAG or (node.tag == PLAIN_TAG and node.value == "<<")


def documents(source: Source, check: bool = True) -> Iterator[Document]:
    """Compose the documents of `source` one at a time, checking each as a Kubernetes manifest.

    One at a time, so memory holds one document's nodes, not the stream's. Raises `InputError`
    for YAML syntax errors and, with `check`, for duplicate mapping keys and for keys that are
    themselves collections (what a Go template such as `{{ .Values.x }}` parses into).
    """
    loader = Composer(source.text)
    index = 0
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is None:
                continue
            if check:
                check_keys(root, source)
            yield Document(number=index, root=root)
            index += 1
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(error, source) from None
    except yaml.YAMLError as error:  # reader errors: control characters and the like
        raise unmarked_error(error, source.path, source.text) from None
    finally:
        loader.dispose()


class Segment(NamedTuple):
    """One document of a stream with the text it owns, for rewriting a stream a piece at a time.

    `source.text` is the stream's text from the end of the previous document (its `---`, comments
    and blank lines included) through the end of the line this document ends on, so the segments
    of a stream joined are its text. `document` is None only for the text after the last one.
    Its nodes' marks count in the stream: `source.origin` is the stream index of `source.text[0]`
    and `line` the stream line (0-based) it starts on.
    """

    source: Source
    document: Document | None
    line: int


CHUNK = 1 << 20  # characters handed to libyaml at a time, at least


class _Feed:
    """A stream's text handed to libyaml in chunks, keeping what no segment has taken yet.

    libyaml reads ahead of the document it composes, so it has been given text past the last
    document's end; `take` cuts the kept text at a document's end. Memory holds about the current
    document and a chunk, not the stream: a chunk is at least as large as the text kept, so a
    large document costs a linear number of copies.
    """

    def __init__(self, data: BinaryIO | str, path: str) -> None:
        self.path = path
        self.binary = None if isinstance(data, str) else data
        self.whole = data if isinstance(data, str) else None
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buffer = ""  # stream characters [self.base - self.start, ...) as handed to libyaml
        self.start = 0  # where the kept text begins in self.buffer
        self.base = 0  # stream index of self.buffer[self.start]
        self.lines = 0  # newlines before self.base
        self.started = False  # some text was read (a BOM is looked for at its start)
        self.bom = False
        self.crlf = False
        self.error: InputError | None = None

    def read(self, size: int) -> str:
        """The next chunk ('' at the end): libyaml's input callback, `size` a hint only. A
        decoding error is kept for the caller and read as the end, since an exception cannot
        cross libyaml."""
        chunk, ended = "", False
        while not chunk and not ended and self.error is None:
            if self.whole is not None:
                chunk, self.whole, ended = self.whole, None, True
            elif self.binary is None:
                ended = True
            else:
                chunk, ended = self._decode(max(CHUNK, len(self.buffer) - self.start))
            if chunk and not self.started:
                self.started = True
                if chunk.startswith(BOM):
                    self.bom, chunk = True, chunk[1:]
                self.crlf = "\r\n" in chunk
        if self.error is not None:
            return ""
        self.buffer = self.buffer[self.start :] + chunk if self.start else self.buffer + chunk
        self.start = 0
        return chunk

    def _decode(self, size: int) -> tuple[str, bool]:
        """The text of the next `size` bytes (less when a character is cut), and whether the
        input has ended."""
        assert self.binary is not None
        try:
            data = self.binary.read(size)
        except OSError as error:
            self.error = InputError(self.path, 1, 1, f"cannot read: {error.strerror or error}")
            return "", True
        try:
            return self.decoder.decode(data, final=not data), not data
        except UnicodeDecodeError as error:
            head = bytes(error.object[: error.start]).decode("utf-8", errors="replace")
            if not self.started:
                head = head.removeprefix(BOM)  # a BOM is no column
            kept = self.buffer[self.start :] + head  # the object holds what the decoder kept back, too
            self.error = self._at(
                kept,
                len(kept),
                f"not UTF-8 (byte 0x{error.object[error.start]:02x}); Kubernetes manifests must be UTF-8",
            )
            return "", True

    def _at(self, kept: str, offset: int, message: str) -> InputError:
        """An InputError at `offset` in `kept` (text that starts where the kept text does, at a
        line start), its line and column counted as libyaml counts them."""
        head = kept[:offset]
        line = self.lines + line_breaks(head) + 1
        last = max(head.rfind(mark) for mark in ("\n", "\r", "\x85", "\u2028", "\u2029"))
        return InputError(self.path, line, offset - (last + 1) + 1, message)

    def take(self, end: int) -> tuple[str, int, int]:
        """The kept text up to stream index `end`, its stream index and its stream line (0-based);
        the kept text then starts at `end`."""
        cut = self.start + end - self.base
        taken = self.buffer[self.start : cut]
        offset, line = self.base, self.lines
        self.start, self.base = cut, end
        self.lines += line_breaks(taken)
        return taken, offset, line

    def rest(self) -> str:
        return self.buffer[self.start :]

    def line_end(self, index: int) -> int:
        """The stream index just past the line break that ends the line holding the character
        before `index` (`index` itself when that character is a break), or the end of the text
        given so far (libyaml has read to the end of the stream then). A line break is what YAML
        says it is: LF, CR, CRLF, NEL, LS or PS."""
        at = self.start + index - self.base
        if at <= self.start or _BREAK.match(self.buffer, at - 1):
            return index
        found = _BREAK.search(self.buffer, at)
        if found is None:
            return self.base + len(self.buffer) - self.start
        return self.base + found.end() - self.start

    def unprintable(self, error: yaml.YAMLError) -> InputError:
        """A reader error (a character YAML does not allow) at its line and column. It lies in
        the kept text: every document before it was composed."""
        kept = self.rest()
        found = _UNPRINTABLE.search(kept)
        return self._at(kept, found.start() if found else 0, str(error).splitlines()[0])


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks (libyaml's IS_BREAK)
# What YAML 1.1 and libyaml do not allow in a stream: C0 controls but tab, LF and CR, DEL, C1 but NEL.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def line_breaks(text: str) -> int:
    """How many line breaks `text` holds, as YAML counts them (CRLF is one; CR, NEL, LS and PS
    count too), at the speed of `str.count` in the usual LF-only text."""
    count = text.count("\n")
    if "\r" in text:
        count += text.count("\r") - text.count("\r\n")
    if not text.isascii():
        count += text.count("\x85") + text.count("\u2028") + text.count("\u2029")
    return count


def segments(data: BinaryIO | str, path: str) -> Iterator[Segment]:
    """The documents of a stream one at a time, each with its text (see `Segment`).

    `data` is a binary file, read in chunks and decoded as UTF-8 (a BOM dropped, and remembered
    in the first segment's `Source.bom`), or the decoded text of a whole input. The parser finds
    the documents, and each is checked as a Kubernetes manifest (`check_keys`). Raises
    `InputError` at the first undecodable byte, YAML error or bad key; a caller that writes all
    or nothing keeps what it made of the earlier segments until the stream has ended.
    """
    feed = _Feed(data, path)
    loader = Composer(feed)
    number = 0
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                root = loader.get_node()
            except yaml.MarkedYAMLError as error:
                raise feed.error or _syntax_error(error, Source(path, feed.rest())) from None
            except yaml.YAMLError as error:
                raise feed.error or feed.unprintable(error) from None
            if feed.error is not None:
                raise feed.error
            if root is None:
                continue
            end = feed.line_end(root.end_mark.index)
            text, offset, line = feed.take(end)
            source = Source(path, text, feed.bom and number == 0, _newline(text, feed.crlf), offset)
            check_keys(root, source)
            yield Segment(source, Document(number, root), line)
            number += 1
        if feed.error is not None:
            raise feed.error
        text, offset, line = feed.take(feed.base + len(feed.rest()))
        yield Segment(Source(path, text, feed.bom and number == 0, _newline(text, feed.crlf), offset), None, line)
    finally:
        loader.dispose()


def _newline(text: str, crlf: bool) -> str:
    """The newline a segment's new lines take: its own, or the stream's start's when it has none."""
    if "\r\n" in text:
        return "\r\n"
    return "\r\n" if crlf and "\n" not in text else "\n"


def parse(source: Source, check: bool = True) -> list[Document]:
    """All documents of `source` at once (see `documents`)."""
    return list(documents(source, check))


def unmarked_error(error: yaml.YAMLError, path: str, text: str) -> InputError:
    """A YAML error without a mark (a character YAML does not allow, such as a control character)
    as an InputError at its line and column; libyaml gives its offset in the UTF-8 bytes."""
    position = getattr(error, "position", None)
    line = column = 1
    if isinstance(position, int):
        head = text.encode("utf-8")[:position].decode("utf-8", errors="replace")
        line, column = head.count("\n") + 1, len(head) - (head.rfind("\n") + 1) + 1
    return InputError(path, line, column, str(error).splitlines()[0])


def _syntax_error(error: yaml.MarkedYAMLError, source: Source) -> InputError:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = error.problem or "invalid YAML"
    if error.context:
        problem = f"{problem} ({error.context})"
    if _looks_like_template(source.text):
        problem += "; this looks like a template ({{ ... }}): render it first (helm template)"
    return InputError(source.path, line, column, problem)


_TEMPLATE = r"(?m)^[^'\"#\n]*\{\{"  # compiled by `re` on first use, off the start-up path


def _looks_like_template(text: str) -> bool:
    """Whether a Go template action (`{{ ... }}`) stands unquoted somewhere in `text`."""
    return "{{" in text and re.search(_TEMPLATE, text) is not None


def check_keys(root: Node, source: Source) -> None:
    """Reject duplicate keys and non-scalar keys anywhere below `root`.

    The API server and kubectl reject duplicate fields, and PyYAML silently keeps the last
    one, so a stream that passed through here would change meaning without this check.
    """
    seen: set[int] = set()
    stack: list[Node] = [root]
    aliased = False
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias: its anchor was checked already
            aliased = True
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            pairs = node.value
            if _plain_string_keys(pairs):
                stack.extend(value for _, value in pairs if not isinstance(value, ScalarNode))
                continue
            keys: dict[str, ScalarNode] = {}
            for key, value in pairs:
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
                if is_merge_key(key):
                    merged = value.value if isinstance(value, SequenceNode) else [value]
                    if not all(isinstance(item, MappingNode) for item in merged):
                        raise _at(source, value, "a merge key (<<) takes a mapping or a list of mappings")
                else:
                    identity = json_key(key)
                    if identity in keys:
                        first = keys[identity].start_mark.line + 1
                        raise _at(source, key, f"duplicate key {key.value!r} (first on line {first})")
                    keys[identity] = key
                if not isinstance(value, ScalarNode):
                    stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(item for item in node.value if not isinstance(item, ScalarNode))
    if aliased and _expanded_size(root) > max(EXPANSION, 10 * len(seen)):
        raise _at(source, root, f"its aliases expand it to more than {EXPANSION} nodes (excessive aliasing)")


EXPANSION = 100_000  # nodes an aliased document may expand to (what a reader that copies aliases builds)


def _expanded_size(root: Node) -> int:
    """How many nodes `root` has with every alias copied out, counted without copying (each node's
    size once, children first); stops counting past `EXPANSION` to stay cheap."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = [v for _, v in node.value] if isinstance(node, MappingNode) else node.value
        if isinstance(node, ScalarNode):
            sizes[id(node)] = 1
        elif done:
            sizes[id(node)] = min(EXPANSION + 1, 1 + sum(sizes.get(id(child), 1) for child in children))
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _plain_string_keys(pairs: list[tuple[Node, Node]]) -> bool:
    """Whether a mapping's keys are strings (not `1`, `true`, `null` or `<<`) with distinct texts:
    then their JSON keys are their texts, and they cannot clash (the common case, checked
    cheaply)."""
    texts = set()
    for key_node, _ in pairs:
        if not isinstance(key_node, ScalarNode):
            return False
        if key_node.tag != STR_TAG and (key_node.tag != PLAIN_TAG or plain_tag(key_node.value) != STR_TAG):
            return False
        texts.add(key_node.value)
    return len(texts) == len(pairs)


DEPTH = 200  # how deep a document may nest where nativecar reads it (real manifests: under 30)


@contextlib.contextmanager
def nesting_guard(source: Source, document: Document) -> Iterator[None]:
    """Turn the RecursionError of a document nested too deeply into bad input at the node where
    it goes deeper than `DEPTH` (found without recursion)."""
    try:
        yield
    except RecursionError:
        stack: list[tuple[Node, int]] = [(document.root, 0)]
        seen: set[int] = set()
        while stack:
            node, depth = stack.pop()
            if depth > DEPTH:
                raise _at(source, node, f"nested more than {DEPTH} levels deep; nativecar reads no deeper") from None
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, MappingNode):
                stack.extend((value, depth + 1) for _, value in node.value)
            elif isinstance(node, SequenceNode):
                stack.extend((item, depth + 1) for item in node.value)
        raise _at(source, document.root, "nested too deeply; nativecar reads no deeper") from None


def _at(source: Source, node: Node, message: str) -> InputError:
    mark = node.start_mark
    return InputError(source.path, mark.line + 1, mark.column + 1, message)
