"""The users module: accounts, sessions and tokens (/api/v1/auth, /api/v1/users)."""

from __future__ import annotations

from service.app.users.adapter.input.api.v1.router import auth_router, users_router
from service.app.users.adapter.input.tasks import DELETE_UNVERIFIED_TASK
from service.app.users.adapter.output.mongo_user_repository import USERS_INDEX_PLAN
from service.app.users.application.bootstrap import bootstrap_admin
from service.app.users.container import UsersContainer
from service.app.users.settings import UsersSettings
from service.core.module import BeatEntry, Module


async def _startup(container: UsersContainer) -> None:
    settings: UsersSettings = container.settings()
    password = settings.bootstrap_admin_password
    await bootstrap_admin(
        container.user_service(),
        settings.bootstrap_admin_email,
        password.get_secret_value() if password else None,
    )


module = Module(
    name="users",
    container=UsersContainer,
    settings=UsersSettings,
    # The hot read path first.
    routers=(users_router, auth_router),
    index_plan=USERS_INDEX_PLAN,
    task_modules=("service.app.users.adapter.input.tasks",),
    beat=(
        BeatEntry(
            name="users.delete-unverified-accounts",
            task=DELETE_UNVERIFIED_TASK,
            every=lambda settings: settings.unverified_account_cleanup_interval_seconds,
        ),
    ),
    # Core's bearer authentication asks this module who a token stands for.
    authenticator=UsersContainer.authenticator,
    startup=_startup,
)
