"""The conversions that used to pass every text check and still break the pod, each with its
must-not-change twin (tests/fixtures/lifecycle/). What a reviewer checks: where the sidecar went,
which flags and probes it got, and the findings `migrate` prints for what is left to do.
Every converted pod is also checked with the lifecycle model (starts, completes, keeps its
shutdown time) in tests/test_lifecycle_conversions.py.
"""

from __future__ import annotations

import pytest

from nativecar.changes import Change
from tests import oracle
from tests.conftest import fixture_text, migrate


def _spec(text: str) -> dict:
    return next(oracle.pods(text))[2]


def _sidecar(spec: dict, name: str) -> dict:
    return next(c for c in spec["initContainers"] if c["name"] == name)


def _findings(changes: list[Change]) -> list[tuple[str, str]]:
    return [(change.rule, change.message) for change in changes if change.action == "finding"]


@pytest.mark.parametrize("case", ["shell-wrapped-v2", "shell-wrapped-v1"])
def test_a_shell_wrapped_proxy_gets_no_flags_and_no_probe_it_cannot_answer(case: str) -> None:
    text = fixture_text(f"lifecycle/{case}.yaml")
    outcome = migrate(text)
    before = {c["name"]: c for c in _spec(text)["containers"]}
    spec = _spec(outcome.text)
    proxy = next(c for c in spec["initContainers"] if c["restartPolicy"] == "Always")
    original = before[proxy["name"]]
    # the script and its words are untouched: nothing appended after `sh -c SCRIPT`
    assert proxy.get("command") == original.get("command") and proxy.get("args") == original.get("args")
    assert "startupProbe" not in proxy
    warnings = [c.message for c in outcome.changes if c.action == "warning"]
    assert any("shell script" in message and "no startup signal" in message for message in warnings)
    assert not any("health server switched on" in c.message for c in outcome.changes)
    # the marker-file loop is recognised for what it does, and reported as obsolete
    assert [rule for rule, message in _findings(outcome.changes) if "kills it once" in message] == ["NC008"]


@pytest.mark.parametrize("case", ["unchanged-shell-wrapped-v2", "unchanged-shell-wrapped-v1"])
def test_a_native_shell_wrapped_proxy_is_left_alone(case: str) -> None:
    text = fixture_text(f"lifecycle/{case}.yaml")
    assert migrate(text).text == text


def test_two_proxies_get_two_health_ports_each_probed_on_its_own() -> None:
    spec = _spec(migrate(fixture_text("lifecycle/two-proxies.yaml")).text)
    ports = {}
    for name in ("orders-db", "ledger-db"):
        proxy = _sidecar(spec, name)
        flag = [arg for arg in proxy["args"] if arg.startswith("--http-port=")]
        assert len(flag) == 1
        ports[name] = int(flag[0].split("=")[1])
        assert proxy["startupProbe"]["httpGet"]["port"] == ports[name]
    assert ports["orders-db"] != ports["ledger-db"]
    assert min(ports.values()) >= 9801
    listeners = {5432, 5433}
    assert not listeners & set(ports.values())


def test_two_native_proxies_with_their_own_ports_are_left_alone() -> None:
    text = fixture_text("lifecycle/unchanged-two-proxies.yaml")
    assert migrate(text).text == text


def test_the_proxy_goes_before_the_init_container_that_dials_it() -> None:
    outcome = migrate(fixture_text("lifecycle/init-dials-proxy.yaml"))
    names = [c["name"] for c in _spec(outcome.text)["initContainers"]]
    assert names == ["wait-for-config", "cloud-sql-proxy", "migrate"]
    assert not [rule for rule, _ in _findings(outcome.changes) if rule == "NC018"]


def test_a_proxy_already_before_its_migration_is_left_alone() -> None:
    text = fixture_text("lifecycle/unchanged-init-dials-proxy.yaml")
    assert migrate(text).text == text


def test_a_proxy_that_stops_itself_in_prestop_is_converted_with_a_warning() -> None:
    outcome = migrate(fixture_text("lifecycle/prestop-quitquitquit.yaml"))
    proxy = _sidecar(_spec(outcome.text), "cloud-sql-proxy")
    assert proxy["lifecycle"]["preStop"]["httpGet"]["path"] == "/quitquitquit"  # kept: the user decides
    found = _findings(outcome.changes)
    assert [rule for rule, _ in found] == ["NC015"]
    assert "while the app is still draining" in found[0][1]


def test_a_native_proxy_without_a_stopping_prestop_is_left_alone() -> None:
    text = fixture_text("lifecycle/unchanged-prestop-drain.yaml")
    outcome = migrate(text)
    assert outcome.text == text and _findings(outcome.changes) == []


