"""Rewrite 4, `grace`: the termination grace period grows by what the new native sidecars need.

Last, because it needs the sidecars `legacy` converted and `inject` added in this run
(`Pod.new_sidecars`).
A legacy sidecar shut down in parallel with the app, each with the whole grace period. A
native sidecar gets SIGTERM only after the last app container has exited, from what is left
of the same period. So the period grows by the sidecars' shutdown budgets and the app keeps
the time it had. It is never lowered, and sidecars that were native already add nothing, which
keeps a second run from growing it again.
"""

from __future__ import annotations

from nativecar import vendors
from nativecar.changes import Change
from nativecar.rewrites import Context
from nativecar.workloads import Pod

KEY = "terminationGracePeriodSeconds"
DEFAULT = 30  # the API's default when the field is absent
INT64_MAX = 2**63 - 1  # the field is an int64 (core/v1 PodSpec)


def rewrite(pod: Pod, context: Context) -> list[Change]:
    if not pod.new_sidecars:
        return []
    budget = sum(vendors.shutdown_seconds(pod, container, profile) for container, profile in pod.new_sidecars)
    if budget <= 0:
        return []
    current = pod.spec.get(KEY)
    if current is None:  # absent, or `terminationGracePeriodSeconds:` with no value: the API's default
        current = DEFAULT
    if isinstance(current, bool) or not isinstance(current, int):
        return [Change(pod.label, f"{KEY} is {str(current)!r}, not a number; left as it is", "warning")]
    if current + budget > INT64_MAX:
        return [
            Change(pod.label, f"{KEY} {current} cannot grow by {budget} s (the API's limit); left as it is", "warning")
        ]
    names = ", ".join(
        pod.container_name(container) if container is not None else f"the {profile.name} sidecar"
        for container, profile in pod.new_sidecars
    )
    pod.spec[KEY] = current + budget
    message = f"{KEY} {current} -> {current + budget} (+{budget}s for {names} to stop after the app)"
    return [Change(pod.label, message, detail=True)]
