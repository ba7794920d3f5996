"""Vendor bookkeeping: conversions match what each vendor renders natively for the same pod.

The strongest check there is: Istio's and Linkerd's own golden files for one input, rendered
once legacy and once native (tests/fixtures/upstream). Converting the legacy rendering must give
the native rendering, except for what nativecar adds on purpose (the grace period, Istio's
native-mode annotation) and what differs between the template eras the goldens come from.
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests import oracle
from tests.conftest import FIXTURES, fixture_text, migrate, migrate_text


def documents(text: str) -> list[dict]:
    return [document for document in yaml.safe_load_all(text) if document]


def pod_spec(text: str) -> dict:
    return next(oracle.pods(text))[2]


def annotations(text: str) -> dict:
    return next(oracle.pods(text))[1].get("annotations", {})


def test_istio_conversion_equals_istios_native_rendering() -> None:
    ours = documents(migrate_text(fixture_text("upstream/istio-legacy-hello.yaml.injected")))
    theirs = documents(fixture_text("upstream/istio-native-hello.yaml.injected"))
    template = ours[0]["spec"]["template"]
    assert template["metadata"]["annotations"].pop("sidecar.istio.io/nativeSidecar") == "true"
    assert template["spec"].pop("terminationGracePeriodSeconds") == 35
    # the two goldens come from template eras a `divisor` apart; nothing else may differ
    for env in template["spec"]["initContainers"][1]["env"]:
        if "resourceFieldRef" in env.get("valueFrom", {}):
            env["valueFrom"]["resourceFieldRef"]["divisor"] = "0"
    assert ours == theirs


def test_linkerd_conversion_equals_linkerds_native_rendering() -> None:
    ours = documents(migrate_text(fixture_text("upstream/linkerd-legacy.golden.yml")))
    theirs = documents(fixture_text("upstream/linkerd-native.golden.yml"))
    template = ours[0]["spec"]["template"]
    assert template["spec"].pop("terminationGracePeriodSeconds") == 35
    # the proxy's version is unknown (a test tag): the spelling the widest range of releases
    # reads is Linkerd's alpha one, which is the golden's own
    assert ours == theirs


def test_linkerd_annotation_spelling_follows_the_stable_release() -> None:
    text = fixture_text("upstream/linkerd-legacy.golden.yml")
    for version, prefix in (
        ("stable-2.17.1", "config.alpha"),
        ("stable-2.19.0", "config.beta"),
        ("stable-2.20.0", "config"),
    ):
        converted = migrate_text(text.replace("proxy-version: test-inject-proxy-version", f"proxy-version: {version}"))
        assert f"{prefix}.linkerd.io/proxy-enable-native-sidecar" in annotations(converted)


def test_istio_status_annotation_lists_the_proxy_as_an_init_container() -> None:
    for name in ("istio-deployment.yaml", "istio-job.yaml", "istio-status-port.yaml", "istio-user-init.yaml"):
        status = json.loads(annotations(migrate_text(fixture_text(f"vendors/{name}")))["sidecar.istio.io/status"])
        assert list(status) == ["initContainers", "containers", "volumes", "imagePullSecrets", "revision"]
        assert status["initContainers"] == ["istio-init", "istio-proxy"] and status["containers"] is None


def test_istio_cronjob_status_is_updated_where_kube_inject_wrote_it() -> None:
    converted = documents(migrate_text(fixture_text("vendors/istio-cronjob.yaml")))[0]
    status = json.loads(converted["spec"]["jobTemplate"]["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert status["initContainers"] == ["istio-init", "istio-proxy"]


def test_istio_init_order_puts_the_mesh_first() -> None:
    orders = {
        "istio-user-init.yaml": ["istio-init", "istio-proxy", "db-migrate"],
        "istio-cni.yaml": ["istio-validation", "istio-proxy", "wait-for-db"],
    }
    for name, order in orders.items():
        assert [c["name"] for c in pod_spec(migrate_text(fixture_text(f"vendors/{name}")))["initContainers"]] == order


def test_istio_drain_prestop_uses_the_pods_status_port() -> None:
    spec = pod_spec(migrate_text(fixture_text("vendors/istio-status-port.yaml")))
    proxy = spec["initContainers"][1]
    assert proxy["lifecycle"]["preStop"]["exec"]["command"] == [
        "pilot-agent",
        "request",
        "--debug-port=15030",
        "POST",
        "drain",
    ]


def test_istio_hold_application_is_replaced_by_a_startup_probe() -> None:
    spec = pod_spec(migrate_text(fixture_text("vendors/istio-pod-hold.yaml")))
    proxy = next(c for c in spec["initContainers"] if c["name"] == "istio-proxy")
    assert "postStart" not in proxy["lifecycle"]
    assert proxy["startupProbe"]["httpGet"] == {"path": "/healthz/ready", "port": 15021}
    assert proxy["startupProbe"]["failureThreshold"] == 600


def test_istio_user_lifecycle_from_overrides_is_kept() -> None:
    text = migrate_text(fixture_text("vendors/istio-overrides.yaml"))
    proxy = next(c for c in pod_spec(text)["initContainers"] if c["name"] == "istio-proxy")
    assert proxy["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "10"]}}}
    overrides = json.loads(annotations(text)["proxy.istio.io/overrides"])
    assert "containers" not in overrides
    assert [c["name"] for c in overrides["initContainers"]] == ["istio-proxy"]


def test_linkerd_legacy_hooks_and_wait_annotation_are_dropped() -> None:
    text = migrate_text(fixture_text("vendors/linkerd-deployment.yaml"))
    proxy = next(c for c in pod_spec(text)["initContainers"] if c["name"] == "linkerd-proxy")
    assert "lifecycle" not in proxy
    assert proxy["startupProbe"] == {
        "httpGet": {"path": "/ready", "port": 4191},
        "periodSeconds": 1,
        "failureThreshold": 120,
    }
    assert "config.alpha.linkerd.io/proxy-wait-before-exit-seconds" not in annotations(text)


def test_cloud_sql_health_server_is_switched_on_for_the_startup_probe() -> None:
    v2 = pod_spec(migrate_text(fixture_text("vendors/cloudsql-v2-job.yaml")))["initContainers"][-1]
    assert {"--health-check", "--http-address=0.0.0.0", "--http-port=9801"} <= set(v2["args"])
    assert v2["startupProbe"]["httpGet"] == {"path": "/startup", "port": 9801}
    v1 = pod_spec(migrate_text(fixture_text("vendors/cloudsql-v1-deployment.yaml")))["initContainers"][-1]
    assert "-use_http_health_check" in v1["command"] + v1.get("args", [])
    assert v1["startupProbe"]["httpGet"]["port"] == 8090
    health = pod_spec(migrate_text(fixture_text("vendors/cloudsql-v2-health.yaml")))["initContainers"][-1]
    assert health["startupProbe"]["httpGet"]["port"] == 9090  # its own health server, left where it was


def test_obsolete_workarounds_are_reported() -> None:
    changes = migrate(fixture_text("vendors/cloudsql-v2-job.yaml")).changes
    left = [c for c in changes if c.action == "finding" and c.rule == "NC008"]
    assert len(left) == 1 and "stops cloud-sql-proxy itself" in left[0].message and "quitquitquit" in left[0].message
    assert (FIXTURES / "vendors" / "daprd.yaml").exists()


# -- the vendors of ../shared/VENDORS.md as data ----------------------------------------------------
#
# Each test below is written from the facts VENDORS.md gives for the vendor (position, startup
# signal, hooks, budget, versions), not from nativecar's output: the parsed result is compared
# with what the vendor's injector renders natively.

KUMA_PROBE_DEFAULTS = {  # kuma-cp.defaults.yaml L318-326 @v2.14.3, successThreshold from factory.go L220-236
    "initialDelaySeconds": 1,
    "timeoutSeconds": 3,
    "periodSeconds": 5,
    "failureThreshold": 12,
    "successThreshold": 1,
}
KUMA_DRAIN = {"exec": {"command": ["killall", "-USR2", "kuma-dp"]}}  # injector.go L368-377 @v2.14.3
NATIVE_ONLY = ("restartPolicy", "startupProbe", "lifecycle")


def names(containers: list[dict]) -> list[str]:
    return [container["name"] for container in containers]


def without(container: dict, keys: tuple[str, ...] = NATIVE_ONLY) -> dict:
    return {key: value for key, value in container.items() if key not in keys}


def test_kuma_2_13_legacy_pod_becomes_what_kuma_renders_natively() -> None:
    """Acceptance (issue 9): VENDORS.md "Kuma", case 02 of the goldens. Legacy: kuma-sidecar first
    in containers, kuma-init after the user's `init`; native: kuma-init, kuma-sidecar, init."""
    text = fixture_text("vendors/kuma-legacy.yaml")
    before = pod_spec(text)
    assert names(before["containers"]) == ["kuma-sidecar", "busybox"]
    assert names(before["initContainers"]) == ["init", "kuma-init"]
    out = migrate_text(text)
    spec = pod_spec(out)
    assert names(spec["initContainers"]) == ["kuma-init", "kuma-sidecar", "init"]
    assert names(spec["containers"]) == ["busybox"]
    proxy = spec["initContainers"][1]
    assert proxy["restartPolicy"] == "Always"
    probe = proxy["startupProbe"]
    assert set(probe) == {"httpGet", *KUMA_PROBE_DEFAULTS}
    assert probe["httpGet"] == {"path": "/ready", "port": 9901}
    assert {key: probe[key] for key in KUMA_PROBE_DEFAULTS} == KUMA_PROBE_DEFAULTS
    assert proxy["lifecycle"] == {"preStop": KUMA_DRAIN}
    # nothing else of any container changes, and the annotations are the same in both renderings
    old = {container["name"]: container for container in [*before["containers"], *before["initContainers"]]}
    for container in [*spec["initContainers"], *spec["containers"]]:
        assert without(container) == without(old[container["name"]]), container["name"]
    assert annotations(out) == annotations(text)


