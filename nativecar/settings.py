"""Run settings: defaults, then a config file, then command-line flags (flags win).

The config file is the first of `--config FILE`, else `.nativecar.yaml` or a `pyproject.toml`
with a `[tool.nativecar]` table, looked for from the working directory upwards. Its keys are
the long flag names (`kube-version`, `sidecar`, `feature-gates`, `vendor-version`, `exclude`;
`gitignore: false` for `--no-gitignore`). A config file is user input,
so it is validated with pydantic, and pydantic is imported only when there is one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nativecar.documents import InputError

CONFIG_NAMES = (".nativecar.yaml", "pyproject.toml")
DEFAULT_KUBE_VERSION = (1, 29)
_VERSION = r"^v?(\d+)\.(\d+)(?:\.\d+)?$"
KNOWN_GATES = ("SidecarContainers", "ContainerRestartRules")
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
    def sidecar_gate(self) -> bool:
        return dict(self.feature_gates).get("SidecarContainers", False)

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


def parse_vendor_versions(values: list[str]) -> tuple[tuple[str, str], ...]:
    """`linkerd=stable-2.18.1` (repeatable, or comma-separated) -> (("linkerd", "stable-2.18.1"),):
    the release of a vendor's injector in the cluster, for the spelling of its native switch."""
    from nativecar.profiles import BUILTIN

    found: dict[str, str] = {}
    for item in _pairs(values):
        name, _, release = item.partition("=")
        if name not in BUILTIN:
            raise UsageError(f"--vendor-version: unknown vendor {name!r}; nativecar knows {', '.join(BUILTIN)}")
        if not release.strip():
            raise UsageError(f"--vendor-version takes VENDOR=RELEASE (linkerd=stable-2.18.1), not {item!r}")
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


def load_config(path: Path) -> dict[str, Any]:
    """The raw settings table of a config file (InputError when it cannot be read)."""
    from nativecar.documents import decode, unmarked_error

    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(str(path), 1, 1, f"cannot read config file: {error.strerror or error}") from None
    text = decode(data, str(path), "config files").text
    if path.name == "pyproject.toml":
        import tomllib

        try:
            return dict(tomllib.loads(text).get("tool", {}).get("nativecar", {}))
        except tomllib.TOMLDecodeError as error:
            raise InputError(str(path), getattr(error, "lineno", 1), getattr(error, "colno", 1), str(error)) from None
    import yaml

    try:
        loaded = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise InputError(
            str(path), mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, str(error.problem)
        ) from None
    except yaml.YAMLError as error:  # a character YAML does not allow, such as a control character
        raise unmarked_error(error, str(path), text) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InputError(str(path), 1, 1, "a config file must be a mapping of settings")
    return loaded


def validate_config(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Check a config table's keys and types with pydantic; returns the keys as flag names."""
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)
        kube_version: str | None = Field(None, alias="kube-version")
        sidecar: list[str] = Field(default_factory=list)
        feature_gates: list[str] = Field(default_factory=list, alias="feature-gates")
        vendor_version: list[str] = Field(default_factory=list, alias="vendor-version")
        quiet: bool = False
        exclude: list[str] = Field(default_factory=list)
        gitignore: bool = True

    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise InputError(str(path), 1, 1, f"config {where}: {first['msg']}") from None
    return config.model_dump(exclude_unset=True)


def from_config(settings: Settings, path: Path) -> Settings:
    """`settings` with a config file's values applied."""
    data = load_config(path)
    if not data:
        return settings
    values = validate_config(path, data)
    try:
        return replace(
            settings,
            kube_version=parse_kube_version(values["kube_version"])
            if values.get("kube_version")
            else settings.kube_version,
            sidecars=tuple(values.get("sidecar", settings.sidecars)),
            feature_gates=parse_feature_gates(values["feature_gates"])
            if values.get("feature_gates")
            else settings.feature_gates,
            quiet=values.get("quiet", settings.quiet),
            vendor_versions=parse_vendor_versions(values["vendor_version"])
            if values.get("vendor_version")
            else settings.vendor_versions,
            # A config file's patterns are relative to its directory, as in .gitignore and ruff.
            exclude=tuple((pattern, str(path.parent.absolute())) for pattern in values.get("exclude", [])),
            gitignore=values.get("gitignore", settings.gitignore),
        )
    except UsageError as error:
        raise InputError(str(path), 1, 1, str(error)) from None
