"""State that processes share: Redis when REDIS_URL is set, an in-process twin of the same interface
otherwise (caches, queues with leases, rate limits, media storage and its signed URLs)."""
