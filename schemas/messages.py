"""What travels on the queue: pydantic models serialised as JSON, versioned.

A message names articles by their URL hash; the article's text and metadata are already in
the database (the fetcher wrote them before sending), so a message is small, and a message
lost with Redis is rebuilt from the database by the next poll or `newsingest sweep`.

Versioning: ``v`` is bumped on any incompatible change; a worker refuses (dead-letters) a
version it does not know rather than guessing.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from schemas.errors import InvalidMessage

MAX_BATCH = 64

UrlHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ExtractMessage(BaseModel):
    """Run entity extraction on these stored articles (a small batch, for ``nlp.pipe``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    url_hashes: tuple[UrlHash, ...] = Field(min_length=1, max_length=MAX_BATCH)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes) -> ExtractMessage:
        """Parse and validate; InvalidMessage (permanent) with a reason otherwise."""
        try:
            raw = json.loads(data)
        except (ValueError, TypeError) as exc:
            raise InvalidMessage(f"not JSON: {exc}", reason="invalid_json") from None
        if isinstance(raw, dict) and raw.get("v") not in (None, 1):
            raise InvalidMessage(f"unknown message version {raw.get('v')!r}", reason="bad_version")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "message"
            raise InvalidMessage(f"{where}: {first['msg']}", reason="invalid_schema") from None


def batches(url_hashes: list[str], size: int = 16) -> list[ExtractMessage]:
    """Split hashes into messages of at most ``size`` articles."""
    size = max(1, min(size, MAX_BATCH))
    return [
        ExtractMessage(url_hashes=tuple(url_hashes[i : i + size]))
        for i in range(0, len(url_hashes), size)
    ]
