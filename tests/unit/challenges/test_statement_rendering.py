"""Statements rendered to HTML are sanitized; the public view hides tests and solution."""

from peerplatform_contracts.challenge_view import public_view, render_statement


def test_markdown_is_rendered():
    html = render_statement("# Title\n\nSome **bold** and `code < 3`.\n\n| a |\n|---|\n| 1 |")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<code>code &lt; 3</code>" in html and "<td>1</td>" in html


def test_scripts_handlers_and_javascript_links_are_removed():
    html = render_statement(
        "<script>alert(1)</script>\n\n<p onclick=\"steal()\">hi</p>\n\n"
        "[x](javascript:alert(1)) <img src=x onerror=alert(1)> <iframe src=//evil></iframe>")
    lowered = html.lower()
    for bad in ("<script", "onclick", "javascript:", "onerror", "<img", "<iframe"):
        assert bad not in lowered, (bad, html)
    assert "hi" in html


def test_links_are_kept_safe():
    html = render_statement("[docs](https://example.org)")
    assert 'href="https://example.org"' in html and 'rel="noopener noreferrer"' in html


def test_public_view():
    challenge = {"slug": "s", "title": "T", "statement": "*x*", "solution": "SECRET",
                 "tests": {"cases": []}, "version": 2}
    view = public_view(challenge)
    assert view == {"slug": "s", "title": "T", "statement": "*x*", "version": 2,
                    "statement_html": "<p><em>x</em></p>\n"}
