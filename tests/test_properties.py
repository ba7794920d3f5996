"""Property tests: generated pods in generated formatting styles.

Hypothesis writes a stream of workloads (random kinds, app containers, legacy sidecars of every
profile, init containers, probes) in a random style (indentation, sequence indentation, quoting,
flow collections, comments, blank lines, CRLF, a BOM) next to a document nativecar must not
touch. For each: the untouched document and every line that carries no change survive byte for
byte, converted pods obey the API rules with their sidecars native, and a second run changes
nothing.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import oracle
from tests.conftest import migrate

SIDECARS = {
    "istio-proxy": {"image": "docker.io/istio/proxyv2:1.22.3", "args": ["proxy", "sidecar"]},
    "linkerd-proxy": {"image": "cr.l5d.io/linkerd/proxy:stable-2.14.10"},
    "sql": {"image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3", "args": ["--port=5432", "p:r:db"]},
    "shipper": {"image": "fluent/fluent-bit:3.1"},  # named with --sidecar
}
NAMES = st.sampled_from(["web", "api", "worker", "migrate", "cron-task"])
WORDS = st.sampled_from(["a", "true", "0755", "x: y", "#hash", "--flag=1", "it's", "1.5", "", "~"])


@st.composite
def containers(draw: st.DrawFn) -> dict[str, Any]:
    apps = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    chosen = draw(st.lists(st.sampled_from(sorted(SIDECARS)), max_size=2, unique=True))
    entries: list[dict[str, Any]] = []
    for name in apps:
        entry: dict[str, Any] = {"name": name, "image": f"example/{name}:1"}
        if draw(st.booleans()):
            entry["args"] = draw(st.lists(WORDS, max_size=3))
        if draw(st.booleans()):
            entry["ports"] = [{"containerPort": draw(st.integers(1, 65535))}]
        entries.append(entry)
    for name in chosen:
        entry = {"name": name, **SIDECARS[name]}
        if draw(st.booleans()):
            entry["readinessProbe"] = {"tcpSocket": {"port": 9000 + len(name)}}
        entries.insert(draw(st.integers(0, len(entries))), entry)
    spec: dict[str, Any] = {"containers": entries}
    inits = []
    if "istio-proxy" in chosen and draw(st.booleans()):
        inits.append({"name": "istio-init", "image": "docker.io/istio/proxyv2:1.22.3", "args": ["istio-iptables"]})
    if draw(st.booleans()):
        inits.insert(0, {"name": "setup", "image": "busybox:1.36", "command": ["sh", "-c", "true"]})
    if inits:
        spec["initContainers"] = inits
    if draw(st.booleans()):
        spec["terminationGracePeriodSeconds"] = draw(st.integers(0, 600))
    return spec


@st.composite
def workload(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Pod", "Deployment", "Job", "CronJob"]))
    name = draw(NAMES)
    spec = draw(containers())
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if kind == "Deployment":
        body = {"selector": {"matchLabels": {"app": name}}, "template": template}
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": body}
    spec["restartPolicy"] = "Never"
    if kind == "Job":
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": {"name": name}, "spec": {"template": template}}
    job = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
    return {"apiVersion": "batch/v1", "kind": kind, "metadata": {"name": name}, "spec": job}


class Writer:
    """A deliberately varied YAML emitter: one style per document, with random flourishes."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.indent = draw(st.sampled_from([2, 4]))
        self.sequence_indent = draw(st.sampled_from([0, self.indent]))
        self.quote = draw(st.sampled_from(["", "'", '"']))
        self.flow = draw(st.booleans())
        self.comments = draw(st.booleans())

    def scalar(self, value: Any) -> str:
        if isinstance(value, str):
            plain = yaml.safe_dump(value, default_style=None).removesuffix("\n...\n").strip()
            if self.quote == "'" and "\n" not in value:
                return "'" + value.replace("'", "''") + "'"
            if self.quote == '"':
                return yaml.safe_dump(value, default_style='"').strip()
            return plain
        return yaml.safe_dump(value).removesuffix("\n...\n").strip()

    def flow_text(self, value: Any) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}: {self.flow_text(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(self.flow_text(v) for v in value) + "]"
        return yaml.safe_dump(value, default_flow_style=True, default_style='"').strip()

    def lines(self, value: Any, column: int) -> list[str]:
        out: list[str] = []
        for key, item in value.items():
            comment = "  # note" if self.comments and self.draw(st.booleans()) else ""
            if self.comments and self.draw(st.integers(0, 5)) == 0:
                out.append(" " * column + "# about " + key)
            small = isinstance(item, dict | list) and len(str(item)) < 60
            if isinstance(item, dict | list) and (not item or (self.flow and small and self.draw(st.booleans()))):
                out.append(f"{' ' * column}{key}: {self.flow_text(item)}{comment}")
            elif isinstance(item, dict):
                out.append(f"{' ' * column}{key}:{comment}")
                out.extend(self.lines(item, column + self.indent))
            elif isinstance(item, list):
                out.append(f"{' ' * column}{key}:{comment}")
                dash = column + self.sequence_indent
                for element in item:
                    if isinstance(element, dict):
                        body = self.lines(element, dash + 2)
                        body[0] = " " * dash + "- " + body[0][dash + 2 :]
                        out.extend(body)
                    else:
                        out.append(f"{' ' * dash}- {self.scalar(element)}")
            else:
                out.append(f"{' ' * column}{key}: {self.scalar(item)}{comment}")
        return out


UNTOUCHED = (
    "# untouched\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep   # as is\ndata:\n"
    "  script: |\n    echo ---\n    ---\n  'odd': \"x\"\n"
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, list[dict]]:
    objects = draw(st.lists(workload(), min_size=1, max_size=3))
    parts = ["\n".join(Writer(draw).lines(obj, 0)) + "\n" for obj in objects]
    parts.insert(draw(st.integers(0, len(parts))), UNTOUCHED)
    text = "---\n".join(parts)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text, objects


def _pod_problems(text: str) -> list[str]:
    found = []
    for label, _, spec in oracle.pods(text):
        found += [f"{label}: {problem}" for problem in oracle.api_problems(spec)]
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_generated_streams(stream: tuple[str, list[dict]]) -> None:
    text, objects = stream
    written = [d for d in yaml.safe_load_all(text.lstrip("\ufeff")) if d["kind"] != "ConfigMap"]
    assert written == objects  # the generator wrote what it meant to
    outcome = migrate(text, sidecar_names=("shipper",))
    out = outcome.text  # the engine's text; the BOM is the writer's business (test_cli)
    text = text.removeprefix("\ufeff")
    # the untouched document survives byte for byte (in the stream's own newline style)
    newline = "\r\n" if "\r\n" in text else "\n"
    assert UNTOUCHED.replace("\n", newline) in out
    if not outcome.reemitted:
        assert oracle.stray_lines(text.replace("\r\n", "\n"), out.replace("\r\n", "\n")) == []
    assert migrate(out, sidecar_names=("shipper",)).text == out
    assert _pod_problems(out) == []
    for _, _, spec in oracle.pods(out):
        assert not {c["name"] for c in spec["containers"]} & set(SIDECARS)
        for sidecar in oracle.sidecars(spec):
            assert "startupProbe" in sidecar or sidecar["name"] in ("shipper",)
