"""Typed models of every Needle request and response (stdlib dataclasses).

Responses are decoded leniently: fields the server adds in a newer version are ignored, so
an older client keeps working. Requests serialize without their unset (``None``/empty)
fields, exactly as the import format expects.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any, Literal, Optional, TypeVar, Union, cast

EntityType = Literal[
    "artist", "album", "track", "playlist", "show", "episode", "audiobook", "chapter"
]
EventType = Literal["play", "skip", "save", "unsave", "follow", "unfollow", "search_click"]

T = TypeVar("T")


def from_dict(cls: type[T], data: Any) -> T:
    """Decode ``data`` (parsed JSON) into the dataclass ``cls``, recursively."""
    return cast(T, _decode(cls, data))


def to_dict(obj: Any) -> dict[str, Any]:
    """A request model as a JSON object, without unset (``None``/empty) fields."""
    if isinstance(obj, dict):
        return obj
    if not dataclasses.is_dataclass(obj):
        raise TypeError(f"expected a dict or a needle model, got {type(obj).__name__}")
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None or (isinstance(value, (list, tuple, dict)) and not value and f.name != "extra"):
            continue
        out[f.name] = value
    return out


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(args[0], value) if len(args) == 1 else value
    if origin is Literal or tp is Any:
        return value
    if origin in (list, tuple):
        items = typing.get_args(tp)
        if origin is tuple and items and items[-1] is not Ellipsis:
            return tuple([_decode(a, v) for a, v in zip(items, value)])
        return [_decode(items[0] if items else Any, v) for v in value]
    if origin is dict:
        _, vt = typing.get_args(tp) or (str, Any)
        return {k: _decode(vt, v) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {tp.__name__}, got {type(value).__name__}")
        hints = _hints(tp)
        kwargs = {
            f.name: _decode(hints[f.name], value[f.name])
            for f in dataclasses.fields(tp)
            if f.init and f.name in value
        }
        return tp(**kwargs)
    if tp is float and isinstance(value, int):
        return float(value)
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(tp: type) -> dict[str, Any]:
    if tp not in _HINTS:
        _HINTS[tp] = typing.get_type_hints(tp, vars(sys.modules[tp.__module__]))
    return _HINTS[tp]


# ---------------------------------------------------------------- catalog


@dataclass
class Entity:
    """A catalog record (the import format). Also what ``GET /v1/catalog/{id}`` returns."""

    id: str
    type: Optional[EntityType] = None
    name: str = ""
    popularity: Optional[float] = None
    tags: list[str] = _field(default_factory=list)
    language: Optional[str] = None
    release_date: Optional[str] = None
    description: Optional[str] = None
    aliases: list[str] = _field(default_factory=list)
    #: Other ids the entity is known by (another source's id for the same artist); a
    #: ``GET /v1/catalog/{alias id}`` answers with this entity, under its own ``id``.
    alias_ids: list[str] = _field(default_factory=list)
    explicit: Optional[bool] = None
    markets: Optional[list[str]] = None
    extra: Optional[Any] = None
    artist_ids: list[str] = _field(default_factory=list)
    album_id: Optional[str] = None
    duration_ms: Optional[int] = None
    owner: Optional[str] = None
    track_ids: list[str] = _field(default_factory=list)
    publisher: Optional[str] = None
    show_id: Optional[str] = None
    transcript: Optional[str] = None
    authors: list[str] = _field(default_factory=list)
    narrators: list[str] = _field(default_factory=list)
    audiobook_id: Optional[str] = None


@dataclass
class Delete:
    """A record that deletes ``id`` when uploaded in a catalog batch."""

    id: str
    deleted: bool = True


@dataclass
class Rejection:
    """A record or event refused from a batch; ``index`` is its 0-based position."""

    index: int
    code: str
    message: str


@dataclass
class WriteReport:
    """Answer of ``POST /v1/catalog``."""

    accepted: int
    rejected: list[Rejection] = _field(default_factory=list)
    #: The write-log position of this write (0 when nothing was written): pass it as
    #: ``min_seq`` to read it back from any replica of a cluster.
    seq: int = 0


@dataclass
class DeleteResponse:
    """Answer of ``DELETE /v1/catalog/{id}``."""

    deleted: bool
    id: str


@dataclass
class CatalogStats:
    """Answer of ``GET /v1/stats``."""

    entities: int
    by_type: dict[str, int] = _field(default_factory=dict)
    searchable: int = 0
    semantic: Optional["SemanticStats"] = None


@dataclass
class SemanticStats:
    """Semantic search in ``GET /v1/stats``: on or off (``reason``), vectors, embedding progress."""

    enabled: bool
    reason: Optional[str] = None
    model: Optional[str] = None
    state: Optional[str] = None
    types: list[str] = _field(default_factory=list)
    vectors: int = 0
    pending: int = 0
    embedded: int = 0
    embedded_per_s: float = 0.0
    vector_bytes: int = 0
    reconciling: bool = False


# ---------------------------------------------------------------- search


@dataclass
class SearchRequest:
    """Parameters of ``GET /v1/search``."""

    q: str = ""
    types: Optional[list[EntityType]] = None
    limit: Optional[int] = None
    offset: Optional[int] = None
    filter: Optional[str] = None
    market: Optional[str] = None
    user_id: Optional[str] = None
    sort: Optional[str] = None
    facets: Optional[list[str]] = None
    max_facet_values: Optional[int] = None
    explain: Optional[bool] = None
    #: ``auto`` (default), ``keyword``, ``hybrid`` or ``semantic``.
    mode: Optional[str] = None
    #: Weight of the semantic arm, 0 to 1.
    semantic_ratio: Optional[float] = None

    def to_params(self) -> dict[str, str]:
        params: dict[str, str] = {"q": self.q}
        if self.types:
            params["types"] = ",".join(self.types)
        if self.facets:
            params["facets"] = ",".join(self.facets)
        for name in ("limit", "offset", "filter", "market", "user_id", "sort", "max_facet_values", "mode", "semantic_ratio"):
            value = getattr(self, name)
            if value is not None:
                params[name] = str(value)
        if self.explain is not None:
            params["explain"] = "true" if self.explain else "false"
        return params


@dataclass
class Highlight:
    """A matched display field: ``snippet`` is HTML-escaped with ``<em>`` around matches."""

    field: str
    snippet: str
    spans: list[tuple[int, int]] = _field(default_factory=list)


@dataclass
class Personalization:
    """Why a hit was lifted (or lowered) for the listener."""

    boost: float
    reasons: list[str] = _field(default_factory=list)


@dataclass
class Explain:
    """A hit's score as its parts (``explain=True``)."""

    text: float
    exact_bonus: float
    popularity_prior: float
    name_coverage: float
    personal_boost: float
    click_boost: float
    keyword_rank: Optional[int] = None
    semantic_rank: Optional[int] = None
    semantic_similarity: Optional[float] = None
    fused: Optional[float] = None