def test_kuma_cni_validation_admin_port_wait_hook_and_drain_time() -> None:
    """kuma-validation leads like kuma-init; the probe follows kuma.io/envoy-admin-port; the legacy
    `kuma-dp wait` postStart goes; the budget is KUMA_DATAPLANE_DRAIN_TIME (45s)."""
    text = fixture_text("vendors/kuma-wait-ready.yaml")
    spec = pod_spec(migrate_text(text))
    assert names(spec["initContainers"]) == ["kuma-validation", "kuma-sidecar", "fetch-config"]
    proxy = spec["initContainers"][1]
    assert proxy["startupProbe"]["httpGet"] == {"path": "/ready", "port": 9902}
    assert proxy["lifecycle"] == {"preStop": KUMA_DRAIN}
    assert spec["terminationGracePeriodSeconds"] == 30 + 45


def test_consul_dataplane_goes_after_its_init_with_the_exec_probe() -> None:
    """VENDORS.md "Consul": appended after consul-connect-inject-init (so after the user's init),
    exec `consul-dataplane -check-proxy-health` 1/1/10/5, no hooks, budget from its own flag."""
    text = fixture_text("vendors/consul-legacy.yaml")
    spec = pod_spec(migrate_text(text))
    assert names(spec["initContainers"]) == ["migrate-schema", "consul-connect-inject-init", "consul-dataplane"]
    assert names(spec["containers"]) == ["api"]
    dataplane = spec["initContainers"][2]
    assert dataplane["startupProbe"] == {
        "exec": {"command": ["/usr/local/bin/consul-dataplane", "-check-proxy-health"]},
        "initialDelaySeconds": 1,
        "periodSeconds": 1,
        "failureThreshold": 10,
        "timeoutSeconds": 5,
    }
    assert "lifecycle" not in dataplane
    assert spec["terminationGracePeriodSeconds"] == 60 + 20  # -shutdown-grace-period-seconds=20


