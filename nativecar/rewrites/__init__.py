"""The rewrites, in the one order they run, and the context they share.

Each rewrite is a function `(pod, context) -> list[Change]` that edits the pod's model in
place and returns what it did; none of them prints or reads files. The order is the design's
pipeline and it matters:

1. `legacy`  — sidecars still running as regular containers become native init containers.
   First, because everything after it works on native sidecars only.
2. `probes`  — every native sidecar gets a startup signal and loses probe values the API
   rejects; after `legacy` so that converted sidecars are covered too.
3. `grace`   — the pod's termination grace period grows by the shutdown budget of the sidecars
   `legacy` converted in this run; last, because it needs to know what was converted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nativecar.changes import Change
from nativecar.profiles import Profile, builtins, generic
from nativecar.workloads import Pod

Rewrite = Callable[[Pod, "Context"], list[Change]]


@dataclass(frozen=True)
class Context:
    """What every rewrite may consult: the target version and the sidecars to recognise."""

    kube_version: tuple[int, int] = (1, 29)
    sidecar_gate: bool = False  # --feature-gates SidecarContainers=true (for 1.28)
    sidecar_names: tuple[str, ...] = ()
    profiles: tuple[Profile, ...] = field(default_factory=builtins)

    def recognise(self, name: str | None, image: str | None) -> Profile | None:
        """The profile of a container that is a known sidecar, or None for an app container."""
        for profile in self.profiles:
            if profile.match.matches(name, image):
                return profile
        if name is not None and name in self.sidecar_names:
            return generic(name)
        return None

    @property
    def native_sidecars_available(self) -> bool:
        """Whether the target cluster runs `restartPolicy: Always` init containers as sidecars."""
        return self.kube_version >= (1, 29) or (self.kube_version == (1, 28) and self.sidecar_gate)


def _order() -> tuple[Rewrite, ...]:
    from nativecar.rewrites import grace, legacy, probes

    return (legacy.rewrite, probes.rewrite, grace.rewrite)


ORDER: tuple[Rewrite, ...] = _order()
