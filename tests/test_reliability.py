"""Promises about the user's data, one class of broken input each (issue 8): nothing silently
lost, bad input reported as one positioned line before anything is written, no traceback, no
blow-up. Each test failed on the code before its fix."""

from __future__ import annotations

import contextlib
import io
import time

import pytest
import yaml

from nativecar import checker, engine
from nativecar.documents import InputError, decode
from nativecar.report import Report
from nativecar.rewrites import Context
from nativecar.runner import Output, run
from nativecar.settings import Settings
from tests.conftest import FIXTURES, migrate

PROXY = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"


def _everything(text: str) -> None:
    """migrate, check and explain on `text`: they may refuse it (InputError), never crash."""
    source = decode(text.encode(), "t.yaml")
    for work in (engine.process, checker.check, engine.explain):
        with contextlib.suppress(InputError):
            work(source, Context())


def test_keys_python_would_merge_stay_apart_and_nothing_is_dropped() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n    1: one\n    true: two\n"
        "spec:\n  containers:\n    - {name: app, image: nginx}\n"
        "    - {name: istio-proxy, image: docker.io/istio/proxyv2:1.23.0}\n"
    )
    out = migrate(text).text
    root = yaml.compose(out)  # read as nodes: a Python dict would merge 1 and True itself
    metadata = next(value for key, value in root.value if key.value == "metadata")
    annotations = next(value for key, value in metadata.value if key.value == "annotations")
    pairs = [(key.value, value.value) for key, value in annotations.value]
    assert pairs == [("1", "one"), ("true", "two"), ("sidecar.istio.io/nativeSidecar", "true")]


def test_keys_kubernetes_reads_as_one_are_a_duplicate() -> None:
    """sigs.k8s.io/yaml turns the key `1` into the JSON key "1": `1:` and `"1":` are one field."""
    text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  1: a\n  "1": b\n'
    with pytest.raises(InputError, match="duplicate key") as raised:
        migrate(text)
    assert (raised.value.line, raised.value.column) == (6, 3)


