"""NC012: how converting a pod's sidecars changes its effective resource request (KEP-753)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from nativecar.lifecycle.resources import RESOURCES, describe, effective
from nativecar.rewrites import Context
from nativecar.rewrites.legacy import listens_on, native_order
from nativecar.rules import Problem, Rule, Stream, legacy_sidecars, named
from nativecar.workloads import Pod

RULE = Rule(
    id="NC012",
    name="effective-request-change",
    severity="info",
    summary="Converting this pod's sidecars changes its effective resource request",
    doc=(
        "The scheduler sizes a pod by KEP-753's formula, per resource: with sidecars S and init "
        "containers I, InitUse(i) = sum(S before i) + I(i), and the request is "
        "max(max_i InitUse(i), sum(S) + sum(containers)). A plain init container that runs "
        "after a sidecar now needs room next to it, so converting can raise the request; the "
        "finding shows the numbers before and after. Nothing to fix unless the new request "
        "no longer fits your nodes or quota."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    sidecars = legacy_sidecars(pod, context)
    if not sidecars:
        return
    model = stream.model(pod, context)
    moved = {id(container) for container, _ in sidecars}
    # the model's containers stand in the manifest's order: init containers, then containers
    raws = [*named(pod.containers("initContainers")), *named(pod.containers())]
    of = {id(raw): container for raw, container in zip(raws, model.containers, strict=True)}
    order = native_order(list(named(pod.containers("initContainers"))), sidecars, listens_on(pod))
    converted = [replace(of[id(raw)], role="sidecar") if id(raw) in moved else of[id(raw)] for raw in order]
    converted += [of[id(raw)] for raw in named(pod.containers()) if id(raw) not in moved]
    notes = []
    for resource in RESOURCES:
        before = effective(model.containers, "requests", resource)
        after = effective(converted, "requests", resource)
        if before is not None and after is not None and abs(after - before) > 1e-9:
            notes.append(f"{resource} {describe(before, resource)} -> {describe(after, resource)}")
    if notes:
        names = ", ".join(pod.container_name(container) for container, _ in sidecars)
        yield Problem(f"effective request once {names} is native: {'; '.join(notes)}", sidecars[0][0])
