"""Live leaderboards of peer ratings (Redis sorted sets, rebuilt from MongoDB)."""

from .board import Leaderboard, Scoring

__all__ = ["Leaderboard", "Scoring"]
