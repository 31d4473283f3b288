"""The kit's base repository against the real database: mapping, duplicate keys, pages, and
the conditional write with its one refusal path."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from service.core.clock import SystemClock
from service.core.config import Settings
from service.core.db.database import Database, Document, build_mongo_client, ensure_indexes
from service.core.db.repository import MongoRepository
from service.core.exceptions import ConflictError, NotFoundError, VersionMismatchError
from service.core.pagination import Page, decode_cursor


@dataclass
class Note:
    id: str
    title: str
    created_at: datetime
    version: int = 1


class NoteNotFoundError(NotFoundError):
    code = "note_not_found"


class TitleTakenError(ConflictError):
    code = "title_taken"


def note_not_found() -> Exception:
    return NoteNotFoundError("No such note")


class MongoNoteRepository(MongoRepository[Note]):
    collection_name = "notes"

    def to_document(self, note: Note) -> Document:
        return {
            "_id": note.id,
            "title": note.title,
            "created_at": note.created_at,
            "version": note.version,
        }

    def from_document(self, document: Document) -> Note:
        return Note(
            id=document["_id"],
            title=document["title"],
            created_at=document["created_at"],
            version=document["version"],
        )

    def duplicate_error(self, error: DuplicateKeyError) -> Exception:
        return TitleTakenError("A note with this title exists")


@pytest.fixture
async def notes(settings: Settings) -> AsyncIterator[MongoNoteRepository]:
    client = build_mongo_client(settings)
    database: Database = client.get_database(f"{settings.mongodb_db}_repo_{uuid.uuid4().hex[:6]}")
    await ensure_indexes(
        database, {"notes": [IndexModel([("title", ASCENDING)], name="title", unique=True)]}
    )
    yield MongoNoteRepository(database, SystemClock())
    await client.drop_database(database.name)
    await client.close()


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def note(title: str, minutes: int = 0) -> Note:
    return Note(id=uuid.uuid4().hex, title=title, created_at=T0 + timedelta(minutes=minutes))


async def test_insert_maps_a_unique_index_refusal_to_the_modules_error(
    notes: MongoNoteRepository,
) -> None:
    first = note("a")
    await notes.insert(first)
    assert await notes.find_one({"_id": first.id}) == first
    with pytest.raises(TitleTakenError):
        await notes.insert(note("a"))
    assert await notes.find_one({"_id": "missing"}) is None


async def test_pages_are_fetched_as_limit_plus_one_and_chain_by_cursor(
    notes: MongoNoteRepository,
) -> None:
    for i in range(5):
        await notes.insert(note(f"n{i}", minutes=i))
    first = await notes.find_page({}, limit=2, after=None)
    assert [n.title for n in first.items] == ["n4", "n3"]
    assert first.next_cursor is not None
    second = await notes.find_page({}, limit=2, after=decode_cursor(first.next_cursor))
    third = await notes.find_page({}, limit=2, after=decode_cursor(second.next_cursor or ""))
    assert [n.title for n in second.items + third.items] == ["n2", "n1", "n0"]
    assert third.next_cursor is None  # exactly the last row: no empty page after it
    exact = await notes.find_page({}, limit=5, after=None)
    assert exact.next_cursor is None
    assert exact.map(lambda n: n.title) == Page(["n4", "n3", "n2", "n1", "n0"], None)


async def test_a_conditional_write_refuses_in_one_way(notes: MongoNoteRepository) -> None:
    stored = note("v")
    await notes.insert(stored)
    changed = await notes.update_versioned(
        {"_id": stored.id}, {"title": "v2"}, expected_version=1, not_found=note_not_found
    )
    assert (changed.title, changed.version) == ("v2", 2)
    with pytest.raises(VersionMismatchError):  # stale: 412
        await notes.update_versioned(
            {"_id": stored.id}, {"title": "v3"}, expected_version=1, not_found=note_not_found
        )
    with pytest.raises(NoteNotFoundError):  # gone, whatever the version
        await notes.update_versioned(
            {"_id": "missing"}, {"title": "x"}, expected_version=1, not_found=note_not_found
        )
    anyway = await notes.update_versioned(  # If-Match: * -> any version
        {"_id": stored.id}, {"title": "v4"}, expected_version=None, not_found=note_not_found
    )
    assert anyway.version == 3
    with pytest.raises(VersionMismatchError):
        await notes.delete_versioned(
            {"_id": stored.id}, expected_version=2, not_found=note_not_found
        )
    await notes.delete_versioned({"_id": stored.id}, expected_version=3, not_found=note_not_found)
    with pytest.raises(NoteNotFoundError):
        await notes.delete_versioned(
            {"_id": stored.id}, expected_version=None, not_found=note_not_found
        )


async def test_concurrent_writers_at_one_version_have_one_winner(
    notes: MongoNoteRepository,
) -> None:
    stored = note("race")
    await notes.insert(stored)

    async def write(i: int) -> str:
        try:
            await notes.update_versioned(
                {"_id": stored.id}, {"title": f"w{i}"}, expected_version=1, not_found=note_not_found
            )
        except VersionMismatchError:
            return "stale"
        return "won"

    outcomes = await asyncio.gather(*(write(i) for i in range(20)))
    assert sorted(outcomes) == ["stale"] * 19 + ["won"]
