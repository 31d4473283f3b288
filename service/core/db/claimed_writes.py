"""Versioned documents changed only through claims: one writer per version, even on FerretDB.

A writer first inserts a claim `{id}:{version}` into a claims collection, holding its exact
changes, then applies them to the document with the version bumped. A unique `_id` insert is
the one atomic step everywhere (DocumentDB and FerretDB alike): of concurrent writers on one
version exactly one wins. FerretDB 1.24 runs `update` and `findAndModify` as read-then-write
(measured: 20 concurrent `find_one_and_update({_id, version: 1})` gave up to 15 "winners"), so
a version filter alone does not decide a race. A claim whose update never landed (a crash in
between) is applied by the next reader or writer: it is a write-ahead record, so nothing is lost
and the document never wedges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from service.core.db.database import Document

Collection = AsyncCollection[Document]


def claim_indexes(owner_field: str) -> list[IndexModel]:
    """The claims collection's index: claims are looked up by document when it is deleted."""
    return [IndexModel([(owner_field, ASCENDING)], name=owner_field)]


class WriteContentionError(RuntimeError):
    """No write won in the allowed attempts (sustained contention on one document)."""


class ClaimedWrites:
    def __init__(
        self,
        documents: Collection,
        claims: Collection,
        *,
        owner_field: str,
        attempts: int = 20,
    ) -> None:
        self._documents = documents
        self._claims = claims
        self._owner_field = owner_field
        self._attempts = attempts

    async def current(self, document_id: str) -> Document | None:
        """The document with any claimed-but-unapplied write rolled forward."""
        while True:
            document = await self._documents.find_one({"_id": document_id})
            if document is None:
                return None
            version = document["version"]
            claim = await self._claims.find_one({"_id": f"{document_id}:{version}"})
            if claim is None:
                return document
            await self._apply(document_id, version, claim["changes"])

    async def _apply(self, document_id: str, version: int, changes: Document) -> None:
        # The version is set, not incremented: applying a claim twice is harmless.
        await self._documents.update_one(
            {"_id": document_id, "version": version},
            {"$set": {**changes, "version": version + 1}},
        )

    async def write(
        self,
        document_id: str,
        changes: Document,
        allowed: Callable[[Document], bool] = lambda _: True,
    ) -> Document | None:
        """Apply `changes` to the current version if `allowed(current)` (which may also raise);
        returns the document as it was before, or None if it is missing or the write refused.
        A writer that loses a version re-reads and decides again."""
        for _ in range(self._attempts):
            document = await self.current(document_id)
            if document is None or not allowed(document):
                return None
            version = document["version"]
            try:
                await self._claims.insert_one(
                    {
                        "_id": f"{document_id}:{version}",
                        self._owner_field: document_id,
                        "changes": changes,
                        "claimed_at": changes.get("updated_at"),
                    }
                )
            except DuplicateKeyError:
                continue
            await self._apply(document_id, version, changes)
            return document
        raise WriteContentionError(f"{document_id}: no write won in {self._attempts} attempts")

    async def forget(self, document_ids: list[str]) -> None:
        """Drop the claims of deleted documents."""
        await self._claims.delete_many({self._owner_field: {"$in": document_ids}})

    @staticmethod
    def after(document: Document, changes: dict[str, Any]) -> Document:
        """The document as a write of `changes` on it left it."""
        return {**document, **changes, "version": document["version"] + 1}
