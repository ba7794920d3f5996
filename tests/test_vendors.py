"""Vendor bookkeeping: conversions match what each vendor renders natively for the same pod.

The strongest check there is: Istio's and Linkerd's own golden files for one input, rendered
once legacy and once native (tests/fixtures/upstream). Converting the legacy rendering must give
the native rendering, except for what nativecar adds on purpose (the grace period, Istio's
native-mode annotation) and what differs between the template eras the goldens come from.
"""

from __future__ import annotations

import json

import yaml

from tests import oracle
from tests.conftest import FIXTURES, fixture_text, migrate_text


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
    from tests.conftest import migrate

    changes = migrate(fixture_text("vendors/cloudsql-v2-job.yaml")).changes
    left = [c for c in changes if c.action == "finding" and c.rule == "NC008"]
    assert len(left) == 1 and "stops cloud-sql-proxy itself" in left[0].message and "quitquitquit" in left[0].message
    assert (FIXTURES / "vendors" / "daprd.yaml").exists()
