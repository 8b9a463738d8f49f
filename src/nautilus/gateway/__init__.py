"""The HTTP gateway: FastAPI on :8001 in front of every engine."""
