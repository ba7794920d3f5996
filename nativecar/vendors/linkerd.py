"""Linkerd: the native-sidecar annotation, and the proxy's await switch.

Facts from linkerd/linkerd2's proxy template and injection goldens (SIDECARS.md section 5):
the annotation that asks for native mode was `config.alpha.linkerd.io/...` (2.15-2.18),
`config.beta.linkerd.io/...` (2.19) and is `config.linkerd.io/proxy-enable-native-sidecar` now.
A pod that already carries one spelling keeps it; otherwise the current one is set. The
native proxy gets its startup probe only when `config.linkerd.io/proxy-await` is not
`disabled`, as the upstream template does.
"""

from __future__ import annotations

from typing import Any

from nativecar.profiles import Profile
from nativecar.vendors import profile_probe
from nativecar.workloads import Pod

NATIVE = "proxy-enable-native-sidecar"
PREFIXES = ("config.linkerd.io", "config.beta.linkerd.io", "config.alpha.linkerd.io")
AWAIT = "config.linkerd.io/proxy-await"


def convert(pod: Pod, container: dict, profile: Profile) -> list[str]:
    present = [f"{prefix}/{NATIVE}" for prefix in PREFIXES if f"{prefix}/{NATIVE}" in pod.annotations]
    key = present[0] if present else f"{PREFIXES[0]}/{NATIVE}"
    return [f"{key} set"] if pod.set_annotation(key, "true") else []


def startup_probe(pod: Pod, container: dict, profile: Profile) -> tuple[dict[str, Any] | None, str]:
    if str(pod.annotations.get(AWAIT, "")).lower() == "disabled":
        return None, f"{AWAIT} is disabled, so the app is meant not to wait for the proxy"
    return profile_probe(container, profile), ""
