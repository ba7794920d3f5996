"""Load a profile a user wrote, and say exactly where it is wrong.

The file is parsed like any manifest (so YAML errors carry a line and column), validated by
pydantic against the same dataclasses the built-in profiles use, then checked for what types
cannot say: the modes a user profile may have, a sidecar with a name, placeholders that
name a known value, and the native-rendering fields that need each other (a `position` of
`afterHelpers` needs `runsAfter`, `afterSidecars` needs `afterSidecars`, a `startupSignal` of
`probe` needs a `startupProbe`, `move: vendorVersion` needs `minVendorVersion`, versions that
read as `X.Y[.Z]`, a `shutdownFrom` entry with exactly one of `env`, `annotation`, `flag`).
Every problem becomes one `InputError` line:
`my-sidecar.yaml:12:5: profile: manual.sidecar.name: Field required`.
pydantic is imported here and only here, on the path that reads a user's file.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from nativecar import templates, vendors
from nativecar.documents import InputError, decode, parse, scalar
from nativecar.model import build, plain
from nativecar.profiles import (
    BudgetSource,
    LegacyHook,
    Manual,
    Match,
    PodMark,
    Profile,
    Request,
    ServedPort,
    Spelling,
    Value,
    Webhook,
    camel,
    version_tuple,
)

_FIELD_NAMES = sorted(
    {
        camel(field)
        for model in (
            Match,
            LegacyHook,
            ServedPort,
            Value,
            PodMark,
            BudgetSource,
            Spelling,
            Request,
            Webhook,
            Manual,
            Profile,
        )
        for field in (model._fields if hasattr(model, "_fields") else [f.name for f in dataclasses.fields(model)])
    }
)


def load_file(path: Path) -> Profile:
    """The profile in `path` (InputError with file, line and column when it is not one)."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(name, 1, 1, f"cannot read profile: {error.strerror or error}") from None
    documents = parse(decode(data, name))
    if len(documents) != 1 or not isinstance(documents[0].root, MappingNode):
        raise InputError(name, 1, 1, "profile: a profile file is one YAML mapping (see `nativecar profiles istio`)")
    root = documents[0].root
    raw = plain(build(root))
    from pydantic import TypeAdapter, ValidationError

    try:
        profile = TypeAdapter(Profile).validate_python(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = [part for part in first["loc"] if not str(part).startswith(("function-", "tagged-union"))]
        message = first["msg"]
        if first["type"] == "unexpected_keyword_argument" and where:
            close = difflib.get_close_matches(camel(str(where[-1])), _FIELD_NAMES, n=1)
            message = "unknown field" + (f"; did you mean {close[0]}?" if close else "")
            raise _at(name, root, where, message, at_key=True) from None
        raise _at(name, root, where, message) from None
    return _checked(name, root, profile)


def _checked(name: str, root: Node, profile: Profile) -> Profile:
    if profile.vendor is not None:
        raise _at(name, root, ["vendor"], "user profiles cannot claim a built-in vendor's bookkeeping")
    if tuple(profile.modes) != ("manual",):
        raise _at(name, root, ["modes"], "user profiles support --mode manual only (there is no injector to ask)")
    if profile.manual is None or not profile.manual.sidecar:
        raise _at(name, root, ["manual", "sidecar"], "a profile needs the sidecar container to inject")
    sidecar_name = profile.manual.sidecar.get("name")
    if not isinstance(sidecar_name, str) or not sidecar_name:
        raise _at(name, root, ["manual", "sidecar", "name"], "the sidecar needs a name")
    if not profile.manual.sidecar.get("image"):
        raise _at(name, root, ["manual", "sidecar", "image"], "the sidecar needs an image")
    known = set(profile.values) | set(templates.COMPUTED) | set(vendors.variable_names(profile))
    for part in ("init_containers", "sidecar", "volumes", "labels", "annotations"):
        unknown = sorted(set(templates.placeholders(getattr(profile.manual, part))) - known)
        if unknown:
            raise _at(
                name,
                root,
                ["manual", part],
                f"${{{unknown[0]}}} is not a value of this profile; declare it under `values`",
            )
    _check_native_fields(name, root, profile)
    if not profile.match.names and not profile.match.images:
        profile = dataclasses.replace(profile, match=Match(names=(sidecar_name,)))
    return profile


def _check_native_fields(name: str, root: Node, profile: Profile) -> None:
    """The fields that say how the sidecar is rendered natively, where they need each other."""
    if profile.position == "afterHelpers" and not profile.runs_after:
        raise _at(name, root, ["position"], "afterHelpers needs runsAfter: the helper init containers to follow")
    if profile.position == "afterSidecars" and not profile.after_sidecars:
        raise _at(name, root, ["position"], "afterSidecars needs afterSidecars: the sidecars to follow")
    if profile.startup_signal == "probe" and profile.startup_probe is None:
        raise _at(name, root, ["startupSignal"], "probe needs a startupProbe")
    if profile.move == "vendorVersion" and profile.min_vendor_version is None:
        raise _at(name, root, ["move"], "vendorVersion needs minVendorVersion")
    for key in ("min_vendor_version", "min_kube_version"):
        value = getattr(profile, key)
        if value is not None and version_tuple(value) is None:
            raise _at(name, root, [key], f"{value!r} is not a version such as 1.29 or 2.7.0")
    if profile.min_kube_version is not None and len(version_tuple(profile.min_kube_version) or ()) < 2:
        raise _at(name, root, ["min_kube_version"], "a Kubernetes version is MAJOR.MINOR, such as 1.32")
    for index, source in enumerate(profile.shutdown_from):
        if sum(part is not None for part in source) != 1:
            raise _at(name, root, ["shutdown_from", index], "give exactly one of env, annotation, flag")


def _at(name: str, root: Node, where: list[Any], message: str, at_key: bool = False) -> InputError:
    """An InputError at the node `where` leads to (as far as it exists), in camelCase; with
    `at_key`, at the key of the last step rather than its value."""
    node: Node = root
    path: list[str] = []
    for part in where:
        key = part if isinstance(part, int) else camel(str(part))
        path.append(f"[{key}]" if isinstance(part, int) else str(key))
        found = _child(node, key)
        if found is None:
            break
        node = found[0] if at_key and part is where[-1] else found[1]
    mark = node.start_mark
    location = ".".join(path).replace(".[", "[") or "(top level)"
    return InputError(name, mark.line + 1, mark.column + 1, f"profile: {location}: {message}")


def _child(node: Node, key: str | int) -> tuple[Node, Node] | None:
    """(the node naming the child, the child): a key and its value, or an item twice."""
    if isinstance(node, MappingNode) and isinstance(key, str):
        for key_node, value in node.value:
            if scalar(key_node) == key:
                return key_node, value
    if isinstance(node, SequenceNode) and isinstance(key, int) and key < len(node.value):
        return node.value[key], node.value[key]
    return None
