"""NC009: a Service that targets a sidecar's port by name, which Kubernetes < 1.32 cannot resolve."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, named, native_sidecars, skeleton
from nativecar.workloads import Pod, label

RULE = Rule(
    id="NC009",
    name="named-port-on-sidecar",
    severity="warning",
    summary="A Service targets a native sidecar's port by name, unresolved before Kubernetes 1.32",
    doc=(
        "Before 1.32 the endpoints controllers looked up a named `targetPort` only among a "
        "pod's regular containers (kubernetes#127958), so a Service pointing at a port a native "
        "sidecar declares gets no endpoints. Fix: use the port number as targetPort, or target "
        "Kubernetes 1.32 or later (--kube-version 1.32)."
    ),
)


def _sidecar_ports(pod: Pod) -> dict[str, str]:
    """The port names the pod's native sidecars declare, with the sidecar's name."""
    return {
        str(port.get("name")): pod.container_name(sidecar)
        for sidecar in native_sidecars(pod)
        for port in named(sidecar.get("ports") or [])
        if port.get("name")
    }


def awaiting(pod: Pod, context: Context) -> Pod | None:
    """What of `pod` this rule reads, to check it against Services later in the stream: None
    when no Service could make it fire (no sidecar port has a name, or Kubernetes >= 1.32)."""
    if context.kube_version >= (1, 32) or not _sidecar_ports(pod):
        return None
    sidecars = [
        {"name": pod.container_name(sidecar), "restartPolicy": "Always", "ports": sidecar.get("ports")}
        for sidecar in native_sidecars(pod)
    ]
    return skeleton(pod, {"initContainers": sidecars})


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    if context.kube_version >= (1, 32):
        return
    ports = _sidecar_ports(pod)
    labels = pod.metadata_map("labels")
    for service in stream.others:
        if service.get("kind") != "Service":
            continue
        spec = service.get("spec") if isinstance(service.get("spec"), dict) else {}
        selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else None
        if not selector or any(labels.get(key) != value for key, value in selector.items()):
            continue
        for port in named(spec.get("ports") or []):
            target = port.get("targetPort")
            if isinstance(target, str) and target in ports:
                yield Problem(
                    f"{label(service)} targets port {target!r} of sidecar {ports[target]} by name", port, "targetPort"
                )
