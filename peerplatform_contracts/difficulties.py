"""Challenge difficulties, and what a learner (or the driver) may choose."""

from __future__ import annotations

#: The difficulties a challenge has (the pack schema's ``difficulty``), easiest first.
DIFFICULTIES = ("easy", "medium", "hard")
#: "No preference": the platform chooses (the pair's level, or any challenge).
ANY = "any"
#: What a learner may ask for in the waiting room, or the driver when drawing a challenge.
CHOICES = (ANY, *DIFFICULTIES)
