"""Where challenges come from. Each source yields :class:`Candidate` items (a raw challenge and
where it came from) plus :class:`~challenges_loader.schema.PackError` for what it could not
read; validation happens afterwards, for all of them together (see :mod:`..collect`)."""

from dataclasses import dataclass, field


@dataclass
class Candidate:
    file: str                    # the file (or folder) it came from, for error messages
    label: str                   # "'slug'" or "#3" when it has no usable slug
    data: dict
    pack: dict = field(default_factory=dict)   # defaults from the pack file
