"""Config files that forgive (issue 11): versions read as written, both spellings of every key,
"did you mean" for the others, every complaint at its FILE:LINE:COL, and flags that always win.

The CLI tests run the installed `nativecar` entry point in a directory holding the config file,
as a user's repository would; the others call `settings.from_config` on a file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nativecar.documents import InputError
from nativecar.settings import Settings, from_config
from tests.conftest import FIXTURES

EXECUTABLE = Path(sys.executable).with_name("nativecar")
JOB = (FIXTURES / "legacy" / "first-container.yaml").read_text(encoding="utf-8")
CONVERTED = "db-migrate: cloud-sql-proxy -> native sidecar"  # what the report says when the Job converts


def nativecar(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(EXECUTABLE), *args], input=JOB, capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def one_error(result: subprocess.CompletedProcess) -> str:
    """The single line a bad config file must produce: exit 2, nothing on stdout, no traceback."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def settings_of(tmp_path: Path, name: str, text: str) -> Settings:
    config = tmp_path / name
    config.write_text(text, encoding="utf-8")
    return from_config(Settings(), config)


# -- versions as written -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (".nativecar.yaml", "kube-version: 1.30\n"),  # a YAML float: 1.3 to a YAML loader
        (".nativecar.yaml", "kubeVersion: 1.30\n"),
        (".nativecar.yaml", "kube_version: '1.30'\n"),
        ("pyproject.toml", "[tool.nativecar]\nkube-version = 1.30\n"),  # a TOML float
        ("pyproject.toml", '[tool.nativecar]\nkubeVersion = "v1.30.2"\n'),
    ],
)
def test_a_version_is_read_as_it_is_written(tmp_path: Path, name: str, text: str) -> None:
    assert settings_of(tmp_path, name, text).kube_version == (1, 30)


def test_a_float_kube_version_converts_on_the_command_line(tmp_path: Path) -> None:
    """1.30 read as 1.3 would be below 1.29, and nothing would convert."""
    (tmp_path / ".nativecar.yaml").write_text("kube-version: 1.30\n")
    result = nativecar("migrate", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert CONVERTED in result.stderr and "initContainers:" in result.stdout
    (tmp_path / ".nativecar.yaml").write_text("kube-version: 1.3\n")  # the same test can fail
    assert CONVERTED not in nativecar("migrate", "-", cwd=tmp_path).stderr


def test_a_bare_version_toml_cannot_read_says_to_quote_it(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "gitops"\n\n[tool.nativecar]\nkube-version = 1.30.1\n')
    line = one_error(nativecar("migrate", "-", cwd=tmp_path))
    assert line.startswith(f"{pyproject}:5:")
    assert 'kube-version = "1.30.1"' in line


# -- both spellings, and "did you mean" ------------------------------------------------------------


def test_every_key_in_camel_case_means_the_same_as_in_kebab_case(tmp_path: Path) -> None:
    kebab = (
        "kube-version: '1.30'\nsidecar: [log-shipper]\nfeature-gates: [ContainerRestartRules=false]\n"
        "vendor-version: [linkerd=stable-2.18.1]\nquiet: true\n"
    )
    camel = (
        "kubeVersion: '1.30'\nsidecar: [log-shipper]\nfeatureGates: [ContainerRestartRules=false]\n"
        "vendorVersion: [linkerd=stable-2.18.1]\nquiet: true\n"
    )
    expected = Settings(
        kube_version=(1, 30),
        sidecars=("log-shipper",),
        feature_gates=(("ContainerRestartRules", False),),
        quiet=True,
        vendor_versions=(("linkerd", "stable-2.18.1"),),
    )
    assert settings_of(tmp_path, "kebab.yaml", kebab) == expected
    assert settings_of(tmp_path, "camel.yaml", camel) == expected


def test_the_krm_function_config_shapes_are_read_too(tmp_path: Path) -> None:
    """`sidecars` and comma-separated strings, as the NativeSidecars spec takes them, and gates as a mapping."""
    text = "sidecars: log-shipper, metrics\nfeatureGates: {SidecarContainers: true}\nvendor-version: {istio: '1.24'}\n"
    settings = settings_of(tmp_path, ".nativecar.yaml", text)
    assert settings.sidecars == ("log-shipper", "metrics")
    assert settings.feature_gates == (("SidecarContainers", True),)
    assert settings.vendor_versions == (("istio", "1.24"),)


@pytest.mark.parametrize(
    ("name", "text", "where", "suggestion"),
    [
        (".nativecar.yaml", "sidecar: [envoy]\nkubeVersoin: 1.30\n", "2:1", "'kubeVersion'"),
        (".nativecar.yaml", "kube-versoin: '1.30'\n", "1:1", "'kube-version'"),
        (".nativecar.yaml", "quiet: true\nfeature-gate-list: []\n", "2:1", "'feature-gates'"),
        ("pyproject.toml", "[tool.nativecar]\n  vendorVerison = []\n", "2:3", "'vendorVersion'"),
    ],
)
def test_an_unknown_key_is_named_at_its_place_with_what_was_meant(
    tmp_path: Path, name: str, text: str, where: str, suggestion: str
) -> None:
    config = tmp_path / name
    config.write_text(text)
    line = one_error(nativecar("migrate", "-", cwd=tmp_path))
    assert line.startswith(f"{config}:{where}: ")
    assert f"did you mean {suggestion}?" in line
    assert "Extra inputs" not in line  # pydantic's words, which the bug report quoted


def test_an_unknown_key_like_no_setting_lists_the_settings(tmp_path: Path) -> None:
    (tmp_path / ".nativecar.yaml").write_text("colour: always\n")
    line = one_error(nativecar("check", "-", cwd=tmp_path))
    assert "did you mean" not in line
    assert all(name in line for name in ("kube-version", "sidecar", "feature-gates", "vendor-version", "quiet"))


def test_a_setting_given_twice_under_two_spellings_is_an_error_at_the_second(tmp_path: Path) -> None:
    config = tmp_path / ".nativecar.yaml"
    config.write_text("kube-version: '1.30'\nsidecar: []\nkubeVersion: '1.31'\n")
    line = one_error(nativecar("migrate", "-", cwd=tmp_path))
    assert line.startswith(f"{config}:3:1: ") and "kube-version" in line


# -- values: the tool's words at the value's place ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("sidecar: [envoy]\nkube-version: 1.2x\n", "2:15", "1.2x"),
        ("kube-version: [1.30]\n", "1:15", "one value"),
        ("feature-gates:\n  - SidecarContainers=true\n  - Sidecars=true\n", "3:5", "unknown feature gate 'Sidecars'"),
        ("vendor-version: [mesh=1.0]\n", "1:18", "unknown vendor 'mesh'"),
        ("sidecar: {envoy: true}\n", "1:10", "container names"),
        ("quiet: sometimes\n", "1:8", "true or false"),
    ],
)
def test_a_bad_value_is_reported_at_the_value(tmp_path: Path, text: str, where: str, words: str) -> None:
    config = tmp_path / ".nativecar.yaml"
    config.write_text(text)
    line = one_error(nativecar("migrate", "-", cwd=tmp_path))
    assert line.startswith(f"{config}:{where}: ") and words in line
    assert "Input should be" not in line and "Traceback" not in line