def test_a_last_sidecar_goes_before_a_dialling_init_but_never_before_its_own_init() -> None:
    """Dial-aware placement stops at the profile's runsAfter containers (Consul's init)."""
    from nativecar.profiles import builtin
    from nativecar.rewrites.legacy import native_order

    consul = builtin("consul")
    dataplane = {"name": "consul-dataplane", "image": "hashicorp/consul-dataplane:1.9.0"}
    connect_init = {"name": "consul-connect-inject-init", "image": "c"}
    dialler = {"name": "warm", "image": "w", "command": ["sh", "-c", "curl http://127.0.0.1:20000/"]}

    def ports(container: dict, profile: object) -> set[int]:
        return {20000}

    assert names(native_order([connect_init, dialler], [(dataplane, consul)], ports)) == [
        "consul-connect-inject-init",
        "consul-dataplane",
        "warm",
    ]
    assert names(native_order([dialler, connect_init], [(dataplane, consul)], ports)) == [
        "warm",
        "consul-connect-inject-init",
        "consul-dataplane",
    ]


def test_opentelemetry_collector_goes_last_with_its_readiness_probe_as_startup() -> None:
    """VENDORS.md "OpenTelemetry Operator": otc-container last, readinessProbe reused as startupProbe."""
    text = fixture_text("vendors/otel-legacy.yaml")
    before = next(c for c in pod_spec(text)["containers"] if c["name"] == "otc-container")
    spec = pod_spec(migrate_text(text))
    assert names(spec["initContainers"]) == ["wait-for-db", "otc-container"]
    collector = spec["initContainers"][1]
    assert collector["startupProbe"] == before["readinessProbe"] == {"httpGet": {"path": "/", "port": 13133}}


