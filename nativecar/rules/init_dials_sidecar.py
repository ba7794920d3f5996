"""NC018: a plain init container that dials a port only a later container serves."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.lifecycle import analysis
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, raw
from nativecar.workloads import Pod

RULE = Rule(
    id="NC018",
    name="init-dials-later-container",
    severity="error",
    summary="A plain init container connects to a port that only a later container serves",
    doc=(
        "A plain init container must exit before the next container starts, so it can only "
        "reach sidecars listed before it. A schema migration in `initContainers` that "
        "connects to the Cloud SQL proxy on `127.0.0.1:5432` while the proxy is a regular "
        "container (or a sidecar listed after it) never connects. Addresses are read from "
        "the container's command, args and env (URLs, `host:port`, `--host/--port`, "
        "`*_HOST` with `*_PORT`). Fix: make the proxy a native sidecar listed before the "
        "init container (`nativecar migrate` places it there)."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    model = stream.model(pod, context)
    for unreached in analysis.unreachable(model):
        container = model.named(unreached.container)
        if container is not None:
            yield Problem(
                f"init container {unreached.container} dials {unreached.dial.text}, which {unreached.server} "
                "serves only after it has run",
                raw(pod, container),
                "name",
            )
