"""Counts of a collection (or of the store) by difficulty, track and tag."""

from __future__ import annotations

from collections import Counter


def stats(challenges) -> dict:
    difficulty, track, tags = Counter(), Counter(), Counter()
    for c in challenges:
        difficulty[c["difficulty"]] += 1
        track[c["track"]] += 1
        tags.update(c.get("tags") or ())
    return {"total": len(challenges), "difficulty": dict(difficulty), "track": dict(track),
            "tags": dict(tags)}


def format_stats(data: dict) -> str:
    def line(name, counts):
        items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        return f"{name}: " + ", ".join(f"{k} {v}" for k, v in items)

    return "\n".join([
        f"challenges: {data['total']}",
        line("difficulty", data["difficulty"]),
        line("track", data["track"]),
        f"tags ({len(data['tags'])}): " + ", ".join(
            f"{k} {v}" for k, v in sorted(data["tags"].items(), key=lambda kv: (-kv[1], kv[0]))),
    ])
