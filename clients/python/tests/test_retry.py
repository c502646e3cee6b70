"""The client's own logic (retries, backoff, headers, batching) with httpx.MockTransport.

These do not stand in for the server: every behaviour of the API is tested against the real
one in test_server.py. Here the transport scripts answers the server only gives under load.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time

import httpx
import pytest

from needle import (
    AsyncNeedle,
    AuthenticationError,
    InvalidRequestError,
    Job,
    JobFailedError,
    JobTimeoutError,
    Needle,
    NeedleConnectionError,
    RateLimitError,
    RetryPolicy,
    TrainAccepted,
    TrainStats,
    UnavailableError,
)
from needle._core import Batcher, parse_retry_after

STATS = {"entities": 3, "by_type": {"track": 3}, "searchable": 3}


def error(status: int, code: str, etype: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    body = {"code": code, "message": code, "type": etype, "link": f"https://needle.dev/docs/errors#{code}"}
    return httpx.Response(status, json=body, headers={**headers, "x-request-id": "rid-1"})


class Script:
    """A transport answering from a list, recording each request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(script, **kw) -> tuple[Needle, list[float]]:
    slept: list[float] = []
    c = Needle("http://needle.test", transport=httpx.MockTransport(script), sleep=slept.append,
               rng=random.Random(7), **kw)
    return c, slept


def test_429_honours_retry_after_seconds():
    script = Script(error(429, "rate_limited", "system", "2"), httpx.Response(200, json=STATS))
    c, slept = client(script)
    assert c.stats().entities == 3
    assert slept == [2.0] and len(script.requests) == 2


def test_503_backoff_is_exponential_with_jitter():
    script = Script(*[error(503, "unavailable", "system")] * 4, httpx.Response(200, json=STATS))
    policy = RetryPolicy(max_retries=4, backoff=0.5, multiplier=2.0, max_backoff=3.0)
    c, slept = client(script, retry=policy)
    c.stats()
    ceilings = [0.5, 1.0, 2.0, 3.0]  # capped by max_backoff
    assert len(slept) == 4
    for delay, ceiling in zip(slept, ceilings):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(slept)) == 4, "jittered"


def test_gives_up_after_max_retries_with_typed_error():
    script = Script(*[error(503, "unavailable", "system", "0")] * 3)
    c, slept = client(script, retry=RetryPolicy(max_retries=2))
    with pytest.raises(UnavailableError) as e:
        c.stats()
    assert (e.value.code, e.value.status, e.value.type, e.value.request_id) == ("unavailable", 503, "system", "rid-1")
    assert slept == [0.0, 0.0] and len(script.requests) == 3


def test_retry_after_http_date_and_too_long_waits():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(when) <= 30
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    script = Script(error(429, "rate_limited", "system", "3600"))
    c, slept = client(script, retry=RetryPolicy(max_retry_after=60))
    with pytest.raises(RateLimitError) as e:
        c.stats()
    assert e.value.retry_after == 3600 and slept == []


def test_4xx_is_not_retried_and_401_maps_to_authentication_error():
    script = Script(error(401, "unauthorized", "invalid_request"))
    c, slept = client(script)
    with pytest.raises(AuthenticationError):
        c.stats()
    assert slept == [] and len(script.requests) == 1


def test_timed_out_events_without_ids_are_not_repeated():
    event = {"user_id": "u", "type": "play", "item_id": "t", "ts": 1}
    script = Script(error(503, "request_timeout", "system"))
    c, slept = client(script)
    with pytest.raises(UnavailableError):
        c.send_events([event])
    assert len(script.requests) == 1, "might have been stored: not repeated"
    ok = httpx.Response(200, json={"accepted": 1, "duplicates": 0, "rejected": []})
    script = Script(error(503, "request_timeout", "system"), ok)
    c, _ = client(script)
    assert c.send_events([{**event, "event_id": "e1"}]).accepted == 1
    assert len(script.requests) == 2, "with an event_id the retry is deduplicated: repeated"


def test_connect_errors_are_retried_then_raised():
    boom = httpx.ConnectError("refused")
    script = Script(boom, httpx.Response(200, json=STATS))
    c, slept = client(script)
    assert c.stats().searchable == 3 and len(slept) == 1
    c, _ = client(Script(boom, boom), retry=RetryPolicy(max_retries=1))
    with pytest.raises(NeedleConnectionError):
        c.stats()


def test_headers_api_key_and_user_agent():
    script = Script(httpx.Response(200, json=STATS))
    c, _ = client(script, api_key="k-123")
    c.stats()
    req = script.requests[0]
    assert req.headers["authorization"] == "Bearer k-123"
    assert req.headers["user-agent"].startswith("needle-client-python/")
    c2, _ = client(Script(httpx.Response(200, json=STATS)))
    c2.stats()


