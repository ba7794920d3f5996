"""The pure core: one source's text in, its rewritten text and change records out.

No files, no printing. For each document: find its pod specs on the node tree; build the
editable model only when a pod holds something a rewrite acts on; run the rewrites in
`rewrites.ORDER`; check every pod they changed with the lifecycle model (`lifecycle.verify`:
the pod before and after must start, complete and keep the app's shutdown time), and leave a
pod the model says would break as it was, with the reasons; turn the model's differences into
text edits (`edits.Patcher`); re-parse the patched document and check it says exactly what the
model says; if it does not (or the patch could not be made) re-emit that one document with
ruamel.yaml (`fallback`) and say so. Documents nothing happened to are never touched, so they
come out byte for byte. Last, the `check` rules run on the rewritten pods as they now read, and
what they find is what is left for the user (records with `action="finding"`, at their line and
column in the rewritten text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar import workloads
from nativecar.changes import Change, line_of, position
from nativecar.documents import (
    Document,
    InputError,
    Segment,
    Source,
    documents,
    is_merge_key,
    nesting_guard,
    parse,
    segments,
)
from nativecar.edits import CannotPatchError, Edit, Patcher, apply
from nativecar.model import build, same
from nativecar.references import REFERRING_KINDS
from nativecar.render import Style, detect_style
from nativecar.rewrites import ORDER, Context
from nativecar.workloads import Pod


@dataclass
class Records:
    """What the rewrites did to one input: the records, the documents re-emitted (numbers from
    0), and whether its text changed."""

    changes: list[Change] = field(default_factory=list)
    reemitted: list[int] = field(default_factory=list)
    changed: bool = False


@dataclass(kw_only=True)
class Outcome(Records):
    """What became of one whole input: its records and its new text."""

    source: Source
    text: str


class Rewritten(NamedTuple):
    """A document this run rewrote: the 0-based line its text starts on in the output, the pods
    it changed (in memory, after the rewrites; with their indices among the document's pods and
    their lifecycle models), and its rewritten text parsed, for the findings' positions."""

    line: int
    pods: list[Pod]
    indices: list[int]
    models: dict[int, Any]
    root: Node


Positions = Literal["output", "input"]


def process(source: Source, context: Context, positions: Positions | None = "output") -> Outcome:
    """Run the rewrites over every document of a whole input (raises `InputError` on bad input).

    `positions`: where the findings left for the user point: into the rewritten text (for a file
    rewritten in place), or into `source` as it is (when nothing is written back to it); None
    when nobody will read them (`--quiet`), which spares the rules' run.
    """
    session = Session(context, positions)
    pieces = [session.rewrite(segment) for segment in segments(source.text, source.path)]
    records = session.finish()
    text = "".join(pieces) if records.changed else source.text
    return Outcome(
        changes=records.changes, reemitted=records.reemitted, changed=records.changed, source=source, text=text
    )


