"""edits: each kind of text patch, before and after, and the layouts it must leave alone.

Each case builds the editable model of a document, changes it the way a rewrite would, and
checks the patched text: it must say what the model says, and differ only where expected.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nativecar.documents import decode, parse
from nativecar.edits import CannotPatchError, Patcher, apply
from nativecar.model import build, same
from nativecar.render import detect_style


def patch(text: str, change: Callable[[dict], None]) -> str:
    source = decode(text.encode(), "t.yaml")
    (document,) = parse(source)
    model = build(document.root)
    change(model)
    patcher = Patcher(source.text, document.root, detect_style(document.root, source.text, source.newline))
    patcher.diff(model, document.root)
    out = apply(source.text, patcher.edits)
    (again,) = parse(decode(out.encode(), "out.yaml"))
    assert same(again.root, model), out
    return out


def test_nothing_changed_means_no_edit() -> None:
    text = "a: 1  # c\nb: [x, 'y']\n"
    assert patch(text, lambda m: None) == text


def test_a_scalar_keeps_its_quotes() -> None:
    out = patch("a: 'x'\nb: \"y\"\nc: z\n", lambda m: m.update(a="x2", b="y2", c="true"))
    assert out == 'a: \'x2\'\nb: "y2"\nc: "true"\n'


def test_a_key_is_inserted_in_sorted_place_when_the_keys_are_sorted() -> None:
    out = patch("a: 1\nc: 3\nd: 4\n", lambda m: m.__setitem__("b", 2))
    assert out == "a: 1\nb: 2\nc: 3\nd: 4\n"


def test_a_key_is_appended_when_the_keys_are_not_sorted() -> None:
    out = patch("z: 1\na: 2\nm: 3\n", lambda m: m.__setitem__("b", {"c": [1, 2]}))
    assert out == "z: 1\na: 2\nm: 3\nb:\n  c:\n  - 1\n  - 2\n"


def test_a_key_goes_before_the_first_key_of_a_dash_line() -> None:
    def change(m: dict) -> None:
        item = m["items"][0]
        item.clear()
        item.update({"a": 0, "name": "x", "v": 1})

    assert patch("items:\n- name: x\n  v: 1\n  z: 9\n", change) == "items:\n- a: 0\n  name: x\n  v: 1\n"


def test_deleting_a_key_takes_its_lines_and_the_comment_above() -> None:
    text = "a: 1\n# about b\nb:\n  c: 2\nd: 3\n"
    assert patch(text, lambda m: m.pop("b")) == "a: 1\nd: 3\n"


def test_deleting_the_first_key_of_a_dash_line_pulls_the_next_one_up() -> None:
    assert patch("- a: 1\n  b: 2\n", lambda m: m[0].pop("a")) == "- b: 2\n"


def test_a_moved_item_keeps_its_lines_comments_and_quotes() -> None:
    text = "one:\n- a: 1\n# the mover\n- b: 'q'  # keep\n  c: [1]\ntwo:\n- z: 0\n"

    def change(m: dict) -> None:
        moved = m["one"].pop(1)
        moved["d"] = True
        m["two"].append(moved)

    out = patch(text, change)
    assert out == "one:\n- a: 1\ntwo:\n- z: 0\n# the mover\n- b: 'q'  # keep\n  c: [1]\n  d: true\n"


def test_a_moved_item_is_re_indented_to_its_new_list() -> None:
    text = "one:\n    - a: 1\n    - b: 2\n      c: |\n        text\ntwo:\n- z: 0\n"

    def change(m: dict) -> None:
        m["two"].append(m["one"].pop(1))

    assert patch(text, change) == "one:\n    - a: 1\ntwo:\n- z: 0\n- b: 2\n  c: |\n    text\n"


def test_what_is_appended_after_a_moved_last_item_goes_below_its_own_comments() -> None:
    # The comments below a list's last item, indented deeper than its dash, are the item's and
    # move with it; a key or item appended after it goes below them, not between the item's
    # lines (an empty value, `resources:`, ends where its key does, before those comments). A
    # comment at the item's keys' column stays its last line: the new key goes above it.
    text = "spec:\n  one:\n  - a: 1\n  - b: 2\n    resources:\n      # filled in later\n    # end of b\n"

    def change(m: dict) -> None:
        moved = m["spec"]["one"].pop(1)
        moved["d"] = True
        m["spec"]["two"] = [moved]

    out = patch(text, change)
    assert out == (
        "spec:\n  one:\n  - a: 1\n  two:\n  - b: 2\n    resources:\n      # filled in later\n"
        "    d: true\n    # end of b\n"
    )


def test_a_sidecar_whose_last_key_is_empty_is_patched_with_its_comments_not_re_emitted() -> None:
    from tests.conftest import migrate

    text = (
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n"
        "      containers:\n      - name: app\n        image: app\n"
        "      - name: cloud-sql-proxy\n        image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.1.0\n"
        "        resources:\n          # set by the platform team\n"
    )
    outcome = migrate(text)
    assert outcome.changed and not outcome.reemitted
    lines = outcome.text.splitlines()
    assert lines.index("      initContainers:") < lines.index("          # set by the platform team")
    assert outcome.text.startswith(text.split("      - name: cloud-sql-proxy")[0])


def test_flow_collections_are_edited_in_place() -> None:
    out = patch("a: {x: 1, y: 2}\nb: [1, 2, 3]\n", lambda m: (m["a"].pop("x"), m["a"].update(z=3), m["b"].pop(1)))
    assert out == "a: {y: 2, z: 3}\nb: [1, 3]\n"


def test_json_stays_json() -> None:
    out = patch('{"a": {"b": 1}}\n', lambda m: m["a"].update(c="x"))
    assert out == '{"a": {"b": 1, "c": "x"}}\n'


def test_crlf_documents_get_crlf_lines() -> None:
    out = patch("a: 1\r\nb:\r\n  c: 2\r\n", lambda m: m["b"].update(d={"e": 1}))
    assert out == "a: 1\r\nb:\r\n  c: 2\r\n  d:\r\n    e: 1\r\n"


def test_a_file_without_a_final_newline_still_has_none() -> None:
    assert patch("a: 1", lambda m: m.update(b=2)) == "a: 1\nb: 2"


def test_an_emptied_collection_becomes_flow() -> None:
    assert patch("a:\n  b: 1\nc: 2\n", lambda m: m["a"].clear()) == "a: {}\nc: 2\n"


def test_a_change_under_a_merge_key_is_refused() -> None:
    with pytest.raises(CannotPatchError):
        patch("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n", lambda m: m["use"].update(z=3))


def test_an_edit_beside_an_alias_is_refused_only_where_it_needs_the_alias_position() -> None:
    assert patch("a: &x 1\nb: *x\nc: 2\n", lambda m: m.update(c=3)) == "a: &x 1\nb: *x\nc: 3\n"
    with pytest.raises(CannotPatchError):
        patch("a: &x 1\nb: *x\n", lambda m: m.update(c=3))
