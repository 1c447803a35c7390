"""Profiles: own edit, public part for partners, picture uploads (types, cap, re-encoding),
escaping of user text in pages."""

from __future__ import annotations

import io

import pytest
import seed
from PIL import Image, PngImagePlugin

pytestmark = pytest.mark.hub

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'


@pytest.fixture(scope="module")
def people(hub):
    pia, raj, sam = seed.users(hub, "pia", "raj", "sam")
    seed.session(hub, pia.name, raj.name)  # pia and raj are partners; sam is a stranger
    return pia, raj, sam


def png_with_metadata(size=(64, 48), alpha=False) -> bytes:
    img = Image.new(
        "RGBA" if alpha else "RGB", size, (200, 30, 30, 128) if alpha else (200, 30, 30)
    )
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "secret-author-name")
    info.add_text("GPS", "51.75,-1.25")
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (900, 600), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # orientation: rotate 90
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(user, data: bytes, ctype: str):
    return user.api("PUT", "profile/picture", raw=data, headers={"Content-Type": ctype})


def test_own_profile_edit_and_read_back(people):
    pia = people[0]
    assert pia.api("GET", "profile").json()["first_name"] == ""
    resp = pia.api(
        "PUT",
        "profile",
        {
            "first_name": " Pia ",
            "last_name": "Quinn",
            "city": "Lyon",
            "country": "France",
            "bio": "Likes\ngraphs.",
        },
    )
    assert resp.status_code == 200, resp.text
    got = pia.api("GET", "profile").json()
    assert (got["first_name"], got["city"], got["bio"]) == ("Pia", "Lyon", "Likes\ngraphs.")
    # a partial edit keeps the rest
    assert pia.api("PUT", "profile", {"country": "FR"}).json()["first_name"] == "Pia"


@pytest.mark.parametrize(
    "body, says",
    [
        ({"first_name": "x" * 61}, "60"),
        ({"bio": "x" * 2001}, "2000"),
        ({"first_name": 7}, "string"),
        ({"city": "a\x00b"}, "control"),
        ({"last_name": "a\nb"}, "control"),
        ({"email": "x@y"}, "email"),
        ({}, "nothing to change"),
    ],
)
def test_bad_profile_edits_are_400_and_change_nothing(people, body, says):
    raj = people[1]
    before = raj.api("GET", "profile").json()
    resp = raj.api("PUT", "profile", body)
    assert resp.status_code == 400 and says in resp.json()["message"]
    assert raj.api("GET", "profile").json() == before


def test_partners_see_the_public_part_strangers_nothing(people):
    pia, raj, sam = people
    pia.api("PUT", "profile", {"city": "Lyon", "first_name": "Pia"})
    public = raj.api("GET", f"profiles/{pia.name}").json()
    assert public["first_name"] == "Pia" and "city" not in public
    assert pia.api("GET", f"profiles/{pia.name}").json()["city"] == "Lyon"
    assert sam.api("GET", f"profiles/{pia.name}").status_code == 404
    assert (
        sam.http.get(sam.url(f"services/peerplatform/profile/{pia.name}"), timeout=30).status_code
        == 404
    )
    page = raj.http.get(raj.url(f"services/peerplatform/profile/{pia.name}"), timeout=30)
    assert page.status_code == 200 and "Pia" in page.text and "Lyon" not in page.text


def test_xss_in_names_and_bio_renders_inert(people):
    pia, raj, _ = people
    assert pia.api("PUT", "profile", {"first_name": XSS[:60], "bio": XSS}).status_code == 200
    for viewer, path in ((pia, "profile"), (raj, f"profile/{pia.name}")):
        page = viewer.http.get(viewer.url(f"services/peerplatform/{path}"), timeout=30)
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # the API returns the text as given (JSON, not HTML)
    assert pia.api("GET", "profile").json()["bio"] == XSS


def test_picture_is_reencoded_without_metadata(people):
    pia, raj, sam = people
    resp = upload(pia, png_with_metadata(), "image/png")
    assert resp.status_code == 200, resp.text
    assert resp.json()["content_type"] == "image/jpeg"  # no transparency: JPEG
    pic = raj.http.get(
        raj.url(f"services/peerplatform/api/profiles/{pia.name}/picture"), timeout=30
    )
    assert pic.status_code == 200
    assert pic.headers["Content-Type"] == "image/jpeg"
    assert pic.headers["X-Content-Type-Options"] == "nosniff"
    assert pic.headers["ETag"]
    assert b"secret-author-name" not in pic.content and b"51.75" not in pic.content
    img = Image.open(io.BytesIO(pic.content))
    assert img.format == "JPEG" and img.size == (64, 48)
    assert not img.getexif() and "Author" not in img.info
    # cached copies revalidate
    again = raj.http.get(pic.url, headers={"If-None-Match": pic.headers["ETag"]}, timeout=30)
    assert again.status_code == 304
    assert sam.http.get(pic.url, timeout=30).status_code == 404


def test_transparent_png_stays_png_and_exif_jpeg_is_rotated_and_scrubbed(people):
    pia = people[0]
    assert (
        upload(pia, png_with_metadata(alpha=True), "image/png").json()["content_type"]
        == "image/png"
    )
    resp = upload(pia, jpeg_with_exif(), "image/jpeg")
    assert resp.status_code == 200
    got = resp.json()
    assert got["height"] == 512 and got["width"] in (
        341,
        342,
    )  # rotated by its orientation, scaled to 512
    pic = pia.http.get(
        pia.url(f"services/peerplatform/api/profiles/{pia.name}/picture"), timeout=30
    )
    assert b"SecretCam" not in pic.content
    assert not Image.open(io.BytesIO(pic.content)).getexif()


def test_oversized_fake_and_wrong_type_pictures_are_refused(hub, people):
    raj = people[1]
    assert upload(raj, png_with_metadata(), "image/png").status_code == 200
    before = raj.api("GET", "profile").json()["picture_etag"]
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024 + 10)
    resp = upload(raj, big, "image/png")
    assert resp.status_code == 413, resp.status_code
    fake = b"<?php echo 'not an image'; ?>" * 10
    resp = upload(raj, fake, "image/png")
    assert resp.status_code == 400 and "image" in resp.json()["message"]
    truncated = png_with_metadata((300, 300))[:200]
    assert upload(raj, truncated, "image/png").status_code == 400
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert upload(raj, svg, "image/svg+xml").status_code == 415
    assert upload(raj, png_with_metadata(), "text/html").status_code == 415
    bmp = io.BytesIO()
    Image.new("RGB", (8, 8)).save(bmp, "BMP")
    assert upload(raj, bmp.getvalue(), "image/png").status_code == 400  # a BMP renamed to PNG
    assert upload(raj, b"", "image/png").status_code == 400
    assert raj.api("GET", "profile").json()["picture_etag"] == before
    # without the XSRF header a cookie upload is refused
    resp = raj.api(
        "PUT",
        "profile/picture",
        raw=png_with_metadata(),
        headers={"Content-Type": "image/png", "X-XSRFToken": "forged"},
    )
    assert resp.status_code == 403
    assert raj.api("DELETE", "profile/picture").json() == {"picture": False}
    assert raj.api("GET", f"profiles/{raj.name}/picture").status_code == 404


def test_anonymous_is_refused(hub, people):
    import requests

    for method, path in (
        ("GET", "api/profile"),
        ("PUT", "api/profile/picture"),
        ("GET", f"api/profiles/{people[0].name}"),
    ):
        resp = requests.request(
            method, hub.url + "services/peerplatform/" + path, timeout=10, allow_redirects=False
        )
        assert resp.status_code == 403, path
