"""Rewrite 2, `inject`: add the profile's sidecar natively, or ask the cluster's injector to.

Only for `nativecar inject`. After `legacy`, so a pod that still carries a legacy copy of the
sidecar has it converted, and then counts as having it. Two modes:

- `webhook`: the cluster's admission webhook (istiod, linkerd's proxy injector) adds the
  sidecar when the pod is created; the pod template gets the labels and annotations that ask
  for it, in native mode (the profile's `webhook.marks`).
- `manual`: the profile's `manual` containers, volumes, labels and annotations are rendered
  into the manifest with their `${...}` values filled (`templates`): helpers and the sidecar
  go ahead of the user's init containers for a mesh (so those run inside it), after them for
  anything else. Labels and annotations the pod already has are kept.

A pod is skipped, with the reason, when it has the sidecar already, uses the host network
(meshes cannot intercept it), opts out of injection (unless `--force`), or when a name the
profile would add is taken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nativecar import templates, vendors
from nativecar.changes import Change, line_of
from nativecar.profiles import BUILTIN, Profile, builtin
from nativecar.rewrites import Context, Injection
from nativecar.settings import UsageError
from nativecar.workloads import Pod


def rewrite(pod: Pod, context: Context) -> list[Change]:
    request = context.injection
    if request is None:
        return []
    profile = request.profile
    reason = _skip_reason(pod, context, request)
    if reason:
        return [Change(pod.label, reason, "skipped", line_of(pod.spec))]
    changes: list[Change] = []
    warning = context.version_warning()
    if warning:
        changes.append(Change(pod.label, warning, "warning"))
    notes = _clear_opt_out(pod, request) if request.force else []
    values = dict(request.values)
    if request.mode == "webhook" and profile.name in context.vendor_versions:
        values.setdefault("version", context.vendor_versions[profile.name])  # spells Linkerd's switch
    variables = {
        **values,
        **templates.pod_variables(pod),
        **vendors.variables(pod, profile, values),
    }
    if request.mode == "webhook":
        assert profile.webhook is not None
        changes.extend(_release_warnings(pod, context, values))
        for mark in profile.webhook.marks:
            pod.set_metadata(mark.where, templates.render(mark.key, variables), templates.render(mark.value, variables))
        pod.new_sidecars.append((None, profile))
        message = f"marked for native injection by the {profile.name} webhook"
        changes.append(Change(pod.label, "; ".join([message, *notes]), "changed", line_of(pod.template)))
        return changes
    assert profile.manual is not None
    manual = templates.render(
        {
            "init_containers": profile.manual.init_containers,
            "sidecar": profile.manual.sidecar,
            "volumes": profile.manual.volumes,
            "labels": profile.manual.labels,
            "annotations": profile.manual.annotations,
        },
        variables,
    )
    helpers, sidecar = manual["init_containers"], manual["sidecar"]
    sidecar.setdefault("restartPolicy", "Always")
    clash = _name_clash(pod, [*helpers, sidecar], manual["volumes"])
    if clash:
        return [Change(pod.label, clash, "skipped", line_of(pod.spec))]
    init = pod.spec.get("initContainers")
    if not isinstance(init, list):
        init = []
    if profile.first:
        init[:0] = [*helpers, sidecar]
    else:
        init.extend([*helpers, sidecar])
    if "initContainers" not in pod.spec:
        pod.put_after("containers", "initContainers", init)
    if manual["volumes"]:
        volumes = pod.spec.get("volumes")
        if isinstance(volumes, list):
            volumes.extend(manual["volumes"])
        else:
            pod.spec["volumes"] = manual["volumes"]
    for where in ("labels", "annotations"):
        for key, value in manual[where].items():
            if value in (None, ""):  # a pod value with nothing to say (no named app container)
                continue
            pod.set_metadata(where, str(key), str(value), overwrite=False)
    names = [str(container.get("name")) for container in [*helpers, sidecar]]
    volume_names = [str(volume.get("name")) for volume in manual["volumes"]]
    notes += vendors.injected(pod, profile, names, volume_names, request.values)
    pod.new_sidecars.append((sidecar, profile))
    message = f"{sidecar.get('name')} injected as a native sidecar" + (
        f" after {', '.join(names[:-1])}" if len(names) > 1 else ""
    )
    changes.append(Change(pod.label, "; ".join([message, *notes]), "changed", line_of(pod.template)))
    return changes


def _release_warnings(pod: Pod, context: Context, values: dict[str, Any]) -> list[Change]:
    """What the injector's release means for the native switch `inject` writes: a release whose
    injector reads no per-pod switch (istiod before 1.24) or cannot inject natively, or one
    nativecar had to assume (`vendors.releases`)."""
    from nativecar.vendors import releases

    assert context.injection is not None
    profile = context.injection.profile
    if profile.request is None or not profile.request.native:
        return []
    versions = dict(context.vendor_versions)
    if values.get("version"):
        versions.setdefault(profile.name, str(values["version"]))
    decision = releases.decide(pod, profile, versions, context.kube_version)
    if not decision.note:
        return []
    if decision.switch is None:
        message = f"the {profile.name} injector will add a legacy sidecar: {decision.note}"
        return [Change(pod.label, message, "warning", line_of(pod.template), rule="NC019")]
    return [Change(pod.label, decision.note, "warning", line_of(pod.template))]


def _skip_reason(pod: Pod, context: Context, request: Injection) -> str | None:
    profile = request.profile
    sidecar_name = (profile.manual.sidecar.get("name") if profile.manual else None) or profile.name
    for field in ("containers", "initContainers"):
        for container in pod.containers(field):
            if not isinstance(container, dict):
                continue
            name = container.get("name")
            if name == sidecar_name or profile.match.matches(name, container.get("image")):
                return f"already has {pod.container_name(container)}"
    if request.mode == "webhook" and profile.webhook is not None:
        variables = vendors.variables(pod, profile, request.values)
        if all(
            pod.metadata_map(mark.where).get(templates.render(mark.key, variables)) == mark.value
            for mark in profile.webhook.marks
        ):
            return f"already asks the {profile.name} webhook for a native sidecar"
    if profile.skip_host_network and pod.spec.get("hostNetwork") is True:
        return f"uses the host network, which the {profile.name} mesh cannot intercept"
    problem = context.version_problem()
    if problem:
        return problem
    from nativecar.vendors.releases import marked

    meshed = marked(pod, profile.request.meshed_otherwise) if profile.request is not None else []
    if meshed:
        mark = meshed[0]
        return (
            f'is in the {profile.name} mesh another way ({mark.where[:-1]} {mark.key}: "{mark.value}"); '
            "not even --force injects a sidecar there"
        )
    opted_out = _opt_out(pod, request)
    if opted_out and not request.force:
        return (
            f"opts out of injection ({opted_out}); with native sidecars a Job completes with its proxy, "
            "so pass --force to inject anyway"
        )
    return None


def _opt_out(pod: Pod, request: Injection) -> str | None:
    webhook = request.profile.webhook
    for mark in webhook.opt_out if webhook else ():
        if str(pod.metadata_map(mark.where).get(mark.key)) == mark.value:
            return f'{mark.where[:-1]} {mark.key}: "{mark.value}"'
    return None


def _clear_opt_out(pod: Pod, request: Injection) -> list[str]:
    """With --force: remove the marks that refuse injection (a webhook mark may then set the key)."""
    notes = []
    webhook = request.profile.webhook
    for mark in webhook.opt_out if webhook else ():
        entries = pod.metadata_map(mark.where)
        if str(entries.get(mark.key)) == mark.value:
            del entries[mark.key]
            notes.append(f"opt-out {mark.key} removed (--force)")
    return notes


def _name_clash(pod: Pod, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> str | None:
    taken = {
        str(container.get("name"))
        for field in ("containers", "initContainers", "ephemeralContainers")
        for container in pod.containers(field)
        if isinstance(container, dict)
    }
    clashes = sorted(taken & {str(container.get("name")) for container in containers})
    if clashes:
        return f"the pod already has a container named {', '.join(clashes)}"
    existing = pod.spec.get("volumes") if isinstance(pod.spec.get("volumes"), list) else []
    used = {str(volume.get("name")) for volume in existing if isinstance(volume, dict)}
    clashes = sorted(used & {str(volume.get("name")) for volume in volumes})
    if clashes:
        return f"the pod already has a volume named {', '.join(clashes)}"
    return None


# -- the request, from the command line --------------------------------------------------------


def load_profile(reference: str) -> Profile:
    """A built-in profile by name (in any case: `-p Istio`), or a user's profile file by path
    (InputError if bad; a file wins over a built-in name only when the name is not one exactly)."""
    if reference in BUILTIN:
        return builtin(reference, inject=True)
    path = Path(reference)
    if reference.lower() in BUILTIN and not path.is_file():
        return builtin(reference.lower(), inject=True)
    if not path.is_file():
        raise UsageError(f"no built-in profile or profile file {reference!r}; built-in: {', '.join(BUILTIN)}")
    from nativecar.profiles.validate import load_file

    return load_file(path)


def request(profile: Profile, mode: str | None, settings: list[str], force: bool) -> Injection:
    """The injection the flags ask for, with every value it will need (UsageError if not)."""
    if not profile.modes:
        raise UsageError(
            f"profile {profile.name} is for migrate only: nativecar cannot inject it "
            "(`nativecar profiles NAME` says how the vendor's injector renders it natively)"
        )
    chosen = mode.lower() if mode else profile.modes[0]
    if chosen not in profile.modes:
        raise UsageError(f"profile {profile.name} supports --mode {' or '.join(profile.modes)}, not {chosen}")
    values: dict[str, Any] = {
        name: value.default for name, value in profile.values.items() if value.default is not None
    }
    for setting in settings:
        key, equals, text = setting.partition("=")
        if not equals or not key:
            raise UsageError(f"--set takes KEY=VALUE, not {setting!r}")
        if key not in profile.values:
            raise UsageError(
                f"profile {profile.name} has no value {key!r}; it has {', '.join(profile.values) or 'none'}"
            )
        if not _is_utf8(text):
            # The value goes into the manifest, and a manifest must be UTF-8.
            raise UsageError(f"--set {key}: the value is not UTF-8 (an undecodable byte in {text!r})")
        default = profile.values[key].default
        values[key] = int(text) if isinstance(default, int) and text.lstrip("-").isdigit() else text
    used = set(templates.placeholders(_mode_templates(profile, chosen)))
    missing = sorted(name for name in used if name in profile.values and name not in values)
    if missing:
        help_text = profile.values[missing[0]].help
        raise UsageError(
            f"profile {profile.name} --mode {chosen} needs --set {missing[0]}=..."
            + (f" ({help_text})" if help_text else "")
        )
    return Injection(profile=profile, mode=chosen, values=values, force=force)  # type: ignore[arg-type]


def _is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (an argument's undecodable bytes cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _mode_templates(profile: Profile, mode: str) -> Any:
    if mode == "webhook" and profile.webhook is not None:
        return [(mark.key, mark.value) for mark in profile.webhook.marks]
    if mode == "manual" and profile.manual is not None:
        manual = profile.manual
        return [manual.init_containers, manual.sidecar, manual.volumes, manual.labels, manual.annotations]
    return []
