"""The command line: flags in, `Settings` and `Output` out, the run's exit code back.

Thin on purpose: every decision lives in `settings`, `runner`, `engine` and the rewrites.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from nativecar import __version__
from nativecar.documents import InputError

if TYPE_CHECKING:
    from nativecar.report import Report
    from nativecar.rewrites import Injection
from nativecar.settings import UsageError, build_settings

app = typer.Typer(
    name="nativecar",
    help="Move Kubernetes manifests onto native sidecars (init containers with restartPolicy: Always).",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

PathsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Files or directories (walked for *.yaml, *.yml). '-' reads stdin, as does no PATH when stdin "
        "is not a terminal.",
        show_default=False,
    ),
]
Filename = Annotated[
    list[str] | None,
    typer.Option(
        "--filename",
        "-f",
        metavar="FILE",
        help="A file or directory to read, as kubectl's -f (repeatable); the same as a PATH.",
        show_default=False,
    ),
]
OutputFile = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write what would go to stdout to FILE instead, in one piece, only when there is something to write.",
        show_default=False,
    ),
]
Exclude = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="GLOB",
        help="Leave out paths that match this .gitignore-style pattern, relative to the working directory "
        "(repeatable; adds to the config file's `exclude`). Holds for named files too, as pre-commit names them.",
        show_default=False,
    ),
]
NoGitignore = Annotated[
    bool,
    typer.Option("--no-gitignore", help="Walk directories without leaving out what .gitignore files ignore."),
]
InPlace = Annotated[bool, typer.Option("--in-place", "-i", help="Rewrite the files instead of printing to stdout.")]
Check = Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if anything would change.")]
Diff = Annotated[bool, typer.Option("--diff", help="Print a unified diff instead of the manifests.")]
KubeVersion = Annotated[
    str | None,
    typer.Option(
        "--kube-version", metavar="X.Y", help="Oldest Kubernetes version the manifests must run on.  [default: 1.29]"
    ),
]
Sidecar = Annotated[
    list[str] | None,
    typer.Option(
        "--sidecar",
        metavar="NAME",
        help="Also treat containers with this name as sidecars (repeatable).",
        show_default=False,
    ),
]
FeatureGates = Annotated[
    list[str] | None,
    typer.Option(
        "--feature-gates",
        metavar="GATE=BOOL",
        help="Feature gates the cluster has on: SidecarContainers=true allows native sidecars on Kubernetes "
        "1.28; ContainerRestartRules=true says 1.34 accepts restartPolicy on regular containers.",
        show_default=False,
    ),
]
VendorVersion = Annotated[
    list[str] | None,
    typer.Option(
        "--vendor-version",
        metavar="VENDOR=RELEASE",
        help="The release of a vendor's injector in the cluster, VENDOR=RELEASE (linkerd=stable-2.18.1, "
        "istio=1.24; repeatable): it decides how the switch that asks for a native sidecar is spelled.",
        show_default=False,
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Settings file (.nativecar.yaml format). Default: the nearest .nativecar.yaml or "
        "pyproject.toml [tool.nativecar], from the working directory upwards.",
        show_default=False,
    ),
]


Mode = Annotated[
    str | None,
    typer.Option(
        "--mode",
        metavar="webhook|manual",
        help="webhook: ask the cluster's injector for a native sidecar (default for istio and linkerd); "
        "manual: render the sidecar into the manifest.",
        show_default=False,
    ),
]
Values = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="A profile value, KEY=VALUE (repeatable); `nativecar profiles NAME` lists them.",
        show_default=False,
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Inject into pods that opt out of injection.")]


def injection_request(reference: str, mode: str | None, values: list[str] | None, force: bool) -> Injection:
    """What `-p`, `--mode`, `--set` and `--force` ask for (UsageError or InputError when wrong)."""
    from nativecar.rewrites import inject as injecting

    return injecting.request(injecting.load_profile(reference), mode, values or [], force)


def _version(value: bool) -> None:
    if value:
        print(f"nativecar {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Move Kubernetes manifests onto native sidecars (init containers with restartPolicy: Always).

    Output goes to stdout unless -i is given; messages go to stderr. Exit codes: 0 done,
    1 --check found work, 2 bad usage or bad input (nothing is written then).
    """


@contextmanager
def _usage_errors(report: Report) -> Iterator[None]:
    """Bad flags, config or profiles: the message, exit code 2, nothing else."""
    try:
        yield
    except (UsageError, InputError) as error:
        report.error(error if isinstance(error, InputError) else str(error))
        raise typer.Exit(2) from None


