"""`nativecar explain`: the timeline of each workload before and after the conversion.

What a user reads: whether a Job completes and why, in words; a picture that names every
container; JSON that tools can read; and the contract of every command (stdout only on success,
exit code 2 and nothing on stdout for bad input).
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from nativecar import engine, explain
from nativecar.documents import decode
from nativecar.rewrites import Context
from tests import oracle
from tests.conftest import FIXTURES, ROOT

EXECUTABLE = Path(sys.executable).with_name("nativecar")


def _explained(path: Path, **context: object) -> list[engine.Explanation]:
    return engine.explain(decode(path.read_bytes(), str(path)), Context(**context))


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(EXECUTABLE), "explain", *args], capture_output=True, cwd=ROOT, timeout=120)


def test_a_legacy_job_without_a_workaround_never_completes_before_and_completes_after() -> None:
    [item] = _explained(ROOT / "examples" / "report-job.yaml")
    assert explain.complete_words(item.before) == "never completes: cloud-sql-proxy keeps running after report exits"
    assert item.after is not None
    assert explain.complete_words(item.after).startswith("completes when report exits")
    shown = _run("examples/report-job.yaml").stdout.decode()
    assert "never completes: cloud-sql-proxy keeps running after report exits" in shown
    assert "completes when report exits; the kubelet then stops cloud-sql-proxy" in shown


def test_the_quitquitquit_call_is_what_makes_the_example_job_complete_today() -> None:
    [item] = _explained(ROOT / "examples" / "job.yaml")
    words = explain.complete_words(item.before)
    assert words.startswith("completes when migrate exits")
    assert "migrate stops cloud-sql-proxy itself" in words and "localhost:9091/quitquitquit" in words


def test_the_start_sequence_says_what_waits_for_what() -> None:
    [item] = _explained(FIXTURES / "lifecycle" / "init-dials-proxy.yaml")
    before = "\n".join(explain.start_words(item.before))
    assert "migrate dials" in before and "cannot connect" in before
    after = explain.start_words(item.after)
    assert [line.split(" ")[1] for line in after] == ["wait-for-config", "cloud-sql-proxy", "migrate", "orders"]
    assert "waits until its startupProbe GET :9801/startup passes" in after[1]


def test_the_stop_words_give_the_grace_period_shares() -> None:
    [item] = _explained(ROOT / "examples" / "job.yaml")
    assert (
        explain.stop_words(item.before)[0]
        == "migrate and cloud-sql-proxy get SIGTERM together, each with the whole 30 s"
    )
    after = explain.stop_words(item.after)
    assert after[0] == "migrate gets SIGTERM and may use the whole 35 s"
    assert after[1] == (
        "then cloud-sql-proxy gets SIGTERM with what is left (it needs 5 s, so migrate should be done within 30 s)"
    )


def test_the_svg_is_a_picture_that_names_every_container() -> None:
    result = _run("--format", "svg", "examples/report-job.yaml", "tests/fixtures/lifecycle/two-proxies.yaml")
    assert result.returncode == 0
    root = ElementTree.fromstring(result.stdout)
    assert root.tag.endswith("svg")
    shown = " ".join("".join(node.itertext()) for node in root.iter() if node.tag.endswith("text")).replace("\xa0", " ")
    names = set()
    for path in ("examples/report-job.yaml", "tests/fixtures/lifecycle/two-proxies.yaml"):
        for _, _, spec in oracle.pods((ROOT / path).read_text(encoding="utf-8")):
            names |= {c["name"] for c in spec.get("containers", []) + spec.get("initContainers", [])}
    assert names == {"report", "cloud-sql-proxy", "billing", "orders-db", "ledger-db"}
    for name in names:
        assert name in shown


def test_json_has_both_timelines() -> None:
    result = _run("--format", "json", "examples/report-job.yaml")
    [record] = json.loads(result.stdout)["workloads"]
    assert record["workload"] == "job/nightly-report"
    assert record["before"]["completes"] == "never" and record["after"]["completes"] == "completes"
    assert record["after"]["stop"] == {
        "grace": 35,
        "appSeconds": 30,
        "sidecarSeconds": 5,
        "sidecarOrder": ["cloud-sql-proxy"],
        "earlyStops": [],
    }
    events = [(event["container"], event["event"]) for event in record["after"]["timeline"]]
    assert events.index(("cloud-sql-proxy", "Gate")) < events.index(("report", "Starting"))


def test_a_pod_the_model_protects_is_explained_with_the_reason() -> None:
    result = _run("--sidecar", "metrics-agent", "tests/fixtures/lifecycle/unchanged-probe-on-app-port.yaml")
    shown = " ".join(result.stdout.decode().split())  # words wrapped to the width
    assert "migrate leaves it as it is" in shown and "only storefront listens on :8080" in shown


def test_explain_with_a_profile_explains_the_injection() -> None:
    result = _run("-p", "cloud-sql-proxy", "--set", "instance=p:r:i", "examples/walkthrough-job.yaml")
    shown = result.stdout.decode()
    assert result.returncode == 0 and "after inject -p cloud-sql-proxy" in shown
    assert "cloud-sql-proxy (sidecar) starts" in shown


def test_bad_input_is_one_line_exit_2_and_nothing_on_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\nmetadata: {name: x\n", encoding="utf-8")
    result = _run(str(bad))
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.decode().startswith(f"{bad}:") and b"Traceback" not in result.stderr
    usage = _run("--format", "html", "examples/job.yaml")
    assert usage.returncode == 2 and usage.stdout == b"" and b"--format must be text, json or svg" in usage.stderr
    alone = _run("--set", "x=y", "examples/job.yaml")
    assert alone.returncode == 2 and b"go with -p/--profile" in alone.stderr


def test_a_regular_containers_post_start_hook_holds_the_next_one() -> None:
    """Istio's holdApplicationUntilProxyStarts: the proxy first in `containers` with a postStart."""
    [item] = _explained(FIXTURES / "vendors" / "istio-pod-hold.yaml")
    lines = explain.start_words(item.before)
    hold = next(line for line in lines if "postStart" in line)
    assert hold.split(". ", 1)[1].startswith("istio-proxy starts")
    assert "the next one waits until istio-proxy's postStart hook returns" in hold
    assert lines[lines.index(hold) + 1].split(". ", 1)[1].startswith("hello and world start together")
    assert not any("nothing makes" in line for line in lines)


def test_a_stop_request_after_and_and_is_only_as_good_as_what_comes_before_it() -> None:
    [item] = _explained(ROOT / "examples" / "job.yaml")
    words = explain.complete_words(item.before)
    assert "only when the commands before that call succeed" in words and "never completes" in words
