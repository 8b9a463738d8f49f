"""One router per engine, mounted under /api/v1."""