@dataclass
class Hit:
    """One search hit."""

    id: str
    type: EntityType
    name: str
    score: float
    artists: list[str] = _field(default_factory=list)
    album: Optional[str] = None
    show: Optional[str] = None
    audiobook: Optional[str] = None
    authors: list[str] = _field(default_factory=list)
    publisher: Optional[str] = None
    release_date: Optional[str] = None
    popularity: Optional[float] = None
    language: Optional[str] = None
    explicit: Optional[bool] = None
    tags: list[str] = _field(default_factory=list)
    extra: Optional[Any] = None
    highlights: list[Highlight] = _field(default_factory=list)
    personalization: Optional[Personalization] = None
    explain: Optional[Explain] = None


@dataclass
class Section:
    """The best hits of one type; ``total`` counts every match of that type."""

    type: EntityType
    total: int
    hits: list[Hit] = _field(default_factory=list)


@dataclass
class SearchResponse:
    """Answer of ``GET /v1/search``."""

    hits: list[Hit]
    total: int
    took_ms: float
    top_result: Optional[Hit] = None
    sections: list[Section] = _field(default_factory=list)
    facets: Optional[dict[str, dict[str, int]]] = None
    search_id: Optional[str] = None


# ---------------------------------------------------------------- events and listeners


@dataclass
class Event:
    """A listening event. ``ts`` is epoch milliseconds or an RFC 3339 string."""

    user_id: str
    type: EventType
    item_id: str
    ts: Union[int, str]
    event_id: Optional[str] = None
    ms_played: Optional[int] = None
    count: Optional[int] = None
    context: Optional[str] = None


