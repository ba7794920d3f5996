"""NC007: a grace period that leaves the app less than it needs once sidecars stop after it."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar import vendors
from nativecar.lifecycle.commands import pre_stop
from nativecar.profiles import generic
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, named, native_sidecars
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
    sidecars = native_sidecars(pod)
    if not sidecars:
        return
    budget = 0
    for sidecar in sidecars:
        profile = context.recognise(sidecar.get("name"), sidecar.get("image")) or generic(str(sidecar.get("name")))
        budget += vendors.shutdown_seconds(pod, sidecar, profile)
    app = max([APP_MINIMUM, *(pre_stop(c).seconds for c in named(pod.containers()))])
    grace = pod.spec.get("terminationGracePeriodSeconds", 30)
    if isinstance(grace, int) and not isinstance(grace, bool) and grace < app + budget:
        yield Problem(
            f"terminationGracePeriodSeconds {grace} < {app + budget} "
            f"({app} s for the app, {budget} s for its sidecars to stop after it)",
            pod.spec,
            "terminationGracePeriodSeconds" if "terminationGracePeriodSeconds" in pod.spec else None,
        )
