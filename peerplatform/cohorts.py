"""Cohort administration: put learners in a cohort and name its instructors.

A cohort is a JupyterHub group of the same name; its instructors are the members of the group
``<cohort>-instructors``, which ``jupyterhub_config.py`` gives the role
``pp-instructor-<cohort>`` holding ``custom:peerplatform:review!group=<cohort>``. The Hub loads
roles when it starts, so the config reads the cohort names from ``<data_dir>/cohorts.json``,
which this module keeps up to date: a *new* cohort's instructors get their rights after the
next Hub restart; learners and instructors added to an existing cohort get them at their next
login (the Hub resolves a token's scopes when it is issued).

MongoDB's ``cohorts`` collection mirrors the groups for the platform's own queries, and the
leaderboards move a learner's entries to the new cohort at once.

Used by the admin API (``PUT /api/cohorts/<name>``, Hub admins only) and by
``peerplatform cohort`` on the command line.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .sessions.hubclient import HubAPIError, _q
from .store.cohorts import COHORT_RE, COHORT_RULE

log = logging.getLogger(__name__)


class CohortError(ValueError):
    """Bad cohort request (unknown user, bad name); nothing was changed."""


def instructors_group(cohort: str) -> str:
    return f"{cohort}-instructors"


def cohorts_file(data_dir) -> Path:
    return Path(data_dir) / "cohorts.json"


def read_cohort_names(data_dir, log: logging.Logger | None = None) -> list[str]:
    """The cohort names the Hub config turns into instructor roles (missing file: none).

    Anything else in the file is skipped with a warning on ``log``: the Hub reads this at
    start, and one bad role name would keep it from starting at all.
    """
    log = log or logging.getLogger(__name__)
    path = cohorts_file(data_dir)
    try:
        names = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        log.warning("ignoring %s (no instructor roles from it until it is fixed): %s", path, e)
        return []
    if not isinstance(names, list):
        log.warning("ignoring %s: it must hold a JSON list of cohort names", path)
        return []
    valid = []
    for name in names:
        if isinstance(name, str) and COHORT_RE.match(name):
            valid.append(name)
        else:
            log.warning(
                "%s: skipping %r, not a cohort name (%s); its instructors get no role", path,
                name, COHORT_RULE,
            )
    return valid


def _write_cohort_names(data_dir, names) -> None:
    path = cohorts_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(sorted(set(names))))
    os.replace(tmp, path)


class CohortAdmin:
    """Applies one cohort change: checks and plans it (nothing changed yet), makes the Hub's
    changes, undoing them if the Hub refuses one, and only then updates what follows the Hub
    (the store's mirror, the leaderboards, ``cohorts.json``). A refusal changes nothing here."""

    def __init__(self, *, hub, store, leaderboard=None, data_dir):
        self.hub = hub
        self.store = store
        self.leaderboard = leaderboard
        self.data_dir = data_dir

    async def _group_users(self, group: str) -> list[str] | None:
        """The Hub group's members, None when there is no such group."""
        try:
            return (await self.hub.request("GET", f"/groups/{_q(group)}"))["users"]
        except HubAPIError as e:
            if e.status == 404:
                return None
            raise

    async def _check_users(self, users) -> None:
        for user in users:
            try:
                await self.hub.request("GET", f"/users/{_q(user)}")
            except HubAPIError as e:
                if e.status == 404:
                    raise CohortError(f"no such user: {user}") from None
                raise

    async def _undo(self, steps: list[tuple]) -> None:
        for method, path, body in reversed(steps):
            try:
                await self.hub.request(method, path, body)
            except HubAPIError as e:
                log.warning("the Hub refused a cohort change, and undoing %s %s failed: %s",
                            method, path, e)

    async def _change_hub(self, name: str, groups: dict, moving: dict, *, learners,
                          instructors, remove_learners, remove_instructors) -> None:
        """The Hub's part, step by step (``groups``: the members of the cohort's two groups
        now, None for one to create); on a refusal, the steps done are undone."""
        undo: list[tuple] = []

        async def step(method, path, body, inverse=None):
            await self.hub.request(method, path, body)
            if inverse is not None:
                undo.append(inverse)

        try:
            for group, users in groups.items():
                if users is None:
                    try:
                        await step("POST", f"/groups/{_q(group)}", None,
                                   ("DELETE", f"/groups/{_q(group)}", None))
                    except HubAPIError as e:
                        if e.status != 409:  # made meanwhile by someone else: keep it
                            raise
            members = groups[name] or []
            teachers = groups[instructors_group(name)] or []
            # one cohort per learner: leave the previous one
            for user, old in moving.items():
                await step("DELETE", f"/groups/{_q(old)}/users", {"users": [user]},
                           ("POST", f"/groups/{_q(old)}/users", {"users": [user]}))
            for group, before, add, remove in (
                (name, members, learners, remove_learners),
                (instructors_group(name), teachers, instructors, remove_instructors),
            ):
                path = f"/groups/{_q(group)}/users"
                if add:
                    new = [u for u in add if u not in before]
                    await step("POST", path, {"users": list(add)},
                               ("DELETE", path, {"users": new}) if new else None)
                if remove:
                    were = [u for u in remove if u in before]
                    await step("DELETE", path, {"users": list(remove)},
                               ("POST", path, {"users": were}) if were else None)
        except HubAPIError:
            await self._undo(undo)
            raise

    async def apply(
        self,
        name: str,
        *,
        title: str | None = None,
        learners=(),
        instructors=(),
        remove_learners=(),
        remove_instructors=(),
    ) -> dict:
        if not isinstance(name, str) or not COHORT_RE.match(name) or name.endswith("-instructors"):
            raise CohortError(f"cohort names are {COHORT_RULE}, not ending in -instructors")
        for group in (learners, instructors, remove_learners, remove_instructors):
            if not all(isinstance(u, str) and 0 < len(u) <= 128 for u in group):
                raise CohortError("users are given as a list of user names")
        if title is not None and (not isinstance(title, str) or len(title) > 120):
            raise CohortError("title must be a string of at most 120 characters")
        await self._check_users({*learners, *instructors, *remove_learners, *remove_instructors})

        # the plan, from what is there now (nothing is changed before the Hub agreed)
        new_cohort = name not in read_cohort_names(self.data_dir)
        previous = {u: await self.store.cohorts.cohort_of(u) for u in learners}
        moving = {u: old for u, old in previous.items() if old and old != name}
        groups = {g: await self._group_users(g) for g in (name, instructors_group(name))}
        await self._change_hub(
            name, groups, moving, learners=learners, instructors=instructors,
            remove_learners=remove_learners, remove_instructors=remove_instructors,
        )

        # what follows the Hub
        await self.store.cohorts.ensure(name, title)
        if learners:
            await self.store.cohorts.add_members(name, list(learners))
            if self.leaderboard is not None:
                for user, old in previous.items():
                    await self.leaderboard.move(user, old, name)
        if remove_learners:
            await self.store.cohorts.remove_members(name, list(remove_learners))
            if self.leaderboard is not None:
                for user in remove_learners:
                    await self.leaderboard.move(user, name, None)
        if instructors:
            await self.store.cohorts.add_instructors(name, list(instructors))
        if remove_instructors:
            await self.store.cohorts.remove_instructors(name, list(remove_instructors))
        if new_cohort:
            _write_cohort_names(self.data_dir, [*read_cohort_names(self.data_dir), name])
        doc = await self.store.cohorts.get(name)
        return {
            "name": name,
            "title": doc.get("title"),
            "learners": doc.get("members", []),
            "instructors": doc.get("instructors", []),
            # the Hub defines the instructors' role when it starts
            "hub_restart_needed": new_cohort,
        }