@dataclass
class EventReport:
    """Answer of ``POST /v1/events``."""

    accepted: int
    duplicates: int = 0
    rejected: list[Rejection] = _field(default_factory=list)
    #: The write-log position of this write (0 when nothing was written).
    seq: int = 0


@dataclass
class TopAffinity:
    """One of a listener's top artists, shows, audiobooks, tags or items."""

    id: str
    name: str
    score: float
    why: str = ""


@dataclass
class Profile:
    """Answer of ``GET /v1/users/{id}/profile``."""

    user_id: str
    events: dict[str, int] = _field(default_factory=dict)
    last_event_ts: int = 0
    half_life_days: float = 0.0
    long_half_life_days: float = 0.0
    long_term_weight: float = 0.0
    artists: list[TopAffinity] = _field(default_factory=list)
    shows: list[TopAffinity] = _field(default_factory=list)
    audiobooks: list[TopAffinity] = _field(default_factory=list)
    tags: list[TopAffinity] = _field(default_factory=list)
    items: list[TopAffinity] = _field(default_factory=list)
    saved: list[str] = _field(default_factory=list)
    followed: list[str] = _field(default_factory=list)


@dataclass
class RecentEvent:
    """One event of a listener's history (``ts`` in epoch milliseconds)."""

    type: EventType
    item_id: str
    ts: int
    count: int = 1
    ms_played: Optional[int] = None
    context: Optional[str] = None


@dataclass
class History:
    """Answer of ``GET /v1/users/{id}/history`` (newest first)."""

    user_id: str
    events: list[RecentEvent] = _field(default_factory=list)


@dataclass
class UserDeleted:
    """Answer of ``DELETE /v1/users/{id}``."""

    user_id: str
    deleted_events: int = 0


# ---------------------------------------------------------------- recommendations


@dataclass
class Recommendation:
    """One recommended item with why (``reason``)."""

    id: str
    type: Optional[EntityType] = None
    name: str = ""
    score: float = 0.0
    reason: str = ""
    by: list[str] = _field(default_factory=list)
    release_date: Optional[str] = None
    mix: Optional[int] = None


@dataclass
class Mix:
    """One daily mix: its number, name and the favourites it is built around."""

    mix: int
    name: str = ""
    seed_ids: list[str] = _field(default_factory=list)


@dataclass
class Recommendations:
    """Answer of the recommendation endpoints (surfaces, similar, continue, sessions)."""

    surface: str
    items: list[Recommendation] = _field(default_factory=list)
    model_version: Optional[int] = None
    mixes: Optional[list[Mix]] = None
    user_id: Optional[str] = None


@dataclass
class SessionInfo:
    """Answer of ``POST /v1/users/{id}/sessions``: a started DJ session.

    Step it with ``session_next``; plays and skips posted as events after
    ``started_at_ms`` (``session_feedback``) steer the very next items.
    """

    session_id: str
    user_id: str
    started_at_ms: int = 0
    types: list[EntityType] = _field(default_factory=list)


# ---------------------------------------------------------------- training and the model

JobStatus = Literal["queued", "running", "done", "failed", "interrupted"]


