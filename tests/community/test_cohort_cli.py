"""``peerplatform cohort``: an admin puts learners in a cohort and names its instructor from
the command line; the Hub groups, the store and the leaderboards follow."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import seed
from hubuser import HubUser
from seed import ADMIN

pytestmark = pytest.mark.hub


def run_cli(hub, *args, token):
    env = dict(
        hub.env,
        JUPYTERHUB_API_TOKEN=token,
        JUPYTERHUB_API_URL=hub.api_url,
        PYTHONPATH=os.environ.get("PYTHONPATH", ""),
    )
    return subprocess.run(
        [sys.executable, "-m", "peerplatform", "cohort", *args, "--config", str(hub.config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cohort_doc(hub, name):
    async def go(store):
        return await store.cohorts.get(name)

    return seed.run(go)(hub)


@pytest.fixture(scope="module")
def admin_token(hub):
    admin = HubUser(hub.url, ADMIN)
    admin.signup()
    assert admin.login().status_code == 200
    # the admin makes an API token for themself, as on the Hub's token page
    admin.http.get(admin.url("hub/token"), timeout=30)
    resp = admin.http.post(
        hub.api_url + f"/users/{ADMIN}/tokens",
        json={"note": "cohort cli test"},
        headers={"X-XSRFToken": admin.http.cookies.get("_xsrf", path="/hub/") or ""},
        timeout=30,
    )
    assert resp.status_code in (200, 201), resp.text
    return resp.json()["token"]


def test_cli_assigns_learners_and_instructors(hub, admin_token):
    la, lb = seed.users(hub, "cla", "clb")
    ins = HubUser(hub.url, "cli-ins-" + la.name.split("-")[-1])
    assert ins.signup().status_code == 200 and ins.login().status_code == 200
    sid = seed.session(hub, la.name, lb.name)
    assert (
        lb.api(
            "POST",
            f"sessions/{sid}/rating",
            {"communication": 5, "collaboration": 5, "problem_solving": 5},
        ).status_code
        == 201
    )
    out = run_cli(
        hub,
        "south",
        "--title",
        "South College",
        "--learners",
        la.name,
        "--instructors",
        ins.name,
        token=admin_token,
    )
    assert out.returncode == 0, out.stderr
    # south is in cohorts.json from the Hub's start: its role exists, no restart line
    doc = cohort_doc(hub, "south")
    assert la.name in doc["members"] and ins.name in doc["instructors"]
    assert out.stdout == (
        f"cohort south: {len(doc['members'])} learners, "
        f"instructors: {', '.join(doc['instructors'])}\n"
    )
    group = hub.hub_api("GET", "/groups/south").json()
    assert la.name in group["users"]
    assert ins.name in hub.hub_api("GET", "/groups/south-instructors").json()["users"]
    # the learner's profile and the cohort leaderboard follow at once
    assert la.api("GET", "profile").json()["cohort"] == {"name": "south", "title": "South College"}
    rows = la.api("GET", "leaderboard?cohort=south").json()["rows"]
    assert la.name in {r["user"] for r in rows}
    # the instructor's next login carries the review right for this cohort
    ins2 = HubUser(hub.url, ins.name)
    assert ins2.login().status_code == 200 and ins2.open_lobby().status_code == 200
    assert ins2.api("GET", f"review/sessions/{sid}").status_code == 200
    # moving the learner to another cohort takes them out of the first
    out = run_cli(hub, "north", "--learners", la.name, token=admin_token)
    assert out.returncode == 0, out.stderr
    assert la.name not in hub.hub_api("GET", "/groups/south").json()["users"]
    assert la.name not in {
        r["user"] for r in la.api("GET", "leaderboard?cohort=south").json()["rows"]
    }
    # and the instructor of south no longer sees her sessions
    assert ins2.api("GET", f"review/sessions/{sid}").status_code == 404


def test_cli_refuses_bad_input_and_changes_nothing(hub, admin_token):
    out = run_cli(hub, "south", "--learners", "nobody-here", token=admin_token)
    assert out.returncode == 2 and "no such user" in out.stderr
    out = run_cli(hub, "Bad Name", token=admin_token)
    assert out.returncode == 2 and "cohort names" in out.stderr
    assert "nobody-here" not in hub.hub_api("GET", "/groups/south").json()["users"]
    env = dict(hub.env, PYTHONPATH=os.environ.get("PYTHONPATH", ""))
    env.pop("JUPYTERHUB_API_TOKEN", None)
    out = subprocess.run(
        [sys.executable, "-m", "peerplatform", "cohort", "south"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "JUPYTERHUB_API_TOKEN" in out.stderr
