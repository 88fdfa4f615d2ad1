"""A tracking server's answer is bounded in memory (issue 15): a gzip bomb, as an
answer or as an HTTP 400, is decompressed chunk by chunk and cut at 64 MiB, never
inflated whole. The real `inv mlflow.migrate` runs under GNU time against an MLflow
stand-in (tests/hostile/sweep.py) sending 1 GiB of zeros; its peak resident memory
stays far below that. (Inflated whole, the bomb alone takes 1 GiB.)"""

from __future__ import annotations

import re

import pytest

from tests.hostile.sweep import MlflowStandIn, inv

BOMB_MIB = 1024
# Python, httpx and the task take under 100 MiB here; the cap adds at most 64 MiB.
PEAK_MIB = 400


@pytest.mark.parametrize(
    ("fault", "phrase"),
    [
        ("gzip-bomb", "more than 64 MiB of JSON once decompressed"),
        ("error-gzip-bomb", "with HTTP 400 and no MLflow error"),
    ],
)
def test_a_gzip_bomb_is_cut_off_not_inflated(fault: str, phrase: str) -> None:
    with (
        MlflowStandIn(["exp-a"]) as source,
        MlflowStandIn([], fault=fault, bomb_mib=BOMB_MIB) as target,
    ):
        result = inv(
            "mlflow.migrate",
            "--dry-run",
            "--source",
            source.url,
            "--target",
            target.url,
            wrapper=["/usr/bin/time", "-f", "peak-rss-kib=%M"],
        )
    shown = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 1, shown
    assert "Traceback" not in result.stderr, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and phrase in errors[0], shown
    found = re.search(r"peak-rss-kib=(\d+)", result.stderr)
    assert found, shown
    assert int(found.group(1)) < PEAK_MIB * 1024, shown


UPLOAD = """
import sys
from vpmigrate.migrate.rest import RequestCounter, RestClient, TrackingServer
client = RestClient(TrackingServer("target", sys.argv[1]), RequestCounter())
try:
    client.put_stream("/api/2.0/mlflow-artifacts/artifacts/1/model.pkl", iter([b"abc"]), 3)
except Exception as exc:
    print(type(exc).__name__, str(exc)[:300])
"""


def test_the_answer_to_an_artifact_upload_is_bounded_too() -> None:
    """The error page a server sends back for a PUT is read like any other answer."""
    import subprocess
    import sys

    with MlflowStandIn([], fault="error-gzip-bomb", bomb_mib=BOMB_MIB) as target:
        done = subprocess.run(
            ["/usr/bin/time", "-f", "peak-rss-kib=%M", sys.executable, "-c", UPLOAD, target.url],
            capture_output=True,
            text=True,
            timeout=300,
        )
    shown = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "HTTP 400" in done.stdout, shown
    found = re.search(r"peak-rss-kib=(\d+)", done.stderr)
    assert found, shown
    assert int(found.group(1)) < PEAK_MIB * 1024, shown
