"""argon2id hashing: verification, upgrade of old parameters, unknown accounts."""

from __future__ import annotations

from service.core.helpers.password import PasswordHasher


async def test_hash_is_argon2id_and_verifies() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=1)
    stored = await hasher.hash("a long passphrase")
    assert stored.startswith("$argon2id$")
    check = await hasher.verify(stored, "a long passphrase")
    assert check.ok
    assert check.new_hash is None
    assert not (await hasher.verify(stored, "another passphrase")).ok


async def test_hash_with_old_parameters_is_upgraded_on_verify() -> None:
    old = PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=1)
    new = PasswordHasher(time_cost=2, memory_cost_kib=16384, parallelism=1)
    stored = await old.hash("a long passphrase")
    check = await new.verify(stored, "a long passphrase")
    assert check.ok
    assert check.new_hash is not None
    assert "m=16384,t=2" in check.new_hash
    assert (await new.verify(check.new_hash, "a long passphrase")).new_hash is None


async def test_unknown_account_verifies_against_a_dummy_and_fails() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=1)
    assert not (await hasher.verify(None, "anything at all")).ok


async def test_garbage_hash_is_a_failed_check_not_an_error() -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=1)
    assert not (await hasher.verify("not-a-hash", "anything at all")).ok
