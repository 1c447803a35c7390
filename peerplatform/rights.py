"""Who may see what, in one place: partners, instructors of a cohort, admins.

Instructors hold the custom scope ``custom:peerplatform:review!group=<cohort>`` through a
JupyterHub role (see ``jupyterhub_config.py``); the Hub puts it in the OAuth token the service
sees in ``current_user["scopes"]``. An unfiltered ``custom:peerplatform:review`` (or Hub admin)
reviews every cohort.
"""

from __future__ import annotations

REVIEW_SCOPE = "custom:peerplatform:review"


def reviewed_cohorts(user_model: dict) -> set[str] | None:
    """The cohorts this user may review; None means every cohort (admins, unfiltered scope)."""
    if user_model.get("admin"):
        return None
    cohorts: set[str] = set()
    for scope in user_model.get("scopes") or ():
        if scope == REVIEW_SCOPE:
            return None
        if scope.startswith(REVIEW_SCOPE + "!group="):
            cohorts.add(scope.split("=", 1)[1])
    return cohorts


async def can_review(store, user_model: dict, members) -> bool:
    """Whether ``user_model`` may review a session of ``members`` (or a profile/dashboard of
    one learner): a member, or an instructor of one member's cohort."""
    members = list(members)
    if user_model["name"] in members:
        return True
    cohorts = reviewed_cohorts(user_model)
    if cohorts is None:
        return True
    if not cohorts:
        return False
    for member in members:
        if await store.cohorts.cohort_of(member) in cohorts:
            return True
    return False


async def are_partners(store, a: str, b: str) -> bool:
    """``a`` and ``b`` shared a session (any state but failed)."""
    return await store.sessions.shared(a, b)
