"""Every endpoint as a :class:`Call`: what to send and how to read the answer.

The sync and async clients only differ in how they send a Call; the endpoints live here once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Optional, Sequence, TypeVar

import httpx

from . import _core
from .models import (
    CatalogStats,
    DeleteResponse,
    Entity,
    EntityType,
    EventReport,
    HealthStatus,
    History,
    Profile,
    Recommendations,
    SearchRequest,
    SearchResponse,
    Token,
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
        )
    return Call("GET", "/v1/search", _json(SearchResponse), params=req.to_params())


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


def delete_user(user_id: str) -> Call[UserDeleted]:
    return Call("DELETE", f"/v1/users/{_core.seg(user_id)}", _json(UserDeleted))


def recommendations(
    user_id: str,
    surface: str,
    limit: Optional[int],
    types: Optional[Sequence[str]] = None,
    market: Optional[str] = None,
    explicit: Optional[bool] = None,
) -> Call[Recommendations]:
    params = {"surface": surface}
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
