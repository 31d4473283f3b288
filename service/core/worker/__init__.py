"""The worker as an application of the Celery library (`service.core.celery_task`): the
runtime that gives each worker process one event loop and one composition, and core's own tasks
(mail delivery, the pipeline probe). The library never imports this package or the container;
this package builds on both."""

# Core's own task modules, which every worker imports beside the modules' (`Module.task_modules`).
CORE_TASK_MODULES = ("service.core.worker.tasks",)

__all__ = ["CORE_TASK_MODULES"]
