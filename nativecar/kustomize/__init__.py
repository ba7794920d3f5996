"""kustomize trees seen whole: the bases and overlays of one run resolved together.

A `kustomization.yaml` (or `.yml`, or `Kustomization`) found under the paths of a run names its
`resources` (files, and directories holding another kustomization), its `components` and its
patches: `patches` (a file or an inline `patch`, strategic merge or JSON 6902, with an optional
`target`), the older `patchesStrategicMerge` (files or inline documents) and `patchesJson6902`
(`target` + `path` or inline `patch`). A patch names a container of its target: by name under
`containers` (strategic merge), or by index (`/spec/template/spec/containers/1/...`, JSON 6902).
When the run moves that container into `initContainers`, the patch must follow it:

- a strategic-merge entry for a moved container moves to `initContainers`, keeping what it sets
  (no `restartPolicy` nor probes: the converted base has them); `args` or `command` it replaces
  whole get the flags the conversion appended to the base's, and a hook it restates as the base
  had it follows the base (Istio's `pilot-agent wait` goes);
- a JSON 6902 path into `containers/N` for a moved container becomes `initContainers/M` (M its
  place in the converted base), and the paths to the other containers and init containers get
  their new indices.

The edits are the same surgical text patches as a manifest's (`edits.Patcher`) and are verified
by re-parsing. Every kustomization of the run is then built before and after (`build`: this
module's own resolution of resources, components and patches; `kubectl kustomize` is a separate,
optional check in the tests) and each built pod that changed must hold by the lifecycle model
(`lifecycle.verify`) and the API rules of a pod spec (`api_problems`); otherwise the run reports an
`InputError` at the patch (or kustomization) and the files of that tree are not written.

`review` is `check`'s look at the same trees as they stand (NC021): a strategic-merge entry under
`containers` for a sidecar the base already has as a native one (a base converted without its
overlays: `migrate` with the tree moves the entry), a patch that does not apply (a JSON 6902 path
to a container that moved, reported at its operation), and a built pod a patch leaves with a
problem of `api_problems`.

What is not resolved: remote resources (URLs), generators and transformers other than patches
(name prefixes, labels, images): they do not move containers, and a target is matched by the
name its object has in its own file, as kustomize also matches it.

The package: `tree` reads the files of a tree, `patching` applies patches as kustomize does,
`following` edits the patches to follow moved containers, and `build` runs all of it over the
kustomizations of a run (`plan` for `migrate`, `review` for `check`).

Sources: kustomize's `patches` docs (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/patches/),
RFC 6902 (JSON Patch), RFC 6901 (JSON Pointer), and the strategic merge patch rules of
`k8s.io/apimachinery/pkg/util/strategicpatch` (lists merged by their `patchMergeKey`).
"""

from __future__ import annotations

from nativecar.kustomize.build import Finding, Plan, Review, api_problems, built_pods, plan, review
from nativecar.kustomize.patching import (
    MERGE_KEYS,
    POD_LISTS,
    PatchFailedError,
    apply_patch,
    json_patch,
    matches,
    pointer,
    strategic_merge,
    unpointer,
)
from nativecar.kustomize.tree import (
    NAMES,
    Built,
    Content,
    Kustomization,
    Patch,
    Read,
    content,
    find,
    kind_of,
    kustomization_in,
    load,
    load_patches,
    objects_of,
    read_file,
    real,
)

__all__ = [
    "MERGE_KEYS",
    "NAMES",
    "POD_LISTS",
    "Built",
    "Content",
    "Finding",
    "Kustomization",
    "Patch",
    "PatchFailedError",
    "Plan",
    "Read",
    "Review",
    "api_problems",
    "apply_patch",
    "built_pods",
    "content",
    "find",
    "json_patch",
    "kind_of",
    "kustomization_in",
    "load",
    "load_patches",
    "matches",
    "objects_of",
    "plan",
    "pointer",
    "read_file",
    "real",
    "review",
    "strategic_merge",
    "unpointer",
]
