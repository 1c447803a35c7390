"""HTML pages of a pair server carry no server token.

jupyter-server's ``page.html`` (the base of its error and tree pages) writes the
IdentityProvider's ``token`` into ``data-jupyter-api-token``; under JupyterHub that is the pair
server's own Hub API token, which would go to every member who opens a missing URL. JupyterLab
does not need it (its page config carries the visitor's own OAuth token), so the template is
served without that attribute.
"""

from __future__ import annotations

import re

from jinja2 import BaseLoader, ChoiceLoader, TemplateNotFound

TOKEN_ATTRIBUTE = re.compile(r"\{%\s*if logged_in and token\s*%\}.*?\{%\s*endif\s*%\}", re.S)


class _WithoutServerToken(BaseLoader):
    def __init__(self, inner: BaseLoader):
        self.inner = inner

    def get_source(self, environment, template):
        if template != "page.html":
            raise TemplateNotFound(template)
        source, filename, uptodate = self.inner.get_source(environment, template)
        return TOKEN_ATTRIBUTE.sub("", source), filename, uptodate


def hide_server_token(web_app) -> None:
    env = web_app.settings.get("jinja2_env")
    if env is None or isinstance(getattr(env.loader, "loaders", [None])[0], _WithoutServerToken):
        return
    env.loader = ChoiceLoader([_WithoutServerToken(env.loader), env.loader])
    if env.cache is not None:
        env.cache.clear()


def serves_server_token(web_app) -> bool:
    env = web_app.settings.get("jinja2_env")
    if env is None:
        return False
    source = env.loader.get_source(env, "page.html")[0]
    return "data-jupyter-api-token" in source
