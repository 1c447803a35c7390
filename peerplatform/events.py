"""Events to a learner's open lobby pages, over Redis pub/sub (any replica can publish)."""

from __future__ import annotations

import json
import time

from .matching import keys


class EventBus:
    def __init__(self, redis):
        self.redis = redis

    async def publish(self, user: str, type: str, **data) -> None:
        event = {"type": type, "at": time.time(), **data}
        await self.redis.publish(keys.events(user), json.dumps(event, default=str))

    async def publish_all(self, users, type: str, **data) -> None:
        for user in users:
            await self.publish(user, type, **data)

    def subscribe(self, user: str):
        """An async context manager yielding a ``PubSub`` subscribed to ``user``'s events."""
        return _Subscription(self.redis, keys.events(user))

    def subscribe_channel(self, channel: str):
        """The same for a shared channel (e.g. the leaderboards' ``pp:lb:updates``)."""
        return _Subscription(self.redis, channel)


class _Subscription:
    def __init__(self, redis, channel):
        self.pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self.channel = channel

    async def __aenter__(self):
        await self.pubsub.subscribe(self.channel)
        return self

    async def __aexit__(self, *exc):
        await self.pubsub.unsubscribe(self.channel)
        await self.pubsub.aclose()

    async def next_event(self, timeout: float) -> dict | None:
        """The next event, or None if none arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            # returns None early for control messages (e.g. the subscribe confirmation)
            message = await self.pubsub.get_message(timeout=left)
            if message is not None and message.get("type") == "message":
                return json.loads(message["data"])
        return None
