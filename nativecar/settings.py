"""Run settings: defaults, then a config file, then command-line flags (flags win).

The config file is the first of `--config FILE`, else `.nativecar.yaml` or a `pyproject.toml`
with a `[tool.nativecar]` table, looked for from the working directory upwards. Its keys are
the long flag names, in kebab-case or camelCase as the KRM function config spells them
(`kube-version` or `kubeVersion`, `sidecar`, `feature-gates`, `vendor-version`, `quiet`,
`exclude`, `gitignore`). A
config file is user input: each problem in it is one `FILE:LINE:COL: message` at the key or value
(an unknown key with the setting it most resembles). A flag replaces the config's value, which is
then not read at all, so a flag can always rescue a run from a bad value in a shared config.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from nativecar.config import Entry, Pairs, read_config
from nativecar.documents import InputError

CONFIG_NAMES = (".nativecar.yaml", "pyproject.toml")
# the flags' long names (`gitignore: false` is `--no-gitignore`)
CONFIG_KEYS = ("kube-version", "sidecar", "feature-gates", "vendor-version", "quiet", "exclude", "gitignore")
DEFAULT_KUBE_VERSION = (1, 29)
_VERSION = r"^v?(\d+)\.(\d+)(?:\.\d+)?$"
KNOWN_GATES = ("SidecarContainers", "ContainerRestartRules")
# GA releases where a gate can no longer be turned off (KEP-753: SidecarContainers GA in 1.33).
GATE_LOCKED = {"SidecarContainers": (1, 33)}
GATE_SINCE = {"SidecarContainers": (1, 28), "ContainerRestartRules": (1, 34)}  # alpha in these releases


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know besides its inputs."""

    kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION
    sidecars: tuple[str, ...] = ()
    feature_gates: tuple[tuple[str, bool], ...] = ()
    quiet: bool = False
    vendor_versions: tuple[tuple[str, str], ...] = ()  # (profile name, release), from --vendor-version
    # (gitignore-style pattern, the directory it is relative to), from --exclude and `exclude:`
    exclude: tuple[tuple[str, str], ...] = ()
    gitignore: bool = True  # directory walks leave out what .gitignore ignores

    @property
    def sidecar_gate(self) -> bool | None:
        """SidecarContainers as given; None leaves it to the version's default."""
        return dict(self.feature_gates).get("SidecarContainers")

    @property
    def restart_rules_gate(self) -> bool | None:
        """ContainerRestartRules as given; None leaves it to the version's default."""
        return dict(self.feature_gates).get("ContainerRestartRules")


class UsageError(Exception):
    """A bad flag or config value: exit code 2 with this message."""


