"""A pod's effective resource requests and limits with sidecars (KEP-753 "Resources calculation").

Per resource, with sidecars S (init containers with `restartPolicy: Always`) and plain init
containers I, in list order: `InitUse(i) = sum(S before i) + I(i)`, and the pod's value is
`max(max_i InitUse(i), sum(S) + sum(containers))` (pod overhead left out: it is the same before
and after). Limits the same way; a container without a limit makes the pod's limit unbounded.
Quantities follow the Kubernetes quantity format (`100m`, `1.5`, `128Mi`, `1G`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from nativecar.lifecycle.pod import Container

RESOURCES = ("cpu", "memory")
Kind = Literal["requests", "limits"]
_QUANTITY = r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$"  # compiled on first use
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


def amounts(container: dict, kind: Kind, resource: str) -> float | None:
    """One container's request or limit: 0 for an absent request, infinity for an absent limit,
    None when it cannot be read."""
    resources = container.get("resources") if isinstance(container.get("resources"), dict) else {}
    values = resources.get(kind) if isinstance(resources.get(kind), dict) else {}
    if resource not in values:
        return 0.0 if kind == "requests" else math.inf
    return quantity(values[resource])


def effective(containers: Iterable[Container], kind: Kind, resource: str) -> float | None:
    """The pod's effective request or limit for `resource`, by KEP-753 (None when unreadable)."""
    running = 0.0
    peak = 0.0
    regular = 0.0
    for container in containers:
        amount = (container.requests if kind == "requests" else container.limits).get(resource)
        if amount is None:
            return None
        if container.role == "sidecar":
            running += amount
        elif container.role == "init":
            peak = max(peak, running + amount)
        else:
            regular += amount
    return max(peak, running + regular)


def describe(amount: float | None, resource: str) -> str:
    """`250m`, `1`, `512Mi`, `unbounded`, `unknown`."""
    if amount is None:
        return "unknown"
    if math.isinf(amount):
        return "unbounded"
    if resource == "cpu":
        millis = round(amount * 1000)
        return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"
    for suffix in ("Gi", "Mi", "Ki"):
        unit = _SUFFIX[suffix]
        if amount >= unit and amount % unit == 0:
            return f"{int(amount // unit)}{suffix}"
    return str(int(amount))