@app.command()
def migrate(
    paths: PathsArgument = None,
    filename: Filename = None,
    output_file: OutputFile = None,
    exclude: Exclude = None,
    no_gitignore: NoGitignore = False,
    in_place: InPlace = False,
    check: Check = False,
    diff: Diff = False,
    kube_version: KubeVersion = None,
    sidecar: Sidecar = None,
    feature_gates: FeatureGates = None,
    vendor_version: VendorVersion = None,
    quiet: Quiet = False,
    config: ConfigFile = None,
) -> None:
    """Convert legacy sidecars to native sidecars, then fix their probes and the grace period.

    Recognises the sidecars of the built-in profiles (`nativecar profiles --table`: Istio,
    Linkerd, the Cloud SQL Auth Proxy, Kuma, Consul, OpenTelemetry, Dapr, Azure Workload
    Identity, gcsfuse, the Cloud SQL Proxy Operator) plus every --sidecar name; asks an injector
    for a native sidecar where a pod asks it for one; follows a moved container in the
    kustomize patches and Service targetPorts of the same run. Documents with nothing to convert
    come out byte for byte; changed ones change only on the lines that carry the change. With -i,
    --diff or --check a Helm chart's templates are converted at their source.
    """
    _execute(
        Where(paths, filename, output_file, exclude, no_gitignore),
        in_place,
        check,
        diff,
        kube_version,
        sidecar,
        feature_gates,
        quiet,
        config,
        vendor_version,
    )


@app.command()
def inject(
    paths: PathsArgument = None,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            metavar="NAME|FILE",
            help=(
                "A built-in profile that can be injected (istio, linkerd, cloud-sql-proxy; see "
                "`nativecar profiles`) or a profile file."
            ),
            show_default=False,
        ),
    ] = ...,  # type: ignore[assignment]
    mode: Mode = None,
    values: Values = None,
    force: Force = False,
    filename: Filename = None,
    output_file: OutputFile = None,
    exclude: Exclude = None,
    no_gitignore: NoGitignore = False,
    in_place: InPlace = False,
    check: Check = False,
    diff: Diff = False,
    kube_version: KubeVersion = None,
    sidecar: Sidecar = None,
    feature_gates: FeatureGates = None,
    vendor_version: VendorVersion = None,
    quiet: Quiet = False,
    config: ConfigFile = None,
) -> None:
    """Inject a profile's sidecar as a native sidecar, after doing everything migrate does.

    nativecar inject -p istio job.yaml | kubectl apply -f -
    nativecar inject -p cloud-sql-proxy --set instance=PROJECT:REGION:DB job.yaml
    """
    _execute(
        Where(paths, filename, output_file, exclude, no_gitignore),
        in_place,
        check,
        diff,
        kube_version,
        sidecar,
        feature_gates,
        quiet,
        config,
        vendor_version,
        (profile, mode, values, force),
    )


def _execute(
    where: Where,
    in_place: bool,
    check: bool,
    diff: bool,
    kube_version: str | None,
    sidecar: list[str] | None,
    feature_gates: list[str] | None,
    quiet: bool,
    config: Path | None,
    vendor_version: list[str] | None = None,
    injection: tuple[str, str | None, list[str] | None, bool] | None = None,
) -> None:
    """Flags to settings, a request and an output; the run's exit code back to the shell."""
    from nativecar.report import Report
    from nativecar.runner import Output, run

    report = Report(quiet=quiet, check=check)
    request = None
    with _usage_errors(report):
        settings = build_settings(
            kube_version, sidecar, feature_gates, quiet, config, vendor_version, where.exclude, where.no_gitignore
        )
        if in_place and (check or diff):
            raise UsageError("--in-place writes files; --check and --diff never do: choose one")
        if where.output is not None and (in_place or check):
            mode = "--in-place" if in_place else "--check"
            raise UsageError(f"-o/--output writes the output stream; {mode} has none")
        paths = where.paths(in_place)
        if injection is not None:
            request = injection_request(*injection)
    report.quiet = settings.quiet
    if where.output is not None:
        report.destination = str(where.output)
    _warn_sidecar_files(sidecar, report)
    output = Output(in_place=in_place, check=check, diff=diff)
    with _stdout(where.output, report) as stdout:
        code = run(paths, settings, output, report, stdout=stdout, injection=request)
    raise typer.Exit(code)


