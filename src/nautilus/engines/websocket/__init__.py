"""The WebSocket engine: the message hub behind the gateway's ``/ws`` (channels, sequence numbers, replay)."""
