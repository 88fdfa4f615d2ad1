"""Secrets in the core's messages: `migrate` masks them with the project's one masker
(vpmigrate.masking) before a `UserError` leaves it, whoever calls it (the task, the
bench). No MLflow needed: a closed port is enough to make it talk about the server."""

from __future__ import annotations

import socket

import pytest

from vpmigrate.errors import UserError
from vpmigrate.migrate.artifacts import S3Config
from vpmigrate.migrate.migration import Endpoint, Options, migrate
from vpmigrate.migrate.rest import TrackingServer


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_error_shows_no_password_token_or_s3_key() -> None:
    password, token = "pw-71c0-hunter", "tok-5e1d-99aa"
    key_id, key_secret = "AKIA-TEST-0c4f", "sk-test-3b9d-e2a1"
    port = closed_port()
    # A core caller may pass a URL with credentials in it (the task refuses those).
    source = TrackingServer(
        "source",
        f"http://alice:{password}@127.0.0.1:{port}",
        username="alice",
        password=password,
        # A hint that quotes what it should not: the masker still catches it.
        unreachable_hint=f"try token {token} or keys {key_id}/{key_secret}",
    )
    target = TrackingServer("target", f"http://127.0.0.1:{closed_port()}", token=token)
    s3 = S3Config("target", "http://127.0.0.1:9", "us-east-1", key_id, key_secret, "the test")
    with pytest.raises(UserError) as caught:
        migrate(Endpoint(source), Endpoint(target, s3), Options(workers=1))
    message = caught.value.message
    assert f"cannot reach the source MLflow at http://alice:***@127.0.0.1:{port}" in message
    for secret in (password, token, key_id, key_secret):
        assert secret not in message
