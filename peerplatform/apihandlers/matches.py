"""The match handshake: ``POST api/matches/<id>/accept`` and ``POST api/matches/<id>/decline``.

A match is offered to both learners (``match_offered`` event); both must accept within
``c.PeerPlatform.handshake_timeout`` seconds. The second acceptance starts the session.
"""

from __future__ import annotations

import time

from tornado import web

from ..matching import Match
from .base import APIHandler


class MatchAnswerHandler(APIHandler):
    @web.authenticated
    async def post(self, match_id, answer):
        body = self.get_json_body()
        if body:
            raise web.HTTPError(400, f"unknown field(s): {', '.join(sorted(body))}")
        room, events = self.platform.room, self.platform.events
        if answer == "accept":
            result = await room.accept(self.username, match_id)
        else:
            result = await room.decline(self.username, match_id)
        if result[0] == "gone":
            raise web.HTTPError(404, "no such pending match for you (it may have been "
                                     "declined or have expired)")
        if result[0] == "expired":
            raise web.HTTPError(409, "the time to accept this match is over")
        if result[0] == "confirmed":
            a, b = result[1], result[2]
            self.platform.sessions.launch(Match(match_id, (a, b), matched_at=time.time()))
            self.write_json({"match": match_id, "state": "confirmed"})
        elif result[0] == "accepted":
            await events.publish(result[1], "partner_accepted", match=match_id)
            self.write_json({"match": match_id, "state": "accepted"})
        else:  # declined: the partner is back in the room
            await events.publish(result[1], "match_cancelled", match=match_id, requeued=True,
                                 reason="your partner declined; you are back at the head of "
                                        "the room")
            await events.publish(self.username, "match_cancelled", match=match_id,
                                 requeued=False, reason="you declined the match")
            self.platform.wake_matcher()
            self.write_json({"match": match_id, "state": "declined"})


def default_handlers(prefix: str):
    return [(prefix + r"api/matches/([a-z0-9]{1,32})/(accept|decline)", MatchAnswerHandler)]
