"""The asynchronous client: the same methods as :class:`needle.Needle`, awaited."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, AsyncIterable, Awaitable, Callable, Iterable, Optional, Sequence, TypeVar, Union

import httpx

from . import _api, _core
from .client import CONNECT_ERRORS
from .errors import NeedleConnectionError, NeedleError, from_response
from .models import (
    CatalogStats,
    DeleteResponse,
    Entity,
    EntityType,
    EventReport,
    EventType,
    HealthStatus,
    History,
    Job,
    ModelInfo,
    Profile,
    QualityReport,
    Recommendations,
    SearchRequest,
    SearchResponse,
    SearchesReport,
    ItemReport,
    SuggestResponse,
    Rules,
    Synonyms,
    SessionInfo,
    Token,
    TrainAccepted,
    UploadSummary,
    UserDeleted,
    WriteReport,
)

T = TypeVar("T")
AsyncSource = Union[_core.Source, AsyncIterable[Any]]


class AsyncNeedle:
    """Asynchronous Needle client (``httpx.AsyncClient``); see :class:`needle.Needle`.

    >>> async with AsyncNeedle("http://127.0.0.1:7700") as needle:
    ...     res = await needle.search("helo adel")
    """

    def __init__(
        self,
        base_url: str = _core.DEFAULT_BASE_URL,
        *,
        api_key: Optional[str] = None,
        timeout: float = 30.0,
        retry: _core.RetryPolicy = _core.RetryPolicy(),
        headers: Optional[dict[str, str]] = None,
        transport: Optional[httpx.AsyncBaseTransport] = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Optional[random.Random] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=_core.headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncNeedle":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def _run(self, call: _api.Call[T]) -> T:
        attempt = 0
        hdrs = {"content-type": call.content_type} if call.content_type else None
        while True:
            try:
                resp = await self._http.request(
                    call.method, call.path, params=call.params, content=call.content, headers=hdrs
                )
            except httpx.TransportError as e:
                sent = not isinstance(e, CONNECT_ERRORS)
                if attempt < self.retry.max_retries and (call.idempotent or not sent):
                    await self._sleep(self.retry.delay(attempt, None, self._rng))
                    attempt += 1
                    continue
                raise NeedleConnectionError(f"{call.method} {call.path}: {e!r}") from e
            status = resp.status_code
            if status < 400 or status in call.ok_statuses:
                return call.parse(resp)
            retry_after = _core.parse_retry_after(resp.headers.get("retry-after"))
            code = _core.error_code(resp.content)
            if _core.should_retry(self.retry, attempt, status, code, retry_after, call.idempotent):
                await self._sleep(self.retry.delay(attempt, retry_after, self._rng))
                attempt += 1
                continue
            raise from_response(status, resp.content, resp.headers, retry_after)

    # catalog
    async def write(self, records: Iterable[Any]) -> WriteReport:
        return await self._run(_api.write(records))

    async def get_entity(self, entity_id: str) -> Entity:
        return await self._run(_api.get_entity(entity_id))

    async def delete_entity(self, entity_id: str) -> DeleteResponse:
        return await self._run(_api.delete_entity(entity_id))

    async def stats(self) -> CatalogStats:
        return await self._run(_api.stats())

    async def upload_catalog(
        self,
        source: AsyncSource,
        *,
        batch_size: int = 5000,
        max_batch_bytes: int = 16 << 20,
        progress: Optional[_core.ProgressFn] = None,
    ) -> UploadSummary:
        """As :meth:`Needle.upload_catalog`; ``source`` may also be an async iterable."""
        return await self._upload(source, batch_size, max_batch_bytes, progress, None)

    # search
    async def search(
        self,
        q: "str | SearchRequest" = "",
        *,
        types: Optional[Sequence[EntityType]] = None,
        limit: Optional[int] = None,
        offset: Optional[int] = None,
        filter: Optional[str] = None,
        market: Optional[str] = None,
        user_id: Optional[str] = None,
        sort: Optional[str] = None,
        facets: Optional[Sequence[str]] = None,
        max_facet_values: Optional[int] = None,
        explain: Optional[bool] = None,
        mode: Optional[str] = None,
        semantic_ratio: Optional[float] = None,
    ) -> SearchResponse:
        call = _api.search(
            q, types, limit, offset, filter, market, user_id, sort, facets, max_facet_values, explain, mode, semantic_ratio
        )
        return await self._run(call)

    # events and listeners
    async def send_events(self, events: Iterable[Any]) -> EventReport:
        return await self._run(_api.events(events))

    async def upload_events(
        self,
        source: AsyncSource,
        *,
        batch_size: int = 10000,
        max_batch_bytes: int = 16 << 20,
        progress: Optional[_core.ProgressFn] = None,
        assign_event_ids: bool = True,
    ) -> UploadSummary:
        """As :meth:`Needle.upload_events`; ``source`` may also be an async iterable."""
        return await self._upload(source, batch_size, max_batch_bytes, progress, assign_event_ids)

    async def profile(self, user_id: str, *, top: Optional[int] = None) -> Profile:
        return await self._run(_api.profile(user_id, top))

    async def history(self, user_id: str, *, limit: Optional[int] = None) -> History:
        return await self._run(_api.history(user_id, limit))

    async def search_analytics(
        self, *, from_ms: Optional[int] = None, to_ms: Optional[int] = None, limit: Optional[int] = None
    ) -> SearchesReport:
        """Search analytics (``GET /v1/analytics/searches``, admin): top and zero-result queries,
        click-through rate, clicks by position, searches per hour; default range: the last 24 hours."""
        return await self._run(_api.search_analytics(from_ms, to_ms, limit))

    async def item_analytics(self, item_id: str, *, limit: Optional[int] = None) -> ItemReport:
        """The queries that lead to an item (``GET /v1/analytics/items/{id}``, admin)."""
        return await self._run(_api.item_analytics(item_id, limit))

    async def delete_user(self, user_id: str) -> UserDeleted:
        return await self._run(_api.delete_user(user_id))

    async def recommendations(
        self,
        user_id: str,
        *,
        surface: str = "for_you",
        limit: Optional[int] = None,
        types: Optional[Sequence[str]] = None,
        market: Optional[str] = None,
        explicit: Optional[bool] = None,
        discovery: Optional[float] = None,
    ) -> Recommendations:
        """See :meth:`needle.Needle.recommendations`."""
        return await self._run(_api.recommendations(user_id, surface, limit, types, market, explicit, discovery))

    async def similar(
        self,
        item_id: str,
        *,
        types: Optional[Sequence[EntityType]] = None,
        limit: Optional[int] = None,
        market: Optional[str] = None,
        explicit: Optional[bool] = None,
    ) -> Recommendations:
        """Items like ``item_id`` (``GET /v1/items/{id}/similar``): radio from a track, related
        artists from an artist, similar shows from a show; ``types`` defaults to the item's own.
        Each item has a ``reason``. :class:`NotFoundError` (``item_not_found``) for an unknown
        item; ``503 model_not_ready`` before the first training."""
        return await self._run(_api.similar(item_id, types, limit, market, explicit))

    async def continue_from(
        self,
        seed_ids: Sequence[str],
        *,
        types: Optional[Sequence[EntityType]] = None,
        limit: Optional[int] = None,
        market: Optional[str] = None,
        explicit: Optional[bool] = None,
    ) -> Recommendations:
        """What goes well after a playlist or a listening session so far
        (``POST /v1/recommendations/continue``; 1 to 100 ``seed_ids``, no listener needed).
        The seeds are left out; reasons read ``goes well after X``."""
        return await self._run(_api.continue_from(seed_ids, types, limit, market, explicit))

    # ------------------------------------------------------------ DJ sessions

    async def start_session(
        self,
        user_id: str,
        *,
        types: Optional[Sequence[EntityType]] = None,
        market: Optional[str] = None,
        explicit: Optional[bool] = None,
    ) -> SessionInfo:
        """Start a DJ-style session for a listener (``POST /v1/users/{id}/sessions``; ``types``
        defaults to tracks). Step it with :meth:`session_next`; report plays and skips with
        :meth:`session_feedback`."""
        return await self._run(_api.start_session(user_id, types, market, explicit))

    async def session_next(self, session: "SessionInfo | str", *, limit: Optional[int] = None) -> Recommendations:
        """The session's next items (``GET /v1/sessions/{sid}/next``), familiar favourites
        alternating with discoveries, never one served before in the session.
        :class:`NotFoundError` (``session_not_found``) once it expired; ``409
        session_exhausted`` (:class:`InvalidRequestError`) after ``recs.session_max_items``."""
        return await self._run(_api.session_next(session, limit))

    async def session_feedback(
        self,
        session: SessionInfo,
        item_id: str,
        type: EventType = "play",
        *,
        ms_played: Optional[int] = None,
        count: Optional[int] = None,
        ts: Optional[int] = None,
        event_id: Optional[str] = None,
    ) -> EventReport:
        """Tell the session the listener played (or skipped, or saved) ``item_id``: a listening
        event (``POST /v1/events``) for the session's listener, stamped now (never before the
        session started) with a fresh ``event_id`` so a retry counts once. The next
        :meth:`session_next` moves towards what was played and away from what was skipped,
        and never serves a skipped item again in this session."""
        return await self._run(_api.session_feedback(session, item_id, type, ms_played, count, ts, event_id))

    # ------------------------------------------------------------ training and the model

    async def train(self, incremental: bool = False) -> TrainAccepted:
        """Start training a recommendation model (``POST /v1/admin/train``, an ``admin`` key);
        a job already queued is returned instead. Follow it with :meth:`wait_for_job`.
        ``incremental=True`` refits what the served model chose, warm-started from it, instead
        of a full training with model selection (seconds instead of the full job)."""
        return await self._run(_api.train(incremental))

    async def job(self, job_id: "str | TrainAccepted | Job") -> Job:
        """A training job (``GET /v1/admin/jobs/{id}``): ``status``, ``progress``, and once done
        ``model_version`` and ``stats``; :class:`NotFoundError` (``job_not_found``)."""
        return await self._run(_api.job(job_id))

    async def jobs(self) -> list[Job]:
        """The kept jobs (the newest 100), newest first (``GET /v1/admin/jobs``)."""
        return await self._run(_api.jobs())

    async def wait_for_job(
        self, job_id: "str | TrainAccepted | Job", *, timeout: float = 600.0, interval: float = 0.5
    ) -> Job:
        """Poll :meth:`job` every ``interval`` seconds until the job is done and return it.

        Raises :class:`JobFailedError` when it failed (``e.job.error`` says why) and
        :class:`JobTimeoutError` (a ``TimeoutError``) when it is still queued or running after
        ``timeout`` seconds (the job goes on on the server). Waits with the client's ``sleep``."""
        deadline = time.monotonic() + timeout
        while True:
            j = await self.job(job_id)
            remaining = deadline - time.monotonic()
            if _api.job_settled(j, timeout, remaining):
                return j
            await self._sleep(min(interval, remaining))

    async def suggest(
        self, q: str, *, user_id: Optional[str] = None, market: Optional[str] = None, limit: Optional[int] = None
    ) -> SuggestResponse:
        """Completions of typed text (``GET /v1/suggest``): entity names and past queries."""
        return await self._run(_api.suggest(q, user_id, market, limit))

    async def synonyms(self) -> Synonyms:
        """The synonym groups in force (``GET /v1/settings/synonyms``)."""
        return await self._run(_api.synonyms())

    async def set_synonyms(self, groups: Sequence[dict[str, Any]]) -> Synonyms:
        """Replace the synonym groups (``PUT /v1/settings/synonyms``); the new version."""
        return await self._run(_api.set_synonyms(groups))

    async def rules(self) -> Rules:
        """The query rules in force (``GET /v1/settings/rules``)."""
        return await self._run(_api.rules())

    async def set_rules(self, rules: Sequence[dict[str, Any]]) -> Rules:
        """Replace the query rules (``PUT /v1/settings/rules``); the new version."""
        return await self._run(_api.set_rules(rules))

    async def model(self) -> ModelInfo:
        """The model serving now (``GET /v1/admin/model``): version (``None`` before the first
        training), item counts, index, factors, training stats."""
        return await self._run(_api.model())

    async def recommendation_quality(
        self,
        *,
        sample: Optional[int] = None,
        limit: Optional[int] = None,
        types: Optional[Sequence[str]] = None,
        discovery: Optional[float] = None,
    ) -> QualityReport:
        """As :meth:`Needle.recommendation_quality`."""
        return await self._run(_api.recommendation_quality(sample, limit, types, discovery))

    # access
    async def create_token(self, user_id: str, *, ttl_s: Optional[int] = None) -> Token:
        """As :meth:`Needle.create_token`."""
        return await self._run(_api.create_token(user_id, ttl_s))

    # operations
    async def live(self) -> HealthStatus:
        return await self._run(_api.live())

    async def ready(self) -> bool:
        return (await self._run(_api.ready())).status == "ok"

    async def wait_ready(self, timeout: float = 30.0, interval: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if (await self._http.get("/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise NeedleConnectionError(f"{self.base_url} not ready after {timeout} s")
            await asyncio.sleep(interval)

    async def metrics(self) -> str:
        return await self._run(_api.metrics())

    async def openapi(self) -> dict[str, Any]:
        return await self._run(_api.openapi())

    async def _upload(
        self,
        source: AsyncSource,
        batch_size: int,
        max_bytes: int,
        progress: Optional[_core.ProgressFn],
        event_ids: Optional[bool],
    ) -> UploadSummary:
        batcher = _core.Batcher(batch_size, max_bytes)
        tally = _core.Tally(progress)

        async def send(batch: tuple[bytes, list[int]]) -> None:
            body, indexes = batch
            if event_ids is None:
                report: Any = await self._run(_api.write_ndjson(body))
            else:
                report = await self._run(_api.events_ndjson(body, idempotent=event_ids))
            tally.add(len(indexes), indexes, report)

        async def add(index: int, line: str) -> None:
            if event_ids:
                line = _core.with_event_id(line)
            for batch in batcher.add(index, line):
                await send(batch)

        try:
            if isinstance(source, AsyncIterable):
                index = 0
                async for item in source:
                    await add(index, _core.encode(item))
                    index += 1
            else:
                for index, line in _core.iter_source(source):
                    await add(index, line)
            for batch in batcher.flush():
                await send(batch)
        except NeedleError as e:
            e.summary = tally.summary  # type: ignore[attr-defined]
            raise
        return tally.summary