def test_a_bad_value_in_pyproject_is_reported_on_its_line(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.black]\nline-length = 100\n\n[tool.nativecar]\nsidecar = ["a"]\nkube-version = "one"\n')
    line = one_error(nativecar("migrate", "-", cwd=tmp_path))
    assert line.startswith(f"{pyproject}:6:16: ") and "'one'" in line


def test_positions_are_those_of_the_file_read(tmp_path: Path) -> None:
    """The error carries the file, line and column the user's editor opens: no 1:1 stand-ins."""
    config = tmp_path / "settings.yaml"
    config.write_text("# shared by the platform team\n\nsidecar:\n  - envoy\n  - [nested]\n")
    with pytest.raises(InputError) as raised:
        from_config(Settings(), config)
    assert (raised.value.path, raised.value.line, raised.value.column) == (str(config), 5, 5)


# -- flags win -------------------------------------------------------------------------------------


def test_a_flag_overrides_the_config_value_even_a_float(tmp_path: Path) -> None:
    (tmp_path / ".nativecar.yaml").write_text("kube-version: 1.27\n")  # too old: nothing converts
    assert CONVERTED not in nativecar("migrate", "-", cwd=tmp_path).stderr
    result = nativecar("migrate", "--kube-version", "1.30", "-", cwd=tmp_path)
    assert result.returncode == 0 and CONVERTED in result.stderr


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("kube-version: 1.3O\n", ["--kube-version", "1.30"]),  # the letter O: not a version
        ("kube-version: 1.30\nfeature-gates: [Sidecars=true]\n", ["--feature-gates", "ContainerRestartRules=false"]),
        ("kube-version: 1.30\nquiet: sometimes\n", ["-q"]),
        ("kube-version: 1.30\nvendor-version: {linkerd: ''}\n", ["--vendor-version", "linkerd=stable-2.18.1"]),
    ],
)
def test_a_bad_config_value_a_flag_replaces_does_not_stop_the_run(tmp_path: Path, text: str, flags: list[str]) -> None:
    """Decided: a flag replaces the config's value, which is then not read, so one bad line in a
    shared config can be worked around from the command line (and is reported without the flag)."""
    (tmp_path / ".nativecar.yaml").write_text(text)
    one_error(nativecar("migrate", "-", cwd=tmp_path))
    result = nativecar("migrate", *flags, "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "initContainers:" in result.stdout


def test_a_bad_flag_is_still_an_error_whatever_the_config_says(tmp_path: Path) -> None:
    (tmp_path / ".nativecar.yaml").write_text("kube-version: 1.30\n")
    result = nativecar("migrate", "--kube-version", "latest", "-", cwd=tmp_path)
    assert result.returncode == 2 and "--kube-version" in result.stderr and result.stdout == ""


def test_the_readme_config_example_says_what_the_readme_says(tmp_path: Path) -> None:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("  # .nativecar.yaml\n", 1)[1].split("  ```", 1)[0]
    (tmp_path / ".nativecar.yaml").write_text("\n".join(line.removeprefix("  ") for line in block.splitlines()))
    settings = from_config(Settings(), tmp_path / ".nativecar.yaml")
    assert (settings.kube_version, settings.sidecars) == ((1, 30), ("log-shipper",))
    assert settings.vendor_versions == (("linkerd", "stable-2.18.1"),)
