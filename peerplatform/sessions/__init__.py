"""Session lifecycle on the Hub side: spawn the pair server, share it, follow it, end it."""

from .hubclient import HubAPIError, HubClient
from .lifecycle import SessionManager

__all__ = ["HubClient", "HubAPIError", "SessionManager"]