@dataclass
class CandidateScore:
    """One model selection candidate and its validation NDCG@10 / Recall@10."""

    family: str
    label: str
    ndcg: float = 0.0
    recall: float = 0.0
    fit_ms: int = 0


@dataclass
class BlendWeight:
    """One part of the blend model selection chose (``config``: its hyper-parameters)."""

    family: str
    label: str
    weight: float = 0.0
    config: Optional[dict[str, Any]] = None


@dataclass
class Selection:
    """What model selection measured and chose (``GET /v1/admin/model`` → ``selection``).

    ``refitted_from`` is set by an incremental training: the model whose selection is reused.
    """

    valid_listeners: int = 0
    valid_interactions: int = 0
    candidates: list[CandidateScore] = _field(default_factory=list)
    skipped: list[str] = _field(default_factory=list)
    chosen: list[BlendWeight] = _field(default_factory=list)
    ndcg: float = 0.0
    recall: float = 0.0
    note: Optional[str] = None
    elapsed_ms: int = 0
    als: Optional[dict[str, Any]] = None
    refitted_from: Optional[int] = None


@dataclass
class TrainStats:
    """Sizes and per-phase timings (milliseconds) of a training run."""

    listeners: int = 0
    interactions: int = 0
    trained_items: int = 0
    content_items: int = 0
    popular_items: int = 0
    snapshot_ms: int = 0
    train_ms: int = 0
    catalog_ms: int = 0
    index_ms: int = 0
    save_ms: int = 0
    selection: Optional[Selection] = None


@dataclass
class TrainAccepted:
    """Answer of ``POST /v1/admin/train``: follow ``job_id`` with ``job`` or ``wait_for_job``."""

    job_id: str
    status: JobStatus = "queued"


@dataclass
class Job:
    """Answer of ``GET /v1/admin/jobs/{id}``: a training job.

    ``progress`` goes from 0 to 1; ``model_version`` and ``stats`` are set once ``done``,
    ``error`` once ``failed``. Times are epoch milliseconds. In a cluster, a queued or
    running job carries ``heartbeat_ms`` (its replica republishes it every 10 s); another
    replica reports a job not heard of for 60 s as ``interrupted``.
    """

    job_id: str
    status: JobStatus
    kind: str = "train"
    progress: float = 0.0
    queued_at_ms: int = 0
    started_at_ms: Optional[int] = None
    finished_at_ms: Optional[int] = None
    model_version: Optional[int] = None
    stats: Optional[TrainStats] = None
    error: Optional[str] = None
    heartbeat_ms: Optional[int] = None

    @property
    def finished(self) -> bool:
        """Whether the job is over (``done``, ``failed``, or ``interrupted`` by a restart)."""
        return self.status in ("done", "failed", "interrupted")


@dataclass
class SurfaceQuality:
    """Beyond-accuracy figures of one surface over a sample of listeners (see
    :meth:`needle.Needle.recommendation_quality`)."""

    surface: str
    answered: int = 0
    mean_items: float = 0.0
    coverage: float = 0.0
    novelty_bits: float = 0.0
    arp: float = 0.0
    head_share: float = 0.0
    intra_list_diversity: Optional[float] = None
    creator_repetition: float = 0.0
    popular_fallback: float = 0.0


@dataclass
class QualityReport:
    """Answer of ``GET /v1/admin/recommendations/quality``: every listener surface measured
    as served. ``head_items_share`` is the popularity head's share of trained items, to read
    each surface's ``head_share`` against."""

    model_version: int
    sample: int = 0
    limit: int = 0
    discovery: float = 0.0
    head_items_share: float = 0.0
    surfaces: list[SurfaceQuality] = _field(default_factory=list)


@dataclass
class ModelInfo:
    """Answer of ``GET /v1/admin/model``: the model serving now (``model_version`` is
    ``None`` before the first training)."""

    model_version: Optional[int] = None
    created_at_ms: Optional[int] = None
    trained_items: int = 0
    content_items: int = 0
    popular_only_items: int = 0
    index: Optional[str] = None
    factors: Optional[int] = None
    stats: Optional[TrainStats] = None
    selection: Optional[Selection] = None


