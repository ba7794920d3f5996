"""Profiles are data: the built-in files are valid, and load the same way with or without pydantic."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from nativecar.profiles import BUILTIN, Profile, builtin, profile_text
from nativecar.templates import COMPUTED, placeholders
from nativecar.vendors import variable_names


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_profiles_validate_and_load_alike(name: str) -> None:
    import yaml

    validated = TypeAdapter(Profile).validate_python(yaml.safe_load(profile_text(name)))
    assert validated == builtin(name, inject=True)
    core = TypeAdapter(Profile).validate_python(yaml.safe_load(profile_text(name, inject=False)))
    assert core == builtin(name)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_placeholder_names_a_value(name: str) -> None:
    profile = builtin(name, inject=True)
    known = set(profile.values) | set(COMPUTED) | set(variable_names(profile))
    used = set(placeholders([profile.manual and profile.manual.sidecar, profile.manual and profile.manual.volumes]))
    if profile.manual:
        manual = profile.manual
        used |= set(placeholders([manual.init_containers, manual.labels, manual.annotations]))
    if profile.webhook:
        used |= set(placeholders([(mark.key, mark.value) for mark in profile.webhook.marks]))
    assert used <= known, used - known


def test_profiles_share_one_source_of_truth_with_migrate() -> None:
    """The startup probe `legacy` gives a converted proxy is the one `inject` renders."""
    for name in ("istio", "linkerd"):
        profile = builtin(name, inject=True)
        assert profile.manual is not None
        assert dict(profile.manual.sidecar["startupProbe"]) == dict(profile.startup_probe)
