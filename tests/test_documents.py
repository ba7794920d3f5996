"""documents: decoding, document boundaries, and bad input reported with file, line and column."""

from __future__ import annotations

import pytest

from nativecar.documents import InputError, decode, encode, parse


def test_bom_and_crlf_are_remembered_and_restored() -> None:
    data = "\ufeffa: 1\r\nb: 2\r\n".encode()
    source = decode(data, "f.yaml")
    assert source.bom and source.newline == "\r\n"
    assert not source.text.startswith("\ufeff")
    assert encode(source, source.text) == data


def test_non_utf8_is_rejected_at_its_line_and_column() -> None:
    with pytest.raises(InputError) as raised:
        decode(b"a: 1\nb: caf\xe9\n", "latin1.yaml")
    assert str(raised.value).startswith("latin1.yaml:2:7: not UTF-8")


def test_documents_are_found_by_the_parser_not_by_dashes() -> None:
    text = "a: |\n  ---\n  not a boundary\n---\nb: 2\n"
    documents = parse(decode(text.encode(), "f.yaml"))
    assert len(documents) == 2
    assert documents[1].root.start_mark.line == 4


def test_a_document_of_only_comments_is_an_empty_document() -> None:
    documents = parse(decode(b"---\n# only a comment\n---\na: 1\n", "f.yaml"))
    assert [document.root.tag for document in documents] == ["!plain", "tag:yaml.org,2002:map"]
    assert documents[0].root.value == ""


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("a: 1\nb: [1, 2\n", "f.yaml:3:1", "expected ',' or ']'"),
        ("spec:\n  a: 1\n  a: 2\n", "f.yaml:3:3", "duplicate key 'a' (first on line 2)"),
        ("a: 1\n'a': 2\n", "f.yaml:2:1", "duplicate key 'a'"),
        ("name: {{ .Values.name }}\n", "f.yaml:1:8", "looks like a template"),
        ("x: 1\n  y: 2\n", "f.yaml:2:4", "mapping values are not allowed"),
    ],
)
def test_bad_yaml_is_reported_with_file_line_column(text: str, where: str, words: str) -> None:
    with pytest.raises(InputError) as raised:
        parse(decode(text.encode(), "f.yaml"))
    message = str(raised.value)
    assert message.startswith(where + ": "), message
    assert words in message


def test_quoted_braces_are_not_called_a_template() -> None:
    with pytest.raises(InputError) as raised:
        parse(decode(b"a: '{{ x }}'\n  b: 1\n", "f.yaml"))
    assert "template" not in str(raised.value)
