"""NC019: a Job asks an injector for its sidecar without asking for a native one."""

from __future__ import annotations

from collections.abc import Iterator

from nativecar.profiles import Profile
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream, is_job
from nativecar.vendors import releases
from nativecar.workloads import Pod

RULE = Rule(
    id="NC019",
    name="job-asks-for-legacy-injection",
    severity="error",
    summary="A Job asks an injector for a sidecar, which the injector adds as a regular container",
    doc=(
        "Most manifests never hold the proxy: a label or annotation (`sidecar.istio.io/inject: "
        '"true"`, `istio.io/rev`, `linkerd.io/inject: enabled`) asks the mesh\'s admission webhook '
        "to add it when the pod is created. Unless the pod also asks for native mode, or the "
        "injector is native by default (Linkerd 2.20 and later), the proxy is added as a regular "
        "container and the Job never completes, exactly as with a proxy written in the manifest. "
        "The switch is spelled per release (Istio `sidecar.istio.io/nativeSidecar` from 1.24; "
        "Linkerd `config.alpha.linkerd.io/proxy-enable-native-sidecar` 2.15-2.18, `config.beta.` "
        "2.19, `config.linkerd.io/` from 2.20); name the release with `--vendor-version`. "
        "Fix: `nativecar migrate` (rewrite: request), or the cluster-wide switch the message names."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    if not is_job(pod):
        return
    for profile in context.profiles:
        request = profile.request
        if request is None or not releases.asks(pod, request):
            continue
        mark = next(mark for mark in request.asks if pod.metadata_map(mark.where).get(mark.key) is not None)
        reason = _legacy_reason(pod, profile, context)
        if reason:
            yield Problem(
                f"asks the {profile.name} injector for its sidecar, which it adds as a regular container: "
                f"the {pod.kind} never completes ({reason})",
                pod.metadata_map(mark.where),
                mark.key,
            )


def _legacy_reason(pod: Pod, profile: Profile, context: Context) -> str:
    """Why the injector would add a legacy sidecar to this pod ('' when it adds a native one)."""
    request = profile.request
    assert request is not None
    present = releases.present(pod, request)
    found = releases.known(pod, profile, context.vendor_versions).release
    if present is not None:
        value = str(pod.metadata_map(present.where).get(present.key))
        if value.lower() != "true":
            return f'{present.key} is "{value}"'
        place = (present.where, present.key)
        same = [spelling for spelling in request.native if (spelling.where, spelling.key) == place]
        if found is not None and not any(releases.reads(request, found, spelling) for spelling in same):
            return f"{profile.name} {releases.show(found)} does not read {present.key}"
        return ""
    decision = releases.decide(pod, profile, context.vendor_versions, context.kube_version)
    if not decision.needed:
        return ""
    if decision.switch is not None:
        return f'it does not say {decision.switch.key}: "{decision.switch.value}"'
    return decision.note