class Session:
    """One input through the rewrites, a document at a time (`documents.segments`), so that a
    stream of any length is rewritten in the memory of its largest document.

    `rewrite` gives each segment's text as it is to be written; `finish` gives the records. The
    findings left on a rewritten pod are worked out when its document is done, with the objects
    that refer to pods seen so far (Services, NetworkPolicies, autoscalers: NC009 and NC020 read
    them); what of a pod a later such object could still concern waits for `finish`.
    """

    def __init__(self, context: Context, positions: Positions | None = "output") -> None:
        self.context = context
        self.positions = positions
        self.records = Records()
        self.shift = 0  # lines the edits so far added
        # The referring objects seen (references.REFERRING_KINDS), with the shift at their place.
        self.others: list[tuple[Any, int]] = []
        # What a rule that reads them keeps of a rewritten pod: the rule module, the part, how many
        # referring objects had been seen then, and the lines the edits had added by then.
        self.waiting: list[tuple[Any, Pod, int, int]] = []

    def rewrite(self, segment: Segment) -> str:
        """The text of `segment` as it is to be written (raises `InputError` on bad input)."""
        source, document = segment.source, segment.document
        if document is None:
            return source.text
        context, records = self.context, self.records
        kind = _kind(document.root)
        if kind == "Service" and context.pod_ports and context.kube_version < (1, 32):
            edited = self._service(segment)
            if edited is not None:
                return edited
        if self.positions is not None and kind in REFERRING_KINDS:
            self.others.append((build(document.root), self.shift))
        templates = list(workloads.pod_template_nodes(document.root))
        if not templates and context.injection is not None:
            records.changes.extend(_not_a_workload(document))
        if not any(wanted(spec, context, template) for template, spec in templates):
            return source.text
        with nesting_guard(source, document):
            model, changes, changed = rewrite(document, context)
            patched = _patch(source, document, model, records)
        records.changes.extend(changes)
        if patched is None:
            return source.text
        edit, root = patched
        records.changed = True
        item = Rewritten(
            document.root.start_mark.line + self.shift,
            [pod for _, pod, _ in changed],
            [index for index, _, _ in changed],
            {id(pod): after for _, pod, after in changed},
            root,
        )
        self.shift += edit.replacement.count("\n") - source.text.count("\n", edit.start, edit.end)
        if item.pods and self.positions is not None:
            records.changes.extend(_left_for_you([item], self.others, context, records.changes, self.positions))
            from nativecar.rules import awaiting

            for pod in item.pods:
                for module, part in awaiting(pod, context):
                    self.waiting.append((module, part, len(self.others), self.shift))
        try:
            return apply(source.text, [edit])
        except CannotPatchError:  # an edit past its document's text: never write what it would make
            mark = document.root.start_mark
            raise InputError(
                source.path, mark.line + 1, mark.column + 1, "this document cannot be rewritten exactly"
            ) from None

    def _service(self, segment: Segment) -> str | None:
        """A Service whose `targetPort` names a port of a sidecar of the run's pods, with the port's
        number instead (before Kubernetes 1.32 a name resolves among regular containers only,
        kubernetes#127958; the number means the same on every version): its text, or None when
        there is nothing to edit (`references.target_port_edits` says when the edit is exact)."""
        from nativecar.references import target_port_edits

        source, document = segment.source, segment.document
        assert document is not None
        with nesting_guard(source, document):
            model = build(document.root)
            edits = target_port_edits(model, self.context.pod_ports)
            if not edits:
                return None
            for port, _, number in edits:
                port["targetPort"] = number
            patched = _patch(source, document, model, self.records)
        if patched is None:
            return None
        edit, _ = patched
        label = workloads.label(model)
        for port, name, number in edits:
            self.records.changes.append(
                Change(
                    label,
                    f"targetPort {name!r} -> {number} (a sidecar's port: Kubernetes before 1.32 resolves a name "
                    "among regular containers only)",
                    "changed",
                    line_of(port),
                )
            )
        self.records.changed = True
        if self.positions is not None:
            self.others.append((model, self.shift))
        self.shift += edit.replacement.count("\n") - source.text.count("\n", edit.start, edit.end)
        return apply(source.text, [edit])

    def finish(self) -> Records:
        """The records, with what the referring objects after a rewritten pod find on it."""
        late = [(module, part) for module, part, seen, _ in self.waiting if seen < len(self.others)]
        if not late or self.positions is None:
            return self.records
        from nativecar.rules import run_late

        shifts = {id(part): shift for _, part, _, shift in self.waiting}
        others = self.others

        def locate(value: Any, key: Any, pod: Pod) -> tuple[int, int]:
            line, column = position(value, key)
            if not line or self.positions == "input":
                return line, column
            shift = next((shift for tree, shift in others if _contains(tree, value)), shifts[id(pod)])
            return line + shift, column

        reported = {(c.workload, c.rule, c.line, c.column, c.message) for c in self.records.changes}
        found = sorted(
            run_late(late, [tree for tree, _ in others], self.context, locate),
            key=lambda finding: (finding.line, finding.column, finding.rule),
        )
        self.records.changes.extend(
            finding
            for finding in found
            if (finding.workload, finding.rule, finding.line, finding.column, finding.message) not in reported
        )
        return self.records


Changed = list[tuple[int, Pod, Any]]


class Explanation(NamedTuple):
    """One pod template for `nativecar explain`: its lifecycle model as written, after this
    run's rewrites (None when they leave it as it is), and the records of what they did."""

    label: str
    line: int
    before: Any
    after: Any
    changes: list[Change]


def explain(source: Source, context: Context) -> list[Explanation]:
    """Every pod template of `source`, before and after the rewrites (raises `InputError`)."""
    from nativecar.lifecycle.pod import read

    found: list[Explanation] = []
    for document in documents(source):
        templates = list(workloads.pod_template_nodes(document.root))
        if not templates:
            continue
        with nesting_guard(source, document):
            pods = list(workloads.pods(build(document.root)))
            before = [read(pod, context) for pod in pods]
            after: dict[int, Any] = {}
            changes: list[Change] = []
            if any(wanted(spec, context, template) for template, spec in templates):
                _, changes, changed = rewrite(document, context)
                after = {index: model for index, _, model in changed}
        for index, pod in enumerate(pods):
            mine = [change for change in changes if change.workload == pod.label]
            found.append(Explanation(pod.label, line_of(pod.workload), before[index], after.get(index), mine))
    return found


