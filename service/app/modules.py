"""The one list of the service's modules.

Everything that needs to know the modules reads this list: the root container, the API
(routers, indexes, start-up), the Celery app (task modules, queues, routes, beat), the settings
class, the import contracts, and the infrastructure (the worker consumes every queue). Adding a
module is adding its line here (`scripts/new-module NAME` does it; docs/new-module.md).
"""

from __future__ import annotations

from service.app.files.module import module as files
from service.app.health.module import module as health
from service.app.users.module import module as users
from service.core.module import Module

MODULES: tuple[Module, ...] = (health, users, files)
