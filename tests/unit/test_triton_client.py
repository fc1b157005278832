"""``ting_common.triton_client``: how Triton's statuses become domain errors (no server needed: the client connects
lazily)."""

from __future__ import annotations

import pytest
from tritonclient.utils import InferenceServerException  # type: ignore[import-untyped, unused-ignore]

from ting_common.errors import DeadlineExceededError, FailedPreconditionError, InternalError
from ting_common.probe import free_port
from ting_common.runners import RunnerUnavailableError
from ting_common.triton_client import TritonModelClient


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        ("StatusCode.UNAVAILABLE", "boom", RunnerUnavailableError),
        ("StatusCode.DEADLINE_EXCEEDED", "boom", DeadlineExceededError),
        ("StatusCode.INTERNAL", "boom", InternalError),
        ("StatusCode.NOT_FOUND", "Request for unknown model", FailedPreconditionError),
        (None, "failed to connect to all addresses", RunnerUnavailableError),
    ],
)
def test_statuses_map_to_domain_errors(status: str | None, message: str, error: type[Exception]) -> None:
    client = TritonModelClient(f"127.0.0.1:{free_port()}", "separator", timeout_s=5, timeout_setting="X_TIMEOUT_S")
    try:
        mapped = client._error(InferenceServerException(msg=message, status=status))
        assert type(mapped) is error
        assert f"Triton at {client.url} (model separator)" in mapped.message
        if error is DeadlineExceededError:
            assert "X_TIMEOUT_S" in mapped.message
    finally:
        client.close()
        client.close()  # idempotent


def test_unreachable_server_is_unavailable_after_the_retries() -> None:
    import numpy as np

    client = TritonModelClient(f"127.0.0.1:{free_port()}", "whisper", timeout_s=5, retries=1)
    try:
        with pytest.raises(RunnerUnavailableError, match=r"unavailable after 2 attempt\(s\)"):
            client.infer({"AUDIO": np.zeros((1, 4), np.float32)}, ["RESULT"])
    finally:
        client.close()
