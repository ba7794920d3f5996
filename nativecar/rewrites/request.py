"""Rewrite 2b, `request`: a pod that asks an injector for its sidecar gets the native switch.

Most repositories never hold the proxy itself: the pod template carries a label or annotation
(`sidecar.istio.io/inject: "true"`, `linkerd.io/inject: enabled`, each profile's
`request.asks`) and the vendor's admission webhook adds the sidecar when the pod is created,
as a regular container unless the pod also asks for native mode. This rewrite adds that second
ask, the vendor's per-pod switch spelled for the release of its injector (`vendors.releases`):
from `--vendor-version`, else from the manifest, else the spelling the widest range of
native-capable releases reads, with a warning naming that assumption. Where the release is too
old, has no per-pod switch, or the vendor decides per cluster, nothing is edited and a warning
names what to do in the cluster instead.

Only for `migrate` (`inject` sets the switch itself, in webhook mode). A pod is left alone when
it opts out of injection, already says something about native mode (in any spelling, even
"false": that is the user's decision), or carries the vendor's sidecar already (`legacy` has
converted it). The injector's sidecar joins `new_sidecars`, so `grace` makes room for it.
"""

from __future__ import annotations

from nativecar.changes import Change, line_of
from nativecar.rewrites import Context
from nativecar.vendors import releases
from nativecar.workloads import Pod


def rewrite(pod: Pod, context: Context) -> list[Change]:
    if context.injection is not None:
        return []
    changes: list[Change] = []
    for profile in context.profiles:
        request = profile.request
        if request is None or not releases.asks(pod, request) or _has_sidecar(pod, context, profile.name):
            continue
        if not context.native_sidecars_available:
            problem = context.version_problem()
            changes.append(
                Change(pod.label, f"the {profile.name} injector's sidecar stays legacy: {problem}", "skipped")
            )
            continue
        decision = releases.decide(pod, profile, context.vendor_versions, context.kube_version)
        if decision.switch is None:
            if decision.needed:
                changes.append(
                    Change(
                        pod.label,
                        f"the {profile.name} injector will add a legacy sidecar: {decision.note}",
                        "warning",
                        line_of(pod.template),
                        rule="NC019",
                    )
                )
            continue
        switch = decision.switch
        pod.set_metadata(switch.where, switch.key, switch.value)
        pod.new_sidecars.append((None, profile))
        changes.append(
            Change(
                pod.label,
                f'asks the {profile.name} injector for a native sidecar ({switch.key}: "{switch.value}")',
                "changed",
                line_of(pod.template),
            )
        )
        if decision.note:
            changes.append(Change(pod.label, decision.note, "warning", line_of(pod.template)))
    return changes


def _has_sidecar(pod: Pod, context: Context, name: str) -> bool:
    """Whether the pod holds the vendor's sidecar already, as a regular or an init container."""
    for where in ("containers", "initContainers"):
        for container in pod.containers(where):
            if isinstance(container, dict):
                found = context.recognise(container.get("name"), container.get("image"))
                if found is not None and found.name == name:
                    return True
    return False
