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


USER_PROFILE = """\
name: vault-agent
summary: HashiCorp Vault Agent
match:
  names: [vault-agent]
position: first
startupSignal: probe
startupProbe:
  exec: {command: [test, -f, /vault/secrets/.ready]}
  periodSeconds: 1
  failureThreshold: 60
nativePreStop:
  exec: {command: [/bin/sh, -c, "kill -USR2 1"]}
shutdownSeconds: 10
shutdownFrom:
  - {env: VAULT_SHUTDOWN}
  - {annotation: vault.example.com/shutdown}
minVendorVersion: "1.17.2"
minKubeVersion: "1.30"
serves:
  - {port: 8200, name: api, annotation: vault.example.com/port}
manual:
  sidecar: {name: vault-agent, image: "hashicorp/vault:1.17.2"}
"""


def test_a_user_profile_may_say_how_its_sidecar_is_rendered_natively(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nativecar.profiles import BudgetSource
    from nativecar.profiles.validate import load_file

    path = tmp_path / "vault.yaml"
    path.write_text(USER_PROFILE)
    profile = load_file(path)
    assert profile.placement == "first" and profile.startup_signal == "probe"
    assert dict(profile.native_pre_stop or {}) == {"exec": {"command": ["/bin/sh", "-c", "kill -USR2 1"]}}
    assert profile.shutdown_from == (
        BudgetSource(env="VAULT_SHUTDOWN"),
        BudgetSource(annotation="vault.example.com/shutdown"),
    )
    assert (profile.min_vendor_version, profile.min_kube_version) == ("1.17.2", "1.30")
    assert profile.serves[0].annotation == "vault.example.com/port"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("position: first", "position: afterHelpers"), "position: afterHelpers needs runsAfter"),
        (("position: first", "position: afterSidecars"), "position: afterSidecars needs afterSidecars"),
        (("position: first", "position: middle"), "position: Input should be"),
        (("startupProbe:\n", "x-startupProbe:\n"), "startupSignal: probe needs a startupProbe"),
        (('minKubeVersion: "1.30"', "minKubeVersion: soon"), "minKubeVersion: 'soon' is not a version"),
        (('minKubeVersion: "1.30"', 'minKubeVersion: "1"'), "minKubeVersion: a Kubernetes version is MAJOR.MINOR"),
        (("  - {env: VAULT_SHUTDOWN}", "  - {env: A, flag: b}"), "shutdownFrom[0]: give exactly one"),
        (("position: first", "move: vendorVersion\nposition: first"), None),
        (('minVendorVersion: "1.17.2"\n', ""), None),
    ],
)
def test_a_user_profiles_native_fields_are_checked(change: tuple[str, str], words: str | None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nativecar.documents import InputError
    from nativecar.profiles.validate import load_file

    text = USER_PROFILE.replace(*change)
    if "x-startupProbe" in text:  # the probe taken out, with its lines
        text = text.split("x-startupProbe:")[0] + "nativePreStop:" + text.split("nativePreStop:")[1]
    if words is None:  # move: vendorVersion with a minVendorVersion is fine; without one it is not
        if "move: vendorVersion" not in text:
            text = text.replace("position: first", "move: vendorVersion\nposition: first")
            words = "move: vendorVersion needs minVendorVersion"
        else:
            path = tmp_path / "ok.yaml"
            path.write_text(text)
            assert load_file(path).move == "vendorVersion"
            return
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        load_file(path)
    assert words in str(raised.value), str(raised.value)


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        ("first", ["side", "user-init", "helper"]),
        ("afterHelpers", ["helper", "side", "user-init"]),
        ("last", ["user-init", "helper", "side"]),
        ("afterSidecars", ["istio-proxy", "side", "user-init"]),
    ],
)
def test_each_position_puts_the_sidecar_where_it_says(placement: str, expected: list[str]) -> None:
    import dataclasses

    from nativecar.profiles import Match
    from nativecar.rewrites.legacy import native_order

    profile = dataclasses.replace(
        builtin("cloud-sql-proxy"),
        match=Match(names=("side",)),
        position=placement,  # type: ignore[arg-type]
        runs_after=("helper",) if placement == "afterHelpers" else (),
        after_sidecars=("istio-proxy",),
    )
    init = [{"name": "user-init"}, {"name": "helper"}]
    if placement == "afterSidecars":
        init = [{"name": "istio-proxy", "restartPolicy": "Always"}, {"name": "user-init"}]
    order = native_order(init, [({"name": "side"}, profile)])
    assert [c["name"] for c in order] == expected
    if placement == "afterSidecars":  # no such sidecar: first
        assert [c["name"] for c in native_order([{"name": "user-init"}], [({"name": "side"}, profile)])] == [
            "side",
            "user-init",
        ]


def test_the_built_in_profiles_keep_their_positions() -> None:
    """Today's three keep the behaviour they had; the new ones say what VENDORS.md says."""
    placements = {name: builtin(name).placement for name in BUILTIN}
    assert placements == {
        "istio": "afterHelpers",
        "linkerd": "afterHelpers",
        "cloud-sql-proxy": "last",
        "kuma": "afterHelpers",
        "consul": "last",
        "opentelemetry": "last",
        "dapr": "last",
        "azure-workload-identity": "first",
        "gcsfuse": "afterSidecars",
        "cloud-sql-proxy-operator": "first",
    }