def rewrite(document: Document, context: Context) -> tuple[Any, list[Change], Changed]:
    """The document's model after the rewrites, their records, and the pods that changed (their
    index among the document's pods, the pod, its lifecycle model after the rewrites).

    Each changed pod is checked with the lifecycle model (`lifecycle.verify`, the pod as it was
    against the pod as it is now); one the model says would break is left as it was: the
    document's model is built again and that pod is not rewritten (a record says why)."""
    from nativecar.lifecycle.pod import app_seconds, read
    from nativecar.lifecycle.verify import clean, verify

    model = build(document.root)
    pods = list(workloads.pods(model))
    had = [app_seconds(pod, context) for pod in pods]
    records = [_rewrite_pod(pod, context) for pod in pods]
    changed: Changed = []
    refused: dict[int, tuple[str, ...]] = {}
    originals: list[Pod] = []
    for index, (pod, changes) in enumerate(zip(pods, records, strict=True)):
        if not any(change.action == "changed" for change in changes):
            continue
        after = read(pod, context)
        if not clean(after, had[index]):  # only then is the pod as it was worth reading
            originals = originals or list(workloads.pods(build(document.root)))
            verdict = verify(read(originals[index], context), after)
            if not verdict.safe:
                refused[index] = verdict.problems
                continue
        changed.append((index, pod, after))
    if refused:
        model = build(document.root)
        pods = list(workloads.pods(model))
        records = [
            _refusal(pod, refused[index]) if index in refused else _rewrite_pod(pod, context)
            for index, pod in enumerate(pods)
        ]
        changed = [(index, pods[index], after) for index, _, after in changed]
    return model, [change for changes in records for change in changes], changed


def _rewrite_pod(pod: Pod, context: Context) -> list[Change]:
    changes: list[Change] = []
    for step in ORDER:
        changes.extend(step(pod, context))
    return changes


def _refusal(pod: Pod, problems: tuple[str, ...]) -> list[Change]:
    reasons = "; ".join(problems)
    return [
        Change(
            pod.label, f"left as it was, because converting it would break it: {reasons}", "skipped", line_of(pod.spec)
        )
    ]


def _kind(root: Node) -> str | None:
    kind = workloads.node_get(root, "kind")
    return kind.value if isinstance(kind, ScalarNode) else None


def _left_for_you(
    items: list[Rewritten],
    others: list[tuple[Any, int]],
    context: Context,
    changes: list[Change],
    positions: Positions = "output",
) -> list[Change]:
    """The `check` findings on the pods this run changed, at their place in the rewritten text.

    The rules run on the pods in memory first (the rewritten text says exactly the same, the
    patch was verified); only when they find something are the rewritten documents read again
    for positions: their re-parsed nodes count lines from the document's first line, an untouched
    referring object's (a Service's) from the source's, and each gets the line its text now starts on. Findings a
    rewrite already reported as a warning with the same rule are not repeated.
    """
    from nativecar import rules

    models = {key: value for item in items for key, value in item.models.items()}
    other_models = [model for model, _ in others]
    pods = [pod for item in items for pod in item.pods]
    warned = {(change.workload, change.rule) for change in changes if change.action == "warning" and change.rule}
    if positions == "input":
        found = rules.run(pods, other_models, context, locate=_in_source, models=models)
        return [finding for finding in found if (finding.workload, finding.rule) not in warned]
    if not rules.run(pods, other_models, context, models=models):
        return []
    located: list[Pod] = []
    offsets: dict[int, int] = {}
    for item in items:
        found = list(workloads.pods(build(item.root)))
        for index in item.indices:
            located.append(found[index])
            offsets[id(found[index])] = item.line
    trees = others

    def locate(value: Any, key: Any, pod: Pod) -> tuple[int, int]:
        line, column = position(value, key)
        if line and not _contains(pod.workload, value):
            for tree, offset in trees:
                if _contains(tree, value):
                    return line + offset, column
        return (line + offsets[id(pod)], column) if line else (0, 0)

    found = rules.run(located, other_models, context, locate=locate)
    return [finding for finding in found if (finding.workload, finding.rule) not in warned]


def _in_source(value: Any, key: Any, pod: Pod) -> tuple[int, int]:
    """Where a value of the rewritten model stood in the source; what a rewrite added has no
    place there, so it is reported at its container (or its pod)."""
    line, column = position(value, key)
    if line:
        return line, column
    for where in ("initContainers", "containers"):
        for container in pod.containers(where):
            if isinstance(container, dict) and _contains(container, value) and getattr(container, "node", None):
                return position(container)
    return position(pod.template)


def _contains(tree: Any, value: Any) -> bool:
    """Whether `value` is `tree` or one of its parts (by identity)."""
    if tree is value:
        return True
    if isinstance(tree, dict):
        return any(_contains(item, value) for item in tree.values())
    if isinstance(tree, list):
        return any(_contains(item, value) for item in tree)
    return False


