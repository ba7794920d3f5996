"""The pure core: one source's text in, its rewritten text and change records out.

No files, no printing. For each document: find its pod specs on the node tree; build the
editable model only when a pod holds something a rewrite acts on; run the rewrites in
`rewrites.ORDER`; turn the model's differences into text edits (`edits.Patcher`); re-parse the
patched document and check it says exactly what the model says; if it does not (or the patch
could not be made) re-emit that one document with ruamel.yaml (`fallback`) and say so.
Documents nothing happened to are never touched, so they come out byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar import workloads
from nativecar.changes import Change
from nativecar.documents import Document, InputError, Source, documents, is_merge_key, parse
from nativecar.edits import CannotPatchError, Edit, Patcher, apply
from nativecar.model import build, same
from nativecar.render import Style, detect_style
from nativecar.rewrites import ORDER, Context


@dataclass
class Outcome:
    """What became of one source: its new text, the records, and the documents re-emitted."""

    source: Source
    text: str
    changes: list[Change] = field(default_factory=list)
    reemitted: list[int] = field(default_factory=list)  # document numbers, from 0
    failed: list[str] = field(default_factory=list)  # messages for documents left unchanged

    @property
    def changed(self) -> bool:
        return self.text != self.source.text


def process(source: Source, context: Context) -> Outcome:
    """Run the rewrites over every document of `source` (raises `InputError` on bad input)."""
    outcome = Outcome(source=source, text=source.text)
    edits: list[Edit] = []
    for document in documents(source):
        specs = list(workloads.pod_spec_nodes(document.root))
        if not specs and context.injection is not None:
            outcome.changes.extend(_not_a_workload(document))
        if not any(wanted(spec, context) for spec in specs):
            continue
        model = build(document.root)
        changes: list[Change] = []
        for pod in workloads.pods(model):
            for rewrite in ORDER:
                changes.extend(rewrite(pod, context))
        outcome.changes.extend(changes)
        edit = _patch(source, document, model, outcome)
        if edit is not None:
            edits.append(edit)
    if edits:
        outcome.text = apply(source.text, edits)
    return outcome


def wanted(spec: Node, context: Context) -> bool:
    """Whether a pod spec node holds anything a rewrite acts on: a sidecar, legacy or native,
    or, for `inject`, any pod at all."""
    if context.injection is not None:
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


def _not_a_workload(document: Document) -> list[Change]:
    """`inject` says which objects it left alone for having no pod template (kind and name known)."""
    kind = _scalar(workloads.node_get(document.root, "kind"))
    name = _scalar(workloads.node_path(document.root, ("metadata", "name")))
    if not kind or workloads.is_list(kind):
        return []
    where = document.root.start_mark.line + 1
    return [Change(f"{kind.lower()}/{name or '<unnamed>'}", "no pod template to inject into", "skipped", where)]


def _scalar(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def _patch(source: Source, document: Document, model: object, outcome: Outcome) -> Edit | None:
    """The one edit that rewrites this document's body, verified; None if nothing changed."""
    root = document.root
    style = detect_style(root, source.text, source.newline)
    patcher = Patcher(source.text, root, style)
    start = root.start_mark.index
    if patcher.on_own_line(start):
        start = patcher.line_start(start)
    try:
        patcher.diff(model, root)
        if not patcher.edits:
            return None
        end = patcher.line_end(patcher.content_end(root))
        patched = apply(source.text, patcher.edits, start, end)
        if _says(patched, model, source):
            return Edit(start, end, patched)
    except CannotPatchError:
        pass
    return _reemit(source, document, model, outcome, style, start)


def _reemit(
    source: Source, document: Document, model: object, outcome: Outcome, style: Style, start: int
) -> Edit | None:
    """The fallback: the document re-emitted by ruamel.yaml, verified like a patch."""
    from nativecar.fallback import reemit

    end = document.root.end_mark.index
    body = source.text[start:end]
    try:
        rewritten = reemit(body, document.root.start_mark.line, model, style)
    except Exception as error:  # noqa: BLE001 - ruamel raises many types; the document stays as it was
        outcome.failed.append(f"document {document.number + 1}: could not be re-emitted ({error})")
        return None
    if rewritten == body:
        return None
    if not _says(rewritten, model, source):
        outcome.failed.append(f"document {document.number + 1}: the rewritten text did not verify")
        return None
    outcome.reemitted.append(document.number)
    return Edit(start, end, rewritten)


def _says(text: str, model: object, source: Source) -> bool:
    """Whether `text` parses to exactly one document that says what `model` says."""
    try:
        documents = parse(Source(path=source.path, text=text, newline=source.newline), check=False)
    except InputError:
        return False
    return len(documents) == 1 and same(documents[0].root, model)
