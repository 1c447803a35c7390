"""Waiting room, presence, the atomic matcher and the handshake (Redis); skill ratings."""

from .waiting_room import AlreadyBusy, Match, MatchRules, WaitingRoom, Window

__all__ = ["WaitingRoom", "Match", "MatchRules", "Window", "AlreadyBusy"]
