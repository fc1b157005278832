"""The gateway's REST API over real services on loopback: uploads, jobs with Server-Sent Events, downloads,
signed links, share links, synchronous processing, health, and the errors a client can provoke."""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import SAMPLES
from tests.integration.gateway_stack import Services, gateway_settings, running_gateway
from ting_common.probe import free_port

pytestmark = pytest.mark.integration

SPANISH = (SAMPLES / "es_weather.wav").read_bytes()
SECRET = "rest-test-link-secret-0123456789"  # links need at least 16 bytes


def head_of_wav(data: bytes, seconds: float) -> bytes:
    """The first ``seconds`` of a WAV file, as a WAV file."""
    with wave.open(io.BytesIO(data)) as src:
        params = src.getparams()
        frames = src.readframes(int(params.framerate * seconds))
    out = io.BytesIO()
    with wave.open(out, "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames)
    return out.getvalue()


SHORT = head_of_wav(SPANISH, 6.0)


@pytest.fixture(scope="module")
async def gateway(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    settings = gateway_settings(services, tmp_path_factory.mktemp("gw-rest"), link_secret=SECRET, max_sync_audio_s=60)
    async with running_gateway(settings) as app:
        yield app


@pytest.fixture(scope="module")
async def client(gateway: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}", timeout=180) as http:
        yield http


@pytest.fixture(scope="module")
async def strict(services: Services, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with API keys, a 0.2 MiB upload limit, one request at a time per key, and a separation
    service address where nothing listens."""
    settings = gateway_settings(
        services,
        tmp_path_factory.mktemp("gw-strict"),
        link_secret=SECRET,
        api_keys="k1,k2",
        max_upload_mb=0.2,
        max_concurrent_per_key=1,
        separate_address=f"127.0.0.1:{free_port()}",
        workers=0,
    )
    async with (
        running_gateway(settings) as app,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}", timeout=180) as http,
    ):
        yield http


async def sse_events(client: httpx.AsyncClient, url: str, **kwargs: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every (event, data) of a Server-Sent Events stream, until the server ends it."""
    events: list[tuple[str, dict[str, Any]]] = []
    async with client.stream("GET", url, **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        name = "message"
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.removeprefix("data:").strip())))
                name = "message"
    return events


def assert_error(response: httpx.Response, status: int, code: str, words: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert words in body["error"]["message"], body
    assert "Traceback" not in response.text


# -- health ----------------------------------------------------------------------------------------------------


async def test_healthz_reports_every_service_serving(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "services": {s: "SERVING" for s in ("asr", "translation", "summarization", "separation")},
    }
    assert (await client.get("/livez")).json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_healthz_is_503_when_a_service_is_down(strict: httpx.AsyncClient) -> None:
    response = await strict.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["not_serving"] == ["separation"]
    assert body["services"]["asr"] == "SERVING" and body["services"]["separation"] != "SERVING"
    assert (await strict.get("/livez")).status_code == 200


async def test_openapi_lists_the_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/v1/jobs", "/v1/jobs/{job_id}/events", "/v1/uploads", "/v1/process", "/v1/audio/transcriptions"):
        assert path in paths
    assert "multipart/form-data" in paths["/v1/jobs"]["post"]["requestBody"]["content"]
    assert (await client.get("/docs")).status_code == 200


# -- jobs ------------------------------------------------------------------------------------------------------


async def test_job_round_trip_with_events_downloads_and_share_link(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/jobs",
        files={"file": ("es_weather.wav", SPANISH, "audio/wav")},
        data={"translate": "en", "summarize": "true", "labels": '{"suite": "rest"}', "display_name": "weather"},
    )
    assert created.status_code == 201, created.text
    job = created.json()
    job_id = job["id"]
    assert job["state"] == "JOB_STATE_QUEUED" and job["displayName"] == "weather" and job["labels"] == {"suite": "rest"}
    assert job["inputUri"].endswith(f"jobs/{job_id}/input")

    events = await sse_events(client, f"/v1/jobs/{job_id}/events")
    assert all(name == "job" for name, _ in events)
    progress = [data.get("progress", 0.0) for _, data in events]
    assert progress == sorted(progress), progress
    last = events[-1][1]
    assert last["state"] == "JOB_STATE_SUCCEEDED", last
    assert last["job"]["result"]["transcript"]["languageCode"] == "es"
    assert len(events) >= 2 and events[0][1]["state"] in ("JOB_STATE_QUEUED", "JOB_STATE_RUNNING")

    job = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert job["state"] == "JOB_STATE_SUCCEEDED" and job["progress"] == 1
    result = job["result"]
    assert result["translations"][0]["languageCode"] == "en" and result["translations"][0]["text"]
    assert result["summary"]
    artifacts = {a["filename"]: a for a in result["artifacts"]}
    assert {"transcript.srt", "transcript.vtt", "transcript.txt", "transcript.json"} <= set(artifacts)
    assert {"translation.en.srt", "translation.en.vtt", "summary.txt", "summary.json"} <= set(artifacts)
    for name, artifact in artifacts.items():
        download = await client.get(f"/v1/jobs/{job_id}/artifacts/{name}")
        assert download.status_code == 200, download.text
        assert download.headers["content-type"].split(";")[0] == artifact["contentType"].split(";")[0]
        assert f'filename="{name}"' in download.headers["content-disposition"]
        assert download.content and len(download.content) == int(artifact["sizeBytes"])
        signed = await client.get(artifact["url"])  # the signed link: no key, same bytes
        assert signed.status_code == 200 and signed.content == download.content
    srt = (await client.get(f"/v1/jobs/{job_id}/artifacts/transcript.srt")).text
    assert "-->" in srt and srt.lstrip().startswith("1")
    assert (await client.get(f"/v1/jobs/{job_id}/artifacts/translation.en.vtt")).text.startswith("WEBVTT")
    summary = json.loads((await client.get(f"/v1/jobs/{job_id}/artifacts/summary.json")).content)
    assert summary.get("overview") or summary.get("keyPoints")

    # A signed file link with a changed signature or key opens nothing.
    url = urlsplit(artifacts["transcript.srt"]["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    bad_sig = await client.get(f"{url.path}?{urlencode({**query, 'sig': query['sig'][:-2] + 'xx'})}")
    assert_error(bad_sig, 403, "PERMISSION_DENIED", "bad signature")
    other_key = await client.get(f"{url.path.replace('transcript.srt', 'transcript.txt')}?{url.query}")
    assert other_key.status_code == 403

    # Listing with filters finds it.
    listed = (await client.get("/v1/jobs", params={"state": "SUCCEEDED", "label": "suite=rest"})).json()
    assert job_id in [j["id"] for j in listed["jobs"]] and "result" not in listed["jobs"][0]
    assert (await client.get("/v1/jobs", params={"label": "suite=other"})).json().get("jobs", []) == []

    # The share link opens the page and the job's data without a key; tampered or expired links do not.
    share = (await client.get(f"/v1/jobs/{job_id}/share")).json()
    assert share["url"].startswith(str(client.base_url)) and "/s/" + job_id in share["url"]
    assert share["expire_time"].endswith("Z")
    page = await client.get(share["url"])
    assert page.status_code == 200 and "<html" in page.text.lower()
    shared = await client.get(f"/v1/shared/{job_id}", params=share["query"])
    assert shared.status_code == 200, shared.text
    shared_job = shared.json()
    assert shared_job["result"]["transcript"]["segments"] and "inputUri" not in shared_job
    assert all("uri" not in a and a["url"] for a in shared_job["result"]["artifacts"])
    tampered = {**share["query"], "expires": str(int(share["query"]["expires"]) + 1)}
    assert_error(await client.get(f"/v1/shared/{job_id}", params=tampered), 403, "PERMISSION_DENIED")
    assert (await client.get(f"/s/{job_id}", params=tampered)).status_code == 403
    from ting_gateway.storage.links import link_query

    expired = link_query(f"share/{job_id}", 60, SECRET.encode(), now=time.time() - 3600)
    assert_error(await client.get(f"/v1/shared/{job_id}", params=expired), 403, "PERMISSION_DENIED", "expired")
    assert_error(await client.get(f"/v1/shared/{job_id}"), 403, "PERMISSION_DENIED")
    # The share query also opens the event stream (what the page's EventSource uses when keys are on).
    replay = await sse_events(client, f"/v1/jobs/{job_id}/events", params=share["query"])
    assert len(replay) == 1 and replay[0][1]["state"] == "JOB_STATE_SUCCEEDED"


async def test_upload_then_create_a_job_by_uri(client: httpx.AsyncClient) -> None:
    uploaded = await client.post("/v1/uploads", files={"file": ("../My talk (1).wav", SHORT, "audio/x-wav")})
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert body["uri"].endswith("/My_talk_1_.wav") and "/uploads/" in body["uri"]
    assert body["size_bytes"] == len(SHORT) and body["content_type"] == "audio/x-wav"
    request = {
        "audio": {"uri": body["uri"]},
        "config": {
            "recognition": {"languageCode": "es"},
            "output": {"formats": ["TRANSCRIPT_FORMAT_TXT", "TRANSCRIPT_FORMAT_SRT"]},
        },
        "displayName": "by uri",
        "labels": {"suite": "uri"},
    }
    created = await client.post("/v1/jobs", json=request)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["inputUri"] == body["uri"] and job["displayName"] == "by uri"
    last = (await sse_events(client, f"/v1/jobs/{job['id']}/events"))[-1][1]
    assert last["state"] == "JOB_STATE_SUCCEEDED", last
    names = sorted(a["filename"] for a in last["job"]["result"]["artifacts"])
    assert names == ["transcript.srt", "transcript.txt"]
    text = (await client.get(f"/v1/jobs/{job['id']}/artifacts/transcript.txt")).text
    assert text.strip() and text.split()[0] in last["job"]["result"]["transcript"]["text"]


async def test_cancel_a_job(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/jobs", files={"file": ("a.wav", SPANISH, "audio/wav")}, data={"summarize": "1"})
    job_id = created.json()["id"]
    cancelled = await client.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] in ("JOB_STATE_CANCELLED", "JOB_STATE_CANCELLING")
    last = (await sse_events(client, f"/v1/jobs/{job_id}/events"))[-1][1]
    assert last["state"] in (
        "JOB_STATE_CANCELLED",
        "JOB_STATE_SUCCEEDED",
    )  # a worker may have finished the short file first


async def test_process_returns_artifacts_as_text(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/process",
        files={"file": ("short.wav", SHORT, "audio/wav")},
        data={"language": "es", "formats": "srt,json"},
        headers={"X-Request-Id": "rest-proc-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "JOB_STATE_SUCCEEDED" and body["requestId"] == "rest-proc-1"
    assert response.headers["x-request-id"] == "rest-proc-1"
    assert body["result"]["transcript"]["languageCode"] == "es"
    artifacts = {a["filename"]: a for a in body["result"]["artifacts"]}
    assert set(artifacts) == {"transcript.srt", "transcript.json"}
    assert all("content" not in a for a in artifacts.values())
    assert "-->" in artifacts["transcript.srt"]["text"]
    assert json.loads(artifacts["transcript.json"]["text"])["languageCode"] == "es"


# -- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/uploads", "/v1/process"])
@pytest.mark.parametrize(
    ("name", "content_type"),
    [("notes.txt", "text/plain"), ("photo.png", "image/png"), ("notes.txt", "application/octet-stream")],
)
async def test_a_file_that_is_not_media_is_415(
    client: httpx.AsyncClient, path: str, name: str, content_type: str
) -> None:
    response = await client.post(path, files={"file": (name, b"hello, not audio", content_type)})
    assert_error(response, 415, "INVALID_ARGUMENT", "not audio or video")


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/uploads", "/v1/process"])
async def test_an_empty_file_is_400(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, files={"file": ("empty.wav", b"", "audio/wav")})
    assert_error(response, 400, "INVALID_ARGUMENT", "empty")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"language": "english!"}, "not a language code"),
        ({"translate": "de,xx_bad"}, "not a language code"),
        ({"formats": "srt,docx"}, "not a format"),
        ({"config": "{not json"}, "config"),
        ({"config": '{"recognition": {"nope": 1}}'}, "config"),
        ({"labels": "[1, 2]"}, "labels"),
        ({"labels": '{"Bad Key": "x"}'}, "label key"),
        ({"summarize": "maybe"}, "summarize"),
        ({"callback_url": "ftp://example.com/x"}, "callback_url"),
    ],
)
async def test_bad_fields_are_400(client: httpx.AsyncClient, data: dict[str, str], words: str) -> None:
    response = await client.post("/v1/jobs", files={"file": ("a.wav", SHORT, "audio/wav")}, data=data)
    assert_error(response, 400, "INVALID_ARGUMENT", words)


async def test_bad_requests_without_a_file_are_400(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/v1/jobs", data={"language": "es"}), 400, "INVALID_ARGUMENT", "file")
    assert_error(await client.post("/v1/process", data={"language": "es"}), 400, "INVALID_ARGUMENT", "file")
    bad_json = await client.post("/v1/jobs", content=b"{oops", headers={"content-type": "application/json"})
    assert_error(bad_json, 400, "INVALID_ARGUMENT", "JSON")
    assert_error(await client.post("/v1/jobs", json={"config": {}}), 400, "INVALID_ARGUMENT", "audio.uri")
    outside = await client.post("/v1/jobs", json={"audio": {"uri": "file:///etc/passwd"}})
    assert_error(outside, 403, "PERMISSION_DENIED")
    assert_error(await client.get("/v1/jobs", params={"state": "DONE"}), 400, "INVALID_ARGUMENT", "SUCCEEDED")
    assert_error(await client.get("/v1/jobs", params={"page_size": "x"}), 400, "INVALID_ARGUMENT", "page_size")


async def test_unknown_jobs_and_files_are_404(client: httpx.AsyncClient) -> None:
    for path in ("/v1/jobs/nope", "/v1/jobs/nope/events", "/v1/jobs/nope/share", "/v1/jobs/nope/artifacts/x.srt"):
        assert_error(await client.get(path), 404, "NOT_FOUND", "nope")
    assert_error(await client.post("/v1/jobs/nope/cancel"), 404, "NOT_FOUND")
    from ting_gateway.storage.links import link_query

    query = link_query("jobs/missing/transcript.srt", 60, SECRET.encode())
    assert_error(await client.get("/v1/files/jobs/missing/transcript.srt", params=query), 404, "NOT_FOUND")
    assert_error(await client.get("/v1/no-such-route"), 404, "NOT_FOUND")


async def test_keys_are_required_when_configured(strict: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "k1"}):
        response = await strict.get("/v1/jobs", headers=headers)
        assert_error(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"].startswith("Bearer")
        upload = await strict.post("/v1/uploads", files={"file": ("a.wav", SHORT, "audio/wav")}, headers=headers)
        assert_error(upload, 401, "UNAUTHENTICATED")
    assert (await strict.get("/v1/jobs", headers={"Authorization": "Bearer k2"})).status_code == 200
    assert (await strict.get("/healthz")).status_code == 503  # health needs no key


async def test_oversize_uploads_are_413(strict: httpx.AsyncClient) -> None:
    key = {"Authorization": "Bearer k1"}
    for path in ("/v1/uploads", "/v1/jobs", "/v1/process"):
        response = await strict.post(path, files={"file": ("big.wav", SPANISH, "audio/wav")}, headers=key)
        assert_error(response, 413, "RESOURCE_EXHAUSTED", "MiB")


async def test_too_many_concurrent_requests_are_429(strict: httpx.AsyncClient) -> None:
    key = {"Authorization": "Bearer k1"}

    async def process(delay: float) -> httpx.Response:
        await asyncio.sleep(delay)
        return await strict.post(
            "/v1/process", files={"file": ("s.wav", SHORT, "audio/wav")}, data={"formats": ""}, headers=key
        )

    first, second = await asyncio.gather(process(0.0), process(0.3))
    assert first.status_code == 200, first.text
    assert_error(second, 429, "RESOURCE_EXHAUSTED", "too many requests")
    # The slot is free again once the first request is done.
    other = await strict.post(
        "/v1/process",
        files={"file": ("s.wav", SHORT, "audio/wav")},
        data={"formats": ""},
        headers={"Authorization": "Bearer k1"},
    )
    assert other.status_code == 200, other.text
