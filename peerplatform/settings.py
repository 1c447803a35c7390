"""The one place that reads the platform's configuration.

Every value is a trait of :class:`PeerPlatform`, configured in ``jupyterhub_config.py`` as
``c.PeerPlatform.<name>``; store locations fall back to the environment the launcher sets
(``REDIS_URL``, ``MONGODB_URI``, ``PEERPLATFORM_DATA_DIR``) so one config file serves the
embedded setup and production alike.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from pathlib import Path

from traitlets import (
    Bool,
    CaselessStrEnum,
    Float,
    Integer,
    List,
    TraitError,
    Type,
    Unicode,
    default,
    validate,
)
from traitlets.config import Configurable

#: JupyterHub 6 named-server names: 1-30 chars of [a-z0-9-], starting with a letter.
SERVER_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,28}[a-z0-9]$")


def default_data_dir() -> Path:
    """Where the embedded setup keeps its state (hub db, stores, secrets)."""
    return Path(os.environ.get("PEERPLATFORM_DATA_DIR") or Path.cwd() / ".peerplatform").resolve()


class SecretFileError(OSError):
    """A secret file that cannot be used safely (not a regular file, or open to others)."""


def prepare_data_dir(path: str | os.PathLike) -> Path:
    """Create the platform's state folder readable by its owner only (0700), and tighten it
    if it already exists.

    Everything under it - the Hub DB, cookie and voice secrets, the stores' data, passwords and
    logs, cohorts - is out of reach of other OS users then, among them the user learners'
    kernels run as; files in it need no care of their own.
    """
    data_dir = Path(path).expanduser().resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise NotADirectoryError(f"data dir {data_dir} exists and is not a directory")
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)  # mkdir's mode does not apply to a folder that existed
    except OSError as e:
        raise PermissionError(f"cannot make the data dir {data_dir} private (mode 0700): "
                              f"{e.strerror}; is it owned by another user?") from None
    return data_dir


def _check_secret_file(path: Path) -> bool:
    """Whether ``path`` exists; if it does, make sure it is a regular file only its owner can
    read, narrowing its mode to 0600 when it is open to others."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        raise SecretFileError(f"secret file {path} is not a regular file; remove it, or "
                              "configure the path of a file")
    if st.st_mode & 0o077:
        try:
            os.chmod(path, 0o600)
        except OSError as e:
            raise SecretFileError(
                f"secret file {path} can be read by other users (mode "
                f"{stat.S_IMODE(st.st_mode):04o}) and its mode cannot be set to 0600 "
                f"({e.strerror}); make it private to the user running the platform"
            ) from None
    return True


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Return the hex secret stored at ``path``, creating it (mode 0600) on first use.

    Secrets live in files, not in a fresh ``os.urandom`` per start, so a restart of the hub or
    of a service replica keeps everyone logged in. An existing file that others may read is
    narrowed to 0600 (it may predate this rule); anything but a regular file is refused.
    """
    path = Path(path)
    if not _check_secret_file(path):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # O_EXCL: of two processes starting at once, one writes and the other reads it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            pass
        else:
            value = secrets.token_hex(nbytes)
            with os.fdopen(fd, "w") as f:
                f.write(value + "\n")
            return value
    return _read_secret(path, nbytes)


def _read_secret(path: Path, nbytes: int, wait: float = 2.0) -> str:
    """The secret in the existing file ``path``. An empty file may be one another process has
    just created: wait ``wait`` s for its value, then take it for a leftover of a crash and
    write a new secret into it."""
    deadline = time.monotonic() + wait
    while True:
        _check_secret_file(path)
        value = path.read_text().strip()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    value = secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


class PeerPlatform(Configurable):
    """Settings of the platform service (``c.PeerPlatform.*`` in ``jupyterhub_config.py``)."""

    data_dir = Unicode(
        help="""Folder for the platform's local state (embedded stores, generated secrets).

        Defaults to ``$PEERPLATFORM_DATA_DIR`` or ``./.peerplatform``.
        """,
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self):
        return str(default_data_dir())

    redis_url = Unicode(
        help="""Redis URL for the waiting room, presence, pending matches and events.

        Defaults to ``$REDIS_URL``, which ``peerplatform up`` points at the embedded Redis it
        starts. Example: ``c.PeerPlatform.redis_url = "redis://redis.internal:6379/0"``.
        """,
    ).tag(config=True)

    @default("redis_url")
    def _default_redis_url(self):
        return os.environ.get("REDIS_URL", "")

    mongodb_uri = Unicode(
        help="""MongoDB connection string for challenges, profiles, sessions and ratings.

        Defaults to ``$MONGODB_URI``, which ``peerplatform up`` points at the embedded
        MongoDB-compatible server it starts. Any real MongoDB works the same way.
        """,
    ).tag(config=True)

    @default("mongodb_uri")
    def _default_mongodb_uri(self):
        return os.environ.get("MONGODB_URI", "")

    mongodb_database = Unicode(
        "peerplatform",
        help="Name of the MongoDB database that holds the platform's collections.",
    ).tag(config=True)

    @default("mongodb_database")
    def _default_mongodb_database(self):
        return os.environ.get("PEERPLATFORM_MONGODB_DB", "peerplatform")

    service_name = Unicode(
        "peerplatform",
        help="Name of the platform's JupyterHub service (its URL prefix is /services/<name>/).",
    ).tag(config=True)

    pair_owner = Unicode(
        "pp-pairs",
        help="""Synthetic hub user that owns every pair server.

        Learners never own the server they share, so neither can stop it and roles never
        depend on ownership. The service creates this user if it does not exist.
        """,
    ).tag(config=True)

    @validate("pair_owner")
    def _validate_pair_owner(self, proposal):
        value = proposal["value"]
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", value):
            raise TraitError(f"pair_owner {value!r} is not a valid JupyterHub username")
        return value

    session_duration = Integer(
        45 * 60,
        help="Default length of a pair session, in seconds.",
    ).tag(config=True)

    @validate("session_duration")
    def _validate_session_duration(self, proposal):
        if not 10 <= proposal["value"] <= 4 * 3600:
            raise TraitError("session_duration must be between 10 s and 4 h")
        return proposal["value"]

    session_duration_choices = List(
        Integer(),
        default_value=[30, 45, 60],
        help="""The session lengths, in whole minutes, a learner may pick in the lobby; the
        waiting room refuses any other ``duration_minutes``. ``session_duration`` is always
        offered too (as the preselected choice) so the default length and the choices never
        disagree; ``[]`` offers the default length only.""",
    ).tag(config=True)

    @validate("session_duration_choices")
    def _validate_session_duration_choices(self, proposal):
        value = list(proposal["value"])
        if not all(1 <= m <= 4 * 60 for m in value):
            raise TraitError("session_duration_choices are minutes between 1 and 240")
        return sorted(set(value))

    def duration_choices_minutes(self) -> list[int]:
        """What ``duration_minutes`` may be: the choices plus the default length when it is a
        whole number of minutes (a shorter test length is asked for by leaving it out)."""
        choices = set(self.session_duration_choices)
        if self.session_duration % 60 == 0:
            choices.add(self.session_duration // 60)
        return sorted(choices)

    swap_at_fractions = List(
        Float(),
        default_value=[0.5],
        help="""When the roles swap by themselves in a session, as fractions of its length
        (``[0.5]``: at half time; ``[1/3, 2/3]``: twice; ``[]``: never, the learners swap by
        request only). Written into each session's document when the service creates it
        (``swap_schedule_s``, whole seconds after the start), so every replica's clock and
        the pair server apply the same schedule, and a change here applies to new sessions
        only.""",
    ).tag(config=True)

    @validate("swap_at_fractions")
    def _validate_swap_at_fractions(self, proposal):
        value = list(proposal["value"])
        if not all(0 < f < 1 for f in value):
            raise TraitError("swap_at_fractions are fractions of the session, between 0 and 1 "
                             "(exclusive)")
        return value

    def swap_schedule_for(self, duration_s: int) -> list[int]:
        """The session's scheduled swaps (seconds after its start) from ``swap_at_fractions``."""
        offsets = {int(duration_s * f) for f in self.swap_at_fractions}
        return sorted(t for t in offsets if 0 < t < duration_s)

    presence_ttl = Integer(
        10,
        help="""Seconds a waiting learner stays present without a heartbeat.

        A closed lobby tab stops its heartbeat; after this many seconds the learner is out of
        the waiting room and is never matched.
        """,
    ).tag(config=True)

    heartbeat_interval = Integer(
        3,
        help="Seconds between the lobby's presence heartbeats (must be below presence_ttl).",
    ).tag(config=True)

    match_interval = Integer(
        500,
        help="Milliseconds between the matcher's sweeps of the waiting room (joins also trigger one).",
    ).tag(config=True)

    auto_accept = Bool(
        False,
        help="""Confirm every match at once, without the accept/decline handshake.

        Off by default: both learners must accept within ``handshake_timeout``. The
        environment variable ``PEERPLATFORM_AUTO_ACCEPT=1`` turns it on in
        ``jupyterhub_config.py``.""",
    ).tag(config=True)

    handshake_timeout = Integer(
        20,
        help="""Seconds both matched learners have to accept. One who does not is removed
        from the waiting room with a no-show mark; one who did goes back to the head of the
        room with their original wait time.""",
    ).tag(config=True)

    match_window_start = Float(
        25.0,
        help="Rating gap a learner accepts when they join (± points; see the README's schedule).",
    ).tag(config=True)

    match_window_growth = Float(
        5.0,
        help="Points the accepted rating gap widens per second of waiting.",
    ).tag(config=True)

    match_window_cap = Float(
        400.0,
        help="Largest rating gap reached by widening (before ``match_anyone_after``).",
    ).tag(config=True)

    match_anyone_after = Float(
        120.0,
        help="""Seconds of waiting after which anyone compatible fits, whatever the rating gap
        (within the cohort rule). 0 = never: the window stays at ``match_window_cap``.""",
    ).tag(config=True)

    cohort_mode = CaselessStrEnum(
        ["prefer", "only", "anyone"],
        default_value="prefer",
        help="""How cohorts (JupyterHub groups) shape matching: ``prefer`` a partner of the same
        cohort when one fits, ``only`` within the cohort, or ``anyone`` (cohorts ignored).""",
    ).tag(config=True)

    cohort_group_prefix = Unicode(
        "",
        help="""Only JupyterHub groups whose name starts with this are cohorts (e.g.
        ``"cohort-"``). A learner in several is in the first by name; in none, in the open
        pool (cohort ``""``).""",
    ).tag(config=True)

    spawn_timeout = Integer(
        180,
        help="Seconds to wait for a pair server to become ready before the session fails.",
    ).tag(config=True)

    ended_server_grace = Integer(
        600,
        help="""Seconds a pair server stays up, read-only, after its session ended in the server
        (time-up), so learners can rate each other and look back. Sessions ended from the
        lobby, and failed ones, lose their server at once.""",
    ).tag(config=True)

    # --- pair sessions: the service's clock, grading and pair API (peerplatform/pair/) -------

    clock_interval = Float(
        0.5,
        help="""Seconds between two sweeps of the active sessions by the service's clock, in
        every replica: scheduled role swaps and the end at time-up happen at most this late.
        """,
    ).tag(config=True)

    final_snapshot_wait = Float(
        10.0,
        help="""Seconds the service waits, at time-up, for the final snapshot the pair server
        sends when it locks the notebook; past it, the latest snapshot is graded for the
        outcome. 0 grades the latest snapshot at once.""",
    ).tag(config=True)

    end_lease = Float(
        180.0,
        help="""Seconds a replica holds the end of a session while it waits for the final
        snapshot and grades it. A replica that dies meanwhile is replaced by another once this
        has passed; keep it above ``final_snapshot_wait + grading_timeout``.""",
    ).tag(config=True)

    grading_concurrency = Integer(
        4,
        help="""Test runs graded at once by one replica of the service (each runs the
        learner's code in the sandbox). One more driver's run is refused with 429 and
        ``Retry-After`` (the pair server retries); the final grading at time-up waits for
        a slot instead.""",
    ).tag(config=True)

    grading_timeout = Float(
        120.0,
        help="""Seconds one grading may take in all (the sandbox's own limits stop learner code
        much earlier); a driver's run past it answers 504, a final one records ``timeout``.""",
    ).tag(config=True)

    state_poll_interval = Float(
        0.25,
        help="""Seconds between two reads of a session's revision while a pair server's long
        poll (``GET state``) waits; changes made by the same replica answer at once.""",
    ).tag(config=True)

    pair_credentials_class = Type(
        "peerplatform.pair.credentials.PairCredentials",
        klass="peerplatform.pair.credentials.PairCredentials",
        help="""What checks a pair server's credential (``Authorization: token ...``) on the
        pair API: by default its Hub token and the pair scope filtered to its own server
        (``c.PairCredentials.*``). Tests without a Hub configure a subclass.""",
    ).tag(config=True)

    @validate("clock_interval", "state_poll_interval")
    def _validate_positive_interval(self, proposal):
        if not 0.01 <= proposal["value"] <= 60:
            raise TraitError(f"{proposal['trait'].name} must be between 0.01 and 60 s")
        return proposal["value"]

    @validate("grading_concurrency")
    def _validate_grading_concurrency(self, proposal):
        if proposal["value"] < 1:
            raise TraitError("grading_concurrency must be at least 1")
        return proposal["value"]

    challenge_packs = List(
        Unicode(),
        default_value=["builtin"],
        help="""Challenge sources loaded into the bank when the service starts, as given to
        ``peerplatform challenges load`` (``builtin``, a pack file or folder, ``exercism:PATH``,
        ``humaneval:PATH``). Loading is idempotent: unchanged challenges are skipped and a
        changed one becomes a new version (running sessions keep theirs). A source with any
        error is logged and nothing of it is loaded. Set ``[]`` to manage the bank only with
        the ``peerplatform challenges load`` command.""",
    ).tag(config=True)

    max_body_bytes = Integer(
        64 * 1024,
        help="Largest JSON request body the platform's API accepts, in bytes (413 beyond).",
    ).tag(config=True)

    rating_edit_window = Integer(
        15 * 60,
        help="""Seconds after a peer rating is given during which its rater may still change it
        (``PUT`` on the rating; 403 afterwards). 0 makes ratings final at once.""",
    ).tag(config=True)

    @validate("rating_edit_window")
    def _validate_rating_edit_window(self, proposal):
        if not 0 <= proposal["value"] <= 30 * 24 * 3600:
            raise TraitError("rating_edit_window must be between 0 s and 30 days")
        return proposal["value"]

    leaderboard_prior_mean = Float(
        3.0,
        help="""Prior mean of the leaderboards' Bayesian average (on the 1-5 rating scale):
        a learner's score is ``(C*m + sum of ratings) / (C + n)`` with ``m`` this value and
        ``C`` = ``leaderboard_prior_weight``. Rebuild the boards after changing it
        (``peerplatform leaderboard rebuild``).""",
    ).tag(config=True)

    @validate("leaderboard_prior_mean")
    def _validate_prior_mean(self, proposal):
        if not 1.0 <= proposal["value"] <= 5.0:
            raise TraitError("leaderboard_prior_mean is on the rating scale: 1 to 5")
        return proposal["value"]

    @validate("leaderboard_prior_weight", "leaderboard_cohort_prior_weight")
    def _validate_prior_weights(self, proposal):
        if proposal["value"] < 0:
            raise TraitError(f"{proposal['trait'].name} must not be negative")
        return proposal["value"]

    leaderboard_prior_weight = Float(
        5.0,
        help="""Prior weight ``C`` of the leaderboards' Bayesian average, in ratings: how many
        ratings of ``leaderboard_prior_mean`` every learner starts with, so a few lucky
        ratings cannot top the board. 0 gives the plain mean.""",
    ).tag(config=True)

    leaderboard_cohort_min_ratings = Integer(
        3,
        help="""Ratings a learner must have received to count toward their cohort's total on
        the cohort leaderboard.""",
    ).tag(config=True)

    leaderboard_cohort_prior_weight = Float(
        3.0,
        help="""Prior weight of the cohort totals: a cohort's score is
        ``(Cc*m + sum of its counted members' overall scores) / (Cc + counted members)``,
        so a cohort of one cannot top the cohort board.""",
    ).tag(config=True)

    picture_max_bytes = Integer(
        2 * 1024 * 1024,
        help="""Largest profile picture upload, in bytes (413 beyond). Uploads are decoded and
        re-encoded (at most 512 px a side, metadata dropped) before they are stored.""",
    ).tag(config=True)

    cookie_secret_file = Unicode(
        help="""File holding the service's cookie secret (created on first start, mode 0600).

        Shared by every replica of the service; defaults to ``<data_dir>/service_cookie_secret``.
        ``$PEERPLATFORM_COOKIE_SECRET`` (hex) takes precedence when set.
        """,
    ).tag(config=True)

    @default("cookie_secret_file")
    def _default_cookie_secret_file(self):
        return str(Path(self.data_dir) / "service_cookie_secret")

    def match_rules(self):
        """The matcher's rules (``peerplatform.matching.MatchRules``) from these settings."""
        from .matching import MatchRules, Window

        return MatchRules(
            window=Window(self.match_window_start, self.match_window_growth,
                          self.match_window_cap, self.match_anyone_after),
            cohort_mode=self.cohort_mode, auto_accept=self.auto_accept,
            handshake_s=self.handshake_timeout,
        )

    def cohort_of(self, groups) -> str:
        cohorts = sorted(g for g in (groups or []) if g.startswith(self.cohort_group_prefix))
        return cohorts[0] if cohorts else ""

    def cookie_secret(self) -> bytes:
        env = os.environ.get("PEERPLATFORM_COOKIE_SECRET")
        if env:
            return bytes.fromhex(env)
        return bytes.fromhex(read_or_create_secret(Path(self.cookie_secret_file)))

    def check(self) -> None:
        """Fail early, with the fix in the message, when a required store is not configured."""
        if not self.redis_url:
            raise ValueError(
                "No Redis configured: set c.PeerPlatform.redis_url or $REDIS_URL "
                "(`peerplatform up` starts an embedded Redis and sets it for you)."
            )
        if not self.mongodb_uri:
            raise ValueError(
                "No MongoDB configured: set c.PeerPlatform.mongodb_uri or $MONGODB_URI "
                "(`peerplatform up` starts an embedded MongoDB-compatible server for you)."
            )
        if self.handshake_timeout < 1:
            raise ValueError("handshake_timeout must be at least 1 s")
        if self.heartbeat_interval >= self.presence_ttl:
            raise ValueError("heartbeat_interval must be shorter than presence_ttl")
        if self.end_lease <= self.final_snapshot_wait + self.grading_timeout:
            # else a replica still grading would lose the end to another, which grades again
            raise ValueError(
                f"end_lease ({self.end_lease} s) must be longer than final_snapshot_wait + "
                f"grading_timeout ({self.final_snapshot_wait + self.grading_timeout} s)")
