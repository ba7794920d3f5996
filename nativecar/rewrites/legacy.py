"""Rewrite 1, `legacy`: sidecars still in `containers` become native sidecars in `initContainers`.

First in the pipeline: the rewrites after it only look at native sidecars. A container is a
legacy sidecar when a profile recognises it (name or image) or the user named it with
`--sidecar`. It moves to `initContainers` with `restartPolicy: Always`:

The profile's `position` says where, as the vendor's injector renders it natively:

- `afterHelpers` (profiles with `runsAfter` helpers: Istio's `istio-init`, Linkerd's
  `linkerd-init`, Kuma's `kuma-init`): helper then sidecar go first, ahead of the user's own init
  containers, which then run inside the mesh as the vendors' native injection renders it;
- `first` (Cloud SQL Proxy Operator, Azure Workload Identity): prepended, after only the mesh
  proxies moved in the same run (their injectors prepend at admission, after the operator or
  the other webhook has rendered this one);
- `last` (the default, OpenTelemetry, Consul, Dapr, `--sidecar NAME`): after all existing init
  containers, so nothing that ran before it now runs after it, except a plain init container
  that dials it (a schema migration against the Cloud SQL proxy's `127.0.0.1:5432`): the
  sidecar goes right before the first of those, since a plain init container must exit before
  anything after it starts and could never reach it (the lifecycle model checks that it can
  now), but never before its own `runsAfter` helpers (Consul's `consul-connect-inject-init`);
- `afterSidecars`: right after the first named native sidecar present, else first (gcsfuse
  after `istio-proxy`).

A recognised sidecar whose profile forbids the move stays where it is, with the reason
(`held_back`): one the vendor's webhook owns (gcsfuse), one an older injector would inject a
second time (Dapr before 1.18), or one whose injector renders it natively only on a newer
Kubernetes than the target (Azure Workload Identity, 1.32).

Lifecycle hooks only a legacy sidecar needs (the profile's `legacyHooks`) are dropped, the
preStop the vendor adds in native mode (`nativePreStop`) is added, and the vendor's bookkeeping
is updated (`nativecar.vendors`). A workload is left alone, with the reason, when converting it
would not be safe.
"""

from __future__ import annotations

from collections.abc import Callable

from nativecar import vendors
from nativecar.changes import Change, line_of
from nativecar.lifecycle.commands import dials
from nativecar.model import dig
from nativecar.profiles import Profile, image_tag, name_matches
from nativecar.rewrites import Context
from nativecar.vendors import releases
from nativecar.workloads import Pod

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