def test_migrate_prints_the_failure_policy_and_named_port_findings_at_their_output_lines() -> None:
    outcome = migrate(fixture_text("lifecycle/failure-policy-and-named-port.yaml"))
    lines = outcome.text.splitlines()
    found = {change.rule: change for change in outcome.changes if change.action == "finding"}
    assert set(found) == {"NC009", "NC010"}
    assert lines[found["NC010"].line - 1][found["NC010"].column - 1 :].startswith("onExitCodes:")
    assert lines[found["NC009"].line - 1][found["NC009"].column - 1 :].startswith("targetPort: proxy-metrics")
    at_132 = migrate(fixture_text("lifecycle/failure-policy-and-named-port.yaml"), kube_version=(1, 32)).changes
    assert {rule for rule, _ in _findings(at_132)} == {"NC010"}  # 1.32 resolves a sidecar's named port


def test_with_both_fixed_the_conversion_leaves_nothing_to_report() -> None:
    outcome = migrate(fixture_text("lifecycle/failure-policy-and-named-port-fixed.yaml"))
    assert outcome.changed and _findings(outcome.changes) == []


@pytest.mark.parametrize(
    ("version", "gate", "rule", "words"),
    [
        ((1, 33), None, "NC005", "before 1.34 only init containers may"),
        ((1, 34), None, "NC005", "without the ContainerRestartRules feature gate"),
        ((1, 34), True, "NC014", "the pod never completes"),
        ((1, 35), None, "NC014", "the pod never completes"),
        ((1, 35), False, "NC005", "without the ContainerRestartRules feature gate"),
    ],
)
def test_restart_policy_on_a_regular_container_per_version(
    version: tuple[int, int], gate: bool | None, rule: str, words: str
) -> None:
    text = fixture_text("lifecycle/restart-policy-regular.yaml")
    outcome = migrate(text, kube_version=version, restart_rules_gate=gate)
    spec = _spec(outcome.text)
    assert [c["name"] for c in spec["containers"]] == ["close", "log-shipper"]  # never taken for a sidecar
    assert [c["name"] for c in spec["initContainers"]] == ["cloud-sql-proxy"]
    found = [(r, message) for r, message in _findings(outcome.changes) if "log-shipper" in message]
    assert [r for r, _ in found] == [rule] and words in found[0][1]


@pytest.mark.parametrize(("version", "gate"), [((1, 33), None), ((1, 34), None), ((1, 34), True), ((1, 35), None)])
def test_without_the_field_no_restart_policy_finding(version: tuple[int, int], gate: bool | None) -> None:
    outcome = migrate(
        fixture_text("lifecycle/restart-policy-regular-none.yaml"), kube_version=version, restart_rules_gate=gate
    )
    assert outcome.changed and _findings(outcome.changes) == []


def test_a_conversion_the_model_rejects_leaves_the_pod_as_it_was_and_says_why() -> None:
    text = fixture_text("lifecycle/unchanged-probe-on-app-port.yaml")
    outcome = migrate(text, sidecar_names=("metrics-agent",))
    assert outcome.text == text
    [skip] = [c for c in outcome.changes if c.action == "skipped"]
    assert "left as it was" in skip.message and "storefront" in skip.message and ":8080" in skip.message
    assert not [c for c in outcome.changes if c.action == "changed"]


@pytest.mark.parametrize(
    ("case", "sidecar", "words"),
    [
        ("unchanged-exec-probe-on-app", "envoy", "its startupProbe connects to http://127.0.0.1:8080/healthz"),
        ("unchanged-poststart-waits-app", "envoy", "its postStart hook connects to http://127.0.0.1:8080/healthz"),
        ("unchanged-linkerd-identity", None, "linkerd-proxy connects to localhost.:8080, which only identity serves"),
    ],
)
def test_a_start_gate_that_waits_for_a_later_container_is_never_created(
    case: str, sidecar: str | None, words: str
) -> None:
    """The class of pods that deadlock once converted: the gate (an exec probe, a postStart hook,
    the sidecar's own readiness) needs a container that starts only after the gate has passed."""
    text = fixture_text(f"lifecycle/{case}.yaml")
    outcome = migrate(text, sidecar_names=(sidecar,) if sidecar else ())
    assert outcome.text == text
    [skip] = [c for c in outcome.changes if c.action == "skipped"]
    assert words in skip.message


