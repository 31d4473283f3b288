"""The ceilings: bare FastAPI endpoints served exactly like the API (uvicorn, uvloop, httptools).

`/ok` answers a constant. `/users/{id}` and `/users` run the database reads the API runs for
`GET /api/v1/users/{id}` (a cache miss) and `GET /api/v1/users` (a page), on a client built the
same way from the same settings, and return the documents as JSON: no authentication, cache,
validation or middleware. What the API takes beyond them is the service's own cost.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Response

from service.app.settings import get_settings
from service.core.db.database import Collection, MongoClient, build_mongo_client, on_primary
from service.core.db.keyset import NEWEST_FIRST, after_position

app = FastAPI()
_client: MongoClient | None = None


def _users() -> Collection:
    global _client
    settings = get_settings()
    if _client is None:
        _client = build_mongo_client(settings)
    return _client[settings.mongodb_db]["users"]


def _json(value: Any) -> Response:
    body = json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
    return Response(body, media_type="application/json")


@app.get("/ok")
async def ok() -> dict[str, bool]:
    return {"ok": True}


@app.get("/users/{user_id}")
async def user(user_id: str) -> Response:
    # The API's read: by `_id`, on the primary.
    document = await on_primary(_users()).find_one({"_id": user_id})
    if document is None:
        return Response(status_code=404)
    return _json(document)


@app.get("/users")
async def users(limit: int = 50, cursor: str | None = None) -> Response:
    # The API's page query: one more than `limit` (to know whether a next page exists).
    query: dict[str, Any] = {}
    if cursor:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        query = after_position(datetime.fromisoformat(position["t"]), position["i"])
    page = await _users().find(query).sort(NEWEST_FIRST).limit(limit + 1).to_list()
    return _json({"items": page[:limit]})
