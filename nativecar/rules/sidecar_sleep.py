"""NC013: a sidecar preStop that only sleeps: the legacy trick to outlive the app."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, raw
from nativecar.workloads import Pod

RULE = Rule(
    id="NC013",
    name="sidecar-prestop-sleep",
    severity="info",
    summary="A native sidecar's preStop hook sleeps",
    doc=(
        "A sleeping preStop kept a legacy sidecar alive while the app drained. A native "
        "sidecar is stopped only after the app has exited, so the sleep only uses up the "
        "grace period the containers share (and delays a vendor's drain). Fix: remove the "
        "preStop, or give it the vendor's drain command."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    for sidecar in stream.model(pod, context).role("sidecar"):
        hook = sidecar.pre_stop
        if hook.kind == "sleep":
            how_long = f"{hook.seconds} s" if hook.seconds else "for a while"
            yield Problem(f"sidecar {sidecar.name} sleeps {how_long} in preStop", raw(pod, sidecar), "lifecycle")
