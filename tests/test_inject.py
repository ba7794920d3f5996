"""`nativecar inject`: webhook and manual modes, compared with each vendor's own native rendering.

The comparisons use the vendors' golden files (tests/fixtures/upstream): the same input, injected
by istiod / `linkerd inject` with native sidecars on, must match what nativecar renders, field
by field, except what the tests name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nativecar.rewrites import Context
from nativecar.rewrites.inject import load_profile, request
from nativecar.settings import UsageError
from tests import oracle
from tests.conftest import CORPUS, FIXTURES, corpus_files, fixture_text, migrate
from tests.test_validate import problems

EXECUTABLE = Path(sys.executable).with_name("nativecar")
WALKTHROUGH = fixture_text("inject/walkthrough-job.yaml")
PEM = "-----BEGIN CERTIFICATE-----\nMIIBwTCCAWagAwIBAgIQ\n-----END CERTIFICATE-----\n"


def inject(text: str, profile: str, mode: str | None = None, settings: list[str] | None = None, force: bool = False):
    injection = request(load_profile(profile), mode, settings or [], force)
    profiles = tuple(p for p in Context().profiles if p.name != injection.profile.name)
    return migrate(text, injection=injection, profiles=(*profiles, injection.profile))


def template(text: str) -> dict:
    return next(oracle.pods(text))[1:]  # (metadata, spec)


def test_walkthrough_job_webhook_mode_asks_istiod_for_a_native_sidecar() -> None:
    out = inject(WALKTHROUGH, "istio").text
    metadata, spec = template(out)
    assert metadata["labels"]["sidecar.istio.io/inject"] == "true"
    assert metadata["annotations"]["sidecar.istio.io/nativeSidecar"] == "true"
    assert spec["containers"] == template(WALKTHROUGH)[1]["containers"]
    assert "initContainers" not in spec
    for version in ("1.29.0", "1.33.0"):
        assert problems(out, version) == []
    assert inject(out, "istio").text == out


def test_walkthrough_job_manual_mode_renders_a_native_istio_proxy() -> None:
    out = inject(WALKTHROUGH, "istio", "manual").text
    _, spec = template(out)
    assert [c["name"] for c in spec["initContainers"]] == ["istio-init", "istio-proxy"]
    proxy = spec["initContainers"][1]
    assert proxy["restartPolicy"] == "Always"
    assert proxy["startupProbe"]["httpGet"] == {"path": "/healthz/ready", "port": 15021}
    assert spec["containers"] == template(WALKTHROUGH)[1]["containers"]
    assert oracle.api_problems(spec) == []
    for version in ("1.29.0", "1.33.0"):
        assert problems(out, version) == []
    assert inject(out, "istio", "manual").text == out


def test_istio_manual_matches_istiods_native_rendering() -> None:
    ours = inject(
        fixture_text("upstream/istio-hello.yaml"), "istio", "manual", ["image=gcr.io/istio-testing/proxyv2:latest"]
    )
    theirs = yaml.safe_load(fixture_text("upstream/istio-native-hello.yaml.injected").split("\n---")[0])
    our_template = yaml.safe_load(ours.text)["spec"]["template"]
    their_template = theirs["spec"]["template"]
    assert [c["name"] for c in our_template["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    for field in (
        "restartPolicy",
        "startupProbe",
        "readinessProbe",
        "lifecycle",
        "ports",
        "securityContext",
        "resources",
        "args",
        "image",
        "volumeMounts",
    ):
        for ours_c, theirs_c in zip(
            our_template["spec"]["initContainers"], their_template["spec"]["initContainers"], strict=True
        ):
            assert ours_c.get(field) == theirs_c.get(field), (ours_c["name"], field)
    our_status = json.loads(our_template["metadata"]["annotations"].pop("sidecar.istio.io/status"))
    their_status = json.loads(their_template["metadata"]["annotations"].pop("sidecar.istio.io/status"))
    assert our_status == their_status and list(our_status) == list(their_status)
    assert our_template["metadata"]["annotations"].pop("sidecar.istio.io/nativeSidecar") == "true"
    assert our_template["metadata"] == their_template["metadata"]
    assert our_template["spec"]["volumes"] == their_template["spec"]["volumes"]


def test_linkerd_manual_matches_linkerds_native_rendering() -> None:
    golden = yaml.safe_load(fixture_text("upstream/linkerd-native.golden.yml").split("\n---")[0])
    proxy = golden["spec"]["template"]["spec"]["initContainers"][1]
    pem = next(env["value"] for env in proxy["env"] if env["name"] == "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS")
    out = inject(
        fixture_text("upstream/linkerd-emojivoto.input.yml"),
        "linkerd",
        "manual",
        ["version=test-inject-proxy-version", f"trustAnchors={pem}"],
    ).text
    ours = next(d for d in yaml.safe_load_all(out) if d)
    annotations = ours["spec"]["template"]["metadata"]["annotations"]
    assert annotations.pop("linkerd.io/created-by") == "nativecar"
    # an unknown release (a test tag) gets the spelling the widest range of releases reads: the
    # golden's own alpha one
    golden["spec"]["template"]["metadata"]["annotations"].pop("linkerd.io/created-by")
    assert ours["spec"]["template"]["spec"].pop("terminationGracePeriodSeconds") == 35  # nativecar's own
    assert ours == golden


def test_linkerd_webhook_mode_uses_the_releases_annotation() -> None:
    metadata, _ = template(inject(WALKTHROUGH, "linkerd", settings=["version=stable-2.17.1"]).text)
    assert metadata["annotations"] == {
        "linkerd.io/inject": "enabled",
        "config.alpha.linkerd.io/proxy-enable-native-sidecar": "true",
    }


def test_cloud_sql_manual_matches_the_upstream_native_example() -> None:
    upstream = yaml.safe_load(fixture_text("upstream/cloudsql-job-native.yaml"))
    theirs = upstream["spec"]["template"]["spec"]["initContainers"][0]
    app_only = yaml.safe_load(fixture_text("upstream/cloudsql-job-native.yaml"))
    del app_only["spec"]["template"]["spec"]["initContainers"]
    out = inject(
        yaml.safe_dump(app_only, sort_keys=False), "cloud-sql-proxy", settings=["instance=<INSTANCE_CONNECTION_NAME>"]
    ).text
    ours = template(out)[1]["initContainers"][0]
    for field in ("name", "restartPolicy", "securityContext", "resources"):
        assert ours[field] == theirs[field], field
    assert ours["image"].rsplit(":", 1)[0] == theirs["image"].rsplit(":", 1)[0]
    assert {"--exit-zero-on-sigterm", "<INSTANCE_CONNECTION_NAME>"} <= set(ours["args"])
    # SIDECARS.md section 5: the health server on 9801 and a /startup probe, which upstream leaves out
    assert {"--health-check", "--http-address=0.0.0.0", "--http-port=9801"} <= set(ours["args"])
    assert ours["startupProbe"] == {
        "httpGet": {"path": "/startup", "port": 9801},
        "periodSeconds": 1,
        "failureThreshold": 60,
    }


def test_a_user_profile_injects_its_sidecar() -> None:
    out = inject(WALKTHROUGH, str(FIXTURES / "inject" / "vault-agent.profile.yaml"), settings=["role=batch"]).text
    metadata, spec = template(out)
    agent = spec["initContainers"][-1]
    assert agent["name"] == "vault-agent" and agent["restartPolicy"] == "Always"
    assert {"name": "VAULT_ROLE", "value": "batch"} in agent["env"]
    assert agent["startupProbe"]["exec"] == {"command": ["test", "-f", "/vault/secrets/.ready"]}  # derived
    assert {"name": "vault-secrets", "emptyDir": {"medium": "Memory"}} in spec["volumes"]
    assert metadata["annotations"]["vault.example.com/role"] == "batch"
    assert spec["terminationGracePeriodSeconds"] == 35
    assert problems(out, "1.29.0") == []


BROKEN = {
    "not-yaml.yaml": ("name: [\n", ":2:1: did not find expected node content"),
    "missing-field.yaml": ("name: x\n", ":1:1: profile: summary: Field required"),
    "wrong-type.yaml": (
        "name: x\nsummary: y\nshutdownSeconds: five\n",
        ":3:18: profile: shutdownSeconds: Input should be",
    ),
    "unknown-field.yaml": (
        "name: x\nsummary: y\nstartupProbes: {}\n",
        ":3:1: profile: startupProbes: unknown field; did you mean startupProbe?",
    ),
    "no-sidecar-name.yaml": (
        "name: x\nsummary: y\nmanual:\n  sidecar: {image: a}\n",
        ":4:12: profile: manual.sidecar.name: the sidecar needs a name",
    ),
    "unknown-value.yaml": (
        "name: x\nsummary: y\nmanual:\n  sidecar: {name: s, image: '${nope}'}\n",
        ":4:12: profile: manual.sidecar: ${nope} is not a value of this profile",
    ),
    "webhook-mode.yaml": (
        "name: x\nsummary: y\nmodes: [webhook]\n",
        ":3:8: profile: modes: user profiles support --mode manual only",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_profile_is_one_exit_2_line(name: str, tmp_path: Path) -> None:
    text, expected = BROKEN[name]
    path = tmp_path / name
    path.write_text(text)
    result = subprocess.run(
        [str(EXECUTABLE), "inject", "-p", str(path), "-"], input=WALKTHROUGH.encode(), capture_output=True, timeout=60
    )
    assert result.returncode == 2 and result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(path) + expected), lines


@pytest.mark.parametrize(
    ("profile", "mode", "settings", "words"),
    [
        ("cloud-sql-proxy", None, [], "needs --set instance=..."),
        ("cloud-sql-proxy", "webhook", ["instance=a"], "supports --mode manual"),
        ("istio", None, ["nope=1"], "has no value 'nope'"),
        ("istio", None, ["image"], "--set takes KEY=VALUE"),
        ("linkerd", "manual", ["version=stable-2.17.1"], "needs --set trustAnchors=..."),
        ("no-such-profile", None, [], "no built-in profile or profile file"),
    ],
)
def test_bad_requests_are_usage_errors(profile: str, mode: str | None, settings: list[str], words: str) -> None:
    with pytest.raises(UsageError, match=words.replace("[", r"\[").replace(".", r"\.")):
        request(load_profile(profile), mode, settings, False)


def test_skips_say_why() -> None:
    outcome = inject(fixture_text("inject/skips.yaml"), "istio")
    skipped = {c.workload: c.message for c in outcome.changes if c.action == "skipped"}
    assert skipped == {
        "deployment/host-network": "uses the host network, which the istio mesh cannot intercept",
        "job/opted-out": 'opts out of injection (label sidecar.istio.io/inject: "false"); with native sidecars a Job '
        "completes with its proxy, so pass --force to inject anyway",
        "deployment/already-meshed": "already has istio-proxy",
        "service/web": "no pod template to inject into",
        "configmap/settings": "no pod template to inject into",
    }
    forced = inject(fixture_text("inject/skips.yaml"), "istio", force=True)
    labels = [metadata.get("labels", {}) for label, metadata, _ in oracle.pods(forced.text) if label == "job/opted-out"]
    assert labels == [{"sidecar.istio.io/inject": "true"}]


def test_a_legacy_copy_is_converted_not_injected_twice() -> None:
    outcome = inject(fixture_text("vendors/istio-job.yaml"), "istio", "manual")
    _, spec = template(outcome.text)
    assert [c["name"] for c in spec["initContainers"]] == ["istio-init", "istio-proxy"]
    assert any(c.action == "skipped" and c.message == "already has istio-proxy" for c in outcome.changes)


def test_the_kube_version_gate_applies_to_inject_too() -> None:
    injection = request(load_profile("istio"), "manual", [], False)
    outcome = migrate(WALKTHROUGH, injection=injection, kube_version=(1, 27))
    assert outcome.text == WALKTHROUGH
    assert "1.29 or later" in outcome.changes[0].message


WORKLOADS = [
    path
    for path in corpus_files()
    if any(
        f"kind: {kind}\n" in path.read_text(encoding="utf-8", errors="replace")
        for kind in ("Deployment", "Job", "CronJob")
    )
    and "{{" not in path.read_text(encoding="utf-8", errors="replace")
]


@pytest.mark.skipif(not WORKLOADS, reason="../shared/corpus is not present")
@pytest.mark.parametrize(
    ("profile", "mode", "settings"),
    [("istio", "webhook", []), ("istio", "manual", []), ("cloud-sql-proxy", "manual", ["instance=p:r:db"])],
)
def test_inject_over_the_corpus_changes_only_the_lines_of_the_injection(
    profile: str, mode: str, settings: list[str]
) -> None:
    checked = 0
    for path in WORKLOADS:
        text = path.read_text(encoding="utf-8")
        try:
            outcome = inject(text, profile, mode, settings)
        except Exception as error:  # noqa: BLE001 - only bad input may fail, and it must say so
            assert type(error).__name__ == "InputError", (path, error)
            continue
        assert not outcome.reemitted, path
        assert oracle.stray_lines(text, outcome.text) == [], path.relative_to(CORPUS)
        assert inject(outcome.text, profile, mode, settings).text == outcome.text, path
        for label, _, spec in oracle.pods(outcome.text):
            assert oracle.api_problems(spec) == [], (path, label)
        checked += outcome.changed
    assert checked > 20


SNAPSHOT_CASES = {
    "istio-webhook": ("istio", None, []),
    "istio-manual": ("istio", "manual", []),
    "linkerd-webhook": ("linkerd", None, []),
    "linkerd-manual": ("linkerd", "manual", ["version=stable-2.17.1", f"trustAnchors={PEM}"]),
    "cloud-sql-proxy": ("cloud-sql-proxy", None, ["instance=my-project:europe-west1:orders"]),
    "user-profile": (str(FIXTURES / "inject" / "vault-agent.profile.yaml"), None, ["role=batch"]),
}


@pytest.mark.parametrize("case", sorted(SNAPSHOT_CASES))
def test_walkthrough_job_output_is_the_reviewed_one(case: str, yaml_snapshot, snapshot) -> None:
    profile, mode, settings = SNAPSHOT_CASES[case]
    outcome = inject(WALKTHROUGH, profile, mode, settings)
    assert outcome.text == yaml_snapshot
    assert [f"{c.action} {c.workload}: {c.message}" for c in outcome.changes] == snapshot
    assert oracle.stray_lines(WALKTHROUGH, outcome.text) == []


def test_an_unnamed_app_container_is_not_written_as_none() -> None:
    """A pod variable with nothing to name (the first app container has no name) leaves its
    annotation out, rather than writing `None` into the manifest."""
    job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n" + (
        "      restartPolicy: Never\n      containers:\n        - image: busybox:1.36\n"
    )
    done = subprocess.run(
        [str(EXECUTABLE), "inject", "-p", "istio", "--mode", "manual", "-"],
        input=job.encode(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    annotations = yaml.safe_load(done.stdout)["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/default-container" not in annotations
    assert "None" not in done.stdout.decode()
    assert annotations["sidecar.istio.io/nativeSidecar"] == "true"  # the rest was injected


def test_a_pod_meshed_by_istio_ambient_gets_no_sidecar_even_forced() -> None:
    job = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    metadata:\n"
        '      labels: {istio.io/dataplane-mode: ambient, sidecar.istio.io/inject: "false"}\n'
        "    spec:\n      restartPolicy: Never\n      containers:\n        - {name: app, image: busybox:1.36}\n"
    )
    done = subprocess.run(
        [str(EXECUTABLE), "inject", "-p", "istio", "--force", "-"], input=job.encode(), capture_output=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.decode() == job
    assert "mesh another way" in done.stderr.decode()
