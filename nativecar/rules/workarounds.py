"""NC008: workarounds that made legacy sidecars tolerable and native sidecars make obsolete.

Recognised by what they do, from the lifecycle model: a request to a sidecar's stop endpoint
(`/quitquitquit`, `/shutdown`, on a port a sidecar of the pod, or of a built-in profile's
injector, listens on; also `pilot-agent request POST quitquitquit` and `linkerd-await
--shutdown` with its options in any order), a shell wrapper that kills its program once a
marker file appears, the mesh turned off for a Job, and `EXIT_ON_ZERO_ACTIVE_CONNECTIONS`.
"""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.lifecycle.commands import Dial
from nativecar.lifecycle.pod import PodModel
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, is_job, named, raw
from nativecar.vendors.releases import marked
from nativecar.workloads import Pod

DRAIN_ON_IDLE = "EXIT_ON_ZERO_ACTIVE_CONNECTIONS"
RULE = Rule(
    id="NC008",
    name="obsolete-workaround",
    severity="warning",
    summary="A workaround for legacy sidecars that native sidecars make obsolete",
    doc=(
        "Before native sidecars, Jobs stopped their proxy themselves (`curl -X POST "
        "localhost:15020/quitquitquit`, `linkerd-await --shutdown`, Cloud SQL's "
        "`localhost:9091/quitquitquit`, a wrapper script that kills the proxy once the app "
        'leaves a marker file), or turned the mesh off (`sidecar.istio.io/inject: "false"`, '
        "`linkerd.io/inject: disabled`) "
        "just so that they could finish. `EXIT_ON_ZERO_ACTIVE_CONNECTIONS` only acts after "
        "SIGTERM and never finished a Job. With native sidecars the kubelet stops the sidecar "
        "after the app exits; the workaround can go (and a Job can be meshed). Fix by hand; "
        "`nativecar inject --force` meshes an opted-out pod."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    model = stream.model(pod, context)
    for container in model.containers:
        if container.keeps_running or container.role == "sidecar":
            marker = container.marker  # only a sidecar's wrapper script kills its program on a marker
            if marker:
                manifest = raw(pod, container)
                key = "args" if marker not in str(manifest.get("command", "")) else "command"
                yield Problem(
                    f"{container.name}'s script kills it once {marker} appears; a native sidecar is "
                    "stopped after the app exits, so the loop can go",
                    manifest,
                    key if key in manifest else None,
                )
            continue
        for dial in container.dials:
            target = _stopped_by(model, dial, context)
            if target is not None:
                manifest = raw(pod, container)
                key = dial.where.split(" ", 1)[0]
                yield Problem(
                    f"{container.name} stops {target} itself ({dial.text}); a native sidecar is stopped "
                    "after the app exits, so this can go",
                    manifest,
                    key if key in manifest else None,
                )
                break
    for container in named([*pod.containers(), *pod.containers("initContainers")]):
        for entry in named(container.get("env") or []):
            if entry.get("name") == DRAIN_ON_IDLE:
                yield Problem(f"{DRAIN_ON_IDLE} on {pod.container_name(container)} acts only after SIGTERM", entry)
    if is_job(pod):
        for profile in context.profiles:
            request = profile.request
            if request is None or marked(pod, request.meshed_otherwise):  # meshed another way: by design
                continue
            for mark in marked(pod, request.opt_out):
                yield Problem(
                    f'{mark.key}: "{pod.metadata_map(mark.where)[mark.key]}" turns the mesh off for this '
                    f"{pod.kind}; with native sidecars it completes meshed",
                    pod.metadata_map(mark.where),
                    mark.key,
                )


def _stopped_by(model: PodModel, dial: Dial, context: Context) -> str | None:
    """Which sidecar a stop request reaches: one of the pod's, or the injector's of a profile."""
    if not dial.stop_request or dial.path is None:
        return None
    path = dial.path.rstrip("/")
    for other in model.containers:
        endpoint = other.served.at(dial.port)
        if endpoint is not None and endpoint.stop_path and endpoint.stop_path.rstrip("/") == path:
            return other.name
    for profile in context.profiles:
        for port in profile.serves:
            if port.port == dial.port and port.stop_path and port.stop_path.rstrip("/") == path:
                # Injection is often enabled per namespace, which the manifest does not show.
                return f"the {profile.name} sidecar (if its injector adds one)"
    return None
