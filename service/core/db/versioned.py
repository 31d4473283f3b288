"""Versioned documents: every change is one conditional update that bumps `version`.

MongoDB and DocumentDB apply an update to one document atomically, filter included: of
concurrent `find_one_and_update({_id, version: v}, ...)` calls exactly one matches, the others
find nothing. That is the whole protocol; a caller that got nothing reads the document (on the
primary) only to tell "gone" from "changed since".
"""

from __future__ import annotations

from collections.abc import Iterable

from service.core.db.database import Document


def versioned_update(changes: Document, *, unset: Iterable[str] = ()) -> Document:
    """The update document for `changes`, removing the fields in `unset`, with `version` + 1."""
    update: Document = {"$inc": {"version": 1}}
    if changes:
        update["$set"] = changes
    removed = {name: "" for name in unset}
    if removed:
        update["$unset"] = removed
    return update
