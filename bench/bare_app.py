"""The ceiling: a bare FastAPI endpoint served exactly like the API (uvicorn, uvloop, httptools)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/ok")
async def ok() -> dict[str, bool]:
    return {"ok": True}
