"""TEST ONLY: a server extension, linked after peerplatform_ext, that puts the default
Authorizer back - the pair server must then refuse to start."""


def _jupyter_server_extension_points():
    return [{"module": "pp_test_late_authorizer"}]


def _link_jupyter_server_extension(serverapp):
    from jupyter_server.auth.authorizer import AllowAllAuthorizer

    serverapp.authorizer_class = AllowAllAuthorizer


def _load_jupyter_server_extension(serverapp):
    pass
