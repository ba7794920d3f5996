"""The pure core of `nativecar check`: one source's text in, its findings out.

Every document that is a workload, or an object that refers to a pod's containers (a Service,
a NetworkPolicy, an autoscaler: `references.REFERRING_KINDS`), gets its editable model (nothing
is changed); the rules in `nativecar.rules` run over its pods, with those objects at hand for
the rules that look across documents. Bad input raises `InputError`, as for `migrate`.
"""

from __future__ import annotations

from yaml.nodes import ScalarNode

from nativecar import rules, workloads
from nativecar.changes import Change
from nativecar.documents import Source, documents, nesting_guard
from nativecar.model import build
from nativecar.references import REFERRING_KINDS
from nativecar.rewrites import Context


def check(source: Source, context: Context) -> list[Change]:
    """Every finding in `source`, sorted by position."""
    pods: list[workloads.Pod] = []
    others: list[dict] = []
    for document in documents(source):
        kind = workloads.node_get(document.root, "kind")
        referring = isinstance(kind, ScalarNode) and kind.value in REFERRING_KINDS
        if not referring and next(workloads.pod_spec_nodes(document.root), None) is None:
            continue
        with nesting_guard(source, document):
            model = build(document.root)
        if referring:
            others.append(model)
        pods.extend(workloads.pods(model))
    return rules.run(pods, others, context)
