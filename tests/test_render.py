"""render: new scalars read back as the same value under YAML 1.1 and 1.2 readers."""

from __future__ import annotations

import pytest
import yaml

from nativecar.render import Renderer, Style, is_plain_safe, scalar_text


@pytest.mark.parametrize(
    "text",
    [
        "true",
        "True",
        "yes",
        "on",
        "null",
        "~",
        "0755",
        "1e3",
        "12",
        "1.5",
        "0x1F",
        ".inf",
        "",
        " x",
        "a: b",
        "#x",
        "- x",
        "x #y",
        "*x",
        "&x",
        "!x",
        "|",
        ">",
        "'q",
        '"q',
        "%x",
        "@x",
        "`x",
        "---",
        "a\nb",
        "x:",
        "12:30",
    ],
)
def test_ambiguous_strings_are_quoted(text: str) -> None:
    assert not is_plain_safe(text)
    rendered = scalar_text(text, Style())
    assert yaml.safe_load(f"k: {rendered}")["k"] == text


@pytest.mark.parametrize("text", ["nginx:1.27", "--health-check", "/healthz/ready", "istio-proxy", "-p", "a b"])
def test_ordinary_strings_stay_plain(text: str) -> None:
    assert scalar_text(text, Style()) == text


def test_flow_context_quotes_flow_indicators() -> None:
    assert not is_plain_safe("a,b", flow=True)
    assert is_plain_safe("a,b")


def test_single_quote_preference_is_honoured() -> None:
    assert scalar_text("true", Style(quote="'")) == "'true'"
    assert scalar_text("it's\n", Style(quote="'")) == '"it\'s\\n"'


def test_block_rendering_follows_the_style() -> None:
    value = {"name": "x", "ports": [{"containerPort": 80}], "args": []}
    indented = Renderer(Style(indent=4, sequence_indent=4)).pair("c", value, 0)
    assert indented == ["c:", "    name: x", "    ports:", "        - containerPort: 80", "    args: []"]
    compact = Renderer(Style(sorted_keys=True)).pair("c", value, 2)
    assert compact == ["  c:", "    args: []", "    name: x", "    ports:", "    - containerPort: 80"]
    assert yaml.safe_load("\n".join(compact)) == {"c": value}
