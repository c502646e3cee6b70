"""Exceptions. Every error answer of the server becomes a :class:`NeedleError` subclass
carrying the server's stable ``code`` (match on it), its ``type``, the HTTP ``status`` and
the ``request_id`` to quote when reporting a problem. Codes: docs/errors.md.
"""

from __future__ import annotations

import json
from typing import Any, Optional


class NeedleError(Exception):
    """Base class of every error raised by the client."""

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        type: Optional[str] = None,
        status: Optional[int] = None,
        link: Optional[str] = None,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.type = type
        self.status = status
        self.link = link
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code={self.code}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " | ".join(parts)


class NeedleConnectionError(NeedleError):
    """The server could not be reached (connection refused, DNS, timeout...)."""


class APIError(NeedleError):
    """The server answered with an error status."""


class InvalidRequestError(APIError):
    """``type: invalid_request`` (400, 405, 413, 415): fix the request; retrying won't help."""


class AuthenticationError(APIError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIError):
    """403: the API key lacks the scope this request needs."""


class NotFoundError(APIError):
    """``type: not_found`` (404): unknown entity, listener or route.

    A ``route_not_found`` code usually means the server is older than the client and lacks
    the feature (e.g. recommendations).
    """


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` says how long to wait (seconds)."""


class InternalServerError(APIError):
    """``type: internal`` (500): a server bug or damaged data; report the ``request_id``."""


class UnavailableError(APIError):
    """``type: system`` (503, 507): starting, overloaded, timed out or disk full; retry later."""


class JobFailedError(NeedleError):
    """``wait_for_job``: the training job failed; ``job`` is its last state (``job.error``)."""

    def __init__(self, message: str, *, job: Any = None, **kwargs: Any) -> None:
        super().__init__(message, code=kwargs.pop("code", "job_failed"), **kwargs)
        self.job = job


class JobTimeoutError(NeedleError, TimeoutError):
    """``wait_for_job``: the job was still queued or running when the timeout passed; ``job``
    is its last state. The job itself goes on on the server."""

    def __init__(self, message: str, *, job: Any = None, **kwargs: Any) -> None:
        super().__init__(message, code=kwargs.pop("code", "job_timeout"), **kwargs)
        self.job = job


_BY_TYPE = {
    "invalid_request": InvalidRequestError,
    "not_found": NotFoundError,
    "internal": InternalServerError,
    "system": UnavailableError,
}


def error_class(status: int, error_type: Optional[str]) -> type[APIError]:
    """The exception class for a status and the server's error ``type``."""
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 429:
        return RateLimitError
    if error_type in _BY_TYPE:
        return _BY_TYPE[error_type]
    if status == 404:
        return NotFoundError
    if status >= 500:
        return UnavailableError if status in (502, 503, 504, 507) else InternalServerError
    return InvalidRequestError


def from_response(
    status: int, content: bytes, headers: Any, retry_after: Optional[float] = None
) -> APIError:
    """Build the exception for an error answer (any body; JSON ``{code,message,type,link}`` expected)."""
    body: Any = None
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = content.decode("utf-8", "replace")
    if isinstance(body, dict):
        code, etype = body.get("code"), body.get("type")
        message = body.get("message") or f"HTTP {status}"
        link = body.get("link")
    else:
        code, etype, link = None, None, None
        message = f"HTTP {status}: {str(body or '')[:200]}".rstrip(": ")
    cls = error_class(status, etype)
    return cls(
        message,
        code=code,
        type=etype,
        status=status,
        link=link,
        request_id=headers.get("x-request-id"),
        retry_after=retry_after,
        body=body,
    )
