"""NC008: workarounds that made legacy sidecars tolerable and native sidecars make obsolete."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.profiles import builtins
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, is_job, named
from nativecar.workloads import Pod, command_text

ISTIO_INJECT = "sidecar.istio.io/inject"
DRAIN_ON_IDLE = "EXIT_ON_ZERO_ACTIVE_CONNECTIONS"
RULE = Rule(
    id="NC008",
    name="obsolete-workaround",
    severity="warning",
    summary="A workaround for legacy sidecars that native sidecars make obsolete",
    doc=(
        "Before native sidecars, Jobs stopped their proxy themselves (`curl -X POST "
        "localhost:15020/quitquitquit`, `linkerd-await --shutdown`, Cloud SQL's "
        "`localhost:9091/quitquitquit`), or turned the mesh off (`sidecar.istio.io/inject: "
        '"false"`) just so that they could finish. `EXIT_ON_ZERO_ACTIVE_CONNECTIONS` only acts '
        "after SIGTERM and never finished a Job. With native sidecars the kubelet stops the "
        "sidecar after the app exits; the workaround can go (and a Job can be meshed). Fix by "
        "hand; `nativecar inject --force` meshes an opted-out pod."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    for container in named([*pod.containers(), *pod.containers("initContainers")]):
        if context.recognise(container.get("name"), container.get("image")) is None:
            yield from _stops_sidecar(container)
        for entry in named(container.get("env") or []):
            if entry.get("name") == DRAIN_ON_IDLE:
                yield Problem(f"{DRAIN_ON_IDLE} on {container.get('name')} acts only after SIGTERM", entry)
    if is_job(pod):
        for where in ("labels", "annotations"):
            if str(pod.metadata_map(where).get(ISTIO_INJECT)) == "false":
                yield Problem(
                    f'{ISTIO_INJECT}: "false" turns the mesh off for this {pod.kind}; '
                    "with native sidecars it completes meshed",
                    pod.metadata_map(where),
                    ISTIO_INJECT,
                )


def _stops_sidecar(container: dict) -> Iterator[Problem]:
    """One finding for an app container that stops a sidecar, at the list that does it."""
    for key in ("command", "args"):
        text = command_text(container, (key,))
        found = sorted({w for profile in builtins() for w in profile.workarounds if w in text})
        if found:
            yield Problem(f"{container.get('name')} stops its sidecar itself ({', '.join(found)})", container, key)
            return
