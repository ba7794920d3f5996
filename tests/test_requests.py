"""Pods that ask an injector for their sidecar (issue 9): `migrate` adds the vendor's native
switch, spelled for the release of its injector, and `check` reports the Jobs that would hang.
The version tables are tested at every boundary the profiles' upstream sources give."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from nativecar import checker, engine
from nativecar.documents import Source
from nativecar.report import Report
from nativecar.rewrites import Context
from nativecar.runner import Output, context_for, run
from nativecar.settings import Settings, UsageError, parse_vendor_versions
from tests.conftest import migrate

ALPHA = "config.alpha.linkerd.io/proxy-enable-native-sidecar"
BETA = "config.beta.linkerd.io/proxy-enable-native-sidecar"
PLAIN = "config.linkerd.io/proxy-enable-native-sidecar"
ISTIO_NATIVE = "sidecar.istio.io/nativeSidecar"


def job(labels: dict | None = None, annotations: dict | None = None, kind: str = "Job") -> str:
    metadata = {key: value for key, value in (("labels", labels), ("annotations", annotations)) if value}
    template = {
        "metadata": metadata,
        "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "t"}]},
    }
    spec = {"template": template} if kind == "Job" else {"selector": {}, "template": template}
    api = "batch/v1" if kind == "Job" else "apps/v1"
    return yaml.safe_dump({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}, "spec": spec}, sort_keys=False)


def _template(text: str) -> dict:
    return yaml.safe_load(text)["spec"]["template"]


def _metadata(text: str, where: str = "annotations") -> dict:
    return _template(text)["metadata"].get(where, {})


def _migrate(text: str, versions: dict | None = None, kube: tuple[int, int] = (1, 29)) -> engine.Outcome:
    return migrate(text, vendor_versions=versions or {}, kube_version=kube)


def _check(text: str, versions: dict | None = None, kube: tuple[int, int] = (1, 29)) -> list[str]:
    context = Context(vendor_versions=versions or {}, kube_version=kube)
    return [finding.rule for finding in checker.check(Source("t.yaml", text), context)]


# -- Linkerd: the spelling per release --------------------------------------------------------

LINKERD = {"linkerd.io/inject": "enabled"}


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("stable-2.14.10", None),  # no native proxies before 2.15
        ("stable-2.15.0", ALPHA),
        ("2.18", ALPHA),
        ("enterprise-2.18.2", ALPHA),
        ("version-2.18", ALPHA),
        ("stable-2.19.1", BETA),
        ("enterprise-2.19.0", BETA),
        ("stable-2.20.0", None),  # native by default
        ("edge-23.11.3", None),
        ("edge-23.11.4", ALPHA),
        ("edge-24.11.8", ALPHA),  # stable 2.17
        ("edge-25.4.4", ALPHA),  # stable 2.18
        ("edge-25.10.1", ALPHA),
        ("edge-25.10.2", BETA),
        ("edge-26.5.1", BETA),
        ("edge-26.5.2", None),  # the native default arrived here
        ("edge-26.6.3", None),  # stable 2.20
    ],
)
@pytest.mark.parametrize("given_by", ["flag", "manifest"])
def test_linkerd_gets_the_spelling_its_release_reads(release: str, expected: str | None, given_by: str) -> None:
    annotations = dict(LINKERD)
    versions = {}
    if given_by == "flag":
        versions = {"linkerd": release}
    else:
        annotations["linkerd.io/proxy-version"] = release
    text = job(annotations=annotations)
    outcome = _migrate(text, versions)
    switches = {key for key in _metadata(outcome.text) if key in (ALPHA, BETA, PLAIN)}
    assert switches == ({expected} if expected else set())
    if expected:
        assert _metadata(outcome.text)[expected] == "true"
        assert _check(outcome.text, versions) == []  # what migrate wrote, check accepts
        assert _migrate(outcome.text, versions).text == outcome.text  # and a second run keeps
    elif release in ("stable-2.14.10", "edge-23.11.3"):
        assert outcome.text == text
        assert any("cannot inject natively" in change.message for change in outcome.changes)
        assert _check(text, versions) == ["NC019"]
    else:
        assert outcome.text == text and _check(text, versions) == []


@pytest.mark.parametrize("version", [None, "banana", "test-inject-proxy-version"])
def test_an_unknown_linkerd_release_gets_the_spelling_every_native_release_reads(version: str | None) -> None:
    annotations = dict(LINKERD)
    if version:
        annotations["linkerd.io/proxy-version"] = version
    outcome = _migrate(job(annotations=annotations))
    assert _metadata(outcome.text)[ALPHA] == "true"
    warnings = [change.message for change in outcome.changes if change.action == "warning"]
    assert any("release is unknown" in message and "--vendor-version linkerd=" in message for message in warnings)


def test_the_flag_wins_over_the_manifest() -> None:
    text = job(annotations={**LINKERD, "linkerd.io/proxy-version": "stable-2.15.0"})
    assert BETA in _metadata(_migrate(text, {"linkerd": "stable-2.19.0"}).text)


# -- Istio -------------------------------------------------------------------------------------

ISTIO_LABEL = {"sidecar.istio.io/inject": "true"}


@pytest.mark.parametrize(
    ("release", "kube", "switch", "finding"),
    [
        ("1.23.4", (1, 29), False, True),  # only istiod's ENABLE_NATIVE_SIDECARS: named in a warning
        ("1.24.0", (1, 29), True, False),
        ("1.26.3", (1, 33), True, False),
        ("1.27.0", (1, 29), True, False),  # native by default only where every kubelet is 1.33+
        ("1.27.0", (1, 33), False, False),
        (None, (1, 29), True, False),  # unknown: the annotation 1.24 and later read, with a warning
    ],
)
def test_istio_gets_the_annotation_where_its_release_reads_it(
    release: str | None, kube: tuple[int, int], switch: bool, finding: bool
) -> None:
    versions = {"istio": release} if release else {}
    text = job(labels=ISTIO_LABEL)
    outcome = _migrate(text, versions, kube)
    assert (ISTIO_NATIVE in _metadata(outcome.text)) is switch
    if switch:
        assert _check(outcome.text, versions, kube) == []
    else:
        assert outcome.text == text
        assert (_check(text, versions, kube) == ["NC019"]) is finding
    if finding:
        assert any(change.rule == "NC019" and "ENABLE_NATIVE_SIDECARS" in change.message for change in outcome.changes)


@pytest.mark.parametrize(
    ("labels", "annotations"),
    [
        ({"istio.io/rev": "canary"}, None),
        (None, {"sidecar.istio.io/inject": "true"}),  # the older annotation form
    ],
)
def test_every_way_of_asking_istio_is_recognised(labels: dict | None, annotations: dict | None) -> None:
    text = job(labels=labels, annotations=annotations)
    assert _check(text) == ["NC019"]
    assert _metadata(_migrate(text).text)[ISTIO_NATIVE] == "true"


# -- what is left alone --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "annotations"),
    [
        ({"sidecar.istio.io/inject": "true"}, {ISTIO_NATIVE: "false"}),  # the user's decision
        ({"sidecar.istio.io/inject": "false"}, None),  # opted out
        (None, {"linkerd.io/inject": "disabled"}),
        (None, {**LINKERD, BETA: "false"}),
        (None, {"linkerd.io/inject": "enabled", ALPHA: "true"}),  # asks already
        ({"app": "web"}, None),  # asks nothing
    ],
)
def test_a_pod_that_decided_or_asks_nothing_is_not_changed(labels: dict | None, annotations: dict | None) -> None:
    text = job(labels=labels, annotations=annotations)
    assert _migrate(text).text == text


def test_a_pod_with_the_rendered_proxy_is_left_to_the_legacy_conversion() -> None:
    proxy = "      - name: istio-proxy\n        image: docker.io/istio/proxyv2:1.24.0\n"
    text = job(labels=ISTIO_LABEL).replace("        image: t\n", "        image: t\n" + proxy)
    assert "istio-proxy" in text
    outcome = _migrate(text)
    assert [change.message for change in outcome.changes if "asks the istio injector" in change.message] == []
    assert yaml.safe_load(outcome.text)["spec"]["template"]["spec"]["initContainers"][0]["name"] == "istio-proxy"


def test_opt_outs_that_only_let_a_job_finish_are_reported_for_every_mesh() -> None:
    assert _check(job(labels={"sidecar.istio.io/inject": "false"})) == ["NC008"]
    assert _check(job(annotations={"linkerd.io/inject": "disabled"})) == ["NC008"]
    assert _check(job(annotations={"linkerd.io/inject": "disabled"}, kind="Deployment")) == []


def test_a_deployment_that_asks_is_converted_but_not_an_error() -> None:
    text = job(labels=ISTIO_LABEL, kind="Deployment")
    assert _check(text) == []
    assert _metadata(_migrate(text).text)[ISTIO_NATIVE] == "true"


def test_the_grace_period_makes_room_for_the_injected_proxy() -> None:
    spec = _template(_migrate(job(annotations=LINKERD)).text)["spec"]
    assert spec["terminationGracePeriodSeconds"] == 35


# -- settings ---------------------------------------------------------------------------------------


def test_vendor_versions_from_the_flag_and_the_config_file(tmp_path: Path) -> None:
    assert parse_vendor_versions(["linkerd=stable-2.18.1,istio=1.24"]) == (
        ("istio", "1.24"),
        ("linkerd", "stable-2.18.1"),
    )
    for bad in ("mesh=1.0", "linkerd", "linkerd="):
        with pytest.raises(UsageError, match="--vendor-version"):
            parse_vendor_versions([bad])
    config = tmp_path / ".nativecar.yaml"
    config.write_text("vendor-version: [linkerd=stable-2.19.0]\n")
    stream = tmp_path / "job.yaml"
    stream.write_text(job(annotations=LINKERD))
    from nativecar.settings import from_config

    settings = from_config(Settings(), config)
    assert settings.vendor_versions == (("linkerd", "stable-2.19.0"),)
    out = io.BytesIO()
    code = run([str(stream)], settings, Output(), Report(stream=io.StringIO()), stdout=out)
    assert code == 0 and BETA in _metadata(out.getvalue().decode())
    assert context_for(settings).vendor_versions == {"linkerd": "stable-2.19.0"}


# -- Consul and Dapr ------------------------------------------------------------------------------

CONSUL_ASKS = {"consul.hashicorp.com/connect-inject": "true"}
CONSUL_NATIVE = "consul.hashicorp.com/enable-consul-dataplane-as-sidecar"


@pytest.mark.parametrize(
    ("release", "switch"),
    [
        ("1.6.8", False),
        ("1.6.9", True),  # the backports read it from these patch releases on
        ("1.7.4", False),
        ("1.7.5", True),
        ("1.8.1", False),
        ("1.8.2", True),
        ("v1.9.0", True),
        (None, True),
    ],
)
def test_consul_connect_inject_gets_its_switch_where_its_release_reads_it(release: str | None, switch: bool) -> None:
    versions = {"consul": release} if release else {}
    text = job(annotations=CONSUL_ASKS)
    assert _check(text, versions) == ["NC019"]
    outcome = _migrate(text, versions)
    assert (_metadata(outcome.text).get(CONSUL_NATIVE) == "true") is switch
    if switch:
        assert _check(outcome.text, versions) == []
    else:
        assert outcome.text == text
        assert any(change.rule == "NC019" and "consul" in change.message for change in outcome.changes)


def test_dapr_gets_its_switch_from_1_18() -> None:
    text = job(annotations={"dapr.io/enabled": "true"})
    assert _metadata(_migrate(text, {"dapr": "1.18.0"}).text)["dapr.io/enable-native-sidecar"] == "true"
    older = _migrate(text, {"dapr": "1.17.5"})
    assert older.text == text
    assert any("cannot inject natively" in change.message for change in older.changes)
    assert _check(job(annotations={"dapr.io/enabled": "false"})) == ["NC008"]


# -- every vendor that a pod can ask ----------------------------------------------------------------

ASKING = {
    "istio": ({"sidecar.istio.io/inject": "true"}, None),
    "linkerd": (None, LINKERD),
    "consul": (None, CONSUL_ASKS),
    "dapr": (None, {"dapr.io/enabled": "true"}),
    "kuma": ({"kuma.io/sidecar-injection": "enabled"}, None),
    "opentelemetry": (None, {"sidecar.opentelemetry.io/inject": "true"}),
    "azure-workload-identity": (None, {"azure.workload.identity/inject-proxy-sidecar": "true"}),
    "gcsfuse": (None, {"gke-gcsfuse/volumes": "true"}),
}


@pytest.mark.parametrize("vendor", sorted(ASKING))
@pytest.mark.parametrize("kube", ["1.29", "1.33"])
def test_what_migrate_writes_for_a_pod_that_asks_validates_strictly(vendor: str, kube: str) -> None:
    from tests.test_validate import problems

    labels, annotations = ASKING[vendor]
    text = job(labels=labels, annotations=annotations)
    outcome = _migrate(text, kube=tuple(int(part) for part in kube.split(".")))
    assert problems(outcome.text, kube) == []
    switched = outcome.text != text
    # the vendors with a per-pod switch get it; where the cluster decides nothing is edited
    assert switched is (vendor in ("istio", "linkerd", "consul", "dapr")), outcome.changes


@pytest.mark.parametrize(
    ("vendor", "versions", "kube", "finding"),
    [
        ("kuma", {}, (1, 29), True),  # the release is unknown: 2.7 to 2.13 need the control plane's switch
        ("kuma", {"kuma": "2.14.0"}, (1, 29), False),  # native by default
        ("opentelemetry", {"opentelemetry": "0.131.0"}, (1, 29), True),
        ("opentelemetry", {"opentelemetry": "0.132.0"}, (1, 29), False),
        ("azure-workload-identity", {}, (1, 29), True),  # natively only on 1.32 API servers
        ("azure-workload-identity", {}, (1, 32), False),
        ("gcsfuse", {}, (1, 29), False),
    ],
)
def test_where_the_cluster_decides_check_names_the_cluster_side_switch(
    vendor: str, versions: dict, kube: tuple[int, int], finding: bool
) -> None:
    labels, annotations = ASKING[vendor]
    text = job(labels=labels, annotations=annotations)
    assert (_check(text, versions, kube) == ["NC019"]) is finding
    warned = [change for change in _migrate(text, versions, kube).changes if change.rule == "NC019"]
    assert bool(warned) is finding


def test_gcsfuse_turned_legacy_by_its_opt_out_is_reported() -> None:
    text = job(annotations={"gke-gcsfuse/volumes": "true", "gke-gcsfuse/enable-native-sidecar": "false"})
    assert _check(text) == ["NC019"]
    assert _migrate(text).text == text  # the user's decision


# -- inject's webhook mode says what the release means -------------------------------------------


def _inject_webhook(profile: str, versions: dict) -> engine.Outcome:
    from nativecar.rewrites import inject as injecting

    request = injecting.request(injecting.load_profile(profile), "webhook", [], False)
    settings = Settings(vendor_versions=tuple(versions.items()))
    return engine.process(Source("t.yaml", job()), context_for(settings, request), "input")


def test_inject_warns_where_istiod_reads_no_per_pod_switch() -> None:
    old = _inject_webhook("istio", {"istio": "1.23.2"})
    assert any(change.rule == "NC019" and "ENABLE_NATIVE_SIDECARS" in change.message for change in old.changes)
    current = _inject_webhook("istio", {"istio": "1.24.0"})
    assert not [change for change in current.changes if change.action == "warning"]
    unknown = _inject_webhook("istio", {})
    assert any("release is unknown" in change.message for change in unknown.changes)


def test_inject_spells_linkerds_switch_for_the_vendor_version() -> None:
    assert BETA in _metadata(_inject_webhook("linkerd", {"linkerd": "edge-25.10.2"}).text)
    assert ALPHA in _metadata(_inject_webhook("linkerd", {"linkerd": "stable-2.18.0"}).text)