class Where:
    """What to read and where to write: the PATH arguments and `-f` files, `-o`, `--exclude`,
    `--no-gitignore`."""

    def __init__(
        self,
        paths: list[str] | None,
        filename: list[str] | None,
        output: Path | None,
        exclude: list[str] | None,
        no_gitignore: bool,
    ) -> None:
        self.given = [*(paths or []), *(filename or [])]
        self.output = output
        self.exclude = exclude
        self.no_gitignore = no_gitignore

    def paths(self, in_place: bool = False) -> list[str]:
        """The paths to read; UsageError when there are none and standard input is a terminal
        (a run would wait, silently, for a manifest to be typed)."""
        if not self.given and not in_place and sys.stdin is not None and sys.stdin.isatty():
            raise UsageError("no PATH given and standard input is a terminal: pass files or directories, or - to type")
        return self.given


@contextmanager
def _stdout(path: Path | None, report: Report) -> Iterator[BinaryIO | None]:
    """Standard output, or `-o FILE`: written in one piece when the run is over (the file is
    only replaced when the run wrote something); a file that cannot be written is an error."""
    if path is None:
        yield None
        return
    from nativecar.files import OutputFile

    try:
        with OutputFile(path) as stream:
            yield stream  # type: ignore[misc]
    except InputError as error:
        report.error(error)
        raise typer.Exit(2) from None


def _warn_sidecar_files(sidecar: list[str] | None, report: Report) -> None:
    """A `--sidecar` value that names an existing file was most likely meant as an input."""
    for name in sidecar or []:
        if ("/" in name or name.endswith((".yaml", ".yml"))) and Path(name).exists():
            report.warning(
                f"--sidecar {name}: takes a container name, and a file of that name exists; "
                f"to read the file, put it after the options or pass it with -f {name}"
            )


@app.command()
def check(
    paths: PathsArgument = None,
    filename: Filename = None,
    output_file: OutputFile = None,
    exclude: Exclude = None,
    no_gitignore: NoGitignore = False,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="text|json|sarif|github",
            help="text (grouped by file), json, sarif (2.1.0) or github (workflow annotations).",
        ),
    ] = "text",
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="error|warning|info",
            help="Exit 1 when a finding is at least this severe: error, warning or info.",
        ),
    ] = "error",
    kube_version: KubeVersion = None,
    sidecar: Sidecar = None,
    feature_gates: FeatureGates = None,
    vendor_version: VendorVersion = None,
    quiet: Quiet = False,
    config: ConfigFile = None,
) -> None:
    """Report what stands between the manifests and working native sidecars; never writes.

    Findings go to stdout with their file, line and column; `nativecar rules` explains each.
    Exit code 1 when a finding is at least as severe as --fail-on (an error, by default), 2 for
    bad usage or bad input (the other inputs' findings are still reported).
    """
    from nativecar.changes import SEVERITIES
    from nativecar.report import Report
    from nativecar.runner import run_check

    report = Report(quiet=quiet)
    where = Where(paths, filename, output_file, exclude, no_gitignore)
    with _usage_errors(report):
        settings = build_settings(
            kube_version, sidecar, feature_gates, quiet, config, vendor_version, exclude, no_gitignore
        )
        output_format = _choice("--format", output_format, ("text", "json", "sarif", "github"))
        threshold = _choice("--fail-on", fail_on, tuple(reversed(SEVERITIES)))
        paths = where.paths()
    report.quiet = settings.quiet
    _warn_sidecar_files(sidecar, report)
    with _stdout(output_file, report) as stdout:
        code = run_check(paths, settings, output_format, report, stdout=stdout, fail_on=threshold)
    raise typer.Exit(code)


def _choice(flag: str, value: str, choices: tuple[str, ...]) -> str:
    """`value` as one of `choices`, whatever its case (UsageError otherwise)."""
    if value.lower() in choices:
        return value.lower()
    raise UsageError(f"{flag} must be {', '.join(choices[:-1])} or {choices[-1]}, not {value!r}")