def parse_kube_version(text: str) -> tuple[int, int]:
    """`1.29`, `v1.29` or `1.29.3` -> (1, 29)."""
    match = re.match(_VERSION, str(text).strip())
    if not match:
        raise UsageError(f"--kube-version must look like 1.29, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def parse_feature_gates(values: list[str]) -> tuple[tuple[str, bool], ...]:
    """`SidecarContainers=true,Other=false` (repeatable) -> (("SidecarContainers", True), ...)."""
    gates: dict[str, bool] = {}
    for item in _pairs(values):
        name, _, state = item.partition("=")
        if name not in KNOWN_GATES:
            raise UsageError(f"unknown feature gate {name!r}; nativecar knows {', '.join(KNOWN_GATES)}")
        if state.lower() not in ("true", "false"):
            raise UsageError(f"feature gate {name} must be =true or =false, not {item!r}")
        gates[name] = state.lower() == "true"
    return tuple(sorted(gates.items()))


def _pairs(values: list[str]) -> Iterator[str]:
    """The `KEY=VALUE` items of a repeatable, comma-separated flag, blanks dropped."""
    for value in values:
        yield from filter(None, (part.strip() for part in str(value).split(",")))


def parse_vendor_versions(values: list[str], option: str = "--vendor-version") -> tuple[tuple[str, str], ...]:
    """`linkerd=stable-2.18.1` (repeatable, or comma-separated) -> (("linkerd", "stable-2.18.1"),):
    the release of a vendor's injector in the cluster, for the spelling of its native switch.
    `option` is how the UsageError names where the value came from."""
    from nativecar.profiles import BUILTIN

    found: dict[str, str] = {}
    for item in _pairs(values):
        name, _, release = item.partition("=")
        if name not in BUILTIN:
            raise UsageError(f"{option}: unknown vendor {name!r}; nativecar knows {', '.join(BUILTIN)}")
        if not release.strip():
            raise UsageError(f"{option} takes VENDOR=RELEASE (linkerd=stable-2.18.1), not {item!r}")
        found[name] = release.strip()
    return tuple(sorted(found.items()))


def find_config(start: Path) -> Path | None:
    """The nearest `.nativecar.yaml`, or `pyproject.toml` with `[tool.nativecar]`, upwards.

    A candidate that exists but cannot be read is an InputError, as in black and ruff: it may
    hold the settings the user meant, and a run without them would write something else.
    """
    for directory in (start, *start.parents):
        candidate = directory / ".nativecar.yaml"
        try:
            if candidate.is_file():
                return candidate
            candidate = directory / "pyproject.toml"
            if candidate.is_file() and "[tool.nativecar]" in candidate.read_text(encoding="utf-8", errors="replace"):
                return candidate
        except OSError as error:
            raise InputError(str(candidate), 1, 1, f"cannot read config file: {error.strerror or error}") from None
    return None


def config_key(key: str) -> str | None:
    """The setting a config key names (`kubeVersion`, `kube-version`, `kube_version` -> `kube-version`), or None."""
    return _SPELLINGS.get(_folded(key))


def _folded(key: str) -> str:
    return re.sub(r"[-_]", "", key).lower()


# Every key under its folded spelling; the plurals and singulars are the KRM function config's.
_SPELLINGS = {_folded(name): name for name in CONFIG_KEYS} | {
    "sidecars": "sidecar",
    "featuregate": "feature-gates",
    "vendorversions": "vendor-version",
}


def _did_you_mean(key: str) -> str:
    """What to say about an unknown key: the setting it most resembles, in the key's own style."""
    import difflib

    close = difflib.get_close_matches(_folded(key), list(_SPELLINGS), n=1)
    if not close:
        return f"unknown setting {key!r}; the settings are {', '.join(CONFIG_KEYS)}"
    name = _SPELLINGS[close[0]]
    if "-" not in key and key != key.lower():
        first, *rest = name.split("-")
        name = first + "".join(part.capitalize() for part in rest)
    return f"unknown setting {key!r}; did you mean {name!r}?"


def config_values(path: Path) -> dict[str, tuple[Entry, Entry]]:
    """A config file's settings: flag name -> (key, value) as written, in file order.

    Raises InputError at the key for a key that names no setting (with the setting it most
    resembles) and for a setting given twice (`kubeVersion` and `kube-version`), and whatever
    `config.read_config` raises.
    """
    found: dict[str, tuple[Entry, Entry]] = {}
    for key, value in read_config(path).data:
        if isinstance(key.data, list):
            raise _error(path, key, "a setting's name is one word, such as kube-version")
        text = "true" if key.data is True else "false" if key.data is False else str(key.data)
        name = config_key(text)
        if name is None:
            raise _error(path, key, _did_you_mean(text))
        if name in found:
            first = found[name][0]
            raise _error(path, key, f"{text!r} sets {name} again ({first.data!r} on line {first.line}); keep one")
        found[name] = (key, value)
    return found


def from_config(
    settings: Settings, path: Path, given: Collection[str] = (), given_vendors: Collection[str] = ()
) -> Settings:
    """`settings` with a config file's values applied.

    `given` holds the flag names (`kube-version`, `feature-gates`, `quiet`) whose flags were
    given: those values of the file are not read, since the flag replaces them, and a bad one
    does not stop the run. Likewise the `vendor-version` entries of the vendors in
    `given_vendors`. Raises InputError at the key or value that is wrong, in nativecar's words.
    """
    changes: dict[str, Any] = {}
    for name, (_, value) in config_values(path).items():
        if name in given:
            continue
        if name == "kube-version":
            text = _scalar(path, name, value)
            if text is not None:
                changes["kube_version"] = _config_version(path, value, text)
        elif name == "sidecar":
            changes["sidecars"] = tuple(dict.fromkeys(text for text, _ in _items(path, name, value)))
        elif name == "feature-gates":
            items = _items(path, name, value)
            for text, where in items:
                _located(path, where, partial(parse_feature_gates, [text]), "feature-gates: ")
            if items:
                changes["feature_gates"] = parse_feature_gates([text for text, _ in items])
        elif name == "vendor-version":
            items = [
                (text, where)
                for text, where in _items(path, name, value)
                if text.partition("=")[0].strip() not in given_vendors
            ]
            for text, where in items:
                _located(path, where, partial(parse_vendor_versions, [text], "vendor-version"))
            if items:
                changes["vendor_versions"] = parse_vendor_versions([text for text, _ in items])
        elif name in ("quiet", "gitignore"):
            text = _scalar(path, name, value)
            if text is not None:
                if text.lower() not in ("true", "false"):
                    raise _error(path, value, f"{name} is true or false, not {text!r}")
                changes[name] = text.lower() == "true"
        elif name == "exclude":
            # A config file's patterns are relative to its directory, as in .gitignore and ruff.
            root = str(path.parent.absolute())
            changes["exclude"] = tuple((text, root) for text, _ in _items(path, name, value))
    return replace(settings, **changes)


def _error(path: Path, where: Entry, message: str) -> InputError:
    return InputError(str(path), where.line, where.column, message)


def _scalar(path: Path, name: str, value: Entry) -> str | None:
    """A one-value setting as text: a number as written, true/false; None when it is empty."""
    if isinstance(value.data, list):
        shape = "a mapping" if isinstance(value.data, Pairs) else "a list"
        raise _error(path, value, f"{name} takes one value, not {shape}")
    if value.data is None or isinstance(value.data, str):
        return value.data
    return "true" if value.data else "false"


def _config_version(path: Path, value: Entry, text: str) -> tuple[int, int]:
    match = re.match(_VERSION, text.strip())
    if not match:
        raise _error(path, value, f"kube-version is a Kubernetes version such as 1.30, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def _items(path: Path, name: str, value: Entry) -> list[tuple[str, Entry]]:
    """A list setting's items as text, each with where it is written. Forgiving about the shape:
    a list, one comma-separated string, or (for the KEY=VALUE settings) a mapping of KEY: VALUE."""
    if isinstance(value.data, Pairs):
        if name == "sidecar":
            raise _error(path, value, "sidecar takes a list of container names, not a mapping")
        return [
            (f"{_scalar(path, name, key) or ''}={_scalar(path, name, item) or ''}", key) for key, item in value.data
        ]
    items: list[tuple[str, Entry]] = []
    for item in value.data if isinstance(value.data, list) else [value]:
        if isinstance(item.data, list):
            raise _error(path, item, f"{name} takes a list of words, and this item is not one")
        text = _scalar(path, name, item) or ""
        items += [(part.strip(), item) for part in text.split(",") if part.strip()]
    return items


def _located(path: Path, where: Entry, parse: Callable[[], object], prefix: str = "") -> None:
    """Run a flag's parser on one config value, its UsageError becoming an InputError at `where`."""
    try:
        parse()
    except UsageError as error:
        raise _error(path, where, f"{prefix}{error}") from None


def build_settings(
    kube_version: str | None,
    sidecar: list[str] | None,
    feature_gates: list[str] | None,
    quiet: bool,
    config: Path | None,
    vendor_versions: list[str] | None = None,
    exclude: list[str] | None = None,
    no_gitignore: bool = False,
) -> Settings:
    """Defaults, then the config file, then the flags that were given (which always win;
    `--exclude` patterns add to the config file's, relative to the working directory).

    Raises UsageError for a bad flag, InputError for a bad config file.
    """
    flag_kube_version = parse_kube_version(kube_version) if kube_version is not None else None
    flag_gates = parse_feature_gates(feature_gates) if feature_gates else None
    flag_vendors = dict(parse_vendor_versions(vendor_versions or []))
    settings = Settings()
    config_path = config if config is not None else find_config(Path.cwd())
    if config is not None and not config.is_file():
        raise InputError(str(config), 1, 1, "config file not found")
    if config_path is not None:
        given = [
            name
            for name, flag in (("kube-version", kube_version), ("feature-gates", feature_gates), ("quiet", quiet))
            if flag
        ]
        settings = from_config(settings, config_path, given, flag_vendors)
    changes: dict[str, Any] = {}
    if flag_kube_version is not None:
        changes["kube_version"] = flag_kube_version
    if sidecar:
        changes["sidecars"] = tuple(dict.fromkeys([*settings.sidecars, *sidecar]))
    if flag_gates is not None:
        changes["feature_gates"] = flag_gates
    if quiet:
        changes["quiet"] = True
    if flag_vendors:
        changes["vendor_versions"] = tuple(sorted({**dict(settings.vendor_versions), **flag_vendors}.items()))
    if exclude:
        changes["exclude"] = (*settings.exclude, *((pattern, str(Path.cwd())) for pattern in exclude))
    if no_gitignore:
        changes["gitignore"] = False
    settings = replace(settings, **changes)
    for gate, enabled in settings.feature_gates:
        since = GATE_SINCE[gate]
        if enabled and settings.kube_version < since:
            raise UsageError(f"the {gate} feature gate exists from Kubernetes {since[0]}.{since[1]} on")
        locked = GATE_LOCKED.get(gate)
        if not enabled and locked is not None and settings.kube_version >= locked:
            raise UsageError(f"the {gate} feature gate is GA and locked on from Kubernetes {locked[0]}.{locked[1]}")
    return settings
