"""The MongoDB (DocumentDB) user repository and the indexes it needs.

Inside the DocumentDB subset: unique and compound indexes only, no transactions, no collation
(a lower-cased `email_normalized` instead), optimistic concurrency on `version`: a write is one
`find_one_and_update` filtered on `_id` (and the expected `version`) that bumps the version.

Reads that decide a write or answer a client's next request go to the primary; only the admin
listing and the purge's candidate scan may read a lagging replica (docs/data-model.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from service.app.users.domain.errors import EmailTakenError, IdentityTakenError, UserNotFoundError
from service.app.users.domain.ports import UserFilter
from service.app.users.domain.user import Role, User
from service.core.audit import AUDIT_INDEXES
from service.core.db.database import Document
from service.core.db.repository import MongoRepository
from service.core.db.versioned import versioned_update
from service.core.pagination import Cursor, Page

COLLECTION = "users"

# Kept in step with docs/data-model.md (a test compares them).
USER_INDEXES: list[IndexModel] = [
    IndexModel([("email_normalized", ASCENDING)], name="email_normalized_unique", unique=True),
    # Only linked accounts carry the field; sparse keeps the others out of the unique index.
    IndexModel([("cognito_sub", ASCENDING)], name="cognito_sub_unique", unique=True, sparse=True),
    IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="created_at_id"),
    IndexModel(
        [("role", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
        name="role_created_at_id",
    ),
    IndexModel(
        [("is_active", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
        name="is_active_created_at_id",
    ),
    IndexModel([("is_verified", ASCENDING), ("created_at", ASCENDING)], name="unverified_purge"),
]
# The security audit trail of the accounts (service/core/audit.py keeps it).
SECURITY_EVENTS = "security_events"
USERS_INDEX_PLAN: dict[str, list[IndexModel]] = {
    COLLECTION: USER_INDEXES,
    SECURITY_EVENTS: AUDIT_INDEXES,
}


def _not_found() -> Exception:
    return UserNotFoundError("User not found")


class MongoUserRepository(MongoRepository[User]):
    collection_name = COLLECTION

    def to_document(self, user: User) -> Document:
        document: Document = {
            "_id": user.id,
            "email": user.email,
            "email_normalized": user.email_normalized,
            "full_name": user.full_name,
            "password_hash": user.password_hash,
            "role": user.role.value,
            "is_active": user.is_active,
            "is_verified": user.is_verified,
            "version": user.version,
            "credential_version": user.credential_version,
            "created_at": user.created_at,
            "updated_at": user.updated_at,
        }
        if user.cognito_sub is not None:
            document["cognito_sub"] = user.cognito_sub
        return document

    def from_document(self, document: Document) -> User:
        return User(
            id=document["_id"],
            email=document["email"],
            email_normalized=document["email_normalized"],
            full_name=document["full_name"],
            password_hash=document.get("password_hash"),
            role=Role(document["role"]),
            is_active=document["is_active"],
            is_verified=document["is_verified"],
            version=document["version"],
            created_at=document["created_at"],
            updated_at=document["updated_at"],
            cognito_sub=document.get("cognito_sub"),
            # Accounts stored before the field existed are at credential version 0.
            credential_version=document.get("credential_version", 0),
        )

    def duplicate_error(self, error: DuplicateKeyError) -> Exception:
        text = str(error.details or error)
        if "cognito_sub" in text:
            return IdentityTakenError("This identity is already linked to an account")
        return EmailTakenError("An account with this email already exists")

    async def add(self, user: User) -> None:
        await self.insert(user)

    async def get(self, user_id: str) -> User | None:
        # Fills the profile cache and carries the version clients send back in `If-Match`: a
        # replica's older copy would be cached and answer 412 to the next write.
        return await self.find_one({"_id": user_id})

    async def get_by_email(self, email_normalized: str) -> User | None:
        # Login and password reset check credentials against it.
        return await self.find_one({"email_normalized": email_normalized})

    async def get_by_cognito_sub(self, sub: str) -> User | None:
        # Also the read after a concurrent first sign-in linked the identity.
        return await self.find_one({"cognito_sub": sub})

    def _values(self, changes: Mapping[str, Any]) -> Document:
        values: Document = {k: (v.value if isinstance(v, Role) else v) for k, v in changes.items()}
        values["updated_at"] = self._clock.now()
        return values

    @staticmethod
    def _credential_update(values: Document) -> Document:
        # The kit's versioned update, the security stamp moving on in the same atomic write.
        update = versioned_update(values)
        update["$inc"]["credential_version"] = 1
        return update

    async def update(
        self,
        user_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        new_credentials: bool = False,
    ) -> User:
        values = self._values(changes)
        if not new_credentials:
            return await self.update_versioned(
                {"_id": user_id}, values, expected_version=expected_version, not_found=_not_found
            )
        where: Document = {"_id": user_id}
        if expected_version is not None:
            where["version"] = expected_version
        document = await self._primary.find_one_and_update(
            where, self._credential_update(values), return_document=ReturnDocument.AFTER
        )
        if document is not None:
            return self.from_document(document)
        raise await self.refusal(
            {"_id": user_id}, expected_version=expected_version, not_found=_not_found
        )

    async def update_if_credentials(
        self,
        user_id: str,
        changes: Mapping[str, Any],
        *,
        credential_version: int,
        new_credentials: bool,
        unverified_only: bool = False,
    ) -> User | None:
        # One conditional update: of concurrent token redemptions against one credential state
        # exactly one matches (the stamp moves with it when `new_credentials`).
        where: Document = {
            "_id": user_id,
            "is_active": True,
            # A document stored before the field existed is at version 0.
            "credential_version": credential_version if credential_version else {"$in": [0, None]},
        }
        if unverified_only:
            where["is_verified"] = False
        values = self._values(changes)
        update = self._credential_update(values) if new_credentials else versioned_update(values)
        document = await self._primary.find_one_and_update(
            where, update, return_document=ReturnDocument.AFTER
        )
        return self.from_document(document) if document is not None else None

    async def delete(self, user_id: str) -> bool:
        result = await self._primary.delete_one({"_id": user_id})
        return result.deleted_count == 1

    async def delete_unverified(self, user_id: str) -> bool:
        result = await self._primary.delete_one({"_id": user_id, "is_verified": False})
        return result.deleted_count == 1

    async def list(self, *, limit: int, after: Cursor | None, where: UserFilter) -> Page[User]:
        query: Document = {}
        if where.role is not None:
            query["role"] = where.role.value
        if where.is_active is not None:
            query["is_active"] = where.is_active
        if where.email_prefix:
            query["email_normalized"] = {"$regex": "^" + re.escape(where.email_prefix)}
        # May lag: an account created a moment ago can be missing from the page.
        return await self.find_page(query, limit=limit, after=after)

    async def delete_unverified_created_before(self, cutoff: datetime) -> Sequence[User]:
        query = {"is_verified": False, "created_at": {"$lt": cutoff}}
        # The candidates may come from a lagging replica: each delete decides on the primary.
        found = [self.from_document(document) async for document in self._lagging.find(query)]
        removed: list[User] = []
        for user in found:
            # One by one, still unverified: an account verified meanwhile stays.
            result = await self._primary.delete_one({"_id": user.id, **query})
            if result.deleted_count:
                removed.append(user)
        return removed
