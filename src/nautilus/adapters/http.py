"""The HTTP path every web source shares: pacing, retries with backoff and jitter, errors that name the cause.

``HttpClient.get`` / ``get_json`` make one logical request: wait for the source's rate limiter, send
it with httpx, and retry what may succeed later (connection errors, timeouts, HTTP 429 and 5xx) up to
``settings.source_retries`` times, sleeping ``min(max, base * 2**attempt)`` scaled by a uniform random
factor in [0, 1) ("full jitter"), or the server's ``Retry-After`` when it sends one and it is longer.
What cannot succeed by retrying fails at once: 401/403 → ``SourceAuthError``, 404 → ``NotFound``,
other 4xx → ``SourceError`` with the server's message. A payload that is not the JSON it should be
is a ``SourceError`` too. The same code path runs live and under respx in the tests.
"""

from __future__ import annotations

import functools
import random
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import tenacity

from nautilus.adapters.ratelimit import RateLimiter
from nautilus.config import Settings
from nautilus.core.errors import NotFound, SourceAuthError, SourceError, SourceRateLimited, SourceUnreachable

ErrorHook = Callable[[httpx.Response], None]
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0 Safari/537.36 nautilus")


@functools.lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One TLS context (certifi's CA bundle, as httpx uses) for every client: loading it costs ~50 ms."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class RetryLater(Exception):
    """Raised inside a request (by a payload ``check``) for an answer worth retrying after a wait."""

    def __init__(self, error: SourceError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class HttpClient:
    def __init__(self, source: str, settings: Settings, limiter: RateLimiter | None = None,
                 headers: dict[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.source = source
        self.settings = settings
        self.limiter = limiter
        self.requests = 0  # sent, retries included
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(timeout=settings.source_timeout_s, follow_redirects=True, verify=tls_context(),
                                    headers={"User-Agent": USER_AGENT, **(headers or {})})

    def close(self) -> None:
        self._client.close()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    # One logical request ----------------------------------------------------------------------------
    def get(self, url: str, params: dict[str, Any] | None = None, what: str = "request",
            not_found: str | None = None, on_error: ErrorHook | None = None) -> httpx.Response:
        """The response of a GET (2xx), after pacing and retries; errors as in the module docstring.
        ``on_error(response)`` sees a 4xx answer (not 429) first and may raise the error it means."""
        return self._retrying(lambda: self._send(url, params, what, not_found, on_error))

    def get_json(self, url: str, params: dict[str, Any] | None = None, what: str = "request",
                 not_found: str | None = None, check: Callable[[Any], None] | None = None,
                 on_error: ErrorHook | None = None) -> Any:
        """The decoded JSON of a GET. ``check(payload)`` may raise ``RetryLater`` (a rate-limit note in a 200
        answer) to retry like a 429, or a ``SourceError`` to fail."""

        def once() -> Any:
            response = self._send(url, params, what, not_found, on_error)
            try:
                payload = response.json()
            except ValueError:
                raise SourceError(f"{self.source}: {what} answered with something that is not JSON "
                                  f"({snippet(response.text)!r})", field="source") from None
            if check is not None:
                check(payload)
            return payload

        return self._retrying(once)

    def _retrying(self, once: Callable[[], Any]) -> Any:
        return with_retries(self.settings, once, sleep=self._sleep, rng=self._rng)

    def _send(self, url: str, params: dict[str, Any] | None, what: str, not_found: str | None,
              on_error: ErrorHook | None = None) -> httpx.Response:
        if self.limiter is not None:
            self.limiter.acquire()
        self.requests += 1
        try:
            response = self._client.get(url, params=params)
        except httpx.TimeoutException:
            raise RetryLater(SourceUnreachable(
                f"{self.source}: {what} timed out after {self.settings.source_timeout_s:g} s", field="source")
            ) from None
        except httpx.TransportError as exc:
            raise RetryLater(SourceUnreachable(
                f"{self.source}: cannot reach {httpx.URL(url).host} ({type(exc).__name__}: {exc})",
                field="source")) from None
        status = response.status_code
        if status < 400:
            return response
        detail = snippet(response.text)
        if status == 429:
            raise RetryLater(SourceRateLimited(
                f"{self.source}: rate limited (HTTP 429) on {what}, still after "
                f"{self.settings.source_retries} retries: {detail}", field="source"),
                retry_after=retry_after(response.headers))
        if status >= 500:
            raise RetryLater(SourceUnreachable(
                f"{self.source}: server error HTTP {status} on {what}: {detail}", field="source"),
                retry_after=retry_after(response.headers))
        if on_error is not None:
            on_error(response)
        if status in (401, 403):
            raise SourceAuthError(f"{self.source}: access refused (HTTP {status}): check the API key; {detail}",
                                  field="source")
        if status == 404:
            raise NotFound(not_found or f"{self.source}: {what} not found (HTTP 404): {detail}", field="symbol")
        raise SourceError(f"{self.source}: {what} failed with HTTP {status}: {detail}", field="source")

def with_retries(settings: Settings, once: Callable[[], Any], sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> Any:
    """``once()``, retried while it raises ``RetryLater``: ``settings.source_retries`` times at most, waiting
    ``min(max, base * 2**attempt) * U[0, 1)`` (full jitter) or the ``retry_after`` it asks for when longer.
    The last ``RetryLater``'s error is raised when retries run out. Non-HTTP sources (ccxt, IB) use it too."""
    rng = rng or random.Random()
    base, cap = settings.source_backoff_s, settings.source_backoff_max_s

    def wait(state: tenacity.RetryCallState) -> float:
        backoff = min(cap, base * 2 ** (state.attempt_number - 1)) * rng.random()
        error = state.outcome.exception() if state.outcome is not None else None
        after = error.retry_after if isinstance(error, RetryLater) else None
        return max(backoff, min(after, cap)) if after is not None else backoff

    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(settings.source_retries + 1), wait=wait,
                                 retry=tenacity.retry_if_exception_type(RetryLater), sleep=sleep, reraise=True)
    try:
        for attempt in retrying:
            with attempt:
                return once()
    except RetryLater as exc:
        raise exc.error from None
    raise AssertionError("unreachable")  # pragma: no cover


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (None when absent or an HTTP date)."""
    value = (headers or {}).get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our backoff


def snippet(text: str, n: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "..."
