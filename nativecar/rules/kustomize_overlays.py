"""NC021: a kustomize overlay builds a pod the API rejects from a base with native sidecars.

A rule about kustomize trees, not about one pod: `check` resolves the kustomizations among its
paths (`kustomize.review`) and reports, at the patch, each strategic-merge entry that sets a
native sidecar under `containers` (a base converted without its overlays), each patch that no
longer applies (a JSON 6902 path to `containers/N` that moved), and each built pod a patch leaves
with a problem the API server rejects (`kustomize.api_problems`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from nativecar import kustomize
from nativecar.changes import Change
from nativecar.documents import InputError
from nativecar.rewrites import Context
from nativecar.rules import Problem, Rule, Stream
from nativecar.workloads import Pod

RULE = Rule(
    id="NC021",
    name="kustomize-overlay-breaks",
    severity="error",
    summary="A kustomize overlay builds a pod the API rejects from a base with native sidecars",
    doc=(
        "A strategic-merge patch matches containers by name within one list: an entry under "
        "`containers` for a sidecar the base has in `initContainers` builds a second, image-less "
        "container of the same name, and a JSON 6902 path to `containers/N` points at another "
        "container (or nothing) once the sidecar has moved. This happens when a base is converted "
        "without its overlays. Fix: run `nativecar migrate -i BASE OVERLAYS` with the whole tree: it "
        "moves strategic-merge entries to `initContainers` and re-indexes JSON 6902 paths; a "
        "patch it cannot follow is reported at the patch for you to fix."
    ),
)


def check(pod: Pod, context: Context, stream: Stream) -> Iterator[Problem]:
    """Nothing about a single pod: this rule's findings come from `findings`, over whole trees."""
    return iter(())


def findings(
    kustomizations: list[Path], read: kustomize.Read
) -> tuple[dict[str, list[Change]], set[str], list[InputError]]:
    """This rule's findings on the trees of `kustomizations`, by the path of the file they are in,
    the real paths of the trees' patch files, and the errors of the kustomizations that cannot be
    resolved (the other trees are still reviewed)."""
    review = kustomize.review(kustomizations, read)
    found: dict[str, list[Change]] = {}
    for item in review.findings:
        change = Change(
            item.label, item.message, "finding", item.line, item.column, rule=RULE.id, severity=RULE.severity
        )
        found.setdefault(item.path, []).append(change)
    return found, review.patch_files, review.errors
