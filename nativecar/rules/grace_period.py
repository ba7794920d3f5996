"""NC007: a grace period that leaves the app less than it needs once sidecars stop after it."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream
from nativecar.workloads import Pod

APP_MINIMUM = 5  # seconds an app is assumed to need when its preStop says nothing longer
RULE = Rule(
    id="NC007",
    name="grace-too-short",
    severity="warning",
    summary="terminationGracePeriodSeconds leaves the app too little time once its sidecars stop after it",
    doc=(
        "One budget, `terminationGracePeriodSeconds` (default 30), covers the whole shutdown: "
        "the app gets SIGTERM first, and native sidecars get theirs, one at a time, only after "
        "the last regular container has exited. When the budget runs out every container gets "
        "SIGKILL two seconds after SIGTERM. The budget should cover the app (its preStop, at "
        f"least {APP_MINIMUM} s here) plus every sidecar's shutdown time. Fix: raise the grace "
        "period; `nativecar migrate` does it for the sidecars it converts (rewrite: grace)."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    model = stream.model(pod, context)
    sidecars = model.role("sidecar")
    if not sidecars or model.grace is None:
        return
    budget = sum(sidecar.shutdown_seconds for sidecar in sidecars)
    app = max([APP_MINIMUM, *(container.pre_stop.seconds for container in model.role("app"))])
    if model.grace < app + budget:
        yield Problem(
            f"terminationGracePeriodSeconds {model.grace} < {app + budget} "
            f"({app} s for the app, {budget} s for its sidecars to stop after it)",
            pod.spec,
            "terminationGracePeriodSeconds" if "terminationGracePeriodSeconds" in pod.spec else None,
        )