def test_opentelemetry_without_a_health_extension_gets_a_warning_not_a_made_up_probe() -> None:
    text = fixture_text("vendors/otel-legacy.yaml")
    bare = text.replace("        readinessProbe:\n", "        x-readiness:\n").replace(
        "        livenessProbe:\n", "        x-liveness:\n"
    )
    bare = "\n".join(line for line in bare.splitlines() if "x-" not in line and "13133" not in line)
    bare = bare.replace("          httpGet:\n            path: /\n", "")
    outcome = migrate(bare)
    collector = pod_spec(outcome.text)["initContainers"][-1]
    assert collector["name"] == "otc-container" and "startupProbe" not in collector
    assert any("otc-container has no startup signal" in c.message for c in outcome.changes if c.action == "warning")


def test_dapr_moves_only_from_1_17_and_always_warns_that_it_has_no_startup_signal() -> None:
    """VENDORS.md "Dapr": injectors before 1.18 would add a second daprd; natively last, no probe."""
    old = migrate(fixture_text("vendors/daprd.yaml"))
    assert not old.changed
    [held] = [c for c in old.changes if c.action == "skipped"]
    assert "1.14.4" in held.message and "1.18" in held.message and "--sidecar daprd" in held.message
    new = migrate(fixture_text("vendors/dapr-1.18.yaml"))
    spec = pod_spec(new.text)
    assert names(spec["initContainers"]) == ["init-db", "daprd"]
    daprd = spec["initContainers"][1]
    assert daprd["restartPolicy"] == "Always" and "startupProbe" not in daprd and "lifecycle" not in daprd
    assert any("daprd has no startup signal" in c.message for c in new.changes if c.action == "warning")
    assert spec["terminationGracePeriodSeconds"] == 30 + 15  # --dapr-graceful-shutdown-seconds=15


def test_azure_workload_identity_goes_first_from_kubernetes_1_32_with_its_post_start() -> None:
    """VENDORS.md "Azure Workload Identity": first (before its own init), postStart is the signal,
    and the webhook renders native only for API servers >= 1.32."""
    text = fixture_text("vendors/azwi-legacy.yaml")
    for version in ((1, 29), (1, 31)):
        outcome = migrate(text, kube_version=version)
        assert outcome.text == text
        assert any("Kubernetes 1.32" in c.message for c in outcome.changes if c.action == "skipped")
    before = next(c for c in pod_spec(text)["containers"] if c["name"] == "azwi-proxy")
    spec = pod_spec(migrate_text(text, kube_version=(1, 32)))
    assert names(spec["initContainers"]) == ["azwi-proxy", "seed-cache", "azwi-proxy-init"]
    proxy = spec["initContainers"][0]
    assert proxy["lifecycle"] == before["lifecycle"] and "startupProbe" not in proxy


