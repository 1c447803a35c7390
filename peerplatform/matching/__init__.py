"""Waiting room, presence and the atomic matcher (Redis)."""

from .waiting_room import AlreadyBusy, Match, WaitingRoom

__all__ = ["WaitingRoom", "Match", "AlreadyBusy"]
