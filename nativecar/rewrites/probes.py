"""Rewrite 2, `probes`: every native sidecar gets a startup signal, and no probe the API rejects.

After `legacy`, so sidecars converted in this run are covered as well as ones that were native
already. The kubelet starts the next init container, and finally the app, as soon as a sidecar
has *started*: its process runs, its postStart hook returned, its startupProbe passed. Without
a startupProbe or a postStart hook that is the moment the process exists, so the app can start
before its proxy is ready. The profile's `startupSignal` says what the vendor renders natively:
`probe`, the profile's startup probe (through its vendor hook); `readiness`, the sidecar's own
readinessProbe copied as its startupProbe (the OpenTelemetry operator); `postStart`, the
sidecar's own postStart hook (Azure Workload Identity), so no probe is added; `none`, nothing
(Dapr, gcsfuse). Without a `startupSignal` the profile's probe is used, else one derived from the
sidecar's own readiness or liveness handler. When none of these gives a signal, a warning names
the container.

Values the API server rejects on any probe of a sidecar are fixed: `successThreshold` other
than 1 on a liveness or startup probe, and `terminationGracePeriodSeconds` on a readiness probe.
"""

from __future__ import annotations

from typing import Any

from nativecar import vendors
from nativecar.changes import Change, line_of, position
from nativecar.rewrites import Context
from nativecar.workloads import Pod

HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")
DERIVED = {"periodSeconds": 1, "failureThreshold": 120}  # two minutes to become ready


def rewrite(pod: Pod, context: Context) -> list[Change]:
    changes: list[Change] = []
    for container in pod.containers("initContainers"):
        if not isinstance(container, dict) or container.get("restartPolicy") != "Always":
            continue
        name = pod.container_name(container)
        notes = _fix_rejected(container)
        if "startupProbe" not in container and not _has_post_start(container):
            probe, note = _startup_probe(pod, container, context)
            if probe is not None:
                container["startupProbe"] = probe
                notes.append(f"startupProbe added ({note})" if note else "startupProbe added")
            else:
                changes.append(
                    Change(
                        pod.label,
                        f"sidecar {name} has no startup signal: the app may start before it is ready"
                        + (f" ({note})" if note else "; add a startupProbe"),
                        "warning",
                        *position(container),
                        rule="NC003",
                        severity="warning",
                    )
                )
        if notes:
            message = f"{name}: " + "; ".join(notes)
            changes.append(Change(pod.label, message, "changed", line_of(container), detail=True))
    return changes


def _startup_probe(pod: Pod, container: dict, context: Context) -> tuple[dict[str, Any] | None, str]:
    profile = context.recognise(container.get("name"), container.get("image"))
    signal = profile.startup_signal if profile is not None else None
    if profile is not None and signal == "none":
        return None, f"{profile.name} renders no startup signal natively either"
    if profile is not None and signal == "postStart":
        return None, f"{profile.name}'s signal is its postStart hook, which this sidecar lacks"
    if profile is not None and signal == "readiness":
        readiness = container.get("readinessProbe")
        if isinstance(readiness, dict) and any(key in readiness for key in HANDLERS):
            probe = vendors.copy_data(readiness)
            if probe.get("successThreshold", 1) != 1:
                probe["successThreshold"] = 1  # the API accepts no other value on a startup probe
            return probe, "its readinessProbe, as the vendor's injector does"
        return None, f"{profile.name} reuses its readinessProbe, and it has none (no health extension?)"
    if profile is not None and (profile.startup_probe is not None or profile.vendor is not None):
        probe, note = vendors.startup_probe(pod, container, profile, ports_in_use(pod, context, container))
        if probe is not None or note:
            return probe, note
    return derive(container)


def ports_in_use(pod: Pod, context: Context, skip: dict) -> set[int]:
    """The ports the pod's other containers listen on, as the lifecycle model reads them: a
    port a rewrite chooses (a Cloud SQL health server's) must be none of these."""
    taken: set[int] = set()
    for where in ("initContainers", "containers"):
        for container in pod.containers(where):
            if isinstance(container, dict) and container is not skip:
                profile = context.recognise(container.get("name"), container.get("image"))
                taken |= vendors.listening(pod, container, profile)
    return taken


def derive(container: dict) -> tuple[dict[str, Any] | None, str]:
    """A startup probe on the handler of the sidecar's readiness (else liveness) probe."""
    for source in ("readinessProbe", "livenessProbe"):
        probe = container.get(source)
        if not isinstance(probe, dict):
            continue
        handlers = [key for key in HANDLERS if key in probe]
        if len(handlers) != 1:
            continue
        derived: dict[str, Any] = {handlers[0]: vendors.copy_data(probe[handlers[0]])}
        if "timeoutSeconds" in probe:
            derived["timeoutSeconds"] = probe["timeoutSeconds"]
        derived.update(DERIVED)
        return derived, f"from its {source}"
    return None, ""


def _has_post_start(container: dict) -> bool:
    lifecycle = container.get("lifecycle")
    return isinstance(lifecycle, dict) and "postStart" in lifecycle


def _fix_rejected(container: dict) -> list[str]:
    notes: list[str] = []
    for name in ("livenessProbe", "startupProbe"):
        probe = container.get(name)
        if isinstance(probe, dict) and "successThreshold" in probe and probe["successThreshold"] != 1:
            probe["successThreshold"] = 1
            notes.append(f"{name}.successThreshold set to 1 (the API accepts no other value)")
    readiness = container.get("readinessProbe")
    if isinstance(readiness, dict) and "terminationGracePeriodSeconds" in readiness:
        del readiness["terminationGracePeriodSeconds"]
        notes.append("readinessProbe.terminationGracePeriodSeconds removed (the API rejects it)")
    return notes