def test_ids_are_percent_encoded():
    entity = {"id": "a/b c", "type": "artist", "name": "x"}
    script = Script(httpx.Response(200, json=entity))
    c, _ = client(script)
    assert c.get_entity("a/b c").id == "a/b c"
    assert script.requests[0].url.raw_path == b"/v1/catalog/a%2Fb%20c"


def test_unknown_response_fields_are_ignored():
    script = Script(httpx.Response(200, json={**STATS, "added_in_a_later_version": 1}))
    c, _ = client(script)
    assert c.stats().entities == 3


def test_batcher_respects_count_and_bytes():
    b = Batcher(batch_size=3, max_bytes=25)
    out = []
    for i, line in enumerate(["a" * 10, "b" * 10, "c" * 10, "d", "e", "f"]):
        out += b.add(i, line)
    out += b.flush()
    assert [idx for _, idx in out] == [[0, 1], [2, 3, 4], [5]]
    assert out[0][0] == b"a" * 10 + b"\n" + b"b" * 10 + b"\n"


def test_upload_sends_ndjson_batches_with_event_ids():
    bodies: list[list[dict]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/x-ndjson"
        rows = [json.loads(x) for x in request.content.decode().splitlines()]
        bodies.append(rows)
        return httpx.Response(200, json={"accepted": len(rows), "duplicates": 0, "rejected": []})

    c, _ = client(answer)
    events = ({"user_id": "u", "type": "play", "item_id": f"t{i}", "ts": i} for i in range(5))
    summary = c.upload_events(events, batch_size=2)
    assert summary.accepted == 5 and [len(b) for b in bodies] == [2, 2, 1]
    ids = [row["event_id"] for b in bodies for row in b]
    assert len(set(ids)) == 5


def test_async_client_retries_too():
    script = Script(error(429, "rate_limited", "system", "1"), httpx.Response(200, json=STATS))
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    async def main():
        async with AsyncNeedle("http://needle.test", transport=httpx.MockTransport(script), sleep=sleep) as c:
            return await c.stats()

    assert asyncio.run(main()).entities == 3 and slept == [1.0]


def test_failed_batch_raises_with_the_summary_so_far():
    ok = httpx.Response(200, json={"accepted": 2, "rejected": []})
    script = Script(ok, error(413, "batch_too_large", "invalid_request"))
    c, _ = client(script)
    records = ({"id": f"ar:{i}", "type": "artist", "name": str(i)} for i in range(4))
    with pytest.raises(InvalidRequestError) as e:
        c.upload_catalog(records, batch_size=2)
    assert e.value.code == "batch_too_large"
    assert (e.value.summary.batches, e.value.summary.accepted) == (1, 2)


def job_answer(status: str, progress: float = 0.0, **extra) -> httpx.Response:
    return httpx.Response(200, json={"job_id": "train-7", "kind": "train", "status": status,
                                     "progress": progress, "queued_at_ms": 1, **extra})


def test_wait_for_job_polls_with_the_clients_sleep_until_done():
    done = job_answer("done", 1.0, model_version=3, stats={"listeners": 2, "train_ms": 5})
    script = Script(job_answer("queued"), job_answer("running", 0.5), done)
    c, slept = client(script)
    job = c.wait_for_job("train-7", timeout=60, interval=0.25)
    assert isinstance(job, Job) and job.status == "done" and job.model_version == 3
    assert isinstance(job.stats, TrainStats) and job.stats.listeners == 2
    assert slept == [0.25, 0.25]
    assert [r.url.path for r in script.requests] == ["/v1/admin/jobs/train-7"] * 3


def test_wait_for_job_raises_on_failure_with_the_job():
    script = Script(job_answer("running", 0.2), job_answer("failed", error="no listening events to train on"))
    c, _ = client(script)
    with pytest.raises(JobFailedError) as e:
        c.wait_for_job(TrainAccepted(job_id="train-7", status="queued"), interval=0.01)
    assert e.value.job.error == "no listening events to train on"
    assert "train-7 failed: no listening events" in str(e.value) and e.value.code == "job_failed"


def test_wait_for_job_times_out_without_sleeping_past_the_deadline():
    script = Script(job_answer("running", 0.4))
    c, slept = client(script)
    with pytest.raises(JobTimeoutError) as e:
        c.wait_for_job("train-7", timeout=0)
    assert isinstance(e.value, TimeoutError) and e.value.job.progress == pytest.approx(0.4)
    assert "still running (40%) after 0 s" in str(e.value)
    assert slept == []


def test_async_wait_for_job():
    script = Script(job_answer("running", 0.5), job_answer("done", 1.0, model_version=1))
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    async def main():
        async with AsyncNeedle("http://needle.test", transport=httpx.MockTransport(script), sleep=sleep) as c:
            return await c.wait_for_job("train-7", timeout=60, interval=0.5)

    assert asyncio.run(main()).model_version == 1 and slept == [0.5]
