"""The Hub's login and signup pages (NativeAuthenticator on JupyterHub 6): a refused form is a
page that renders (never a 500), and with open signup off a learner logs in only once approved."""

from __future__ import annotations

import secrets

import pytest
import requests

from e2e_hub import start_hub
from hubuser import HubUser

pytestmark = pytest.mark.hub


def logged_in(user: HubUser) -> bool:
    """Whether the Hub takes the user's cookie: hub/home answers, not a redirect to login."""
    resp = user.http.get(user.url("hub/home"), allow_redirects=False, timeout=30)
    assert resp.status_code in (200, 302), resp.status_code
    return resp.status_code == 200


def is_login_form(resp: requests.Response) -> bool:
    return 'name="password"' in resp.text and 'name="username"' in resp.text


def tagged(name: str) -> str:
    return f"{name}-{secrets.token_hex(3)}"


@pytest.mark.parametrize("xsrf", [None, "forged"], ids=["missing", "forged"])
def test_login_post_without_a_valid_xsrf_token_is_a_403_page(hub, xsrf):
    user = HubUser(hub.url, tagged("xena"))
    assert user.signup().status_code == 200
    http = requests.Session()
    form = {"username": user.name, "password": user.password}
    if xsrf is not None:  # a visitor who has the login page (and its cookie) but not its token
        assert http.get(user.url("hub/login"), timeout=30).status_code == 200
        form["_xsrf"] = xsrf
    resp = http.post(user.url("hub/login"), data=form, allow_redirects=False, timeout=30)
    assert resp.status_code == 403, resp.text[:500]
    assert resp.headers["Content-Type"].startswith("text/html")
    # JupyterHub renders the login form again with its message, through Native's template
    assert is_login_form(resp)
    assert "Login form invalid or expired" in resp.text
    assert "jupyterhub-session-id" not in resp.cookies and "jupyterhub-hub-login" not in resp.cookies


def test_wrong_password_shows_the_login_form_with_an_error(hub):
    user = HubUser(hub.url, tagged("wanda"))
    assert user.signup().status_code == 200
    resp = user.login(password="not-my-password")
    assert resp.status_code == 200, resp.text[:500]
    assert resp.url.split("?")[0].endswith("/hub/login")
    assert is_login_form(resp)
    assert "Invalid username or password." in resp.text
    assert not logged_in(user)
    # the right password still works afterwards
    assert user.login().url.endswith("/services/peerplatform/")
    assert logged_in(user)


def test_signing_up_ends_on_the_login_page_with_the_name_filled_in(hub):
    """Open signup: the account works at once, so the signup ends on the login page, the name
    filled in and a note saying the account was created (it used to end on an empty signup
    form, the learner left to find the login page)."""
    user = HubUser(hub.url, tagged("nina"))
    resp = user.signup()
    assert resp.status_code == 200, resp.text[:500]
    assert resp.history and resp.history[0].status_code == 302
    assert resp.url.split("?")[0].endswith("/hub/login"), resp.url
    assert is_login_form(resp)
    assert f'name="username" value="{user.name}"' in resp.text
    assert "Account created. Log in with your new password." in resp.text
    assert not logged_in(user)
    assert user.login().url.endswith("/services/peerplatform/")
    assert logged_in(user)
    # the note is only for an account that exists
    fake = requests.get(hub.url + "hub/login?username=nobody-here&signed_up=1", timeout=30)
    assert fake.status_code == 200 and "Account created" not in fake.text
    # the same name again is refused on the signup form, which keeps the name typed
    again = HubUser(hub.url, user.name).signup()
    assert again.url.split("?")[0].endswith("/hub/signup")
    assert "already in use" in again.text
    assert f'value="{user.name}"' in again.text


def test_the_password_toggle_is_words_not_an_emoji(hub):
    for page in ("hub/signup", "hub/login"):
        html = requests.get(hub.url + page, timeout=30).text
        assert '<button id="eye"' in html and ">Show</button>" in html, page
        assert "\N{EYE}" not in html and "\N{KEY}" not in html, page
    assert '<label for="password_confirmation_input">' in requests.get(
        hub.url + "hub/signup", timeout=30).text


@pytest.fixture(scope="module")
def closed_hub(tmp_path_factory, redis_url, mongodb_uri):
    """The platform with open signup off and one hub admin, ``boss-admin``."""
    h = start_hub(tmp_path_factory, redis_url, mongodb_uri,
                  env={"PEERPLATFORM_OPEN_SIGNUP": "0", "PEERPLATFORM_ADMINS": "boss-admin"})
    yield h
    h.stop()


def test_without_open_signup_a_learner_logs_in_only_once_an_admin_approves(closed_hub):
    learner = HubUser(closed_hub.url, tagged("lena"))
    signup = learner.signup()
    assert signup.status_code == 200
    assert "sent to the admin" in signup.text
    assert signup.url.split("?")[0].endswith("/hub/signup")  # not signed in: approval pending

    refused = learner.login()
    assert refused.status_code == 200, refused.text[:500]
    assert is_login_form(refused)
    assert "has not been authorized by an administrator yet" in refused.text
    assert not logged_in(learner)

    # approval is an admin's: the learner can't approve themself, nor can an approved non-admin
    learner.http.get(learner.url(f"hub/authorize/{learner.name}"), timeout=30)
    assert "has not been authorized" in learner.login().text
    admin = HubUser(closed_hub.url, "boss-admin")
    assert admin.signup().status_code == 200  # hub admins are approved as they sign up
    admin.login()
    assert logged_in(admin)
    peer = HubUser(closed_hub.url, tagged("pete"))
    peer.signup()
    assert admin.http.get(admin.url(f"hub/authorize/{peer.name}"), timeout=30).status_code == 200
    peer.login()
    assert logged_in(peer)
    forbidden = peer.http.get(peer.url(f"hub/authorize/{learner.name}"), allow_redirects=False,
                              timeout=30)
    assert forbidden.status_code == 403
    assert "has not been authorized" in learner.login().text
    assert not logged_in(learner)

    pending = admin.http.get(admin.url("hub/authorize"), timeout=30)
    assert pending.status_code == 200 and learner.name in pending.text
    approve = admin.http.get(admin.url(f"hub/authorize/{learner.name}"), allow_redirects=False,
                             timeout=30)
    assert approve.status_code == 302
    assert learner.login().url.endswith("/services/peerplatform/")
    assert logged_in(learner)
