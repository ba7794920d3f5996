"""The table of references to a moved container (issue 10, part 1): every row is exercised by a
rule fixture, and `migrate` reports what names a container it converted, at the referring line,
whether the referring object comes before or after the pod."""

from __future__ import annotations

import pytest

from nativecar import engine, references
from nativecar.documents import Source
from nativecar.rewrites import Context
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
    for row in references.REFERENCES:
        if row.rule == "edit":  # kustomize's patches: tests/test_kustomize.py edits both kinds
            assert (FIXTURES.parent / "test_kustomize.py").is_file()
            continue
        fired = fixtures[f"{row.rule_id}-fire"]
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
