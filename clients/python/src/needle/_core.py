"""Logic shared by the sync and async clients: retry policy, NDJSON batching, encoding."""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import io
import json
import os
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional, Union
from urllib.parse import quote

from .models import Rejection, UploadProgress, UploadSummary, to_dict

__version__ = "0.2.0"
USER_AGENT = f"needle-client-python/{__version__}"
DEFAULT_BASE_URL = "http://127.0.0.1:7700"
NDJSON = "application/x-ndjson"

Source = Union[str, "os.PathLike[str]", Iterable[Any]]
ProgressFn = Callable[[UploadProgress], None]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying a request.

    Retried: answers with a status in ``statuses`` (429 and 503 by default) and failures to
    connect. The wait is ``Retry-After`` when the server sends it (capped by
    ``max_retry_after``; a longer one raises at once), else exponential backoff with jitter:
    a random value in ``[d/2, d]`` with ``d = min(max_backoff, backoff * multiplier**attempt)``.
    A request that may already have been applied (``503 request_timeout``, a lost answer) is
    retried only when it is idempotent (reads, catalog upserts, events carrying ``event_id``).
    """

    max_retries: int = 3
    backoff: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = frozenset({429, 503})

    def delay(self, attempt: int, retry_after: Optional[float], rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` starts at 0)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.max_backoff, self.backoff * self.multiplier**attempt)
        return rng.uniform(ceiling / 2, ceiling)


NO_RETRIES = RetryPolicy(max_retries=0)


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def should_retry(
    policy: RetryPolicy,
    attempt: int,
    status: int,
    code: Optional[str],
    retry_after: Optional[float],
    idempotent: bool,
) -> bool:
    """Whether an error answer is retried under ``policy``."""
    if attempt >= policy.max_retries or status not in policy.statuses:
        return False
    if retry_after is not None and retry_after > policy.max_retry_after:
        return False
    # A timed-out write may have been applied: repeat it only when that is harmless.
    return idempotent or code != "request_timeout"


def error_code(content: bytes) -> Optional[str]:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def seg(value: str) -> str:
    """One path segment, percent-encoded (ids may hold `/`, `:`, spaces...)."""
    return quote(value, safe="")


def headers(api_key: Optional[str], extra: Optional[dict[str, str]]) -> dict[str, str]:
    out = {"user-agent": USER_AGENT, "accept": "application/json"}
    if api_key:
        out["authorization"] = f"Bearer {api_key}"
    out.update(extra or {})
    return out


def encode(obj: Any) -> str:
    """One record or event as a JSON line (dicts, dataclasses, or already-encoded strings)."""
    if isinstance(obj, str):
        return obj.rstrip("\r\n")
    if isinstance(obj, bytes):
        return obj.decode("utf-8").rstrip("\r\n")
    return json.dumps(to_dict(obj), ensure_ascii=False, separators=(",", ":"))


def json_array(items: Iterable[Any]) -> bytes:
    return ("[" + ",".join(encode(i) for i in items) + "]").encode("utf-8")


def has_event_id(obj: Any) -> bool:
    """Whether an event (dict, model or JSON line) carries an ``event_id``."""
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except ValueError:
            return False
    if not isinstance(obj, dict):
        obj = to_dict(obj)
    return bool(obj.get("event_id"))


def with_event_id(line: str) -> str:
    """Give an event line a fresh ``event_id`` when it has none, so retries never double count.

    A line that is not a JSON object is passed as is (the server rejects it with its index).
    """
    try:
        obj = json.loads(line)
    except ValueError:
        return line
    if not isinstance(obj, dict) or obj.get("event_id"):
        return line
    obj["event_id"] = uuid.uuid4().hex
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def iter_source(source: Source) -> Iterator[tuple[int, str]]:
    """``(index, json line)`` for each record of a file path or an iterable.

    Files (``.jsonl``, ``.ndjson``, ``.jsonl.gz``...) are streamed line by line; blank lines
    are skipped but counted, so an index is always the line number - 1.
    """
    if isinstance(source, (str, os.PathLike)):
        yield from _iter_file(os.fspath(source))
        return
    if isinstance(source, (dict, bytes)) or dataclasses.is_dataclass(source):
        raise TypeError("pass an iterable of records or a file path, not a single record")
    for index, item in enumerate(source):
        yield index, encode(item)


def _iter_file(path: str) -> Iterator[tuple[int, str]]:
    raw = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    with raw, io.TextIOWrapper(raw, encoding="utf-8") as text:
        for index, line in enumerate(text):
            line = line.strip()
            if line:
                yield index, line


class Batcher:
    """Groups JSON lines into NDJSON bodies of at most ``batch_size`` lines and ``max_bytes``."""

    def __init__(self, batch_size: int, max_bytes: int) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.lines: list[bytes] = []
        self.indexes: list[int] = []
        self.size = 0

    def add(self, index: int, line: str) -> list[tuple[bytes, list[int]]]:
        """Add a line; returns the batches now ready to send (zero, one or two)."""
        data = line.encode("utf-8")
        ready = []
        if self.lines and self.size + len(data) + 1 > self.max_bytes:
            ready.append(self._take())
        self.lines.append(data)
        self.indexes.append(index)
        self.size += len(data) + 1
        if len(self.lines) >= self.batch_size:
            ready.append(self._take())
        return ready

    def flush(self) -> list[tuple[bytes, list[int]]]:
        """The last, partial batch (if any)."""
        return [self._take()] if self.lines else []

    def _take(self) -> tuple[bytes, list[int]]:
        body, indexes = b"\n".join(self.lines) + b"\n", self.indexes
        self.lines, self.indexes, self.size = [], [], 0
        return body, indexes


class Tally:
    """Accumulates batch reports into an :class:`UploadSummary`, with global indexes."""

    def __init__(self, progress: Optional[ProgressFn]) -> None:
        self.summary = UploadSummary()
        self.progress = progress

    def add(self, sent: int, indexes: list[int], report: Any) -> None:
        s = self.summary
        s.batches += 1
        s.sent += sent
        s.accepted += report.accepted
        s.duplicates += getattr(report, "duplicates", 0)
        for r in report.rejected:
            global_index = indexes[r.index] if 0 <= r.index < len(indexes) else r.index
            s.rejected.append(Rejection(index=global_index, code=r.code, message=r.message))
        if self.progress is not None:
            self.progress(
                UploadProgress(
                    batches=s.batches,
                    sent=s.sent,
                    accepted=s.accepted,
                    rejected=len(s.rejected),
                    duplicates=s.duplicates,
                )
            )