def rewrite(pod: Pod, context: Context) -> list[Change]:
    containers = pod.containers()
    recognised = [
        (container, profile)
        for container in containers
        if isinstance(container, dict)
        and (profile := context.recognise(container.get("name"), container.get("image"))) is not None
    ]
    held: list[Change] = []
    sidecars = []
    for container, profile in recognised:
        why = held_back(pod, container, profile, context)
        if why is None:
            sidecars.append((container, profile))
        else:
            message = f"{pod.container_name(container)} left as a regular container: {why}"
            held.append(Change(pod.label, message, "skipped", line_of(container)))
    if not sidecars:
        return held
    names = ", ".join(pod.container_name(container) for container, _ in sidecars)
    reason = _unsafe(pod, context, sidecars)
    if reason:
        return [
            *held,
            Change(pod.label, f"{names} left as a regular container: {reason}", "skipped", line_of(sidecars[0][0])),
        ]

    changes: list[Change] = held
    warning = context.version_warning()
    if warning:
        changes.append(Change(pod.label, warning, "warning"))
    first_was_sidecar = containers[0] is sidecars[0][0]
    init_containers = pod.spec.get("initContainers")
    if not isinstance(init_containers, list):
        init_containers = []
    for container, profile in sidecars:
        name = pod.container_name(container)  # before the move: an unnamed one keeps its place
        containers.remove(container)
        notes = _drop_legacy_hooks(container, profile)
        notes += _add_native_pre_stop(container, profile)
        container["restartPolicy"] = "Always"
        notes += vendors.convert(pod, container, profile)
        for key, value in profile.native_annotations.items():
            pod.set_annotation(key, value)
        for key in profile.obsolete_annotations:
            if key in pod.annotations:
                del pod.annotations[key]
                notes.append(f"annotation {key} removed")
        pod.new_sidecars.append((container, profile))
        message = f"{name} -> native sidecar"
        changes.append(Change(pod.label, "; ".join([message, *notes]), "changed", line_of(container)))
    init_containers[:] = native_order(init_containers, sidecars, listens_on(pod))
    if "initContainers" not in pod.spec:
        pod.put_after("containers", "initContainers", init_containers)
    elif pod.spec["initContainers"] is None:  # `initContainers:` or `~`: the API reads no list
        pod.spec["initContainers"] = init_containers
    first_app = next((container for container in containers if isinstance(container, dict)), None)
    if first_was_sidecar and first_app is not None and DEFAULT_CONTAINER not in pod.annotations:
        changes.append(
            Change(
                pod.label,
                f"kubectl logs/exec now default to {pod.container_name(first_app)!r} "
                f"instead of {pod.container_name(sidecars[0][0])!r}",
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
    # Only a name can clash: containers without one (which the API rejects anyway) do not.
    init_names = {str(c["name"]) for c in pod.containers("initContainers") if isinstance(c, dict) and _has_name(c)}
    taken = [str(c["name"]) for c, _ in sidecars if _has_name(c) and str(c["name"]) in init_names]
    if taken:
        return f"initContainers already has a container named {', '.join(taken)}"
    if pod.spec.get("initContainers") is not None and not isinstance(pod.spec["initContainers"], list):
        return "initContainers is not a list"
    return None


def _has_name(container: dict) -> bool:
    return container.get("name") not in (None, "")


def held_back(pod: Pod, container: dict, profile: Profile, context: Context) -> str | None:
    """Why a recognised legacy sidecar must stay a regular container, or None when it may move.

    `move: never` always holds it (with the profile's `leftBecause` and the pod's opt-out of
    native mode, when it has one); `move: vendorVersion` holds it unless the user named it
    with `--sidecar` or its image tag is at least `minVendorVersion`; a target Kubernetes below
    the profile's `minKubeVersion` holds it too. `check` asks the same question, so it reports
    only what `migrate` would fix.
    """
    name = container.get("name")
    if profile.move == "never":
        opted_out = [f'{mark.key}: "{mark.value}"' for mark in releases.marked(pod, profile.native_opt_out)]
        suffix = f"; this pod asks for legacy mode with {opted_out[0]} (remove it to go native)" if opted_out else ""
        return (profile.left_because or f"the {profile.name} profile never moves it") + suffix
    if profile.move == "vendorVersion" and name not in context.sidecar_names:
        tag = image_tag(str(container.get("image") or ""))
        found = releases.parse(tag)
        needed = releases.parse(profile.min_vendor_version)
        if found is None or needed is None or found < needed:
            seen = f"its image is {tag}" if tag else "its image has no version tag"
            return (
                f"{profile.name} renders it natively from {profile.min_vendor_version} and {seen}"
                + (f"; {profile.left_because}" if profile.left_because else "")
                + f"; pass --sidecar {name} if the injector is {profile.min_vendor_version} or later"
            )
    needed_kube = releases.parse(profile.min_kube_version)
    if needed_kube is not None and context.native_sidecars_available and context.kube_version < needed_kube[:2]:
        major, minor = context.kube_version
        return (
            f"{profile.name} renders it natively only from Kubernetes {profile.min_kube_version} "
            f"(target is {major}.{minor}; --kube-version {profile.min_kube_version} if every node runs it)"
        )
    return None


def _add_native_pre_stop(container: dict, profile: Profile) -> list[str]:
    """The preStop the vendor renders in native mode (Kuma's drain), unless the sidecar has its own."""
    if profile.native_pre_stop is None:
        return []
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict) and "preStop" in lifecycle:
        return [f"its own preStop kept (the {profile.name} injector renders another)"]
    if not isinstance(lifecycle, dict):
        lifecycle = container["lifecycle"] = {}
    lifecycle["preStop"] = vendors.copy_data(profile.native_pre_stop)
    return [f"{profile.name} native preStop added"]


Ports = Callable[[dict, Profile], set[int]]


def listens_on(pod: Pod) -> Ports:
    """The ports a sidecar of `pod` listens on (declared, its vendor's, its own probes')."""

    def ports(container: dict, profile: Profile) -> set[int]:
        return vendors.listening(pod, container, profile)

    return ports


def native_order(init_containers: list, sidecars: list[tuple[dict, Profile]], ports: Ports | None = None) -> list:
    """The init containers once `sidecars` join them, each at its profile's `placement`.

    `afterHelpers`: first, right after its `runsAfter` helpers, which move with it; `first`:
    after those mesh proxies, ahead of everything else; `last`: after all existing init
    containers, or right before the first plain init container that dials a port it listens on
    (`ports`), but never before one of its own `runsAfter` containers; `afterSidecars`: right
    after the first of its `afterSidecars` found among the native sidecars, else first.
    """
    rest = list(init_containers)
    front: list = []
    firsts: list = []
    back: list = []
    following: list = []
    for container, profile in sidecars:
        placement = profile.placement
        if placement == "afterHelpers":
            helpers = [c for c in rest if _named(c, profile.runs_after)]
            rest = [c for c in rest if not any(c is helper for helper in helpers)]
            front += [*helpers, container]
        elif placement == "first":
            firsts.append(container)
        elif placement == "afterSidecars":
            following.append((container, profile))
        else:
            back.append((container, profile))
    order = [*front, *firsts, *rest]
    ahead = len(front) + len(firsts)
    for container, profile in back:
        listening = ports(container, profile) if ports is not None else set()
        floor = max(
            [ahead, *(index + 1 for index, other in enumerate(order) if _named(other, profile.runs_after))],
        )
        dialler = next(
            (
                index
                for index, other in enumerate(order)
                if index >= floor
                and isinstance(other, dict)
                and other.get("restartPolicy") != "Always"
                and any(dial.port in listening for dial in dials(other))
            ),
            None,
        )
        order.insert(len(order) if dialler is None else dialler, container)
    moving = {id(container) for container, _ in sidecars}
    for container, profile in following:
        anchor = next(
            (
                index
                for index, other in enumerate(order)
                if _named(other, profile.after_sidecars)
                and (id(other) in moving or other.get("restartPolicy") == "Always")
            ),
            None,
        )
        order.insert(0 if anchor is None else anchor + 1, container)
    return order


def _named(container: object, names: tuple[str, ...]) -> bool:
    return isinstance(container, dict) and name_matches(container.get("name"), names)


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
