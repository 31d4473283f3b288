"""The health module: /healthz/live and /healthz/ready (the load balancer's checks)."""

from __future__ import annotations

from service.app.health.adapter.input.api.router import health_router
from service.app.health.container import HealthContainer
from service.core.module import Module

module = Module(name="health", container=HealthContainer, root_routers=(health_router,))
