"""The platform service: a JupyterHub managed service (``python -m peerplatform service``).

It keeps no state of its own (everything is in Redis and MongoDB), so the Hub may restart it
and several replicas may run against the same stores.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass, field
from urllib.parse import urlparse

from jupyterhub.services.auth import HubAuth, HubOAuth
from peerplatform_contracts.pair_api import MAX_BODY_BYTES
from peerplatform_grader.settings import GraderSettings
from redis.asyncio import Redis
from tornado.httpserver import HTTPServer
from traitlets import Unicode, default
from traitlets.config import Application

from .challenge_packs import load_challenge_packs
from .events import EventBus
from .leaderboard import Leaderboard, Scoring
from .matching import WaitingRoom
from .matching.matcher import Matcher, describe_window
from .pair.api import PairAPI
from .pair.credentials import PairCredentials
from .sessions import HubClient, SessionManager
from .sessions.ratings import rate_ended_sessions
from .settings import PeerPlatform
from .store import Store
from .voice.settings import VoiceSettings
from .webapp import make_app

log = logging.getLogger("peerplatform")


@dataclass
class Platform:
    """What the handlers share: settings and the store, room, session and event services."""

    settings: PeerPlatform
    store: Store
    room: WaitingRoom
    sessions: SessionManager
    events: EventBus
    leaderboard: Leaderboard | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    matcher: Matcher | None = None
    pair: PairAPI | None = None  # the pair servers' API and the sessions' clock

    async def rating_changed(self, before: dict | None, after: dict) -> None:
        """A peer rating was given or edited: update the live leaderboards."""
        if self.leaderboard is not None:
            cohort = await self.store.cohorts.cohort_of(after["ratee"])
            # the board knows what it counted of this rating before: ``after`` is enough
            await self.leaderboard.apply(after, cohort)

    def wake_matcher(self) -> None:
        self.wake.set()

    async def learner_joined(self, user: str) -> None:
        """Try to match a learner right after they joined (anchored on them), then let the
        loop sweep the rest of the room."""
        if self.matcher is not None:
            try:
                await self.matcher.try_match(user)
            except Exception:  # the loop retries; the join itself succeeded
                log.exception("matching %s after their join failed", user)
        self.wake_matcher()


class PeerPlatformService(Application):
    name = "peerplatform-service"
    description = "The peerplatform service behind /services/peerplatform/ (run by JupyterHub)."

    config_file = Unicode(
        "",
        help="""Config file to load, normally the Hub's ``jupyterhub_config.py`` (its
        ``c.PeerPlatform`` section), so the platform is configured in one place.""",
    ).tag(config=True)

    aliases = {"config": "PeerPlatformService.config_file", "log-level": "Application.log_level"}
    classes = [PeerPlatform, PairCredentials, VoiceSettings, GraderSettings]

    @default("log_level")
    def _log_level_default(self):
        # like the Hub's own log: matches, sessions and the challenge bank load are news to
        # an operator (Application's default, WARN, would hide all of them)
        return logging.INFO

    def initialize(self, argv=None):
        self.parse_command_line(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
        self.platform_settings = PeerPlatform(parent=self)
        self.platform_settings.check()
        # the grader's singleton, created here so c.GraderSettings in the config file applies
        # (grading runs in the service: the final tests and the driver's runs)
        GraderSettings.instance(parent=self)

    async def run(self) -> None:
        settings = self.platform_settings
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        store = Store(settings.mongodb_uri, settings.mongodb_database)
        await store.ensure_indexes()
        await load_challenge_packs(store, settings.challenge_packs)
        hub = HubClient(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
        await hub.ensure_user(settings.pair_owner)
        room = WaitingRoom(redis, presence_ttl=settings.presence_ttl,
                           rules=settings.match_rules())
        log.info("match window: %s; cohorts: %s; handshake: %s", describe_window(room.rules.window),
                 settings.cohort_mode,
                 "auto-accept" if settings.auto_accept else f"{settings.handshake_timeout} s")
        events = EventBus(redis)
        base_url = os.environ.get("JUPYTERHUB_BASE_URL", "/")
        # the members' calls (tokens, TURN, conference control) and their end with a session
        voice_settings = VoiceSettings(parent=self)
        sessions = SessionManager(settings=settings, store=store, room=room, hub=hub,
                                  events=events, base_url=base_url,
                                  voice_settings=voice_settings)
        leaderboard = Leaderboard(redis, Scoring.from_settings(settings))
        if not await leaderboard.is_built():  # a fresh or flushed Redis: derive from MongoDB
            report = await leaderboard.rebuild(store.ratings.all(), await store.cohorts.memberships())
            log.info("leaderboards rebuilt from MongoDB: %s", report)
        platform = Platform(settings, store, room, sessions, events, leaderboard)
        # (HubAuth, not HubOAuth: pair servers present tokens; HubOAuth's cache is long)
        platform.pair = PairAPI(settings=settings, store=store, events=events,
                                hub_auth=HubAuth(api_token=os.environ["JUPYTERHUB_API_TOKEN"],
                                                 cache_max_age=0))
        platform.pair.clock.voice_settings = voice_settings  # it ends the calls at time-up

        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{settings.service_name}/")
        hub_auth = HubOAuth(api_token=os.environ["JUPYTERHUB_API_TOKEN"], cache_max_age=60)
        app = make_app(platform, hub_auth=hub_auth, prefix=prefix,
                       hub_prefix=base_url.rstrip("/") + "/hub/",
                       cookie_secret=settings.cookie_secret(),
                       voice_settings=voice_settings, pair_api=platform.pair)
        url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
        # the pair API takes the final notebook (MAX_BODY_BYTES, 413 past it); every other
        # handler checks its own, smaller cap (max_body_bytes)
        server = HTTPServer(app, xheaders=True,
                            max_body_size=max(4 * settings.max_body_bytes, 2 * MAX_BODY_BYTES))
        server.listen(url.port, url.hostname)
        log.info("peerplatform service listening on %s (prefix %s)", url.geturl(), prefix)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        matcher = asyncio.create_task(self.match_loop(platform, stop))
        clock = asyncio.create_task(platform.pair.clock.run(stop))
        await stop.wait()
        log.info("peerplatform service stopping")
        server.stop()
        matcher.cancel()
        await clock  # stops at ``stop``; sessions it was ending: their leases expire
        for task in list(sessions.tasks):
            task.cancel()
        await store.close()
        await redis.aclose()

    async def match_loop(self, platform: Platform, stop: asyncio.Event) -> None:
        """Pair waiting learners: on every join, and every ``match_interval`` ms anyway; every
        10 s also reap stuck sessions and rate ended ones."""
        matcher = platform.matcher = Matcher(platform.room, platform.events,
                                             on_confirmed=platform.sessions.launch)
        loop = asyncio.get_running_loop()
        last_reap = 0.0

        async def every():
            nonlocal last_reap
            if loop.time() - last_reap > 10.0:
                last_reap = loop.time()
                await platform.sessions.reap()
                await rate_ended_sessions(platform.store)

        await matcher.run(stop, platform.wake, platform.settings.match_interval / 1000, every)

    def start(self):
        logging.basicConfig(
            level=self.log_level, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s"
        )
        asyncio.run(self.run())


def main(argv=None):
    service = PeerPlatformService()
    service.initialize(argv)
    service.start()
