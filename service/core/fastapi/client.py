"""The client's address as a plain FastAPI dependency: the one the forwarded-headers middleware
resolved (the viewer behind CloudFront and the ALB), else the peer; None when unknown."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]
