"""Strict schema validation (kubernetes-validate) for 1.29 and 1.33, wherever the input passed.

Also shows the other side of the version gate: the same converted pod fails 1.27's schema,
which is why nativecar refuses to convert for a target below 1.28.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.conftest import FIXTURES, corpus_files, migrate_text
from tests.test_rewrites import CONTEXT

VERSIONS = ("1.29.0", "1.33.0")
CASES = sorted(FIXTURES.glob("*/*.yaml")) + [
    path for path in corpus_files() if "linkerd-proxy" in path.read_text(encoding="utf-8", errors="replace")
]


def objects(text: str) -> Iterator[dict]:
    """Every object of a stream, with `List` items taken out of their lists."""
    for document in yaml.safe_load_all(text):
        if isinstance(document, dict) and str(document.get("kind", "")).endswith("List") and "items" in document:
            yield from document["items"]
        elif isinstance(document, dict) and "apiVersion" in document and "kind" in document:
            yield document


def problems(text: str, version: str) -> list[str]:
    found = []
    for item in objects(text):
        try:
            kubernetes_validate.validate(item, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            continue
        except kubernetes_validate.ValidationError as error:
            found.append(f"{item.get('kind')}/{item.get('metadata', {}).get('name')}: {error.message}")
    return found


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}-{p.stem}")
@pytest.mark.parametrize("version", VERSIONS)
def test_output_passes_strict_validation_where_the_input_did(path: Path, version: str) -> None:
    text = path.read_text(encoding="utf-8")
    if path.parent.name == "upstream" or problems(text, version):
        pytest.skip("the input itself does not validate")
    out = migrate_text(text, **CONTEXT.get(path.name, {}))
    assert problems(out, version) == []


def test_a_native_sidecar_is_invalid_for_1_27_which_is_why_it_is_refused() -> None:
    out = migrate_text((FIXTURES / "vendors" / "istio-job.yaml").read_text(encoding="utf-8"))
    assert any("restartPolicy" in problem for problem in problems(out, "1.27.0"))
    refused = migrate_text((FIXTURES / "vendors" / "istio-job.yaml").read_text(encoding="utf-8"), kube_version=(1, 27))
    assert problems(refused, "1.27.0") == []