@dataclass
class Token:
    """Answer of ``POST /v1/admin/tokens``: a listener token and when it expires.

    Hand ``token`` to a client app; it reads only that listener's profile, history,
    recommendations and sessions (``Needle(url, api_key=token.token)``).
    """

    token: str
    expires_at: str


# ---------------------------------------------------------------- operations and helpers


@dataclass
class Suggestion:
    """One completion of typed text: a past query (``kind == "query"``) or an entity name
    (``kind == "entity"``, with ``id`` and ``type``)."""

    text: str
    kind: str
    score: float
    id: Optional[str] = None
    type: Optional[EntityType] = None


@dataclass
class SuggestResponse:
    """Answer of ``GET /v1/suggest``, best first."""

    suggestions: list[Suggestion] = _field(default_factory=list)


@dataclass
class Synonyms:
    """The synonym groups in force: one-way ``{"from", "to"}`` and multi-way
    ``{"synonyms"}`` groups, their version and the log ``seq`` that set them."""

    version: int
    seq: int
    groups: list[dict[str, Any]] = _field(default_factory=list)


@dataclass
class Rules:
    """The query rules in force (``{"query", "pin": [{"id", "position"}], "hide": [id]}``),
    their version and the log ``seq`` that set them."""

    version: int
    seq: int
    rules: list[dict[str, Any]] = _field(default_factory=list)


@dataclass
class HealthStatus:
    """Answer of ``/health/live`` and ``/health/ready``: ``ok``, ``degraded`` (reads are
    served, writes are refused or the stores are catching up: ``reason`` says why) or, with
    503, the reason the replica cannot serve."""

    status: str
    reason: Optional[str] = None


@dataclass
class UploadProgress:
    """Passed to the ``progress`` callable of the upload helpers after each batch."""

    batches: int
    sent: int
    accepted: int
    rejected: int
    duplicates: int = 0


@dataclass
class UploadSummary:
    """Outcome of ``upload_catalog``/``upload_events``.

    ``rejected`` indexes are positions in the whole input (for files: line number - 1).
    """

    batches: int = 0
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = _field(default_factory=list)


# ---------------------------------------------------------------- search analytics


@dataclass
class PositionStat:
    """Clicks at one result position (11: 11 and beyond), and per search."""

    position: int
    clicks: int
    rate: float


@dataclass
class HourStat:
    """One hour of searches (``hour``: its start, epoch ms)."""

    hour: int
    searches: int
    zero_result: int
    clicks: int


@dataclass
class QueryStat:
    """One query's searches and clicks."""

    query: str
    normalized: str
    searches: int
    zero_result: int
    clicks: int
    click_through_rate: float
    mean_click_position: Optional[float] = None


@dataclass
class SearchesReport:
    """Answer of ``GET /v1/analytics/searches``."""

    from_ms: int
    to_ms: int
    searches: int = 0
    zero_result_searches: int = 0
    clicks: int = 0
    click_through_rate: float = 0.0
    mean_click_position: Optional[float] = None
    ctr_by_position: list[PositionStat] = _field(default_factory=list)
    searches_per_hour: list[HourStat] = _field(default_factory=list)
    top_queries: list[QueryStat] = _field(default_factory=list)
    top_zero_result_queries: list[QueryStat] = _field(default_factory=list)


@dataclass
class ItemQuery:
    """A query whose results an item was clicked in."""

    query: str
    normalized: str
    clicks: int
    listeners: int
    click_strength: float
    mean_click_position: Optional[float] = None


@dataclass
class ItemReport:
    """Answer of ``GET /v1/analytics/items/{id}``."""

    item_id: str
    queries: list[ItemQuery] = _field(default_factory=list)
