"""NC012: how converting a pod's sidecars changes its effective resource request (KEP-753)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rewrites.legacy import native_order
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
RESOURCES = ("cpu", "memory")
_QUANTITY = r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$"
_SUFFIX = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    sidecars = legacy_sidecars(pod, context)
    if not sidecars:
        return
    moved = {id(container) for container, _ in sidecars}
    apps = [c for c in named(pod.containers()) if id(c) not in moved]
    init = list(named(pod.containers("initContainers")))
    after = native_order(init, sidecars)
    notes = []
    for resource in RESOURCES:
        before = _effective([*init], [*apps, *(c for c, _ in sidecars)], resource, set())
        converted = _effective(after, apps, resource, moved)
        if before is not None and converted is not None and abs(converted - before) > 1e-9:
            notes.append(f"{resource} {_format(before, resource)} -> {_format(converted, resource)}")
    if notes:
        names = ", ".join(str(container.get("name")) for container, _ in sidecars)
        yield Problem(f"effective request once {names} is native: {'; '.join(notes)}", sidecars[0][0])


def _effective(init: list[dict], containers: list[dict], resource: str, sidecar_ids: set[int]) -> float | None:
    """KEP-753's pod request for `resource` (None when some request cannot be read)."""
    running = 0.0
    peak = 0.0
    for container in init:
        amount = _request(container, resource)
        if amount is None:
            return None
        if id(container) in sidecar_ids or container.get("restartPolicy") == "Always":
            running += amount
        else:
            peak = max(peak, running + amount)
    total = running
    for container in containers:
        amount = _request(container, resource)
        if amount is None:
            return None
        total += amount
    return max(peak, total)


def _request(container: dict, resource: str) -> float | None:
    resources = container.get("resources") if isinstance(container.get("resources"), dict) else {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
    value = requests.get(resource, 0)
    return quantity(value)


def quantity(value: object) -> float | None:
    """A Kubernetes quantity (`100m`, `1.5`, `128Mi`, `1G`) as a number of base units."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = re.match(_QUANTITY, str(value).strip())
    if not match:
        return None
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def _format(amount: float, resource: str) -> str:
    if resource == "cpu":
        return f"{round(amount * 1000)}m"
    for suffix in ("Gi", "Mi", "Ki"):
        if amount >= _SUFFIX[suffix] and amount % _SUFFIX[suffix] == 0:
            return f"{int(amount // _SUFFIX[suffix])}{suffix}"
    return str(int(amount))
