"""Babel extractor for the taxonomy's reader-facing words: the plain wording of each tactic and
the labels of target profiles, shown on the public report form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

Message = tuple[int, str, str, list[str]]


def taxonomy(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[Message]:
    data = json.load(fileobj)
    for tactic in data["tactics"]:
        yield 0, "gettext", tactic["plain"], [f"tactic {tactic['code']}"]
    for profile in data["target_profiles"]:
        yield 0, "gettext", profile["label"], [f"target profile {profile['code']}"]
