"""PairSpawner: one named server per pair session, owned by the platform's synthetic user.

``PairSpawnerMixin`` holds the pair logic (options, environment, arguments) and can sit on top
of any spawner; :class:`PairSpawner` is the local-process spawner of the embedded setup.
Select it with ``c.JupyterHub.spawner_class = "pair"`` (entry point) or the class path.
"""

from .local import PairSpawner
from .mixin import PairSpawnerMixin, parse_user_options

__all__ = ["PairSpawner", "PairSpawnerMixin", "parse_user_options"]
