"""Contract test: every Twilio REST call we make, with the real ``twilio`` client, against
Twilio's own OpenAPI spec served by Prism (which checks paths, SID patterns, enums, auth).

The client is pointed at the mock through its ``http_client`` (Twilio's base URL is fixed
in the library). The spec is read from the project's shared data folder
(``shared/data/twilio-oai/``, MIT), never copied into the repo. Skipped only when node or that
folder is absent, with the reason.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient

from peerplatform.voice.calls import VoiceCalls, end_conference
from peerplatform.voice.settings import VoiceSettings
from peerplatform.voice.twilio import ConferenceControl
from peerplatform_contracts.voice_identity import caller_identity, conference_name

pytestmark = [
    pytest.mark.timeout(120),
    # twilio 9.13's async client still passes aiohttp's deprecated ``auth=``
    pytest.mark.filterwarnings("ignore:.*(BasicAuth|'auth' parameter).*:DeprecationWarning"),
]

REPO = Path(__file__).resolve().parents[3]
SPEC = Path("data") / "twilio-oai" / "twilio_api_v2010.json"
SPEC_SHA256 = "99cae87a6bb1725f71363364cbd30282a13140374b2d5f9bdd5bdfa5d4c8a6d7"
ACCOUNT = "AC" + "0123456789abcdef" * 2
SECRET = "voice-secret-for-tests-0123456789"
SID = "abcdefabcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prism(tmp_path_factory, shared_dir):
    spec = shared_dir / SPEC
    if not spec.is_file():
        pytest.skip(f"Twilio's OpenAPI spec {spec} is absent from the shared data folder")
    if not shutil.which("node"):
        pytest.skip("node is not installed: the Twilio contract test needs Prism (npm)")
    prism_bin = REPO / "node_modules" / ".bin" / "prism"
    if not prism_bin.exists():
        found = shutil.which("prism")
        assert found, "Prism is missing: run `npm install` (package.json pins @stoplight/prism-cli)"
        prism_bin = Path(found)
    # the calls below were checked against this exact revision of the spec
    assert hashlib.sha256(spec.read_bytes()).hexdigest() == SPEC_SHA256, f"{spec} changed"
    logfile = tmp_path_factory.mktemp("prism") / "prism.log"
    port = free_port()
    log = open(logfile, "wb")
    # dynamic mode: lists hold one (seeded, schema-valid) item, so every call has a target
    proc = subprocess.Popen([str(prism_bin), "mock", "-d", "--seed", "42", "-h", "127.0.0.1",
                             "-p", str(port), str(spec)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "NO_COLOR": "1"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, logfile.read_text()[-2000:]
        try:
            httpx.get(base + "/2010-04-01/Accounts.json", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("Prism did not start in 60 s")
    yield base
    proc.terminate()
    proc.wait(10)


class MockHttpClient(AsyncTwilioHttpClient):
    """Sends what the client would send to api.twilio.com to the mock instead; keeps a log."""

    def __init__(self, base: str):
        super().__init__()
        self.base = urlsplit(base)
        self.sent: list[tuple[str, str, dict | None, dict | None]] = []

    async def request(self, method, url, params=None, data=None, *args, **kwargs):
        parts = urlsplit(url)
        assert parts.netloc == "api.twilio.com"
        self.sent.append((method.upper(), parts.path, params, data))
        local = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        return await super().request(method, local, params, data, *args, **kwargs)


@pytest.fixture
async def control(prism):
    settings = VoiceSettings(twilio_account_sid=ACCOUNT, twilio_api_key_sid="SK" + "1" * 32,
                             twilio_api_key_secret="k" * 32, twilio_twiml_app_sid="AP" + "2" * 32,
                             secret=SECRET)
    http = MockHttpClient(prism)
    ctl = ConferenceControl(settings, http_client=http)
    yield ctl, http
    await ctl.close()


CONF = conference_name(SECRET, SID)
LABEL = caller_identity(SECRET, SID, "alice")
CF = "CF" + "fedcba9876543210" * 2


async def test_find_the_pairs_conference_by_name(control):
    ctl, http = control
    sid = await ctl.find(CONF)
    assert sid.startswith("CF") and len(sid) == 34
    method, path, params, _ = http.sent[-1]
    assert (method, path) == ("GET", f"/2010-04-01/Accounts/{ACCOUNT}/Conferences.json")
    assert params["FriendlyName"] == CONF and params["Status"] == "in-progress"


async def test_list_participants(control):
    ctl, http = control
    parts = await ctl.participants(CF)
    assert len(parts) == 1 and parts[0].call_sid.startswith("CA")
    assert http.sent[-1][1] == f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/{CF}/Participants.json"


async def test_mute_a_participant_by_label(control):
    ctl, http = control
    await ctl.set_muted(CF, LABEL, True)
    method, path, _, data = http.sent[-1]
    assert (method, path) == (
        "POST", f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/{CF}/Participants/{LABEL}.json")
    assert data == {"Muted": "true"}


async def test_end_the_conference(control):
    ctl, http = control
    await ctl.end(CF)
    method, path, _, data = http.sent[-1]
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/{CF}.json")
    assert data == {"Status": "completed"}


async def test_the_chains_of_the_conference_control(control):
    ctl, http = control
    assert await ctl.mute_member(CONF, LABEL, False) is not None
    assert await ctl.end_conference(CONF) is True
    found = http.sent[1][1].split("/")[5]  # the conference the list gave
    assert found.startswith("CF")
    assert [(m, p.rsplit("/", 1)[-1]) for m, p, _, _ in http.sent] == [
        ("GET", "Conferences.json"), ("POST", f"{LABEL}.json"),
        ("GET", "Conferences.json"), ("POST", f"{found}.json")]


async def test_the_mock_enforces_the_contract(control, prism):
    """The mock would catch a wrong call: a bad enum value, no credentials."""
    ctl, _ = control
    with pytest.raises(TwilioRestException) as bad_enum:
        await ctl._account.conferences(CF).update_async(status="bogus")
    assert bad_enum.value.status == 422
    r = httpx.post(f"{prism}/2010-04-01/Accounts/{ACCOUNT}/Conferences/{CF}.json",
                   data={"Status": "completed"})
    assert r.status_code == 401


async def test_the_chains_the_service_runs(prism):
    """The service's own calls (``VoiceCalls``): a member's mute mutes their participant,
    and the end of the session (``end_conference``) ends the pair's conference."""
    settings = VoiceSettings(twilio_account_sid=ACCOUNT, twilio_api_key_sid="SK" + "1" * 32,
                             twilio_api_key_secret="k" * 32, twilio_twiml_app_sid="AP" + "2" * 32,
                             secret=SECRET)
    http = MockHttpClient(prism)
    calls = VoiceCalls(settings, http_client=http)
    doc = {"_id": SID, "members": ["alice", "bob"], "state": "active"}
    assert await calls.mute(doc, "bob", True) == {"muted": True, "applied": True}
    conf_list = f"/2010-04-01/Accounts/{ACCOUNT}/Conferences.json"
    assert http.sent[0][:2] == ("GET", conf_list)
    assert http.sent[0][2]["FriendlyName"] == conference_name(SECRET, SID)
    method, path, _, data = http.sent[1]
    assert method == "POST" and path.endswith(
        f"/Participants/{caller_identity(SECRET, SID, 'bob')}.json") and data == {"Muted": "true"}

    assert await end_conference(settings, SID, http_client=http) is True
    assert http.sent[2][:2] == ("GET", conf_list)
    method, path, _, data = http.sent[3]
    assert method == "POST" and data == {"Status": "completed"}
    assert path.startswith(f"/2010-04-01/Accounts/{ACCOUNT}/Conferences/CF")
    await http.close()