def test_gcsfuse_is_never_moved_and_the_report_names_the_knob() -> None:
    """VENDORS.md "GKE gcsfuse": the webhook deletes and re-injects it; even --sidecar does not move it."""
    text = fixture_text("vendors/unchanged-gcsfuse-opted-out.yaml")
    outcome = migrate(text, sidecar_names=("gke-gcsfuse-sidecar",))
    assert outcome.text == text
    [held] = [c for c in outcome.changes if c.action == "skipped"]
    assert 'gke-gcsfuse/enable-native-sidecar: "false"' in held.message and "webhook" in held.message
    plain = migrate(fixture_text("vendors/gcsfuse.yaml")).changes
    assert "enable-native-sidecar" not in " ".join(c.message for c in plain)


def test_cloud_sql_proxy_operator_goes_first_and_keeps_its_own_probe() -> None:
    """VENDORS.md "Cloud SQL Auth Proxy Operator": prepended before every user init container;
    the /quitquitquit preStop is kept and reported (NC015), the app's quit-URL loop too (NC008)."""
    text = fixture_text("vendors/csql-operator-legacy.yaml")
    before = next(c for c in pod_spec(text)["containers"] if c["name"] == "csql-shop-inventory")
    outcome = migrate(text)
    spec = pod_spec(outcome.text)
    assert names(spec["initContainers"]) == ["csql-shop-inventory", "migrate"]
    proxy = spec["initContainers"][0]
    assert proxy["startupProbe"] == before["startupProbe"]
    assert proxy["args"] == before["args"]  # the hand-written proxy's rewrite (health flags) does not apply
    assert {c.rule for c in outcome.changes if c.action == "finding"} == {"NC015", "NC008"}


def test_no_two_profiles_claim_one_container() -> None:
    """The operator's csql-* proxies and hand-written ones share an image; only one profile each."""
    from nativecar.profiles import builtins

    proxy = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"
    cases = {
        ("csql-shop-inventory", proxy): "cloud-sql-proxy-operator",
        ("cloud-sql-proxy", proxy): "cloud-sql-proxy",
        ("csql-shop-inventory", "registry.example.com/app:1"): None,
        ("kuma-sidecar", "kuma/kuma-sidecar:latest"): "kuma",
        ("consul-dataplane-web", "hashicorp/consul-dataplane:1.9.0"): "consul",
        ("gke-gcsfuse-metadata-prefetch", "gke.gcr.io/x:1"): "gcsfuse",
    }
    containers = [
        (c.get("name"), c.get("image"))
        for path in sorted((FIXTURES / "vendors").glob("*.yaml"))
        for _, _, spec in oracle.pods(path.read_text(encoding="utf-8"))
        for c in [*spec.get("containers", []), *spec.get("initContainers", [])]
    ]
    for name, image in [*cases, *containers]:
        claims = [profile.name for profile in builtins() if profile.match.matches(name, image)]
        assert len(claims) <= 1, (name, image, claims)
        if (name, image) in cases:
            assert claims == ([cases[name, image]] if cases[name, image] else []), (name, image)


NEW_FIXTURES = {
    "kuma-legacy.yaml": {},
    "kuma-wait-ready.yaml": {},
    "unchanged-kuma-native.yaml": {},
    "consul-legacy.yaml": {},
    "unchanged-consul-native.yaml": {},
    "otel-legacy.yaml": {},
    "unchanged-otel-native.yaml": {},
    "dapr-1.18.yaml": {},
    "unchanged-dapr-native.yaml": {},
    "azwi-legacy.yaml": {"kube_version": (1, 33)},
    "unchanged-azwi-kube-1.29.yaml": {},
    "unchanged-gcsfuse-opted-out.yaml": {},
    "csql-operator-legacy.yaml": {},
    "unchanged-csql-operator-native.yaml": {},
}


@pytest.mark.parametrize("name", sorted(NEW_FIXTURES))
@pytest.mark.parametrize("version", ["1.29.0", "1.33.0"])
def test_every_vendor_fixture_output_passes_strict_validation(name: str, version: str) -> None:
    """`kubernetes-validate --strict`, as tests/test_validate.py calls it, with no skipping: the
    inputs were written to validate, and so must the outputs."""
    from tests.test_validate import problems

    text = fixture_text(f"vendors/{name}")
    assert problems(text, version) == []
    assert problems(migrate_text(text, **NEW_FIXTURES[name]), version) == []


