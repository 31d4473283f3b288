"""The base of a module's MongoDB (DocumentDB) repository: one collection of one entity.

What every repository does the same way lives here once:
- two handles on the collection: `_lagging` reads with the client's read preference (replicas
  in production) and serves listings and sweeps' candidate scans; `_primary` serves every write
  and every read that decides a write, fills a cache or answers right after a write;
- document mapping: a subclass says how its entity becomes a document and back;
- a duplicate key (a unique index) becomes the module's own error (`duplicate_error`);
- keyset pages, newest first (`find_page`, on `service.core.db.keyset`);
- the conditional write of a versioned document (`update_versioned`) and its one refusal
  path: 412 `VersionMismatchError` when the record exists at another version, the module's
  not-found error when it does not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import ClassVar, Generic, TypeVar

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from service.core.clock import Clock
from service.core.db.database import Collection, Database, Document, on_primary
from service.core.db.keyset import newest_first_page
from service.core.db.versioned import versioned_update
from service.core.exceptions import VersionMismatchError
from service.core.pagination import Cursor, Page, Positioned

E = TypeVar("E", bound=Positioned)


def _at_version(query: Document, expected_version: int | None) -> Document:
    """`query`, and at `expected_version` when one is expected (None: at any version)."""
    return query if expected_version is None else {**query, "version": expected_version}


class MongoRepository(ABC, Generic[E]):
    collection_name: ClassVar[str]

    def __init__(self, database: Database, clock: Clock) -> None:
        self._clock = clock
        self._lagging: Collection = database[self.collection_name]
        self._primary: Collection = on_primary(self._lagging)

    # -- mapping ----------------------------------------------------------------------------

    @abstractmethod
    def to_document(self, entity: E) -> Document: ...

    @abstractmethod
    def from_document(self, document: Document) -> E: ...

    def duplicate_error(self, error: DuplicateKeyError) -> Exception:
        """The module's error for a unique index's refusal; the driver's error by default."""
        return error

    # -- the shared operations --------------------------------------------------------------

    async def insert(self, entity: E) -> None:
        try:
            await self._primary.insert_one(self.to_document(entity))
        except DuplicateKeyError as error:
            raise self.duplicate_error(error) from error

    async def find_one(self, query: Document) -> E | None:
        """One entity, read on the primary."""
        document = await self._primary.find_one(query)
        return self.from_document(document) if document is not None else None

    async def find_page(self, query: Document, *, limit: int, after: Cursor | None) -> Page[E]:
        """A newest-first page of the entities matching `query`. May lag: a record written a
        moment ago can be missing or one version behind."""
        documents = await newest_first_page(self._lagging, query, limit=limit + 1, after=after)
        return Page.of_rows([self.from_document(document) for document in documents], limit)

    async def update_versioned(
        self,
        query: Document,
        changes: Document,
        *,
        expected_version: int | None,
        not_found: Callable[[], Exception],
        unset: Iterable[str] = (),
    ) -> E:
        """Apply `changes` to the one record matching `query`, if it is still at
        `expected_version` (None: whatever version it is at, as `If-Match: *` asks), bumping
        its version in the same atomic write; the record after the change."""
        document = await self._primary.find_one_and_update(
            _at_version(query, expected_version),
            versioned_update(changes, unset=unset),
            return_document=ReturnDocument.AFTER,
        )
        if document is not None:
            return self.from_document(document)
        raise await self.refusal(query, expected_version=expected_version, not_found=not_found)

    async def delete_versioned(
        self,
        query: Document,
        *,
        expected_version: int | None,
        not_found: Callable[[], Exception],
    ) -> None:
        result = await self._primary.delete_one(_at_version(query, expected_version))
        if result.deleted_count != 1:
            raise await self.refusal(query, expected_version=expected_version, not_found=not_found)

    async def refusal(
        self,
        query: Document,
        *,
        expected_version: int | None,
        not_found: Callable[[], Exception],
    ) -> Exception:
        """Why a conditional write matched nothing: changed since (412) or gone (not found)."""
        if expected_version is not None and await self._primary.find_one(
            query, projection={"_id": 1}
        ):
            return VersionMismatchError("The record was changed since it was read")
        return not_found()
