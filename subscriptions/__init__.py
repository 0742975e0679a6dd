"""The event bus, channel names, event payloads, presence and locks."""
