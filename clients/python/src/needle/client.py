"""The synchronous client."""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Iterable, Optional, Sequence, TypeVar

import httpx

from . import _api, _core
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

# Failures after which the request certainly never reached the server.
CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Needle:
    """Synchronous Needle client.

    >>> with Needle("http://127.0.0.1:7700") as needle:
    ...     needle.search("helo adel").top_result

    ``api_key`` is sent as ``Authorization: Bearer <key>``. ``retry`` controls retries on
    429/503 and connection failures (see :class:`RetryPolicy`; ``NO_RETRIES`` disables them).
    ``transport`` is passed to ``httpx.Client`` (tests use ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str = _core.DEFAULT_BASE_URL,
        *,
        api_key: Optional[str] = None,
        timeout: float = 30.0,
        retry: _core.RetryPolicy = _core.RetryPolicy(),
        headers: Optional[dict[str, str]] = None,
        transport: Optional[httpx.BaseTransport] = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Optional[random.Random] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=_core.headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Needle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, call: _api.Call[T]) -> T:
        attempt = 0
        hdrs = {"content-type": call.content_type} if call.content_type else None
        while True:
            try:
                resp = self._http.request(
                    call.method, call.path, params=call.params, content=call.content, headers=hdrs
                )
            except httpx.TransportError as e:
                sent = not isinstance(e, CONNECT_ERRORS)
                if attempt < self.retry.max_retries and (call.idempotent or not sent):
                    self._sleep(self.retry.delay(attempt, None, self._rng))
                    attempt += 1
                    continue
                raise NeedleConnectionError(f"{call.method} {call.path}: {e!r}") from e
            status = resp.status_code
            if status < 400 or status in call.ok_statuses:
                return call.parse(resp)
            retry_after = _core.parse_retry_after(resp.headers.get("retry-after"))
            code = _core.error_code(resp.content)
            if _core.should_retry(self.retry, attempt, status, code, retry_after, call.idempotent):
                self._sleep(self.retry.delay(attempt, retry_after, self._rng))
                attempt += 1
                continue
            raise from_response(status, resp.content, resp.headers, retry_after)

    # ------------------------------------------------------------ catalog

    def write(self, records: Iterable[Any]) -> WriteReport:
        """Upsert or delete records in one durable batch (``POST /v1/catalog``).

        Records are :class:`Entity`/:class:`Delete` models or dicts in the import format.
        Bad records come back in ``rejected``; the others are stored.
        """
        return self._run(_api.write(records))

    def get_entity(self, entity_id: str) -> Entity:
        """One entity as stored; :class:`NotFoundError` (``entity_not_found``) when absent."""
        return self._run(_api.get_entity(entity_id))

    def delete_entity(self, entity_id: str) -> DeleteResponse:
        return self._run(_api.delete_entity(entity_id))

    def stats(self) -> CatalogStats:
        return self._run(_api.stats())

    def upload_catalog(
        self,
        source: _core.Source,
        *,
        batch_size: int = 5000,
        max_batch_bytes: int = 16 << 20,
        progress: Optional[_core.ProgressFn] = None,
    ) -> UploadSummary:
        """Stream records from an iterable or a ``.jsonl``/``.jsonl.gz`` file in NDJSON batches.

        Rejections carry their index in the whole input (for files: line number - 1).
        ``progress`` is called with an :class:`UploadProgress` after each batch. When a batch
        fails, the :class:`NeedleError` raised has the ``summary`` of the batches before it.
        """
        return self._upload(source, batch_size, max_batch_bytes, progress, None)

    # ------------------------------------------------------------ search

    def search(
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
        """Search (``GET /v1/search``); ``user_id`` personalizes for a listener.

        An empty ``q`` browses the catalog (most popular first); ``sort`` orders by
        ``popularity``, ``release_date`` or ``name`` (``:asc``/``:desc``); ``facets``
        (``type``, ``tags``, ``language``, ``release_year``) fills ``facets`` with counts
        over every match.
        """
        call = _api.search(
            q, types, limit, offset, filter, market, user_id, sort, facets, max_facet_values, explain, mode, semantic_ratio
        )
        return self._run(call)

    # ------------------------------------------------------------ events and listeners

    def send_events(self, events: Iterable[Any]) -> EventReport:
        """Record events in one durable batch (``POST /v1/events``).

        Events without ``event_id`` are not retried after an answer that may mean they were
        stored (``503 request_timeout``, a lost connection); give ids to make retries safe.
        """
        return self._run(_api.events(events))

    def upload_events(
        self,
        source: _core.Source,
        *,
        batch_size: int = 10000,
        max_batch_bytes: int = 16 << 20,
        progress: Optional[_core.ProgressFn] = None,
        assign_event_ids: bool = True,
    ) -> UploadSummary:
        """Stream events from an iterable or a ``.jsonl``/``.jsonl.gz`` file in NDJSON batches.

        With ``assign_event_ids`` (default) each event without ``event_id`` gets a random
        one, so a retried batch is never counted twice (``duplicates`` in the summary).
        """
        return self._upload(source, batch_size, max_batch_bytes, progress, assign_event_ids)

    def profile(self, user_id: str, *, top: Optional[int] = None) -> Profile:
        """A listener's taste profile; :class:`NotFoundError` (``user_not_found``) without events."""
        return self._run(_api.profile(user_id, top))

    def history(self, user_id: str, *, limit: Optional[int] = None) -> History:
        """A listener's most recent events, newest first."""
        return self._run(_api.history(user_id, limit))

    def search_analytics(
        self, *, from_ms: Optional[int] = None, to_ms: Optional[int] = None, limit: Optional[int] = None
    ) -> SearchesReport:
        """Search analytics (``GET /v1/analytics/searches``, admin): top and zero-result queries,
        click-through rate, clicks by position, searches per hour; default range: the last 24 hours."""
        return self._run(_api.search_analytics(from_ms, to_ms, limit))

    def item_analytics(self, item_id: str, *, limit: Optional[int] = None) -> ItemReport:
        """The queries that lead to an item (``GET /v1/analytics/items/{id}``, admin)."""
        return self._run(_api.item_analytics(item_id, limit))

    def delete_user(self, user_id: str) -> UserDeleted:
        """Erase a listener's events and profile for good (idempotent)."""
        return self._run(_api.delete_user(user_id))

    def recommendations(
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
        """Recommendations for a listener on a surface (``for_you``, ``discover``,
        ``release_radar``, ``podcasts``, ``daily_mix``); each item has a ``reason``.

        Before the first training the server answers ``503 model_not_ready``
        (:class:`ServerError` after the retries); train with :meth:`train`.
        """
        return self._run(_api.recommendations(user_id, surface, limit, types, market, explicit, discovery))

    def similar(
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
        return self._run(_api.similar(item_id, types, limit, market, explicit))

    def continue_from(
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
        return self._run(_api.continue_from(seed_ids, types, limit, market, explicit))

    # ------------------------------------------------------------ DJ sessions

    def start_session(
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
        return self._run(_api.start_session(user_id, types, market, explicit))

    def session_next(self, session: "SessionInfo | str", *, limit: Optional[int] = None) -> Recommendations:
        """The session's next items (``GET /v1/sessions/{sid}/next``), familiar favourites
        alternating with discoveries, never one served before in the session.
        :class:`NotFoundError` (``session_not_found``) once it expired; ``409
        session_exhausted`` (:class:`InvalidRequestError`) after ``recs.session_max_items``."""
        return self._run(_api.session_next(session, limit))

    def session_feedback(
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
        return self._run(_api.session_feedback(session, item_id, type, ms_played, count, ts, event_id))

    # ------------------------------------------------------------ training and the model

    def train(self, incremental: bool = False) -> TrainAccepted:
        """Start training a recommendation model (``POST /v1/admin/train``, an ``admin`` key);
        a job already queued is returned instead. Follow it with :meth:`wait_for_job`.
        ``incremental=True`` refits what the served model chose, warm-started from it, instead
        of a full training with model selection (seconds instead of the full job)."""
        return self._run(_api.train(incremental))

    def job(self, job_id: "str | TrainAccepted | Job") -> Job:
        """A training job (``GET /v1/admin/jobs/{id}``): ``status``, ``progress``, and once done
        ``model_version`` and ``stats``; :class:`NotFoundError` (``job_not_found``)."""
        return self._run(_api.job(job_id))

    def jobs(self) -> list[Job]:
        """The kept jobs (the newest 100), newest first (``GET /v1/admin/jobs``)."""
        return self._run(_api.jobs())

    def wait_for_job(
        self, job_id: "str | TrainAccepted | Job", *, timeout: float = 600.0, interval: float = 0.5
    ) -> Job:
        """Poll :meth:`job` every ``interval`` seconds until the job is done and return it.

        Raises :class:`JobFailedError` when it failed (``e.job.error`` says why) and
        :class:`JobTimeoutError` (a ``TimeoutError``) when it is still queued or running after
        ``timeout`` seconds (the job goes on on the server). Waits with the client's ``sleep``."""
        deadline = time.monotonic() + timeout
        while True:
            j = self.job(job_id)
            remaining = deadline - time.monotonic()
            if _api.job_settled(j, timeout, remaining):
                return j
            self._sleep(min(interval, remaining))

    def suggest(
        self, q: str, *, user_id: Optional[str] = None, market: Optional[str] = None, limit: Optional[int] = None
    ) -> SuggestResponse:
        """Completions of typed text (``GET /v1/suggest``): entity names and past queries."""
        return self._run(_api.suggest(q, user_id, market, limit))

    def synonyms(self) -> Synonyms:
        """The synonym groups in force (``GET /v1/settings/synonyms``)."""
        return self._run(_api.synonyms())

    def set_synonyms(self, groups: Sequence[dict[str, Any]]) -> Synonyms:
        """Replace the synonym groups (``PUT /v1/settings/synonyms``); the new version."""
        return self._run(_api.set_synonyms(groups))

    def rules(self) -> Rules:
        """The query rules in force (``GET /v1/settings/rules``)."""
        return self._run(_api.rules())

    def set_rules(self, rules: Sequence[dict[str, Any]]) -> Rules:
        """Replace the query rules (``PUT /v1/settings/rules``); the new version."""
        return self._run(_api.set_rules(rules))

    def model(self) -> ModelInfo:
        """The model serving now (``GET /v1/admin/model``): version (``None`` before the first
        training), item counts, index, factors, training stats."""
        return self._run(_api.model())

    def recommendation_quality(
        self,
        *,
        sample: Optional[int] = None,
        limit: Optional[int] = None,
        types: Optional[Sequence[str]] = None,
        discovery: Optional[float] = None,
    ) -> QualityReport:
        """Every listener surface measured as served on ``sample`` listeners (default 200):
        coverage, novelty, average recommendation popularity, popularity-head share,
        intra-list diversity, creator repetition, popularity fallbacks
        (``GET /v1/admin/recommendations/quality``; an ``admin`` key). ``discovery`` is
        ``discover``'s knob (0 to 1) for this measurement."""
        return self._run(_api.recommendation_quality(sample, limit, types, discovery))

    # ------------------------------------------------------------ access

    def create_token(self, user_id: str, *, ttl_s: Optional[int] = None) -> Token:
        """A listener token for ``user_id`` (``POST /v1/admin/tokens``; needs an ``admin`` key).

        The token reads only that listener's profile, history, recommendations and
        sessions until ``expires_at`` (``ttl_s`` seconds, default 3600). Mint it in your
        backend and hand it to the client app; never ship the admin key.
        """
        return self._run(_api.create_token(user_id, ttl_s))

    # ------------------------------------------------------------ operations

    def live(self) -> HealthStatus:
        return self._run(_api.live())

    def ready(self) -> bool:
        """Whether the server is ready to answer (``/health/ready`` is 200)."""
        return self._run(_api.ready()).status == "ok"

    def wait_ready(self, timeout: float = 30.0, interval: float = 0.1) -> None:
        """Poll ``/health/ready`` until it is ok; :class:`NeedleConnectionError` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._http.get("/health/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise NeedleConnectionError(f"{self.base_url} not ready after {timeout} s")
            time.sleep(interval)

    def metrics(self) -> str:
        """The Prometheus exposition text of ``/metrics``."""
        return self._run(_api.metrics())

    def openapi(self) -> dict[str, Any]:
        return self._run(_api.openapi())

    # ------------------------------------------------------------ helpers

    def _upload(
        self,
        source: _core.Source,
        batch_size: int,
        max_bytes: int,
        progress: Optional[_core.ProgressFn],
        event_ids: Optional[bool],
    ) -> UploadSummary:
        batcher = _core.Batcher(batch_size, max_bytes)
        tally = _core.Tally(progress)

        def send(batch: tuple[bytes, list[int]]) -> None:
            body, indexes = batch
            if event_ids is None:
                report: Any = self._run(_api.write_ndjson(body))
            else:
                report = self._run(_api.events_ndjson(body, idempotent=event_ids))
            tally.add(len(indexes), indexes, report)

        try:
            for index, line in _core.iter_source(source):
                if event_ids:
                    line = _core.with_event_id(line)
                for batch in batcher.add(index, line):
                    send(batch)
            for batch in batcher.flush():
                send(batch)
        except NeedleError as e:
            e.summary = tally.summary  # type: ignore[attr-defined]
            raise
        return tally.summary
