"""A learner's profile as the pages and the API show it, and who may see it: the learner,
their partners, the instructors of their cohort and admins (:mod:`.rights`)."""

from __future__ import annotations

from .rights import are_partners, can_review
from .store.profiles import FIELDS, PUBLIC_FIELDS


async def profile_model(platform, user: str, *, full: bool) -> dict:
    doc = await platform.store.profiles.details(user)
    cohort_name = await platform.store.cohorts.cohort_of(user)
    cohort = await platform.store.cohorts.get(cohort_name) if cohort_name else None
    fields = FIELDS if full else PUBLIC_FIELDS
    return {
        "user": user,
        **{f: doc.get(f, "") for f in fields},
        "cohort": {"name": cohort["_id"], "title": cohort.get("title") or cohort["_id"]}
        if cohort
        else None,
        "picture": bool(doc.get("picture_etag")),
        "picture_etag": doc.get("picture_etag"),
        "updated_at": doc.get("updated_at"),
    }


async def may_view(handler, user: str) -> bool:
    me = handler.current_user
    if user == me["name"]:
        return True
    if await can_review(handler.platform.store, me, [user]):
        return True
    return await are_partners(handler.platform.store, me["name"], user)