SERVED = {  # VENDORS.md: the ports each vendor's sidecar listens on
    "kuma-legacy.yaml": ("kuma-sidecar", {9901}),
    "kuma-wait-ready.yaml": ("kuma-sidecar", {9902}),  # kuma.io/envoy-admin-port
    "consul-legacy.yaml": ("consul-dataplane", {20600}),
    "otel-legacy.yaml": ("otc-container", {13133}),
    "dapr-1.18.yaml": ("daprd", {3500, 3501, 50001}),
    "azwi-legacy.yaml": ("azwi-proxy", {8000}),
    "csql-operator-legacy.yaml": ("csql-shop-inventory", {9801, 9091}),
}


@pytest.mark.parametrize("name", sorted(SERVED))
def test_the_lifecycle_model_knows_each_vendors_ports_and_explain_shows_the_sidecar(name: str) -> None:
    from nativecar import engine
    from nativecar.documents import decode
    from nativecar.rewrites import Context

    sidecar, ports = SERVED[name]
    context = Context(**NEW_FIXTURES[name])
    [item] = engine.explain(decode(fixture_text(f"vendors/{name}").encode(), name), context)
    assert item.after is not None, item.changes
    [container] = [c for c in item.after.containers if c.name == sidecar]
    assert container.role == "sidecar" and ports <= container.served.ports()
    before = next(c for c in item.before.containers if c.name == sidecar)
    assert before.keeps_running and ports <= before.served.ports()


def test_kuma_admin_quit_is_a_stop_request_the_model_sees() -> None:
    """An app that POSTs Envoy's /quitquitquit on Kuma's admin port stops the proxy (legacy Jobs)."""
    from nativecar.lifecycle.pod import read
    from nativecar.model import build
    from nativecar.rewrites import Context
    from nativecar.workloads import pods

    text = fixture_text("vendors/kuma-wait-ready.yaml").replace(
        "        image: registry.example.com/billing/report:3.1\n",
        "        image: registry.example.com/billing/report:3.1\n"
        '        command: [sh, -c, "report && curl -X POST localhost:9902/quitquitquit"]\n',
    )
    from nativecar.documents import decode, documents

    [document] = documents(decode(text.encode(), "t.yaml"))
    [pod] = pods(build(document.root))
    report = next(c for c in read(pod, Context()).containers if c.name == "report")
    assert any(dial.port == 9902 and dial.stop_request for dial in report.dials)


@pytest.mark.parametrize(
    ("name", "fires"),
    [("kuma-wait-ready.yaml", True), ("unchanged-gcsfuse-opted-out.yaml", False)],
)
def test_check_reports_only_the_job_sidecars_migrate_would_move(name: str, fires: bool) -> None:
    """NC001 for Kuma's legacy Job sidecar; not for gcsfuse, which its webhook owns (and which the
    CSI node driver stops when the Job's containers end)."""
    from nativecar import rules
    from nativecar.documents import decode, documents
    from nativecar.model import build
    from nativecar.rewrites import Context
    from nativecar.workloads import pods

    [document] = documents(decode(fixture_text(f"vendors/{name}").encode(), name))
    found = rules.run(list(pods(build(document.root))), [], Context())
    assert any(finding.rule == "NC001" for finding in found) == fires


def test_profiles_command_shows_the_native_facts_of_each_vendor() -> None:
    import subprocess
    import sys
    from pathlib import Path

    executable = Path(sys.executable).with_name("nativecar")
    listing = subprocess.run([str(executable), "profiles"], capture_output=True, text=True, timeout=60).stdout
    for name in ("kuma", "consul", "opentelemetry", "dapr", "azure-workload-identity", "gcsfuse"):
        assert f"\n{name} " in f"\n{listing}"
    shown = subprocess.run([str(executable), "profiles", "azure-workload-identity"], capture_output=True, text=True)
    assert shown.returncode == 0
    data = yaml.safe_load(shown.stdout)
    assert data["minKubeVersion"] == "1.32" and data["position"] == "first" and data["startupSignal"] == "postStart"
    refused = subprocess.run(
        [str(executable), "inject", "-p", "kuma", "-"], input="", capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "migrate only" in refused.stderr