def test_init_containers_that_reach_the_proxy_without_a_url_get_it_before_them() -> None:
    spec = _spec(migrate(fixture_text("lifecycle/init-dials-other-forms.yaml")).text)
    names = [c["name"] for c in spec["initContainers"]]
    assert names == ["render-config", "cloud-sql-proxy", "wait-for-db", "schema"]


def _job(*containers: dict, init: tuple[dict, ...] = ()) -> str:
    import yaml

    spec = {"restartPolicy": "Never", "containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": spec}}}
    return yaml.safe_dump(job)


PROXY = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"


def test_a_tcp_and_a_udp_listener_on_one_number_are_no_conflict() -> None:
    exporter = {
        "name": "statsd-exporter",
        "image": "prom/statsd-exporter",
        "ports": [{"containerPort": 9125, "protocol": "UDP"}, {"containerPort": 9102}],
        "readinessProbe": {"httpGet": {"path": "/metrics", "port": 9102}},
    }
    app = {"name": "app", "image": "a", "ports": [{"containerPort": 9125}]}
    outcome = migrate(_job(app, exporter), sidecar_names=("statsd-exporter",))
    assert not [c for c in outcome.changes if c.action == "skipped"]
    assert _spec(outcome.text)["initContainers"][0]["name"] == "statsd-exporter"
    assert not [c for c in outcome.changes if c.rule == "NC017"]


def test_a_health_server_on_every_ipv6_address_is_probed() -> None:
    proxy = {"name": "db", "image": PROXY, "args": ["--health-check", "--http-address=::", "--port=5432", "p:r:a"]}
    spec = _spec(migrate(_job({"name": "app", "image": "a"}, proxy)).text)
    assert spec["initContainers"][0]["startupProbe"]["httpGet"]["port"] == 9090


def test_a_clash_the_pod_already_had_is_not_blamed_on_the_conversion() -> None:
    app = {"name": "app", "image": "a", "ports": [{"containerPort": 9102}]}
    exporter = {
        "name": "exporter",
        "image": "e",
        "ports": [{"containerPort": 9102}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 9102}},
    }
    outcome = migrate(_job(app, exporter), sidecar_names=("exporter",))
    assert not [c for c in outcome.changes if c.action == "skipped"]
    assert [c.rule for c in outcome.changes if c.action == "finding"] == ["NC017"]  # still reported


def test_args_that_are_not_a_list_are_never_overwritten() -> None:
    proxy = {"name": "db", "image": PROXY, "args": "--port=5432 p:r:a"}
    outcome = migrate(_job({"name": "app", "image": "a"}, proxy))
    [sidecar] = _spec(outcome.text)["initContainers"]
    assert sidecar["args"] == "--port=5432 p:r:a" and "startupProbe" not in sidecar
    assert any("is not a list" in c.message for c in outcome.changes if c.action == "warning")


def test_findings_point_into_the_file_the_user_will_open() -> None:
    """Rewritten in place: the rewritten file; otherwise (stdout, --check, --diff): the file as it is."""
    import subprocess
    import sys
    from pathlib import Path

    text = fixture_text("lifecycle/prestop-quitquitquit.yaml")
    executable = Path(sys.executable).with_name("nativecar")
    for flags in (["--check"], ["--diff"], []):
        result = subprocess.run([str(executable), "migrate", *flags, "-"], input=text.encode(), capture_output=True)
        [line] = [row for row in result.stderr.decode().splitlines() if "NC015" in row]
        row, column = (int(part) for part in line.split(":")[1:3])
        assert text.splitlines()[row - 1][column - 1 :].startswith("lifecycle:")
    rewritten = migrate(text).text
    [finding] = [c for c in migrate(text).changes if c.rule == "NC015"]
    assert rewritten.splitlines()[finding.line - 1][finding.column - 1 :].startswith("lifecycle:")


def test_quiet_prints_nothing_but_still_refuses_a_conversion_that_would_break_the_pod() -> None:
    import subprocess
    import sys
    from pathlib import Path

    executable = Path(sys.executable).with_name("nativecar")
    broken = fixture_text("lifecycle/unchanged-probe-on-app-port.yaml")
    result = subprocess.run(
        [str(executable), "migrate", "-q", "--sidecar", "metrics-agent", "-"],
        input=broken.encode(),
        capture_output=True,
    )
    assert result.returncode == 0 and result.stdout.decode() == broken and result.stderr == b""
    fine = fixture_text("lifecycle/prestop-quitquitquit.yaml")
    result = subprocess.run([str(executable), "migrate", "-q", "-"], input=fine.encode(), capture_output=True)
    assert result.stdout.decode() == migrate(fine).text and result.stderr == b""
