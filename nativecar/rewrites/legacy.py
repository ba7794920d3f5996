"""Rewrite 1, `legacy`: sidecars still in `containers` become native sidecars in `initContainers`.

First in the pipeline: the rewrites after it only look at native sidecars. A container is a
legacy sidecar when a profile recognises it (name or image) or the user named it with
`--sidecar`. It moves to `initContainers` with `restartPolicy: Always`:

- profiles with `runsAfter` helpers (Istio's `istio-init`, Linkerd's `linkerd-init`) go first,
  helper then sidecar, ahead of the user's own init containers, which then run inside the mesh
  as the vendors' native injection renders it;
- any other sidecar goes after all existing init containers, so nothing that ran before it
  now runs after it, except a plain init container that dials it (a schema migration against
  the Cloud SQL proxy's `127.0.0.1:5432`): the sidecar goes right before the first of those,
  since a plain init container must exit before anything after it starts and could never
  reach it (the lifecycle model checks that it can now).

Lifecycle hooks only a legacy sidecar needs (the profile's `legacyHooks`) are dropped, and the
vendor's bookkeeping is updated (`nativecar.vendors`). A workload is left alone, with the
reason, when converting it would not be safe.
"""

from __future__ import annotations

from collections.abc import Callable

from nativecar import vendors
from nativecar.changes import Change, line_of
from nativecar.lifecycle.commands import dials
from nativecar.model import dig
from nativecar.profiles import Profile
from nativecar.rewrites import Context
from nativecar.workloads import Pod

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


def rewrite(pod: Pod, context: Context) -> list[Change]:
    containers = pod.containers()
    sidecars = [
        (container, profile)
        for container in containers
        if isinstance(container, dict)
        and (profile := context.recognise(container.get("name"), container.get("image"))) is not None
    ]
    if not sidecars:
        return []
    names = ", ".join(str(container.get("name")) for container, _ in sidecars)
    reason = _unsafe(pod, context, sidecars)
    if reason:
        return [Change(pod.label, f"{names} left as a regular container: {reason}", "skipped", line_of(sidecars[0][0]))]

    changes: list[Change] = []
    warning = context.version_warning()
    if warning:
        changes.append(Change(pod.label, warning, "warning"))
    first_was_sidecar = containers[0] is sidecars[0][0]
    init_containers = pod.spec.get("initContainers")
    if not isinstance(init_containers, list):
        init_containers = []
    for container, profile in sidecars:
        containers.remove(container)
        notes = _drop_legacy_hooks(container, profile)
        container["restartPolicy"] = "Always"
        notes += vendors.convert(pod, container, profile)
        for key, value in profile.native_annotations.items():
            pod.set_annotation(key, value)
        for key in profile.obsolete_annotations:
            if key in pod.annotations:
                del pod.annotations[key]
                notes.append(f"annotation {key} removed")
        pod.new_sidecars.append((container, profile))
        message = f"{container.get('name')} -> native sidecar"
        changes.append(Change(pod.label, "; ".join([message, *notes]), "changed", line_of(container)))
    init_containers[:] = native_order(init_containers, sidecars, listens_on(pod))
    if "initContainers" not in pod.spec:
        pod.put_after("containers", "initContainers", init_containers)
    first_app = next((container for container in containers if isinstance(container, dict)), None)
    if first_was_sidecar and first_app is not None and DEFAULT_CONTAINER not in pod.annotations:
        changes.append(
            Change(
                pod.label,
                f"kubectl logs/exec now default to {first_app.get('name')!r} instead of {sidecars[0][0].get('name')!r}",
                "warning",
            )
        )
    return changes


def _unsafe(pod: Pod, context: Context, sidecars: list[tuple[dict, Profile]]) -> str | None:
    """Why this pod's sidecars cannot be made native, or None when they can."""
    problem = context.version_problem()
    if problem:
        return problem
    if len(sidecars) == len([container for container in pod.containers() if isinstance(container, dict)]):
        return "it is the only container; a pod needs at least one regular container"
    init_names = {str(c.get("name")) for c in pod.containers("initContainers") if isinstance(c, dict)}
    taken = [str(container.get("name")) for container, _ in sidecars if str(container.get("name")) in init_names]
    if taken:
        return f"initContainers already has a container named {', '.join(taken)}"
    if "initContainers" in pod.spec and not isinstance(pod.spec["initContainers"], list):
        return "initContainers is not a list"
    return None


Ports = Callable[[dict, Profile], set[int]]


def listens_on(pod: Pod) -> Ports:
    """The ports a sidecar of `pod` listens on (declared, its vendor's, its own probes')."""

    def ports(container: dict, profile: Profile) -> set[int]:
        return vendors.listening(pod, container, profile)

    return ports


def native_order(init_containers: list, sidecars: list[tuple[dict, Profile]], ports: Ports | None = None) -> list:
    """The init containers once `sidecars` join them: a mesh proxy (a profile with `runsAfter`)
    goes first, right after its helpers; any other sidecar after all existing init containers,
    or right before the first plain init container that dials a port it listens on (`ports`)."""
    rest = list(init_containers)
    front: list = []
    back: list = []
    for container, profile in sidecars:
        if profile.first:
            helpers = [c for c in rest if isinstance(c, dict) and c.get("name") in profile.runs_after]
            rest = [c for c in rest if not any(c is helper for helper in helpers)]
            front += [*helpers, container]
        else:
            back.append((container, profile))
    order = [*front, *rest]
    for container, profile in back:
        listening = ports(container, profile) if ports is not None else set()
        dialler = next(
            (
                index
                for index, other in enumerate(order)
                if index >= len(front)
                and isinstance(other, dict)
                and other.get("restartPolicy") != "Always"
                and any(dial.port in listening for dial in dials(other))
            ),
            None,
        )
        order.insert(len(order) if dialler is None else dialler, container)
    return order


def _drop_legacy_hooks(container: dict, profile: Profile) -> list[str]:
    """Remove the lifecycle handlers the profile lists as legacy-only; say which went."""
    lifecycle = container.get("lifecycle")
    if not isinstance(lifecycle, dict):
        return []
    notes: list[str] = []
    for hook in profile.legacy_hooks:
        command = dig(lifecycle, hook.event, "exec", "command")
        if hook.matches(command):
            del lifecycle[hook.event]
            notes.append(
                f"{hook.event} {' '.join(map(str, command[:2]))} removed" + (f" ({hook.reason})" if hook.reason else "")
            )
    if not lifecycle:
        del container["lifecycle"]
    return notes
