"""Sidecar profiles: what nativecar knows about one vendor's sidecar, kept as YAML data.

A profile says how to recognise its legacy sidecar, whether `migrate` may move it at all
(`move`), where its native sidecar goes among the init containers (`position`, `runsAfter`,
`afterSidecars`), its startup signal (`startupSignal`, `startupProbe`), the preStop the vendor
adds in native mode (`nativePreStop`), its shutdown budget (`shutdownSeconds`, `shutdownFrom`),
the lifecycle hooks that only made sense while it was a regular container, the annotations that
record native mode, the versions native mode needs (`minVendorVersion`, `minKubeVersion`), and
the ports its sidecar listens on, with the paths that make it exit (`/quitquitquit`): how the
lifecycle model knows which container a probe reaches and which app container stops which sidecar.
The facts behind each vendor's values, with their upstream sources, are in the comments of its
file (and in ../shared/VENDORS.md, where they were gathered).
The built-in profiles are the YAML files beside this module; a user profile is the same format
in a file of their own.

The models are frozen standard-library dataclasses. Built-in profiles are trusted package data
(a test validates them with pydantic) and are converted with `from_data`, which is what keeps
pydantic's import (about a quarter of a second) off the start-up path of every command. Data a
user wrote is validated with pydantic (`validate`), which gives field paths in its errors.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

BUILTIN = (
    "istio",
    "linkerd",
    "cloud-sql-proxy",
    "kuma",
    "consul",
    "opentelemetry",
    "dapr",
    "azure-workload-identity",
    "gcsfuse",
    "cloud-sql-proxy-operator",
)


class Match(NamedTuple):
    """How a legacy sidecar is recognised: by container name or by image repository.

    `names` and `images` are glob patterns (a name without `*?[` is compared as it is); a
    container matches when either matches, or, with `requireBoth`, when both do (the Cloud SQL
    Proxy Operator's `csql-*` containers run the same image as a hand-written proxy). A name
    matching `exceptNames` is never this profile's, whatever its image: how two profiles that
    share an image keep from claiming one container.
    """

    names: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    require_both: bool = False
    except_names: tuple[str, ...] = ()

    def matches(self, name: str | None, image: str | None) -> bool:
        if name is not None and any(_glob(name, pattern) for pattern in self.except_names):
            return False
        by_name = name is not None and any(_glob(name, pattern) for pattern in self.names)
        if by_name and not self.require_both:
            return True
        if (by_name or not self.require_both) and image and self.images:
            repository = image_repository(image)
            return any(_glob(repository, pattern) for pattern in self.images)
        return False


def name_matches(name: object, patterns: tuple[str, ...]) -> bool:
    """Whether a container name matches one of `patterns` (globs; exact without `*?[`)."""
    return isinstance(name, str) and any(_glob(name, pattern) for pattern in patterns)


def _glob(text: str, pattern: str) -> bool:
    """fnmatch, but without compiling a pattern whose fixed tail already rules `text` out."""
    if not any(char in pattern for char in "*?["):
        return text == pattern
    tail = pattern.rsplit("*", 1)[-1]
    return (not tail or "?" in tail or "[" in tail or text.endswith(tail)) and fnmatch.fnmatchcase(text, pattern)


class LegacyHook(NamedTuple):
    """A lifecycle handler that only a legacy sidecar needs, recognised by its command.

    `command` is a prefix of the handler's `exec.command`, element by element, each element a
    glob pattern (`/bin/sleep`, `*`).
    """

    event: Literal["postStart", "preStop"]
    command: tuple[str, ...]
    reason: str = ""

    def matches(self, command: Any) -> bool:
        if not isinstance(command, list) or len(command) < len(self.command):
            return False
        return all(_glob(str(part), pattern) for part, pattern in zip(command, self.command, strict=False))


class Value(NamedTuple):
    """A `${name}` a profile's templates use: its default (none means `--set` must give it)."""

    default: str | int | None = None
    help: str = ""


class ServedPort(NamedTuple):
    """A port the vendor's sidecar listens on (the lifecycle model's `Endpoint`, as data).

    `stopPath`: an HTTP request to this path makes the sidecar exit (`/quitquitquit`), which is
    how legacy Jobs stopped it; `loopback`: it listens on 127.0.0.1 only; `annotation`: the pod
    annotation whose number, when present, replaces `port` (a startup probe on `port` follows it).
    """

    port: int
    name: str = ""
    purpose: str = ""
    stop_path: str | None = None
    loopback: bool = False
    annotation: str | None = None  # a pod annotation that moves this port (kuma.io/envoy-admin-port)


class BudgetSource(NamedTuple):
    """Where a sidecar's own shutdown time is written, read as a Go duration (`30s`, `1m`) or a
    number of seconds: exactly one of an `env` variable on the sidecar, a pod `annotation`, or a
    command-line `flag` of the sidecar (`-shutdown-grace-period-seconds`, as `-x=v`, `--x=v` or
    `-x v`)."""

    env: str | None = None
    annotation: str | None = None
    flag: str | None = None


class PodMark(NamedTuple):
    """A pod-template label or annotation, as in a webhook request or an opt-out."""

    where: Literal["labels", "annotations"]
    key: str
    value: str


class Spelling(NamedTuple):
    """How a pod asks one range of a vendor's releases for a native sidecar: a label or
    annotation (`where`, `key`, `value`) that the releases from `since` (and before `until`,
    when given) read. Releases are `MAJOR.MINOR[.PATCH]` strings in the vendor's numbering."""

    where: Literal["labels", "annotations"]
    key: str
    value: str
    since: str
    until: str | None = None


@dataclass(frozen=True)
class Request:
    """How a pod template asks the vendor's admission webhook to inject its sidecar, and what
    makes that sidecar native.

    `asks`: any one of these marks asks for injection (a value of `*` matches any value, as
    for Istio's revision label). `opt_out`: marks that turn injection off. `native`: the per-pod
    switch, spelled per release range (empty when only the cluster decides). `native_since`:
    the first release that can inject natively at all; `native_default_since`: the first whose
    injector is native without being asked (None: never by default), on clusters whose every
    kubelet is at least `native_default_kubernetes` when that is given. `version_annotation`: a
    pod-template annotation some manifests carry with the release. `assumed`: the release whose
    spelling is written when none is known (the one the widest range of native-capable
    releases reads). `cluster_switch`: what turns native mode on for the whole cluster, for the
    releases (or vendors) without a per-pod switch. `meshed_otherwise`: marks that put the pod
    in the mesh without this sidecar (Istio's ambient mode): its opt-out is no workaround there,
    and nothing injects into it.
    """

    asks: tuple[PodMark, ...] = ()
    opt_out: tuple[PodMark, ...] = ()
    meshed_otherwise: tuple[PodMark, ...] = ()
    native: tuple[Spelling, ...] = ()
    native_since: str = ""
    native_default_since: str | None = None
    native_default_kubernetes: str | None = None
    version_annotation: str | None = None
    assumed: str = ""
    cluster_switch: str = ""


@dataclass(frozen=True)
class Webhook:
    """`--mode webhook`: what asks the cluster's injector for a native sidecar, and what refuses it."""

    marks: tuple[PodMark, ...] = ()
    opt_out: tuple[PodMark, ...] = ()


@dataclass(frozen=True)
class Manual:
    """`--mode manual`: the containers, volumes and metadata rendered into the manifest.

    Strings may hold `${value}` (the profile's values, settable with `--set`) and the values
    nativecar computes per pod: `${workload.name}`, `${workload.namespace}`,
    `${workload.resource}` (`deployments`), `${workload.apiVersion}`, `${pod.appContainers}`
    (comma-separated), `${pod.firstAppContainer}`. A string that is only `${name}` takes the
    value's own type (a port stays a number).
    """

    init_containers: tuple[Mapping[str, Any], ...] = ()
    sidecar: Mapping[str, Any] = field(default_factory=dict)
    volumes: tuple[Mapping[str, Any], ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


Position = Literal["first", "afterHelpers", "last", "afterSidecars"]
StartupSignal = Literal["probe", "readiness", "postStart", "none"]
Move = Literal["always", "vendorVersion", "never"]


@dataclass(frozen=True)
class Profile:
    """One vendor's sidecar; see the module docstring and the comments in each built-in file.

    The fields that say how the vendor renders its sidecar natively (file keys in camelCase):

    - `move`: `always` (the default) converts a recognised legacy sidecar; `vendorVersion` only
      when its image tag is at least `minVendorVersion` or the user named it with `--sidecar`
      (Dapr: an older injector adds a second `daprd` when none is in `containers`); `never`
      leaves it where it is, even when named, and reports `leftBecause` (gcsfuse: its webhook
      deletes and re-injects it), adding which of `nativeOptOut` (pod marks that ask the
      vendor's injector for legacy mode) the pod carries.
    - `position` among the init containers (None: `afterHelpers` when `runsAfter` is set, else
      `last`, nativecar's behaviour before positions were data):
      `first`: prepended before every init container (after a mesh proxy moved in the same run);
      `afterHelpers`: the `runsAfter` init containers move to the front, the sidecar follows them,
      then the user's init containers (Istio, Linkerd, Kuma);
      `last`: after every init container, but right before the first plain init container that
      dials a port it serves, and never before a `runsAfter` container (Consul, OpenTelemetry);
      `afterSidecars`: right after the first of `afterSidecars` found among the native sidecars,
      else first (gcsfuse after `istio-proxy`).
    - `startupSignal` (None: the profile's `startupProbe`, else one derived from the sidecar's
      readiness or liveness probe): `probe` the profile's `startupProbe` (httpGet, exec...);
      `readiness` the container's own readinessProbe, copied as it is (OpenTelemetry);
      `postStart` the container's own postStart hook is the signal, no probe is added (Azure WI);
      `none` the vendor renders none, and a warning says the app may start first (Dapr, gcsfuse).
    - `nativePreStop`: the preStop handler the vendor adds in native mode (Kuma's drain), set when
      the sidecar has no preStop of its own; `legacyHooks` are the hooks only legacy mode has.
    - `shutdownSeconds`: the sidecar's shutdown budget, unless one of `shutdownFrom` (first found
      wins) says otherwise for the container at hand.
    - `minVendorVersion` / `minKubeVersion`: the first vendor release that renders the sidecar
      natively, and the Kubernetes version its injector needs for it (`X.Y`); a target below
      `minKubeVersion` (`--kube-version`) leaves the sidecar as it is, with the reason.
    """

    name: str
    summary: str
    match: Match = field(default_factory=Match)
    move: Move = "always"
    left_because: str = ""
    native_opt_out: tuple[PodMark, ...] = ()
    position: Position | None = None
    runs_after: tuple[str, ...] = ()
    after_sidecars: tuple[str, ...] = ()
    startup_signal: StartupSignal | None = None
    startup_probe: Mapping[str, Any] | None = None
    native_pre_stop: Mapping[str, Any] | None = None
    shutdown_seconds: int = 5
    shutdown_from: tuple[BudgetSource, ...] = ()
    min_vendor_version: str | None = None
    min_kube_version: str | None = None
    legacy_hooks: tuple[LegacyHook, ...] = ()
    native_annotations: Mapping[str, str] = field(default_factory=dict)
    obsolete_annotations: tuple[str, ...] = ()
    serves: tuple[ServedPort, ...] = ()
    vendor: Literal["istio", "linkerd", "cloud-sql-proxy"] | None = None
    modes: tuple[Literal["webhook", "manual"], ...] = ("manual",)
    values: Mapping[str, Value] = field(default_factory=dict)
    webhook: Webhook | None = None
    manual: Manual | None = None
    skip_host_network: bool = False
    request: Request | None = None

    @property
    def placement(self) -> Position:
        """Where its native sidecar goes (`position`, or what it defaults to)."""
        if self.position is not None:
            return self.position
        return "afterHelpers" if self.runs_after else "last"

    @property
    def first(self) -> bool:
        """Whether its sidecar goes ahead of the user's init containers (a mesh proxy does, and
        so does a sidecar placed `first`)."""
        return self.placement in ("first", "afterHelpers")


# How pydantic validates these dataclasses when a user's file is read (profiles/validate.py): keys
# in Kubernetes' camelCase, nothing unknown. A plain dict, so this module needs no pydantic.
PYDANTIC_CONFIG = {"alias_generator": lambda name: camel(name), "extra": "forbid", "populate_by_name": True}
for _model in (Request, Webhook, Manual, Profile):
    _model.__pydantic_config__ = PYDANTIC_CONFIG  # type: ignore[attr-defined]


_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)")


def image_repository(image: str) -> str:
    """`gcr.io/x/proxy:1.2@sha256:..` -> `gcr.io/x/proxy` (a registry port is not a tag)."""
    repository = image.split("@", 1)[0]
    slash = repository.rfind("/")
    colon = repository.rfind(":")
    return repository[:colon] if colon > slash else repository


def generic(name: str) -> Profile:
    """The profile of a container the user named with `--sidecar`: placed after all init
    containers (so nothing that ran before it runs after it), probe derived, 5 s budget."""
    return Profile(name=name, summary=f"sidecar named with --sidecar {name}", match=Match(names=(name,)))


@functools.cache
def builtin(name: str, inject: bool = False) -> Profile:
    """A built-in profile by name (KeyError if there is none).

    Each lives in two files: `NAME.yaml`, what `migrate` needs to recognise and convert the
    sidecar, and `NAME.inject.yaml`, what `inject` renders. Both are one mapping, so their text
    joined is the whole profile; `migrate` reads only the first, which keeps its start-up short.
    """
    if name not in BUILTIN:
        raise KeyError(name)
    import yaml

    return from_data(Profile, yaml.load(profile_text(name, inject), Loader=yaml.CSafeLoader))


def profile_text(name: str, inject: bool = True) -> str:
    """The YAML source of a built-in profile, with or without its `inject` part (a profile
    without a `NAME.inject.yaml` is for `migrate` only)."""
    here = Path(__file__)
    text = here.with_name(f"{name}.yaml").read_text(encoding="utf-8")
    inject_file = here.with_name(f"{name}.inject.yaml")
    if inject and inject_file.is_file():
        text += "\n" + inject_file.read_text(encoding="utf-8")
    return text


def version_tuple(text: object) -> tuple[int, ...] | None:
    """`v1.17.0-rc.1` -> (1, 17, 0); `1.32` -> (1, 32); None when it does not start with a
    dotted number (`latest`, a digest)."""
    match = _VERSION.match(str(text or "").strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def image_tag(image: str) -> str | None:
    """`daprio/daprd:1.17.0@sha256:..` -> `1.17.0`; None without a tag."""
    repository = image.split("@", 1)[0]
    slash = repository.rfind("/")
    colon = repository.rfind(":")
    return repository[colon + 1 :] if colon > slash else None


def builtins() -> tuple[Profile, ...]:
    return tuple(builtin(name) for name in BUILTIN)


# -- data -> dataclasses -----------------------------------------------------------------------


def snake(name: str) -> str:
    """`startupProbe` -> `startup_probe`: profile files use Kubernetes' camelCase."""
    return "".join("_" + char.lower() if char.isupper() else char for char in name)


def camel(name: str) -> str:
    """`startup_probe` -> `startupProbe`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def from_data(kind: Any, data: Any) -> Any:
    """Build `kind` (a dataclass, tuple, mapping or plain type) from trusted YAML data.

    No validation beyond shape: this is for the package's own profiles, which the test suite
    validates with pydantic. Unknown keys are ignored; `docs` keys are documentation.
    """
    if dataclasses.is_dataclass(kind) or hasattr(kind, "_fields"):
        hints = _hints(kind)
        given = {snake(key): value for key, value in (data or {}).items()}
        return kind(**{name: from_data(hints[name], given[name]) for name in hints if name in given})
    origin = typing.get_origin(kind)
    arguments = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        for argument in arguments:
            if dataclasses.is_dataclass(argument) or hasattr(argument, "_fields"):
                return from_data(argument, data)
            if isinstance(argument, type) and isinstance(data, argument):
                return data
        return from_data(next(argument for argument in arguments if argument is not type(None)), data)
    if origin is tuple:
        return tuple(from_data(arguments[0], item) for item in data or ())
    if origin is Literal or kind is Any:
        return data
    if origin in (Mapping, dict) or kind in (Mapping, dict):
        item_kind = arguments[1] if len(arguments) == 2 else Any
        return types.MappingProxyType({key: from_data(item_kind, item) for key, item in (data or {}).items()})
    return kind(data)
