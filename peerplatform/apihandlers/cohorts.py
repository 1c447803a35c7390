"""Cohort administration API (JupyterHub admins only): ``GET api/cohorts`` lists them,
``PUT api/cohorts/<name>`` creates or changes one::

    {"title": "Acme, spring 2026", "learners": ["alice"], "instructors": ["ivy"],
     "remove_learners": [], "remove_instructors": []}
"""

from __future__ import annotations

from tornado import web

from ..cohorts import CohortAdmin, CohortError
from ..sessions.hubclient import HubAPIError
from .base import APIHandler

FIELDS = {"title", "learners", "instructors", "remove_learners", "remove_instructors"}


class CohortAdminHandler(APIHandler):
    def _admin_only(self):
        if not self.current_user.get("admin"):
            raise web.HTTPError(403, "only JupyterHub admins manage cohorts")

    @web.authenticated
    async def get(self, name=None):
        self._admin_only()
        docs = await self.platform.store.cohorts.all()
        self.write_json(
            {
                "cohorts": [
                    {
                        "name": d["_id"],
                        "title": d.get("title"),
                        "learners": d.get("members", []),
                        "instructors": d.get("instructors", []),
                    }
                    for d in docs
                ]
            }
        )

    @web.authenticated
    async def put(self, name):
        self._admin_only()
        body = self.get_json_body(required=True)
        unknown = set(body) - FIELDS
        if unknown:
            raise web.HTTPError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        for key in FIELDS - {"title"}:
            if not isinstance(body.get(key, []), list):
                raise web.HTTPError(400, f"{key} must be a list of user names")
        admin = CohortAdmin(
            hub=self.platform.sessions.hub,
            store=self.platform.store,
            leaderboard=self.platform.leaderboard,
            data_dir=self.platform.settings.data_dir,
        )
        try:
            result = await admin.apply(
                name,
                title=body.get("title"),
                learners=body.get("learners", []),
                instructors=body.get("instructors", []),
                remove_learners=body.get("remove_learners", []),
                remove_instructors=body.get("remove_instructors", []),
            )
        except CohortError as e:
            raise web.HTTPError(400, str(e)) from None
        except HubAPIError as e:
            raise web.HTTPError(502, f"the Hub refused: {e}") from None
        self.write_json(result)


def default_handlers(prefix: str):
    return [
        (prefix + r"api/cohorts", CohortAdminHandler),
        (prefix + r"api/cohorts/([^/]{1,64})", CohortAdminHandler),
    ]
