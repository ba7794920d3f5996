"""Vendor releases, and the per-pod switch that asks an injector for a native sidecar.

A release is `(major, minor, patch)` in the vendor's own numbering (Linkerd `2.18`, Istio `1.24`,
Consul `1.8.2`: a patch that is not given is 0). It
is read from `--vendor-version NAME=RELEASE` (or `vendor-version` in the config file), else from
what the manifest says (the annotation a profile's `request.versionAnnotation` names, or the tag
of the vendor's proxy image), else it is unknown. The profile's `request` (profiles/NAME.yaml,
each fact with its upstream source) says which spelling of the native switch each range of
releases reads; `decide` picks one for a pod.

Release strings are read leniently: `1.24`, `v1.24.3`, `stable-2.18.1`, `enterprise-2.18.2`
(Buoyant Enterprise for Linkerd, numbered like the stable line) and `2.18` all name their
`MAJOR.MINOR`; a vendor module may read its own forms (Linkerd's `edge-YY.M.N` releases are
mapped to the stable line they became, `vendors/linkerd.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from nativecar.profiles import PodMark, Profile, Request, Spelling, image_tag, version_tuple
from nativecar.workloads import Pod

Release = tuple[int, int, int]
_EDITION = re.compile(r"^[a-z]+-(?=v?\d)")  # stable-, enterprise-, version-


def parse(text: object) -> Release | None:
    """The release a string names in the common forms (at least `MAJOR.MINOR`, a missing patch
    being 0, so that `1.18` and `1.18.0` compare equal); None when it is none of them."""
    found = version_tuple(_EDITION.sub("", str(text or "").strip().lower(), count=1))
    if found is None or len(found) < 2:
        return None
    major, minor, patch = (*found, 0)[:3]
    return major, minor, patch


def release(profile: Profile, text: str | None) -> Release | None:
    """The release `text` names for this vendor (its own forms first, then the common ones)."""
    from nativecar import vendors

    found = vendors.release(profile, str(text or "").strip())
    return found if found is not None else parse(text)


def show(found: Release) -> str:
    return f"{found[0]}.{found[1]}" + (f".{found[2]}" if found[2] else "")


class Known(NamedTuple):
    """A vendor release and where it was read (for the report)."""

    release: Release | None
    source: str


def known(pod: Pod, profile: Profile, versions: Mapping[str, str], container: dict | None = None) -> Known:
    """The release of `profile`'s injector for this pod: the flag, else the manifest's annotation,
    else the tag of the sidecar's image (`container`, when it is in the manifest)."""
    given = versions.get(profile.name)
    if given:
        return Known(release(profile, given), f"--vendor-version {profile.name}={given}")
    request = profile.request
    if request is not None and request.version_annotation:
        annotated = pod.annotations.get(request.version_annotation)
        if annotated:
            return Known(release(profile, str(annotated)), f"{request.version_annotation}: {annotated}")
    image = container.get("image") if isinstance(container, dict) else None
    tag = image_tag(image) if isinstance(image, str) else None
    found = release(profile, tag) if tag else None
    if found is not None:
        return Known(found, f"the image tag {tag}")
    return Known(None, "")


def _at_least(found: Release, text: str) -> bool:
    floor = parse(text)
    return floor is None or found >= floor


def spelling(request: Request, found: Release) -> Spelling | None:
    """The newest spelling of the switch that release `found` reads (None: it has no per-pod
    switch)."""
    read = [candidate for candidate in request.native if reads(request, found, candidate)]
    return max(read, key=lambda candidate: parse(candidate.since) or (0, 0, 0), default=None)


def reads(request: Request, found: Release, switch: Spelling) -> bool:
    """Whether release `found` reads this spelling of the switch."""
    return _at_least(found, switch.since) and (switch.until is None or not _at_least(found, switch.until))


def native_by_default(request: Request, found: Release, kube_version: tuple[int, int]) -> bool:
    """Whether release `found` of the injector makes its sidecars native unasked, on a cluster
    of `kube_version` (Istio from 1.27 only when every kubelet is 1.33 or later)."""
    if request.native_default_since is None or not _at_least(found, request.native_default_since):
        return False
    needs = parse(request.native_default_kubernetes) if request.native_default_kubernetes else None
    return needs is None or kube_version >= needs[:2]


def present(pod: Pod, request: Request) -> Spelling | None:
    """A native switch the pod already carries, in any spelling (its value is the user's)."""
    for candidate in request.native:
        if candidate.key in pod.metadata_map(candidate.where):
            return candidate
    return None


def asks(pod: Pod, request: Request) -> bool:
    """Whether the pod template asks the injector for its sidecar (and does not opt out)."""
    return bool(marked(pod, request.asks)) and not marked(pod, request.opt_out)


def marked(pod: Pod, marks: tuple[PodMark, ...]) -> list[PodMark]:
    """The marks of `marks` the pod template carries (a value of `*` matches any value; values
    compare without case, as the injectors parse them)."""
    found = []
    for mark in marks:
        value = pod.metadata_map(mark.where).get(mark.key)
        if value is not None and (mark.value == "*" or str(value).lower() == mark.value.lower()):
            found.append(mark)
    return found


class Decision(NamedTuple):
    """What a pod that asks an injector needs for a native sidecar.

    `switch`: the mark to set (None when nothing is to be set); `needed`: whether the injector
    would otherwise inject a legacy sidecar; `note`: why, for the report (the release assumed,
    a release too old, the cluster-side switch).
    """

    switch: Spelling | None
    needed: bool
    note: str


def decide(
    pod: Pod,
    profile: Profile,
    versions: Mapping[str, str],
    kube_version: tuple[int, int],
    container: dict | None = None,
) -> Decision:
    """The native switch for this pod's injector, spelled for its release (see the module);
    `kube_version`: the oldest Kubernetes the manifests must run on."""
    request = profile.request
    assert request is not None
    vendor = profile.name
    if present(pod, request) is not None:
        return Decision(None, False, "")
    found = known(pod, profile, versions, container)
    cluster = f"; {request.cluster_switch}" if request.cluster_switch else ""
    if found.release is None:
        assumed = parse(request.assumed)
        if assumed is not None and native_by_default(request, assumed, kube_version):
            return Decision(None, False, "")  # native by default on every release that can be native
        switch = spelling(request, assumed) if assumed is not None else None
        if switch is None:
            return Decision(None, True, f"{vendor} decides per cluster{cluster}")
        releases = _range(switch)
        return Decision(
            switch,
            True,
            f"the {vendor} release is unknown: wrote {switch.key}, which {vendor} {releases} reads "
            f"(name it with --vendor-version {vendor}=RELEASE)",
        )
    at = show(found.release)
    if request.native_since and not _at_least(found.release, request.native_since):
        return Decision(
            None, True, f"{vendor} {at} ({found.source}) cannot inject natively; {request.native_since} and later can"
        )
    if native_by_default(request, found.release, kube_version):
        return Decision(None, False, "")
    switch = spelling(request, found.release)
    if switch is None:
        return Decision(None, True, f"{vendor} {at} ({found.source}) has no per-pod switch{cluster}")
    return Decision(switch, True, "")


def _range(switch: Spelling) -> str:
    if switch.until is None:
        return f"{switch.since} and later"
    return f"from {switch.since} until {switch.until}"
