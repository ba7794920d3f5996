"""NC017: two containers that run at the same time and listen on one port."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.lifecycle import analysis
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, raw
from nativecar.workloads import Pod

RULE = Rule(
    id="NC017",
    name="port-conflict",
    severity="error",
    summary="Two containers that run at the same time listen on the same port",
    doc=(
        "All containers of a pod share one network namespace, so only one of them can bind a "
        "port: the other fails to start or crash-loops, and probes on that port reach "
        "whichever bound it. Sidecars run beside every container that starts after them; "
        "plain init containers beside the sidecars before them. Ports are read from the "
        "containers' `ports` and from what nativecar knows of each vendor's sidecar (its "
        "flags, environment and annotations). Two Cloud SQL proxies need two health ports "
        "(`--http-port`) and two listener ports. Fix: give one of them another port."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    model = stream.model(pod, context)
    for conflict in analysis.conflicts(model):
        later = model.named(conflict.containers[-1])
        if later is not None:
            yield Problem(
                f"{' and '.join(conflict.containers)} both listen on {conflict.describe()}",
                raw(pod, later),
                "name",
            )
