"""Fill a profile's `${...}` placeholders for one pod.

Values come from three places: the profile's own `values` (defaults, overridden with `--set`),
what nativecar computes from the pod (`COMPUTED`), and what a vendor module computes
(`nativecar.vendors`, e.g. Istio's canonical service name). A string that is exactly one
placeholder takes the value's own type, so `containerPort: ${port}` stays a number; anywhere
else the value is written as text. Kubernetes' own `$(VAR)` references are left alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from nativecar.workloads import Pod

PLACEHOLDER = r"\$\{([A-Za-z0-9_.-]+)\}"  # compiled by `re` on first use, off the start-up path
COMPUTED = (
    "workload.name",
    "workload.namespace",
    "workload.kind",
    "workload.resource",
    "workload.apiVersion",
    "pod.appContainers",
    "pod.firstAppContainer",
    "pod.appPortNumbers",
    "pod.appPortsJSON",
)


class MissingValueError(Exception):
    """A placeholder with no value: the message names it."""


def placeholders(data: Any) -> Iterator[str]:
    """Every placeholder name used in `data`, keys included."""
    if isinstance(data, str):
        yield from re.findall(PLACEHOLDER, data)
    elif isinstance(data, Mapping):
        for key, value in data.items():
            yield from placeholders(key)
            yield from placeholders(value)
    elif isinstance(data, list | tuple):
        for item in data:
            yield from placeholders(item)


def render(data: Any, variables: Mapping[str, Any]) -> Any:
    """A plain-data copy of `data` with every placeholder filled."""
    if isinstance(data, str):
        whole = re.fullmatch(PLACEHOLDER, data)
        if whole:
            return _lookup(whole.group(1), variables)
        return re.sub(PLACEHOLDER, lambda match: str(_lookup(match.group(1), variables)), data)
    if isinstance(data, Mapping):
        return {render(key, variables): render(value, variables) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [render(item, variables) for item in data]
    return data


def _lookup(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        raise MissingValueError(name)
    return variables[name]


def pod_variables(pod: Pod) -> dict[str, Any]:
    """The values nativecar computes from a pod and its workload (see `COMPUTED`)."""
    metadata = pod.workload.get("metadata") if isinstance(pod.workload.get("metadata"), dict) else {}
    kind = str(pod.workload.get("kind", ""))
    apps = [container for container in pod.containers() if isinstance(container, dict)]
    ports = [
        port
        for container in apps
        for port in (container.get("ports") or [])
        if isinstance(port, dict) and "containerPort" in port
    ]
    return {
        "workload.name": str(metadata.get("name") or ""),
        "workload.namespace": str(metadata.get("namespace") or "default"),
        "workload.kind": kind.lower(),
        "workload.resource": kind.lower() + "s",
        "workload.apiVersion": str(pod.workload.get("apiVersion", "")),
        "pod.appContainers": ",".join(str(container["name"]) for container in apps if container.get("name")),
        # An unnamed container (the API rejects it anyway) is no container to name: "", never "None".
        "pod.firstAppContainer": str(apps[0]["name"]) if apps and apps[0].get("name") else "",
        "pod.appPortNumbers": ",".join(str(port["containerPort"]) for port in ports),
        "pod.appPortsJSON": _ports_json(ports),
    }


def _ports_json(ports: list[dict]) -> str:
    """Ports as Istio's injector writes them for ISTIO_META_POD_PORTS: one compact entry a line."""
    entries = []
    for port in ports:
        entry = {key: port[key] for key in ("name", "containerPort", "protocol") if key in port}
        entries.append("    " + json.dumps(entry, separators=(",", ":")))
    return "[\n" + ",\n".join(entries) + "\n]"
