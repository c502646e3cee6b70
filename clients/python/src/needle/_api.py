"""Every endpoint as a :class:`Call`: what to send and how to read the answer.

The sync and async clients only differ in how they send a Call; the endpoints live here once.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Optional, Sequence, TypeVar

import httpx

from . import _core
from .errors import JobFailedError, JobTimeoutError
from .models import (
    CatalogStats,
    DeleteResponse,
    Entity,
    EntityType,
    EventReport,
    HealthStatus,
    History,
    ItemReport,
    Job,
    ModelInfo,
    Profile,
    QualityReport,
    Recommendations,
    SearchRequest,
    SearchResponse,
    SearchesReport,
    SessionInfo,
    SuggestResponse,
    Rules,
    Synonyms,
    Token,
    TrainAccepted,
    UserDeleted,
    WriteReport,
    from_dict,
)

T = TypeVar("T")


@dataclass
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Optional[dict[str, str]] = None
    content: Optional[bytes] = None
    content_type: Optional[str] = None
    idempotent: bool = True
    ok_statuses: frozenset[int] = field(default_factory=frozenset)


def _json(cls: type[T]) -> Callable[[httpx.Response], T]:
    return lambda r: from_dict(cls, r.json())


def write(records: Iterable[Any]) -> Call[WriteReport]:
    return Call(
        "POST",
        "/v1/catalog",
        _json(WriteReport),
        content=_core.json_array(records),
        content_type="application/json",
    )


def write_ndjson(body: bytes) -> Call[WriteReport]:
    return Call("POST", "/v1/catalog", _json(WriteReport), content=body, content_type=_core.NDJSON)


def get_entity(entity_id: str) -> Call[Entity]:
    return Call("GET", f"/v1/catalog/{_core.seg(entity_id)}", _json(Entity))


def delete_entity(entity_id: str) -> Call[DeleteResponse]:
    return Call("DELETE", f"/v1/catalog/{_core.seg(entity_id)}", _json(DeleteResponse))


def stats() -> Call[CatalogStats]:
    return Call("GET", "/v1/stats", _json(CatalogStats))


def search(
    q: "str | SearchRequest",
    types: Optional[Sequence[EntityType]],
    limit: Optional[int],
    offset: Optional[int],
    filter: Optional[str],
    market: Optional[str],
    user_id: Optional[str],
    sort: Optional[str] = None,
    facets: Optional[Sequence[str]] = None,
    max_facet_values: Optional[int] = None,
    explain: Optional[bool] = None,
    mode: Optional[str] = None,
    semantic_ratio: Optional[float] = None,
) -> Call[SearchResponse]:
    if isinstance(q, SearchRequest):
        req = q
    else:
        req = SearchRequest(
            q=q,
            types=list(types) if types else None,
            limit=limit,
            offset=offset,
            filter=filter,
            market=market,
            user_id=user_id,
            sort=sort,
            facets=list(facets) if facets else None,
            max_facet_values=max_facet_values,
            explain=explain,
            mode=mode,
            semantic_ratio=semantic_ratio,
        )
    return Call("GET", "/v1/search", _json(SearchResponse), params=req.to_params())


def suggest(q: str, user_id: Optional[str], market: Optional[str], limit: Optional[int]) -> Call[SuggestResponse]:
    params: dict[str, Any] = {"q": q}
    for k, v in (("user_id", user_id), ("market", market), ("limit", limit)):
        if v is not None:
            params[k] = v
    return Call("GET", "/v1/suggest", _json(SuggestResponse), params=params)


def synonyms() -> Call[Synonyms]:
    return Call("GET", "/v1/settings/synonyms", _json(Synonyms))


def set_synonyms(groups: Sequence[dict[str, Any]]) -> Call[Synonyms]:
    body = json.dumps({"groups": list(groups)}).encode("utf-8")
    return Call("PUT", "/v1/settings/synonyms", _json(Synonyms), content=body, content_type="application/json")


def rules() -> Call[Rules]:
    return Call("GET", "/v1/settings/rules", _json(Rules))


def set_rules(rules: Sequence[dict[str, Any]]) -> Call[Rules]:
    body = json.dumps({"rules": list(rules)}).encode("utf-8")
    return Call("PUT", "/v1/settings/rules", _json(Rules), content=body, content_type="application/json")


def events(events: Iterable[Any]) -> Call[EventReport]:
    items = list(events)
    body = _core.json_array(items)
    return Call(
        "POST",
        "/v1/events",
        _json(EventReport),
        content=body,
        content_type="application/json",
        idempotent=all(_core.has_event_id(e) for e in items),
    )


def events_ndjson(body: bytes, idempotent: bool) -> Call[EventReport]:
    return Call(
        "POST",
        "/v1/events",
        _json(EventReport),
        content=body,
        content_type=_core.NDJSON,
        idempotent=idempotent,
    )


def profile(user_id: str, top: Optional[int]) -> Call[Profile]:
    params = {"top": str(top)} if top is not None else None
    return Call("GET", f"/v1/users/{_core.seg(user_id)}/profile", _json(Profile), params=params)


def history(user_id: str, limit: Optional[int]) -> Call[History]:
    params = {"limit": str(limit)} if limit is not None else None
    return Call("GET", f"/v1/users/{_core.seg(user_id)}/history", _json(History), params=params)


def search_analytics(
    from_ms: Optional[int], to_ms: Optional[int], limit: Optional[int]
) -> Call[SearchesReport]:
    params = {k: str(v) for k, v in (("from", from_ms), ("to", to_ms), ("limit", limit)) if v is not None}
    return Call("GET", "/v1/analytics/searches", _json(SearchesReport), params=params or None)


def item_analytics(item_id: str, limit: Optional[int]) -> Call[ItemReport]:
    params = {"limit": str(limit)} if limit is not None else None
    return Call("GET", f"/v1/analytics/items/{_core.seg(item_id)}", _json(ItemReport), params=params)


def delete_user(user_id: str) -> Call[UserDeleted]:
    return Call("DELETE", f"/v1/users/{_core.seg(user_id)}", _json(UserDeleted))


def recommendations(
    user_id: str,
    surface: str,
    limit: Optional[int],
    types: Optional[Sequence[str]] = None,
    market: Optional[str] = None,
    explicit: Optional[bool] = None,
    discovery: Optional[float] = None,
) -> Call[Recommendations]:
    params = {"surface": surface}
    if discovery is not None:
        params["discovery"] = repr(float(discovery))
    if limit is not None:
        params["limit"] = str(limit)
    if types:
        params["types"] = ",".join(types)
    if market:
        params["market"] = market
    if explicit is not None:
        params["explicit"] = "true" if explicit else "false"

    def parse(r: httpx.Response) -> Recommendations:
        data = r.json()
        data.setdefault("user_id", user_id)
        data.setdefault("surface", surface)
        return from_dict(Recommendations, data)

    return Call("GET", f"/v1/users/{_core.seg(user_id)}/recommendations", parse, params=params)


def _item_params(
    limit: Optional[int],
    types: Optional[Sequence[str]],
    market: Optional[str],
    explicit: Optional[bool],
) -> dict[str, str]:
    params: dict[str, str] = {}
    if limit is not None:
        params["limit"] = str(limit)
    if types:
        params["types"] = ",".join(types)
    if market:
        params["market"] = market
    if explicit is not None:
        params["explicit"] = "true" if explicit else "false"
    return params


def _json_body(body: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode("utf-8")


def similar(
    item_id: str,
    types: Optional[Sequence[str]],
    limit: Optional[int],
    market: Optional[str],
    explicit: Optional[bool],
) -> Call[Recommendations]:
    params = _item_params(limit, types, market, explicit)
    return Call(
        "GET",
        f"/v1/items/{_core.seg(item_id)}/similar",
        _json(Recommendations),
        params=params or None,
    )


def continue_from(
    seed_ids: Sequence[str],
    types: Optional[Sequence[str]],
    limit: Optional[int],
    market: Optional[str],
    explicit: Optional[bool],
) -> Call[Recommendations]:
    if isinstance(seed_ids, str):
        raise TypeError("seed_ids is a list of catalog ids, not one string")
    body = _json_body(
        {
            "seed_ids": list(seed_ids),
            "types": list(types) if types else None,
            "limit": limit,
            "market": market,
            "explicit": explicit,
        }
    )
    # A read: repeating it is harmless.
    return Call(
        "POST",
        "/v1/recommendations/continue",
        _json(Recommendations),
        content=body,
        content_type="application/json",
    )


def start_session(
    user_id: str,
    types: Optional[Sequence[str]],
    market: Optional[str],
    explicit: Optional[bool],
) -> Call[SessionInfo]:
    body = _json_body({"types": list(types) if types else None, "market": market, "explicit": explicit})
    return Call(
        "POST",
        f"/v1/users/{_core.seg(user_id)}/sessions",
        _json(SessionInfo),
        content=body,
        content_type="application/json",
        # A repeat would start a second session: only when the first certainly was not.
        idempotent=False,
    )


def session_id_of(session: "SessionInfo | str") -> str:
    return session.session_id if isinstance(session, SessionInfo) else session


def session_next(session: "SessionInfo | str", limit: Optional[int]) -> Call[Recommendations]:
    params = {"limit": str(limit)} if limit is not None else None
    return Call(
        "GET",
        f"/v1/sessions/{_core.seg(session_id_of(session))}/next",
        _json(Recommendations),
        params=params,
        # Each answer advances the session: a repeat after a lost answer would skip items.
        idempotent=False,
    )


def session_feedback(
    session: SessionInfo,
    item_id: str,
    type: str,
    ms_played: Optional[int],
    count: Optional[int],
    ts: Optional[int],
    event_id: Optional[str],
) -> Call[EventReport]:
    if not isinstance(session, SessionInfo):
        raise TypeError("session_feedback needs the SessionInfo that start_session returned")
    if type not in ("play", "skip", "save"):
        raise ValueError(f"a session takes play, skip or save events, not {type!r}")
    # The session counts events from its start (the server's clock): never before it.
    stamp = ts if ts is not None else max(int(time.time() * 1000), session.started_at_ms)
    event: dict[str, Any] = {
        "user_id": session.user_id,
        "type": type,
        "item_id": item_id,
        "ts": stamp,
        # An id makes a retried post count once.
        "event_id": event_id or f"{session.session_id}-{uuid.uuid4().hex}",
        "context": session.session_id,
    }
    if ms_played is not None:
        event["ms_played"] = ms_played
    if count is not None:
        event["count"] = count
    return events([event])


def train(incremental: bool = False) -> Call[TrainAccepted]:
    # Not repeated after a lost answer: that could queue a second job.
    if not incremental:
        return Call("POST", "/v1/admin/train", _json(TrainAccepted), idempotent=False)
    return Call(
        "POST",
        "/v1/admin/train",
        _json(TrainAccepted),
        content=_json_body({"incremental": True}),
        content_type="application/json",
        idempotent=False,
    )


def job_id_of(job: "TrainAccepted | Job | str") -> str:
    return job.job_id if isinstance(job, (TrainAccepted, Job)) else job


def job(job: "TrainAccepted | Job | str") -> Call[Job]:
    return Call("GET", f"/v1/admin/jobs/{_core.seg(job_id_of(job))}", _json(Job))


def jobs() -> Call[list[Job]]:
    return Call("GET", "/v1/admin/jobs", lambda r: [from_dict(Job, j) for j in r.json().get("jobs", [])])


def job_settled(j: Job, timeout: float, remaining: float) -> bool:
    """``wait_for_job``: True once ``j`` is done; raises once it failed or ``remaining`` (of
    ``timeout`` seconds) is spent; False to poll again."""
    if j.status == "done":
        return True
    if j.status == "failed":
        raise JobFailedError(f"training job {j.job_id} failed: {j.error or 'no error given'}", job=j)
    if remaining <= 0:
        raise JobTimeoutError(
            f"training job {j.job_id} still {j.status} ({j.progress:.0%}) after {timeout:g} s", job=j
        )
    return False


def model() -> Call[ModelInfo]:
    return Call("GET", "/v1/admin/model", _json(ModelInfo))


def recommendation_quality(
    sample: Optional[int],
    limit: Optional[int],
    types: Optional[Sequence[str]],
    discovery: Optional[float],
) -> Call[QualityReport]:
    params: dict[str, str] = {}
    if sample is not None:
        params["sample"] = str(sample)
    if limit is not None:
        params["limit"] = str(limit)
    if types:
        params["types"] = ",".join(types)
    if discovery is not None:
        params["discovery"] = repr(float(discovery))
    return Call("GET", "/v1/admin/recommendations/quality", _json(QualityReport), params=params)


def create_token(user_id: str, ttl_s: Optional[int]) -> Call[Token]:
    body: dict[str, Any] = {"user_id": user_id}
    if ttl_s is not None:
        body["ttl_s"] = ttl_s
    return Call(
        "POST",
        "/v1/admin/tokens",
        _json(Token),
        content=json.dumps(body).encode("utf-8"),
        content_type="application/json",
    )


def live() -> Call[HealthStatus]:
    return Call("GET", "/health/live", _json(HealthStatus))


def ready() -> Call[HealthStatus]:
    # 503 {"status": "unavailable"} is a probe result, not an error.
    return Call("GET", "/health/ready", _json(HealthStatus), ok_statuses=frozenset({503}))


def metrics() -> Call[str]:
    return Call("GET", "/metrics", lambda r: r.text)


def openapi() -> Call[dict[str, Any]]:
    return Call("GET", "/openapi.json", lambda r: r.json())


def raw(method: str, path: str) -> Call[dict[str, Any]]:
    """A call answered with plain JSON (admin endpoints)."""
    return Call(method, path, lambda r: r.json(), idempotent=method == "GET")
