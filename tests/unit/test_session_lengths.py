"""The session lengths a learner may pick come from the settings: the lobby offers them with
the default preselected, and the waiting room accepts nothing else (issue 17)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from tornado.template import Loader
from traitlets import TraitError

import peerplatform
from peerplatform.handlers.lobby import duration_options, length_label
from peerplatform.matching.preferences import InvalidPreferences, validate_preferences
from peerplatform.settings import PeerPlatform

TEMPLATES = Path(peerplatform.__file__).parent / "templates"
PREFIX = "/services/peerplatform/"


def test_the_default_length_is_always_a_choice():
    assert PeerPlatform().duration_choices_minutes() == [30, 45, 60]
    # PEERPLATFORM_SESSION_DURATION=900 (jupyterhub_config.py) is 15 minutes: offered, first
    assert PeerPlatform(session_duration=900).duration_choices_minutes() == [15, 30, 45, 60]
    assert PeerPlatform(session_duration=1200,
                        session_duration_choices=[50, 20, 50]).duration_choices_minutes() == [
        20, 50]
    assert PeerPlatform(session_duration_choices=[]).duration_choices_minutes() == [45]
    # a length that is not whole minutes (tests' 10 s) is asked for by leaving it out
    assert PeerPlatform(session_duration=10).duration_choices_minutes() == [30, 45, 60]


@pytest.mark.parametrize("choices", [[0], [241], [30, -5]])
def test_choices_are_bounded(choices):
    with pytest.raises(TraitError, match="session_duration_choices"):
        PeerPlatform(session_duration_choices=choices)


def test_the_waiting_room_accepts_exactly_what_the_lobby_offers():
    settings = PeerPlatform(session_duration=20 * 60, session_duration_choices=[40])
    offered = [o["value"] for o in duration_options(settings)]
    assert offered == ["20", "40"]
    for value in offered:
        prefs = validate_preferences({"duration_minutes": int(value)},
                                     durations=settings.duration_choices_minutes())
        assert prefs["duration_minutes"] == int(value)
    with pytest.raises(InvalidPreferences, match="one of 20, 40"):
        validate_preferences({"duration_minutes": 45},
                             durations=settings.duration_choices_minutes())


def test_length_labels():
    assert [length_label(s) for s in (60, 45 * 60, 10, 1, 90)] == [
        "1 minute", "45 minutes", "10 seconds", "1 second", "90 seconds"]


class Page(HTMLParser):
    """The parts of a rendered page the tests look at: options, nav links, selected."""

    def __init__(self):
        super().__init__()
        self.options, self.nav, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "option" and self._in == "duration":
            self.options.append({"value": a.get("value"), "selected": "selected" in a})
        elif tag == "select":
            self._in = a.get("id")
        elif tag == "nav":
            self._in = "nav"
        elif tag == "a" and self._in == "nav":
            self.nav.append({"href": a["href"], "current": a.get("aria-current")})

    def handle_endtag(self, tag):
        if tag in ("select", "nav"):
            self._in = None

    def handle_data(self, data):
        if self._in == "duration" and self.options and "label" not in self.options[-1]:
            self.options[-1]["label"] = data.strip()
        elif self._in == "nav" and self.nav and "text" not in self.nav[-1] and data.strip():
            self.nav[-1]["text"] = data.strip()


def render(name: str, path: str, **ns) -> Page:
    page = Page()
    page.feed(Loader(str(TEMPLATES)).load(name).generate(
        request=SimpleNamespace(path=path), prefix=PREFIX, hub_prefix="/hub/",
        user={"name": "ann"}, static_url=lambda p: "/static/" + p, xsrf_token="x",
        heartbeat_interval=3, title="Page", **ns).decode())
    return page


@pytest.mark.parametrize(
    "settings, expected",
    [
        (PeerPlatform(), [("30", "30 minutes", False), ("45", "45 minutes", True),
                          ("60", "60 minutes", False)]),
        (PeerPlatform(session_duration=900), [("15", "15 minutes", True),
                                              ("30", "30 minutes", False),
                                              ("45", "45 minutes", False),
                                              ("60", "60 minutes", False)]),
        (PeerPlatform(session_duration=10, session_duration_choices=[30]),
         [("", "10 seconds", True), ("30", "30 minutes", False)]),
    ],
    ids=["defaults", "env-15-minutes", "test-10-seconds"],
)
def test_the_lobby_offers_the_settings_lengths(settings, expected):
    page = render("lobby.html", PREFIX, durations=duration_options(settings))
    assert [(o["value"], o["label"], o["selected"]) for o in page.options] == expected


NAV = [("", "Lobby"), ("leaderboard", "Leaderboards"), ("dashboard", "Dashboard"),
       ("review", "Sessions"), ("profile", "Profile")]


@pytest.mark.parametrize(
    "template, path, current",
    [
        ("lobby.html", PREFIX, "Lobby"),
        ("lobby.html", PREFIX + "lobby", "Lobby"),
        ("page.html", PREFIX + "leaderboard", "Leaderboards"),
        ("page.html", PREFIX + "review/abc123def456", "Sessions"),
        ("page.html", PREFIX + "profile", "Profile"),
    ],
)
def test_one_nav_on_every_page(template, path, current):
    page = render(template, path, durations=duration_options(PeerPlatform()))
    assert [(link["href"], link["text"]) for link in page.nav[:len(NAV)]] == [
        (PREFIX + href, text) for href, text in NAV]
    assert [link["text"] for link in page.nav if link["current"] == "page"] == [current]
