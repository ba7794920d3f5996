"""Charts at their source: a Helm chart's templates converted with the manifests' rewrites.

`convert` takes one template of a chart (a `.yaml`/`.yml` file of its `templates/` whose name does
not start with `_`) and:
1. sets its Go template actions aside (`helm.mask`), so the text reads as YAML;
2. reads what the chart's values files give the template (`Chart`): a container whose name or
   image comes from values is a sidecar when every values file makes it one
   (`Context.recognise` of the rendered name and image); a `containers` list that values fill
   (`{{- toYaml .Values.sidecars | nindent 8 }}`, `{{- range .Values.extraContainers }}`,
   `include`) is looked into, and a sidecar found there is reported with the values keys to edit;
3. runs the engine on the masked text, with the same surgical patches as for a manifest;
4. checks that the converted template renders as the original template rendered and then
   converted by `nativecar migrate` would (what `helm template | nativecar migrate` gives): for
   each way its conditions can go (every branch of every block once, all conditions true, all
   false) with the actions in values as opaque words, and for each values file of the chart,
   with the branches those values choose and the plain `.Values` references filled in. A sidecar
   wrapped in its own `{{- if }}` moves with its wrapper; what its conversion changes outside it
   (the grace period) is put under the same condition (`_Conversion.conditional`);
5. puts the actions back (`Mask.restore`, which checks every one comes back once and whole).

A template where any step cannot be done exactly is left byte for byte as it is, with a warning
(`FILE:LINE:COL`) that says why and what to change by hand. The rendering in step 4 is nativecar's
own reading of the template (`helm.instance`), not Helm's: the tests hold it to `helm template`
with real Helm 3 and 4 binaries (tests/test_helm_charts.py).

The package: `values` (the chart, its values files and named templates, and the simple `.Values`
expressions a template renders with), `pods` (the pods of a masked template) and `conversion`
(one template, step by step).

`Chart` reads the chart's values files (`load`): `values.yaml`, and each other values file of the
chart (`values-*.yaml`, `values.*.yaml`, `*-values.yaml`, `ci/*.yaml`) merged over it as
`helm template -f FILE` merges it (maps merged key by key, anything else replaced).
"""

from nativecar.charts.conversion import convert
from nativecar.charts.values import (
    MAX_INSTANCES,
    TEMPLATE_SUFFIXES,
    VALUES_PATTERNS,
    Chart,
    Named,
    load,
    named_sidecars,
    renders,
)
from nativecar.files import chart_of

__all__ = [
    "MAX_INSTANCES",
    "TEMPLATE_SUFFIXES",
    "VALUES_PATTERNS",
    "Chart",
    "Named",
    "chart_of",
    "convert",
    "load",
    "named_sidecars",
    "renders",
]
