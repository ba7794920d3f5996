"""`nativecar check`: the rules, one module each, and the engine that runs and stamps them.

A rule module has `RULE` (a stable id, a name, a severity, a one-line summary and the doc a
user reads with `nativecar rules ID`: why it matters, how to fix it, which rewrite fixes it) and
`check(pod, context, stream)`, which yields `Problem`s: a message and the model value (or the key
inside it) the problem is about. `run` stamps each problem with the rule, the workload and the
real line and column of that value in the source, as yamllint's engine does.

A workload opts out with the annotation `nativecar.io/ignore: "NC003,NC007"` (or `all`) on its
own metadata or its pod template's.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from nativecar.changes import Change, Severity, position
from nativecar.rewrites import Context
from nativecar.workloads import Pod

if TYPE_CHECKING:
    from nativecar.lifecycle.pod import Container, PodModel

IGNORE = "nativecar.io/ignore"
MODULES = (
    "job_sidecar",
    "legacy_sidecar",
    "startup_signal",
    "init_probes",
    "restart_policy",
    "duplicate_names",
    "grace_period",
    "workarounds",
    "named_ports",
    "pod_failure_policy",
    "kube_version",
    "resources",
    "sidecar_sleep",
    "restart_rules",
    "early_stop",
    "startup_gate",
    "port_conflict",
    "init_dials_sidecar",
    "injection_request",
    "moved_references",
    "kustomize_overlays",
)


class Rule(NamedTuple):
    """What `nativecar rules` shows about one rule."""

    id: str
    name: str
    severity: Severity
    summary: str
    doc: str


class Problem(NamedTuple):
    """One finding before it is stamped: where (`at`, or `key` inside it) and what."""

    message: str
    at: Any
    key: Any = None


class Stream(NamedTuple):
    """The other objects of the same stream, for rules that look across documents, and the
    lifecycle models of its pods (`model`), read once per pod."""

    pods: list[Pod]
    others: list[dict]  # the objects that refer to pods' containers (references.REFERRING_KINDS)
    models: dict[int, Any]

    def model(self, pod: Pod, context: Context) -> PodModel:
        """The lifecycle model of `pod` (read on first use)."""
        found = self.models.get(id(pod))
        if found is None:
            from nativecar.lifecycle.pod import read

            found = self.models[id(pod)] = read(pod, context)
        return found


INVALID_INPUT = Rule(
    id="NC000",
    name="invalid-input",
    severity="error",
    summary="An input could not be read as Kubernetes manifests, so it was not checked",
    doc=(
        "Not a rule about manifests: how the machine formats of `nativecar check` (json, sarif, "
        "github) name an input that could not be checked at all, with the line and column of what "
        "is wrong: a YAML syntax error, a duplicate key, text that is not UTF-8, an unrendered Helm "
        "template, a path that cannot be read, a kustomization that cannot be resolved. The other "
        "inputs are still checked, and the run exits 2. Fix: what the message says, then run "
        "`nativecar check` again. `nativecar rules` lists the rules about manifests only, so not this one."
    ),
)


@functools.cache
def modules() -> list[Any]:
    return [importlib.import_module(f"nativecar.rules.{name}") for name in MODULES]


def rules() -> list[Rule]:
    return [module.RULE for module in modules()]


def markdown() -> str:
    """docs/rules.md: a table of the rules, then a section per rule (`## NC001`, so its anchor is
    `#nc001`, which SARIF's `helpUri` points at) with what `nativecar rules ID` prints; NC000 last."""
    lines = [
        "# The rules of `nativecar check`",
        "",
        "<!-- Made by `nativecar rules --markdown > docs/rules.md` from nativecar/rules/: edit the rules there. -->",
        "",
        "`nativecar rules ID` prints the same text. A workload opts out of rules with the annotation",
        '`nativecar.io/ignore: "NC007,NC012"` (or `all`) on its own metadata or its pod template\'s.',
        "",
        "| Rule | Name | Severity | Summary |",
        "|---|---|---|---|",
    ]
    catalogue = [*rules(), INVALID_INPUT]
    for rule in catalogue:
        summary = rule.summary.replace("|", "\\|")
        lines.append(f"| [{rule.id}](#{rule.id.lower()}) | `{rule.name}` | {rule.severity} | {summary} |")
    for rule in catalogue:
        lines += ["", f"## {rule.id}", "", f"`{rule.name}` ({rule.severity}): {rule.summary}.", "", rule.doc]
    return "\n".join(lines) + "\n"


Locate = Callable[[Any, Any, Pod], tuple[int, int]]


def run(
    pods: list[Pod],
    others: list[dict],
    context: Context,
    locate: Locate | None = None,
    models: dict[int, PodModel] | None = None,
) -> list[Change]:
    """Every finding of every rule on these pods, in document order.

    `locate(value, key, pod)` gives the (line, column) a finding about `value` (or its `key`) is
    reported at; by default where the value stands in the source the pods were read from.
    `models`: lifecycle models already read, by `id(pod)`.
    """
    stream = Stream(pods=pods, others=others, models=dict(models or {}))
    findings: list[Change] = []
    for pod in pods:
        for module in modules():
            findings.extend(_stamped(module, pod, context, stream, locate))
    return sorted(findings, key=lambda finding: (finding.line, finding.column, finding.rule))


def _stamped(module: Any, pod: Pod, context: Context, stream: Stream, locate: Locate | None) -> Iterator[Change]:
    """One rule's findings on one pod, at their line and column (none when the pod opts out)."""
    rule: Rule = module.RULE
    ignored = _ignored(pod)
    if ignored and ("all" in ignored or rule.id in ignored or rule.name in ignored):
        return
    for problem in module.check(pod, context, stream):  # a tree rule (NC021) yields nothing here
        line, column = locate(problem.at, problem.key, pod) if locate else position(problem.at, problem.key)
        yield Change(pod.label, problem.message, "finding", line, column, rule=rule.id, severity=rule.severity)


def awaiting(pod: Pod, context: Context) -> list[tuple[Any, Pod]]:
    """The rules a Service later in the stream could still give a finding on `pod`, each with
    what of the pod it reads (a rule that reads `Stream.others` says so with its `awaiting`),
    kept in place of the whole pod until the stream has ended."""
    found = []
    for module in modules():
        if hasattr(module, "awaiting"):
            part = module.awaiting(pod, context)
            if part is not None:
                found.append((module, part))
    return found


def skeleton(pod: Pod, spec: dict) -> Pod:
    """A pod reduced to its label, its workload's name and namespace, its opt-out annotations, its
    template's labels and `spec`, as plain values: nothing in it holds on to the document's nodes
    (so its findings must be about other documents, such as a Service's port)."""
    from nativecar.model import plain

    opted_out = ",".join(_ignored(pod))
    annotations = {IGNORE: opted_out} if opted_out else {}
    own = pod.workload.get("metadata") if isinstance(pod.workload.get("metadata"), dict) else {}
    metadata = {key: own[key] for key in ("name", "namespace") if isinstance(own.get(key), str)}
    workload = {"kind": pod.workload.get("kind"), "metadata": {**metadata, "annotations": annotations}}
    template: dict = {"metadata": {"labels": plain(pod.metadata_map("labels"))}, "spec": plain(spec)}
    return Pod(workload=workload, template=template, label=pod.label)


def run_late(
    waiting: list[tuple[Any, Pod]], others: list[dict], context: Context, locate: Locate | None = None
) -> list[Change]:
    """The findings of the rules that waited for referring objects (`awaiting`), on what they kept."""
    findings: list[Change] = []
    for module, pod in waiting:
        findings.extend(_stamped(module, pod, context, Stream(pods=[pod], others=others, models={}), locate))
    return findings


def _ignored(pod: Pod) -> set[str]:
    values = []
    for metadata in (pod.workload.get("metadata"), pod.template.get("metadata")):
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if isinstance(annotations, dict) and IGNORE in annotations:
            values.append(str(annotations[IGNORE]))
    return {part.strip() for value in values for part in value.split(",") if part.strip()}


# -- what several rules ask about a pod ---------------------------------------------------------


def native_sidecars(pod: Pod) -> list[dict]:
    return [c for c in pod.containers("initContainers") if isinstance(c, dict) and c.get("restartPolicy") == "Always"]


def legacy_sidecars(pod: Pod, context: Context) -> list[tuple[dict, Any]]:
    """The sidecars in `containers` that `migrate` would move: recognised, and not held back by
    their profile (a webhook-owned gcsfuse sidecar, a Dapr older than 1.17...)."""
    from nativecar.rewrites.legacy import held_back

    found = []
    for container in pod.containers():
        if isinstance(container, dict):
            profile = context.recognise(container.get("name"), container.get("image"))
            if profile is not None and held_back(pod, container, profile, context) is None:
                found.append((container, profile))
    return found


def is_job(pod: Pod) -> bool:
    return pod.kind in ("Job", "CronJob")


def named(items: Any) -> Iterator[dict]:
    """The mappings of a list field (nothing when the field is not a list: a mistyped `ports: 5`)."""
    return (item for item in items if isinstance(item, dict)) if isinstance(items, list | tuple) else iter(())


def raw(pod: Pod, container: Container) -> dict:
    """The manifest's mapping of a model container (where a finding about it is reported); a
    container without a name is known by its place, `containers[1]`."""
    field = "containers" if container.role == "app" else "initContainers"
    items = pod.containers(field)
    for item in items:
        if isinstance(item, dict) and container.name in (item.get("name"), pod.container_name(item)):
            return item
    return pod.spec
