"""The pure core of `nativecar check`: one source's text in, its findings out.

Every document that is a workload or a Service gets its editable model (nothing is changed);
the rules in `nativecar.rules` run over its pods, with the stream's Services at hand for the
rules that look across documents. Bad input raises `InputError`, as for `migrate`.
"""

from __future__ import annotations

from yaml.nodes import ScalarNode

from nativecar import rules, workloads
from nativecar.changes import Change
from nativecar.documents import Source, documents, nesting_guard
from nativecar.model import build
from nativecar.rewrites import Context


def check(source: Source, context: Context) -> list[Change]:
    """Every finding in `source`, sorted by position."""
    pods: list[workloads.Pod] = []
    services: list[dict] = []
    for document in documents(source):
        kind = workloads.node_get(document.root, "kind")
        is_service = isinstance(kind, ScalarNode) and kind.value == "Service"
        if not is_service and next(workloads.pod_spec_nodes(document.root), None) is None:
            continue
        with nesting_guard(source, document):
            model = build(document.root)
        if is_service:
            services.append(model)
        pods.extend(workloads.pods(model))
    return rules.run(pods, services, context)
