"""Does a rewritten pod still work? The model of the pod before and after, compared.

`verify(before, after)` returns the `problems` that make a conversion unsafe (the pod is then
left as it was, with these reasons, each with what to do by hand).
A conversion must not:
- add a start gate that can never pass, or one another container answers (`analysis.start`);
- make two containers that run together bind one port (`analysis.conflicts`);
- leave a plain init container dialling a sidecar that starts after it (`analysis.unreachable`;
  the rewrites place a sidecar before the first init container that dials it);
- turn a pod that completes into one that does not (`analysis.completion`);
- shorten the time the regular containers have to shut down (`analysis.termination`).
What was already so before the conversion is not the conversion's doing and is not a problem.
"""

from typing import NamedTuple

from nativecar.lifecycle import analysis
from nativecar.lifecycle.pod import PodModel

BROKEN = ("never", "other", "waits")  # start gates a conversion must not leave behind


class Verdict(NamedTuple):
    """`problems`: why the conversion would break the pod (empty when it is safe)."""

    problems: tuple[str, ...] = ()

    @property
    def safe(self) -> bool:
        return not self.problems


def verify(before: PodModel, after: PodModel) -> Verdict:
    problems: list[str] = []
    old_gates = set(analysis.start(before))
    for gate in analysis.start(after):
        if gate.status in BROKEN and gate not in old_gates:
            what = {
                "never": "can never pass",
                "other": "is answered by another container",
                "waits": "may never pass",
            }[gate.status]
            problems.append(
                f"{gate.container}'s start gate {what}: {gate.reason} "
                + (
                    f"(give {gate.container} a startupProbe on a port it serves itself, then convert it)"
                    if gate.status != "waits"
                    else "(keep it a regular container, or list what it needs before it)"
                )
            )
    old_conflicts = analysis.conflicts(before)
    for conflict in analysis.conflicts(after):
        if not any(conflict.same(old) for old in old_conflicts):
            names = " and ".join(conflict.containers)
            problems.append(f"{names} would both listen on {conflict.describe()} (give one of them another port)")
    # A plain init container that cannot reach a native sidecar is a problem unless the user had
    # it so already; one that could not reach a legacy sidecar before is one the rewrite must fix.
    old_unreached = {item for item in analysis.unreachable(before) if _is_sidecar(before, item.server)}
    for unreached in analysis.unreachable(after):
        if _is_sidecar(after, unreached.server) and unreached not in old_unreached:
            problems.append(
                f"init container {unreached.container} dials {unreached.dial.text}, "
                f"which {unreached.server} serves only after it has run (list {unreached.server} before it)"
            )
    done_before = analysis.completion(before)
    done_after = analysis.completion(after)
    if done_before.status == "completes" and done_after.status != "completes":
        problems.append(f"the pod would no longer complete: {_blockers(done_after)}")
    had = analysis.app_seconds(before)
    has = analysis.app_seconds(after)
    if had is not None and has is not None and has < had:
        problems.append(
            f"the app would have {has} s to shut down instead of {had} s (raise terminationGracePeriodSeconds)"
        )
    return Verdict(tuple(problems))


def clean(after: PodModel, had_app_seconds: int | None) -> bool:
    """Whether `after` has nothing `verify` could hold against it, whatever the pod was before:
    no gate that fails, no shared port, no unreachable sidecar, a pod that completes (or is not
    meant to), and at least `had_app_seconds` for the app to stop. Cheap: no model of the pod as
    it was is needed; `verify` is only asked when this is False."""
    if any(gate.status in BROKEN for gate in analysis.start(after)):
        return False
    if analysis.conflicts(after):
        return False
    if any(_is_sidecar(after, unreached.server) for unreached in analysis.unreachable(after)):
        return False
    if analysis.completion(after).status not in ("completes", "not-applicable"):
        return False
    has = analysis.app_seconds(after)
    return had_app_seconds is None or (has is not None and has >= had_app_seconds)


def _is_sidecar(model: PodModel, name: str) -> bool:
    container = model.named(name)
    return container is not None and container.role == "sidecar"


def _blockers(completion: analysis.Completion) -> str:
    return "; ".join(f"{name}: {why}" for name, why in completion.blockers)
