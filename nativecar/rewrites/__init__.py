"""The rewrites, in the one order they run, and the context they share.

Each rewrite is a function `(pod, context) -> list[Change]` that edits the pod's model in
place and returns what it did; none of them prints or reads files. The order is the design's
pipeline and it matters:

1. `legacy`  — sidecars still running as regular containers become native init containers.
   First, because everything after it works on native sidecars only.
2. `inject`  — the profile's sidecar is added natively, or its injector asked for one (only
   for `nativecar inject`). After `legacy`, so a legacy copy of the same sidecar is converted,
   not injected twice.
   `request` — a pod template that asks a vendor's injector for its sidecar (a label or
   annotation) is given the vendor's per-pod switch for a native one, spelled for its release
   (only for `migrate`: `inject` sets the switch itself). After `legacy`, which handles a pod
   that carries the rendered sidecar already.
3. `probes`  — every native sidecar gets a startup signal and loses probe values the API
   rejects; after `legacy` and `inject`, so converted and injected sidecars are covered too.
4. `grace`   — the pod's termination grace period grows by the shutdown budget of the sidecars
   this run converted or added; last, because it needs to know which those are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from nativecar.changes import Change
from nativecar.profiles import Profile, builtins, generic
from nativecar.workloads import Pod

Rewrite = Callable[[Pod, "Context"], list[Change]]


@dataclass(frozen=True)
class Injection:
    """What `nativecar inject` was asked for: a profile, a mode, its values, and `--force`."""

    profile: Profile
    mode: Literal["webhook", "manual"]
    values: dict[str, Any] = field(default_factory=dict)
    force: bool = False


@dataclass(frozen=True)
class Context:
    """What every rewrite may consult: the target version, the sidecars to recognise, and
    the injection requested (None for `migrate`)."""

    kube_version: tuple[int, int] = (1, 29)
    # --feature-gates SidecarContainers=true (needed on 1.28) or =false (beta, on by default, on
    # 1.29-1.32; GA and locked from 1.33); None when not given
    sidecar_gate: bool | None = None
    restart_rules_gate: bool | None = None  # --feature-gates ContainerRestartRules=...; None: the version's default
    sidecar_names: tuple[str, ...] = ()
    profiles: tuple[Profile, ...] = field(default_factory=builtins)
    injection: Injection | None = None
    vendor_versions: Mapping[str, str] = field(default_factory=dict)  # --vendor-version, by profile name
    # The run's pods whose sidecars declare named ports (references.PodPorts), for the Services
    # whose targetPort names one; empty when the run holds no such Service (runner.scan_ports).
    pod_ports: tuple[Any, ...] = ()

    recognised: dict[tuple[Any, Any], Profile | None] = field(default_factory=dict, compare=False, repr=False)

    def recognise(self, name: str | None, image: str | None) -> Profile | None:
        """The profile of a container that is a known sidecar, or None for an app container
        (remembered per name and image: a run asks about the same containers many times)."""
        name = name if isinstance(name, str) else None  # a name or image that is not a string
        image = image if isinstance(image, str) else None  # names no known sidecar
        key = (name, image)
        if key in self.recognised:
            return self.recognised[key]
        found = next((profile for profile in self.profiles if profile.match.matches(name, image)), None)
        if found is None and name is not None and name in self.sidecar_names:
            found = generic(name)
        self.recognised[key] = found
        return found

    @functools.cached_property
    def request_keys(self) -> frozenset[tuple[str, str]]:
        """The (labels|annotations, key) pairs with which a pod asks any profile's injector."""
        return frozenset(
            (mark.where, mark.key)
            for profile in self.profiles
            if profile.request is not None
            for mark in profile.request.asks
        )

    @property
    def native_sidecars_available(self) -> bool:
        """Whether the target cluster runs `restartPolicy: Always` init containers as sidecars."""
        if self.sidecar_gate is False and self.kube_version < (1, 33):
            return False
        return self.kube_version >= (1, 29) or (self.kube_version == (1, 28) and bool(self.sidecar_gate))

    @property
    def container_restart_rules(self) -> bool:
        """Whether containers may carry `restartPolicy` besides a sidecar's `Always`
        (ContainerRestartRules: alpha, off, in 1.34; beta, on by default, from 1.35)."""
        if self.restart_rules_gate is not None:
            return self.restart_rules_gate and self.kube_version >= (1, 34)
        return self.kube_version >= (1, 35)

    def version_problem(self) -> str | None:
        """Why native sidecars cannot be used for the target version, or None."""
        if self.native_sidecars_available:
            return None
        major, minor = self.kube_version
        if self.sidecar_gate is False and (major, minor) >= (1, 28):
            return (
                "the SidecarContainers feature gate is off (--feature-gates SidecarContainers=false): the API "
                "server drops restartPolicy from init containers, and the pod never leaves Init"
            )
        if (major, minor) == (1, 28):
            return (
                "Kubernetes 1.28 needs the SidecarContainers feature gate "
                "(pass --feature-gates SidecarContainers=true if the cluster enables it)"
            )
        return f"native sidecars need Kubernetes 1.29 or later (target is {major}.{minor})"

    def version_warning(self) -> str | None:
        """What a user must know when native sidecars work only behind a feature gate."""
        if self.kube_version == (1, 28) and self.sidecar_gate:
            return (
                "Kubernetes 1.28 runs native sidecars only with the SidecarContainers feature gate on "
                "every API server and kubelet; without it this pod never leaves Init"
            )
        return None


def _order() -> tuple[Rewrite, ...]:
    from nativecar.rewrites import grace, inject, legacy, probes, request

    return (legacy.rewrite, inject.rewrite, request.rewrite, probes.rewrite, grace.rewrite)


ORDER: tuple[Rewrite, ...] = _order()