def wanted(spec: Node, context: Context, template: Node | None = None) -> bool:
    """Whether a pod template holds anything a rewrite acts on: a sidecar, legacy or native, a
    label or annotation that asks an injector for one (`request`), or, for `inject`, any pod."""
    if context.injection is not None:
        return True
    if template is not None and _asks_injector(template, context):
        return True
    containers = workloads.node_get(spec, "containers")
    if isinstance(containers, SequenceNode):
        for container in containers.value:
            if isinstance(container, MappingNode) and any(is_merge_key(key) for key, _ in container.value):
                return True  # its name or image may come from the merged mapping: look at the model
            name = _scalar(workloads.node_get(container, "name"))
            image = _scalar(workloads.node_get(container, "image"))
            if context.recognise(name, image) is not None:
                return True
    init_containers = workloads.node_get(spec, "initContainers")
    if isinstance(init_containers, SequenceNode):
        for container in init_containers.value:
            if isinstance(container, MappingNode) and workloads.node_get(container, "restartPolicy") is not None:
                return True
    return False


def _asks_injector(template: Node, context: Context) -> bool:
    """Whether a pod template's labels or annotations carry a key a profile's injection request
    uses (its value is looked at on the model, by `request`)."""
    metadata = workloads.node_get(template, "metadata")
    if not isinstance(metadata, MappingNode):
        return False
    keys = context.request_keys
    for where in ("labels", "annotations"):
        found = workloads.node_get(metadata, where)
        if isinstance(found, MappingNode) and any(
            isinstance(key, ScalarNode) and (where, key.value) in keys for key, _ in found.value
        ):
            return True
    return False


def _not_a_workload(document: Document) -> list[Change]:
    """`inject` says which objects it left alone for having no pod template (kind and name known)."""
    kind = _scalar(workloads.node_get(document.root, "kind"))
    name = _scalar(workloads.node_path(document.root, ("metadata", "name")))
    namespace = _scalar(workloads.node_path(document.root, ("metadata", "namespace")))
    if not kind or workloads.is_list(kind):
        return []
    where = document.root.start_mark.line + 1
    return [Change(workloads.named(kind, name, namespace), "no pod template to inject into", "skipped", where)]


def _scalar(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def _patch(source: Source, document: Document, model: object, outcome: Records) -> tuple[Edit, Node] | None:
    """The one edit that rewrites this document's body, verified, and the rewritten document
    parsed; None if nothing changed."""
    root = document.root
    style = detect_style(root, source.text, source.newline, source.origin)
    patcher = Patcher(source.text, root, style, source.origin)
    start = root.start_mark.index - source.origin
    if patcher.on_own_line(start):
        start = patcher.line_start(start)
    try:
        patcher.diff(model, root)
        if not patcher.edits:
            return None
        end = patcher.after_last(root, root.start_mark.column)
        patched = apply(source.text, patcher.edits, start, end)
        root = _says(patched, model, source)
        if root is not None:
            return Edit(start, end, patched), root
    except CannotPatchError:
        pass
    return _reemit(source, document, model, outcome, style, start)


def _reemit(
    source: Source, document: Document, model: object, outcome: Records, style: Style, start: int
) -> tuple[Edit, Node] | None:
    """The fallback: the document re-emitted by ruamel.yaml, verified like a patch.

    Raises `InputError` at the document when neither a patch nor a re-emission says exactly what
    the model says: the source is bad input then, decided before anything is written.
    """
    from nativecar.fallback import reemit

    end = document.root.end_mark.index - source.origin
    body = source.text[start:end]
    mark = document.root.start_mark
    try:
        rewritten = reemit(body, mark.line, model, style)
    except Exception as error:  # noqa: BLE001 - ruamel raises many types; all mean "cannot re-emit"
        problem = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(
            source.path, mark.line + 1, mark.column + 1, f"this document cannot be rewritten exactly ({problem})"
        ) from None
    if rewritten == body:
        return None
    root = _says(rewritten, model, source)
    if root is None:
        raise InputError(
            source.path, mark.line + 1, mark.column + 1, "this document cannot be rewritten exactly (it did not verify)"
        )
    outcome.reemitted.append(document.number)
    return Edit(start, end, rewritten), root


def _says(text: str, model: object, source: Source) -> Node | None:
    """The root of `text` when it parses to exactly one document that says what `model` says."""
    try:
        documents = parse(Source(path=source.path, text=text, newline=source.newline), check=False)
    except InputError:
        return None
    if len(documents) == 1 and same(documents[0].root, model):
        return documents[0].root
    return None
