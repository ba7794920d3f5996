"""NC010: a Job podFailurePolicy exit-code rule that a sidecar's exit code can match."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, named, native_sidecars
from nativecar.workloads import Pod

RULE = Rule(
    id="NC010",
    name="pod-failure-policy-without-container",
    severity="warning",
    summary="A podFailurePolicy onExitCodes rule without containerName in a pod with sidecars",
    doc=(
        "`podFailurePolicy.rules[].onExitCodes` also matches init containers, sidecars "
        "included. When the pod ends, sidecars are stopped and may exit 143 (SIGTERM) or 137 "
        "(SIGKILL), which a `NotIn` rule (or an `In` rule listing those codes) without "
        "`containerName` counts as a failure of the Job. Fix: set `containerName` to the app "
        "container in each onExitCodes rule."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    if not native_sidecars(pod):
        return
    spec = pod.workload.get("spec") if isinstance(pod.workload.get("spec"), dict) else {}
    if pod.kind == "CronJob":
        template = spec.get("jobTemplate") if isinstance(spec.get("jobTemplate"), dict) else {}
        spec = template.get("spec") if isinstance(template.get("spec"), dict) else {}
    policy = spec.get("podFailurePolicy") if isinstance(spec.get("podFailurePolicy"), dict) else {}
    for rule in named(policy.get("rules") or []):
        codes = rule.get("onExitCodes")
        if not isinstance(codes, dict) or codes.get("containerName"):
            continue
        values = codes.get("values") if isinstance(codes.get("values"), list) else []
        if codes.get("operator") == "NotIn" or {137, 143} & set(values):
            yield Problem(
                f"onExitCodes ({codes.get('operator')} {values}) has no containerName; "
                "a sidecar's 137/143 can match it",
                rule,
                "onExitCodes",
            )