@app.command()
def explain(
    paths: PathsArgument = None,
    filename: Filename = None,
    output_file: OutputFile = None,
    exclude: Exclude = None,
    no_gitignore: NoGitignore = False,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="text|json|svg",
            help="text (words and a chart per workload), json, or svg (a picture of the same).",
        ),
    ] = "text",
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            metavar="NAME|FILE",
            help="Explain what `inject -p PROFILE` would do instead of what `migrate` would do.",
            show_default=False,
        ),
    ] = None,
    mode: Mode = None,
    values: Values = None,
    force: Force = False,
    kube_version: KubeVersion = None,
    sidecar: Sidecar = None,
    feature_gates: FeatureGates = None,
    vendor_version: VendorVersion = None,
    config: ConfigFile = None,
) -> None:
    """Show what the kubelet will do with each pod, before and after the conversion.

    For every workload: what starts when and what gates it, whether it completes (Jobs), how it
    stops and who gets how much of the grace period, and its effective resource requests; the
    pod as written above the pod as `migrate` (or `inject -p`) would leave it. Writes nothing.
    """
    from nativecar.report import Report
    from nativecar.runner import run_explain

    report = Report(quiet=True)
    request = None
    with _usage_errors(report):
        settings = build_settings(
            kube_version, sidecar, feature_gates, False, config, vendor_version, exclude, no_gitignore
        )
        output_format = _choice("--format", output_format, ("text", "json", "svg"))
        if profile is not None:
            request = injection_request(profile, mode, values, force)
        elif mode is not None or values or force:
            raise UsageError("--mode, --set and --force go with -p/--profile")
        paths = Where(paths, filename, output_file, exclude, no_gitignore).paths()
    with _stdout(output_file, report) as stdout:
        code = run_explain(paths, settings, output_format, report, stdout=stdout, injection=request)
    raise typer.Exit(code)


@app.command()
def krm(
    config: Annotated[
        str | None, typer.Argument(help="An exec plugin's config file (kustomize passes it); none for a KRM function.")
    ] = None,
) -> None:
    """Run as a KRM function (a ResourceList on stdin) or a kustomize exec plugin (a plain stream).

    Options come from the functionConfig / plugin config (kind NativeSidecars or a ConfigMap):
    kubeVersion, sidecars, featureGates, profile, mode, set, force. Findings come back as the
    ResourceList's results; exit 1 when one is an error.
    """
    from nativecar.krm import main as run_krm

    raise typer.Exit(run_krm([config] if config else []))


@app.command()
def rules(
    rule: Annotated[str | None, typer.Argument(help="Explain this rule (id or name).")] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print every rule's explanation as Markdown (docs/rules.md).")
    ] = False,
) -> None:
    """List the rules `check` applies, or explain one."""
    from nativecar.rules import markdown as page
    from nativecar.rules import rules as catalogue

    if markdown:
        print(page(), end="")
        return
    known = catalogue()
    if rule is None:
        for item in known:
            print(f"{item.id}  {item.severity:<8} {item.name:<38} {item.summary}")
        return
    from nativecar.rules import INVALID_INPUT  # what json, sarif and github call a bad input; not a rule to list

    match = next((item for item in (*known, INVALID_INPUT) if rule in (item.id, item.name)), None)
    if match is None:
        print(f"error: no rule {rule!r}; `nativecar rules` lists them", file=sys.stderr)
        raise typer.Exit(2)
    print(f"{match.id} {match.name} ({match.severity})\n{match.summary}.\n\n{match.doc}")


@app.command()
def profiles(
    name: Annotated[str | None, typer.Argument(help="Print this profile as YAML.")] = None,
    table: Annotated[
        bool,
        typer.Option(
            "--table",
            help="Print what nativecar does for each vendor (the README's vendor table), in Markdown.",
        ),
    ] = False,
) -> None:
    """List the built-in sidecar profiles, print one (with the upstream source of each fact), or
    print the vendor table."""
    from nativecar.profiles import BUILTIN, builtin, profile_text

    if table:
        from nativecar.profiles.table import markdown

        print(markdown(), end="")
        return
    if name is None:
        width = max(map(len, BUILTIN)) + 2
        for profile_name in BUILTIN:
            print(f"{profile_name:<{width}} {builtin(profile_name).summary}")
        return
    name = name.lower() if name.lower() in BUILTIN else name
    if name not in BUILTIN:
        print(f"error: no built-in profile {name!r}; choose from {', '.join(BUILTIN)}", file=sys.stderr)
        raise typer.Exit(2)
    print(profile_text(name), end="")


def run() -> None:
    """The console-script entry point; a stop signal that interrupted `-i` ends the process as
    that signal would have, once the files are safe (exit status 128+N to the shell)."""
    from nativecar.files import Interrupted

    try:
        app(prog_name=program_name(sys.argv[0]))
    except Interrupted as stop:
        stop.die()


def program_name(argv0: str) -> str | None:
    """`kubectl nativecar` when kubectl runs us as its plugin `kubectl-nativecar`, so usage lines and
    hints name the command the user typed; None (click's own guess) otherwise."""
    name = Path(argv0).name.removesuffix(".exe")
    return f"kubectl {name.removeprefix('kubectl-')}" if name.startswith("kubectl-") else None
