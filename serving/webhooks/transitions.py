"""Which tier changes a subscription wants: `FROM -> TO` patterns such as `* -> sql` or
`nurture -> mql`. `*` is any tier; `none` as FROM is a lead's first score."""

from __future__ import annotations

import re

ANY = "*"
FIRST = "none"
# As the OpenAPI document states it; matched after lower-casing.
TRANSITION_PATTERN = r"^\s*([A-Za-z0-9_*]+)\s*->\s*([A-Za-z0-9_*]+)\s*$"
_PATTERN = re.compile(TRANSITION_PATTERN)


def parse_transition(text: str) -> tuple[str, str]:
    """(from, to) of a pattern; ValueError saying how to write it."""
    match = _PATTERN.match(text.lower())
    if match is None:
        raise ValueError(
            f"{text!r} is not a transition: write FROM -> TO with tier names, * for any tier "
            "and none (as FROM) for a lead's first score, e.g. '* -> sql' or 'nurture -> mql'"
        )
    source, target = match.groups()
    if target == FIRST:
        raise ValueError(f"{text!r}: none can only be where a lead comes from")
    if source == target and source != ANY:
        raise ValueError(f"{text!r} is no change: a lead staying in {source} sends nothing")
    return source, target


def matches(transitions: tuple[str, ...], before: str | None, after: str) -> bool:
    """Whether a change from `before` (None: the first score) to `after` is subscribed."""
    if before == after:
        return False
    came_from = FIRST if before is None else before
    for text in transitions:
        source, target = parse_transition(text)
        if source in (ANY, came_from) and target in (ANY, after):
            return True
    return False
