"""One router per engine; each carries the full versioned prefix so metrics see the real route."""

API_PREFIX = "/api/v1"