def test_a_document_that_cannot_be_rewritten_exactly_is_bad_input_and_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The merge-key fixture can only be re-emitted; when that fails, nothing reaches stdout."""
    import nativecar.fallback

    def broken(*args: object) -> str:
        raise ValueError("found character '\\t' that cannot start any token\n  in <unicode string>")

    monkeypatch.setattr(nativecar.fallback, "reemit", broken)
    stdout, stderr = io.BytesIO(), io.StringIO()
    code = run(
        [str(FIXTURES / "styles" / "merge-keys.yaml")], Settings(), Output(), Report(stream=stderr), stdout=stdout
    )
    assert code == 2 and stdout.getvalue() == b""
    [line, summary] = stderr.getvalue().splitlines()
    assert line.endswith(
        "this document cannot be rewritten exactly (found character '\\t' that cannot start any token)"
    )
    assert line.split(":")[1:3] == ["3", "1"] and summary == "1 error; nothing was written."


@pytest.mark.parametrize(
    "proxy",
    [
        f"    - app\n    - name: cloud-sql-proxy\n      image: {PROXY}\n",
        f"    - name: app\n      image: 5\n    - name: cloud-sql-proxy\n      image: {PROXY}\n      args: 5\n",
        "    - name: app\n      image: a\n      ports: 5\n      env: x\n"
        f"    - name: cloud-sql-proxy\n      image: {PROXY}\n      readinessProbe: 5\n"
        "      lifecycle: {preStop: 4, postStart: {exec: {command: 5}}}\n",
        "    - name: app\n      image: [a]\n    - name: [x]\n      image: {i: 1}\n",
    ],
    ids=["scalar-item", "int-image-and-args", "typed-fields", "collections-for-strings"],
)
def test_wrongly_typed_fields_never_crash(proxy: str) -> None:
    _everything(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n{proxy}")


def test_a_merge_key_with_a_scalar_is_bad_input_at_its_value() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
    text += f"  - <<: x\n    name: p\n    image: {PROXY}\n"
    with pytest.raises(InputError, match="merge key") as raised:
        migrate(text)
    assert (raised.value.line, raised.value.column) == (6, 9)


def test_nesting_deeper_than_python_can_follow_is_bad_input_with_its_position() -> None:
    deep = "[" * 990 + "]" * 990
    text = (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: app\n    image: a\n"
        f"    args: {deep}\n  - name: cloud-sql-proxy\n    image: {PROXY}\n"
    )
    for work in (engine.process, checker.check, engine.explain):
        with pytest.raises(InputError, match="levels deep") as raised:
            work(decode(text.encode(), "t.yaml"), Context())
        assert raised.value.line == 8


def test_aliases_that_expand_without_bound_are_refused_at_once() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for name, previous in zip("bcdefg", "abcdef", strict=True):
        levels.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: laughs}\ndata:\n" + "".join(
        f"  {line}\n" for line in levels
    )
    started = time.perf_counter()
    with pytest.raises(InputError, match="excessive aliasing"):
        migrate(text)
    assert time.perf_counter() - started < 5


def test_a_few_aliases_are_compared_once_not_once_per_use() -> None:
    """Verification compares an aliased node with its value once: nine uses of a 9-way alias
    nine levels down would otherwise be compared 9**9 times."""
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    image: a\n"
        "    env: &env [{name: A, value: '1'}, {name: B, value: '2'}]\n"
        f"  - name: cloud-sql-proxy\n    image: {PROXY}\n    env: *env\n"
    )
    outcome = migrate(text)
    assert outcome.changed and yaml.safe_load(outcome.text)["spec"]["initContainers"][0]["env"][0]["name"] == "A"


def test_a_grace_period_at_the_int64_limit_is_left_as_it_is() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  terminationGracePeriodSeconds: 9223372036854775807\n"
        f"  containers:\n  - {{name: app, image: a}}\n  - {{name: cloud-sql-proxy, image: {PROXY}}}\n"
    )
    outcome = migrate(text)  # no overflow: the grace period cannot grow, so the pod stays as it was
    assert yaml.safe_load(outcome.text)["spec"]["terminationGracePeriodSeconds"] == 2**63 - 1
    [skip] = [change for change in outcome.changes if change.action == "skipped"]
    assert "to shut down instead of" in skip.message


def test_a_comment_after_the_proxys_last_key_moves_with_the_proxy() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: app\n      image: a\n"
        f"    - name: cloud-sql-proxy\n      image: {PROXY}\n"
        "      # keep the proxy on 2.x until the migration is done\n"
    )
    outcome = migrate(text)
    assert not outcome.reemitted  # patched: the comment keeps its own line and column
    lines = outcome.text.splitlines()
    comment = lines.index("      # keep the proxy on 2.x until the migration is done")
    proxy = lines.index("    - name: cloud-sql-proxy")
    assert lines.index("  initContainers:") < proxy < comment
    assert all(line.startswith("      ") for line in lines[proxy + 1 : comment])  # among the proxy's lines


def test_a_control_character_is_reported_where_it_is() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\x00b\n"
    with pytest.raises(InputError, match="#x0000") as raised:
        migrate(text)
    assert (raised.value.line, raised.value.column) == (4, 10)


def test_a_sidecar_first_among_mistyped_containers_is_converted_without_a_crash() -> None:
    """A `- --flag` line slipped out of `args` becomes a containers item of its own (the fuzz
    test's find): the proxy moves, the warning about kubectl's default names the real app."""
    text = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n"
        "      restartPolicy: Never\n      containers:\n"
        f"      - name: cloud-sql-proxy\n        image: {PROXY}\n        args:\n      - --structured-logs\n"
        "      - name: migrate\n        image: m\n"
    )
    outcome = migrate(text)
    assert any("default to 'migrate'" in change.message for change in outcome.changes)
