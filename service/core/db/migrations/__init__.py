"""Migrations own the schema: indexes and document shapes change only through them.

`Migration` (one step: an id that never changes, and what it does) and the step builders are in
`migration.py`; `run_migrations` (a ledger collection and a lease taken by a conditional write,
so exactly one runner applies a step) in `runner.py`. The service runs them with
`python service/main.py migrate` (deployed: a one-off task before the services roll); the API
only checks that the indexes they create exist (`missing_indexes`).
"""
