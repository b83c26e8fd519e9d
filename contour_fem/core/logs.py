"""Which ranks speak: the library declares roles, the command line decides what is shown.

The library only uses ``logging.getLogger(__name__)``. By default only world rank 0 logs (the
command line installs the handlers). Other ranks that have something of their own to say (the
leader of a sweep's case group, which solves cases rank 0 never sees) declare it with
:func:`speaking`, and :class:`RankFilter` lets their records through, tagged with their role.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

_role: str | None = None


@contextlib.contextmanager
def speaking(role: str) -> Iterator[None]:
    """Within the block, this rank's log records are shown too, prefixed with ``role``."""
    global _role
    old, _role = _role, role
    try:
        yield
    finally:
        _role = old


class RankFilter(logging.Filter):
    """Pass records of world rank 0, of every rank with ``all_ranks``, or of a speaking rank."""

    def __init__(self, rank: int, all_ranks: bool):
        super().__init__()
        self.rank, self.all_ranks = rank, all_ranks

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to show ``record``; sets ``record.who`` (``""``, ``[3] `` or ``[group 1] ``)."""
        if self.all_ranks:
            record.who = f"[{self.rank}] "
            return True
        if self.rank == 0:
            record.who = f"[{_role}] " if _role else ""
            return True
        if _role is not None:
            record.who = f"[{_role}] "
            return True
        return False
