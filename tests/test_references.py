"""The table of references to a moved container (issue 10, part 1): every row is exercised by a
rule fixture, and `migrate` reports what names a container it converted, at the referring line,
whether the referring object comes before or after the pod."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from nativecar import engine, references
from nativecar.documents import Source
from nativecar.report import Report
from nativecar.rewrites import Context
from nativecar.runner import Output, run
from nativecar.settings import Settings, parse_kube_version
from tests.conftest import FIXTURES

PROXY = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"
DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: web:1
      - name: cloud-sql-proxy
        image: {PROXY}
        ports: [{{name: metrics, containerPort: 9090}}]
"""
VPA = """\
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: web}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  resourcePolicy:
    containerPolicies:
    - containerName: cloud-sql-proxy
"""
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports:
    - port: metrics
"""


def test_every_row_of_the_table_has_a_fixture_that_fires() -> None:
    fixtures = {path.stem: path.read_text(encoding="utf-8") for path in (FIXTURES / "rules").glob("*.yaml")}
    for tree in (FIXTURES / "rules").glob("*-fire/"):  # a kustomize tree: base, overlays, patches
        fixtures[tree.name] = "".join(path.read_text(encoding="utf-8") for path in sorted(tree.rglob("*.yaml")))
    for row in references.REFERENCES:
        fired = fixtures[f"{row.rule_id}-fire"]
        if row.kind == "Kustomization":  # a patch's entry named by `name:`, an operation by its `path:`
            token = {"container": "name:", "index": "path:"}[row.names]
            assert "patches" in fired and f"# expect: {row.rule_id} @{token}" in fired, row
            continue
        leaf = row.field.rsplit(".", 1)[-1] if row.kind != "Pod" else row.field.split("annotations.", 1)[1]
        assert row.kind in fired or row.kind == "Pod", row
        assert f"# expect: {row.rule_id} @{leaf}" in fired, row


@pytest.mark.parametrize("order", ["after", "before"])
@pytest.mark.parametrize("positions", ["input", "output"])
def test_migrate_reports_what_names_the_converted_sidecar_at_its_line(order: str, positions: str) -> None:
    parts = [DEPLOYMENT, VPA, POLICY] if order == "after" else [VPA, POLICY, DEPLOYMENT]
    text = "---\n".join(parts)
    outcome = engine.process(Source("t.yaml", text), Context(), positions)  # type: ignore[arg-type]
    shown = (outcome.text if positions == "output" else text).splitlines()
    found = [change for change in outcome.changes if change.rule == "NC020"]
    assert len(found) == 2
    where = sorted(shown[change.line - 1][change.column - 1 :] for change in found)
    assert where == ["containerName: cloud-sql-proxy", "port: metrics"]


# -- the Service targetPort edit ---------------------------------------------------------------------

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web-metrics}
spec:
  selector: {app: web}
  ports:
  - port: 9090
    targetPort: metrics  # the proxy's
"""


def _migrate_files(tmp_path: Path, names: dict[str, str], *flags: str, in_place: bool = False) -> tuple[int, str, str]:
    for name, text in names.items():
        (tmp_path / name).write_text(text)
    stdout, stderr = io.BytesIO(), io.StringIO()
    settings = Settings(kube_version=parse_kube_version(flags[0])) if flags else Settings()
    code = run(
        [str(tmp_path / name) for name in sorted(names)],
        settings,
        Output(in_place=in_place),
        Report(stream=stderr),
        stdout=stdout,
    )
    return code, stdout.getvalue().decode(), stderr.getvalue()


def _service(text: str) -> dict:
    return next(doc for doc in yaml.safe_load_all(text) if doc and doc.get("kind") == "Service")


@pytest.mark.parametrize("layout", ["service first", "service last", "two files", "two files reversed"])
def test_a_named_target_port_of_a_converted_sidecar_becomes_its_number(tmp_path: Path, layout: str) -> None:
    names = {
        "service first": {"all.yaml": SERVICE + "---\n" + DEPLOYMENT},
        "service last": {"all.yaml": DEPLOYMENT + "---\n" + SERVICE},
        "two files": {"a-deployment.yaml": DEPLOYMENT, "b-service.yaml": SERVICE},
        "two files reversed": {"a-service.yaml": SERVICE, "b-deployment.yaml": DEPLOYMENT},
    }[layout]
    code, out, err = _migrate_files(tmp_path, names)
    assert code == 0
    service = _service(out)
    assert service["spec"]["ports"][0]["targetPort"] == 9090
    assert "targetPort: 9090  # the proxy's" in out  # the comment stays
    assert "service/web-metrics: targetPort 'metrics' -> 9090" in err
    assert "NC009" not in err
    # with -i the files say the same, and a second run changes nothing
    code, _, _ = _migrate_files(tmp_path, names, in_place=True)
    written = "---\n".join((tmp_path / name).read_text() for name in sorted(names))
    assert _service(written)["spec"]["ports"][0]["targetPort"] == 9090
    again = run(
        [str(tmp_path / name) for name in sorted(names)],
        Settings(),
        Output(check=True),
        Report(stream=io.StringIO(), check=True),
        stdout=io.BytesIO(),
    )
    assert again == 0


def test_from_kubernetes_1_32_the_name_stays(tmp_path: Path) -> None:
    _, out, _ = _migrate_files(tmp_path, {"all.yaml": DEPLOYMENT + "---\n" + SERVICE}, "1.32")
    assert _service(out)["spec"]["ports"][0]["targetPort"] == "metrics"


def test_pods_that_give_the_name_different_numbers_keep_it_and_are_reported(tmp_path: Path) -> None:
    other = DEPLOYMENT.replace("name: web}", "name: web-canary}", 1)
    other = other.replace("containerPort: 9090", "containerPort: 9091")
    _, out, err = _migrate_files(tmp_path, {"all.yaml": DEPLOYMENT + "---\n" + other + "---\n" + SERVICE})
    assert _service(out)["spec"]["ports"][0]["targetPort"] == "metrics"
    assert "NC009" in err


def test_a_service_that_selects_no_pod_of_the_run_keeps_its_name(tmp_path: Path) -> None:
    lonely = SERVICE.replace("{app: web}", "{app: elsewhere}")
    _, out, _ = _migrate_files(tmp_path, {"all.yaml": DEPLOYMENT + "---\n" + lonely})
    assert _service(out)["spec"]["ports"][0]["targetPort"] == "metrics"


def test_a_pipe_is_read_once_and_its_service_keeps_the_name(tmp_path: Path) -> None:
    """A pipe (`<(cat f)`) cannot be read twice: the first pass leaves it alone, so the run gets
    all of it (and, not knowing its pods beforehand, reports the Service instead of editing it)."""
    import os
    import threading

    pipe = tmp_path / "stream.yaml"
    os.mkfifo(pipe)
    text = SERVICE + "---\n" + DEPLOYMENT

    def write() -> None:
        with pipe.open("w") as stream:
            stream.write(text)

    writer = threading.Thread(target=write)
    writer.start()
    stdout, stderr = io.BytesIO(), io.StringIO()
    code = run([str(pipe)], Settings(), Output(), Report(stream=stderr), stdout=stdout)
    writer.join(timeout=10)
    out = stdout.getvalue().decode()
    assert code == 0 and "restartPolicy: Always" in out
    assert _service(out)["spec"]["ports"][0]["targetPort"] == "metrics"
    assert "NC009" in stderr.getvalue()
