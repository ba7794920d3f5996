"""Before/after cases for the rewrites, pinned with reviewed snapshots, plus what must not change.

Every fixture under tests/fixtures/{legacy,probes,grace,styles,vendors,lifecycle} runs through `migrate`; its
output is pinned (tests/__snapshots__/test_rewrites/), and, independently of the snapshot,
checked the way a reviewer would: sidecars native and in order, API rules kept, only the lines
of the change differ, and a second run changes nothing. Files named `unchanged-*` must come out
byte for byte, as must the vendor fixtures daprd.yaml and gcsfuse.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests import oracle
from tests.conftest import FIXTURES, migrate

GROUPS = ("legacy", "probes", "grace", "styles", "vendors", "lifecycle", "requests")
CASES = sorted(path for group in GROUPS for path in (FIXTURES / group).glob("*.yaml"))
CONTEXT = {
    "sidecar-flag.yaml": {"sidecar_names": ("log-shipper",)},
    "unchanged-probe-on-app-port.yaml": {"sidecar_names": ("metrics-agent",)},
    "unchanged-exec-probe-on-app.yaml": {"sidecar_names": ("envoy",)},
    "unchanged-poststart-waits-app.yaml": {"sidecar_names": ("envoy",)},
    "azwi-legacy.yaml": {"kube_version": (1, 33)},  # Azure Workload Identity renders native from 1.32
}


def _id(path: Path) -> str:
    return f"{path.parent.name}-{path.stem}"


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_output_is_the_reviewed_one(path: Path, yaml_snapshot, snapshot) -> None:
    outcome = migrate(path.read_text(encoding="utf-8"), **CONTEXT.get(path.name, {}))
    assert outcome.text == yaml_snapshot
    assert [f"{c.action} {c.workload} line {c.line}: {c.message}" for c in outcome.changes] == snapshot


MUST_NOT_CHANGE = [p for p in CASES if p.name.startswith("unchanged-") or p.name in ("daprd.yaml", "gcsfuse.yaml")]


@pytest.mark.parametrize("path", MUST_NOT_CHANGE, ids=_id)
def test_must_not_change(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert migrate(text, **CONTEXT.get(path.name, {})).text == text


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_second_run_changes_nothing(path: Path) -> None:
    context = CONTEXT.get(path.name, {})
    once = migrate(path.read_text(encoding="utf-8"), **context).text
    assert migrate(once, **context).text == once


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_only_the_lines_of_the_change_differ(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    outcome = migrate(text, **CONTEXT.get(path.name, {}))
    if outcome.reemitted:
        pytest.skip("re-emitted by the fallback, which the report names")
    assert oracle.stray_lines(text, outcome.text) == []


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_converted_pods_are_right(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    context = CONTEXT.get(path.name, {})
    outcome = migrate(text, **context)
    out = outcome.text
    unsignalled = " ".join(
        c.message for c in outcome.changes if c.action == "warning" and "no startup signal" in c.message
    )
    before = {label: spec for label, _, spec in oracle.pods(text)}
    for label, _, spec in oracle.pods(out):
        old = before[label]
        if old == spec:
            continue
        assert oracle.api_problems(spec) == [] or oracle.api_problems(old) != []
        sidecar_names = [c["name"] for c in oracle.sidecars(spec)]
        old_names = [c["name"] for c in old.get("containers", [])]
        # app containers are untouched and keep their order
        apps = [c for c in old.get("containers", []) if c["name"] not in sidecar_names]
        assert spec["containers"] == apps
        for sidecar in oracle.sidecars(spec):  # a startup signal, or a warning that names the sidecar
            signalled = "startupProbe" in sidecar or "postStart" in sidecar.get("lifecycle", {})
            assert signalled or f"sidecar {sidecar['name']} has no startup signal" in unsignalled
            assert sidecar["name"] not in [c["name"] for c in spec["containers"]]
        converted = [name for name in sidecar_names if name in old_names]
        if converted and isinstance(old.get("terminationGracePeriodSeconds", 30), int):
            assert spec.get("terminationGracePeriodSeconds", 30) > old.get("terminationGracePeriodSeconds", 30)
        # nothing that ran before a converted sidecar now runs after it, unless a mesh helper
        # (istio-init, linkerd-init, kuma-init...), which its vendor renders first natively
        old_init = [c["name"] for c in old.get("initContainers", [])]
        new_init = [c["name"] for c in spec.get("initContainers", [])]
        assert [n for n in new_init if n in old_init] == old_init or any(
            n.startswith(("istio-", "linkerd-", "kuma-")) for n in old_init
        )


def test_kinds_table_covers_every_workload_kind() -> None:
    outcome = migrate((FIXTURES / "legacy" / "kinds.yaml").read_text(encoding="utf-8"))
    converted = sorted({c.workload for c in outcome.changes if c.message.startswith("proxy -> native sidecar")})
    assert converted == sorted(
        [
            "pod/pod",
            "podtemplate/podtemplate",
            "replicationcontroller/rc",
            "daemonset/ds",
            "replicaset/rs",
            "cronjob/nightly",
            "deploymentconfig/dc",
            "deployment/in-a-list",
            "job/in-a-nested-list",
        ]
    )


def test_skips_say_why() -> None:
    reasons = {
        "unchanged-only-sidecar.yaml": "only container",
        "unchanged-name-taken.yaml": "already has a container named cloud-sql-proxy",
    }
    for name, words in reasons.items():
        changes = migrate((FIXTURES / "legacy" / name).read_text(encoding="utf-8")).changes
        assert [c.action for c in changes] == ["skipped"]
        assert words in changes[0].message


@pytest.mark.parametrize(
    ("version", "gate", "action", "words"),
    [
        ((1, 27), None, "skipped", "need Kubernetes 1.29 or later (target is 1.27)"),
        ((1, 28), None, "skipped", "SidecarContainers feature gate"),
        ((1, 28), True, "changed", "-> native sidecar"),
        ((1, 30), None, "changed", "-> native sidecar"),  # beta, on by default
        ((1, 30), False, "skipped", "feature gate is off"),  # the API server would drop restartPolicy
        ((1, 33), None, "changed", "-> native sidecar"),
    ],
)
def test_target_version_gates_conversion(version: tuple[int, int], gate: bool | None, action: str, words: str) -> None:
    text = (FIXTURES / "grace" / "explicit.yaml").read_text(encoding="utf-8")
    outcome = migrate(text, kube_version=version, sidecar_gate=gate)
    first = next(c for c in outcome.changes if c.action != "warning")
    assert first.action == action and words in first.message
    assert outcome.changed == (action == "changed")
    if version == (1, 28) and gate:
        assert any(c.action == "warning" and "1.28" in c.message for c in outcome.changes)


def test_daprd_and_gcsfuse_are_moved_only_when_named() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    image: a\n"
        "  - name: daprd\n    image: daprio/daprd:1.14\n  - name: gke-gcsfuse-sidecar\n    image: gcsfuse:1\n"
    )
    assert migrate(text).text == text
    named = migrate(text, sidecar_names=("daprd",)).text
    assert [c["name"] for c in next(oracle.pods(named))[2]["initContainers"]] == ["daprd"]


def test_the_fallback_is_named_in_the_report() -> None:
    """A change under a `<<` merge key cannot be patched exactly: the document is re-emitted,
    says the same thing as the model, and the report says it was re-emitted."""
    import subprocess
    import sys

    path = FIXTURES / "styles" / "merge-keys.yaml"
    outcome = migrate(path.read_text(encoding="utf-8"))
    assert outcome.reemitted == [0]
    spec = next(oracle.pods(outcome.text))[2]
    assert spec["initContainers"][0]["image"] == "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"
    executable = Path(sys.executable).with_name("nativecar")
    result = subprocess.run([str(executable), "migrate", str(path)], capture_output=True, text=True)
    assert "warning: document 1 was re-emitted by ruamel.yaml" in result.stderr


def test_an_empty_lifecycle_on_a_sidecar_is_no_problem() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    image: a\n"
        "  - name: cloud-sql-proxy\n    image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3\n    lifecycle:\n"
    )
    outcome = migrate(text)
    assert [c.action for c in outcome.changes if c.action == "warning"] == []
    assert next(oracle.pods(outcome.text))[2]["initContainers"][0]["restartPolicy"] == "Always"


@pytest.mark.parametrize("empty", ["", " ~", " null", "  # none yet"])
def test_a_null_init_containers_is_an_empty_list(empty: str) -> None:
    """`initContainers:` with no value is null, which the API reads as no init containers: the
    sidecar moves there like anywhere else, and a comment on the line stays in the output."""
    text = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n"
        f"      restartPolicy: Never\n      initContainers:{empty}\n      containers:\n"
        "        - name: app\n          image: busybox:1.36\n        - name: cloud-sql-proxy\n"
        "          image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3\n"
        '          args: ["--port=5432", "p:r:i"]\n'
    )
    outcome = migrate(text)
    assert outcome.changed and not outcome.reemitted
    spec = yaml.safe_load(outcome.text)["spec"]["template"]["spec"]
    assert [item["name"] for item in spec["initContainers"]] == ["cloud-sql-proxy"]
    assert [item["name"] for item in spec["containers"]] == ["app"]
    assert "# none yet" in outcome.text or "#" not in empty


@pytest.mark.parametrize("empty", ["", " ~", " null"])
def test_a_null_grace_period_is_the_default_and_grows(empty: str) -> None:
    """`terminationGracePeriodSeconds:` with no value is the API's default, 30 s: it grows by the
    sidecar's budget like an absent one, written in place (not re-emitted)."""
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: n}\nspec:\n"
        f"  terminationGracePeriodSeconds:{empty}\n  containers:\n"
        "    - name: app\n      image: busybox:1.36\n    - name: cloud-sql-proxy\n"
        "      image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3\n"
        '      args: ["--port=5432", "p:r:i"]\n'
    )
    outcome = migrate(text)
    assert outcome.changed and not outcome.reemitted
    assert yaml.safe_load(outcome.text)["spec"]["terminationGracePeriodSeconds"] == 35
    assert not [change for change in outcome.changes if change.action == "warning" and "None" in change.message]


@pytest.mark.parametrize(
    ("config", "budget"),
    [
        (None, 5),  # Istio's default terminationDrainDuration
        ("terminationDrainDuration: 45s", 45),
        ('{"terminationDrainDuration": "1m30s"}', 90),
        ("holdApplicationUntilProxyStarts: true", 5),
    ],
)
def test_istio_proxy_budget_is_its_termination_drain_duration(config: str | None, budget: int) -> None:
    """On SIGTERM pilot-agent drains, waits terminationDrainDuration (ProxyConfig, default 5 s),
    then exits: the grace period grows by that much, read from `proxy.istio.io/config`."""
    annotations = f"      annotations:\n        proxy.istio.io/config: '{config}'\n" if config else ""
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n"
        f"{annotations}      labels: {{app: web}}\n    spec:\n      terminationGracePeriodSeconds: 60\n"
        "      containers:\n        - {name: web, image: nginx}\n"
        "        - {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}\n"
    )
    outcome = migrate(text)
    assert outcome.changed
    spec = yaml.safe_load(outcome.text)["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == 60 + budget
