"""The composition: one authenticating module, and overrides that need no manual resets."""

from __future__ import annotations

import pytest
from dependency_injector import containers, providers

from service.core.composition import ServiceContainer
from service.core.config import Settings
from service.core.module import Module


class Greeting:
    def __init__(self, word: str) -> None:
        self.word = word


class Greeter:
    def __init__(self, greeting: Greeting) -> None:
        self.greeting = greeting


class GreetContainer(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    greeting = providers.Singleton(Greeting, word="hello")
    greeter = providers.Singleton(Greeter, greeting=greeting)
    authenticator = providers.Singleton(object)


def test_an_override_rebuilds_what_is_built_on_it_and_undoes_it_after() -> None:
    container = ServiceContainer(Settings(), [Module(name="greet", container=GreetContainer)])
    before = container.provided(GreetContainer.greeter)
    assert before.greeting.word == "hello"
    with container.override(GreetContainer.greeting, Greeting("hi")):
        during = container.provided(GreetContainer.greeter)
        assert during.greeting.word == "hi"  # no reset by hand: the greeter was rebuilt
    after = container.provided(GreetContainer.greeter)
    assert after.greeting.word == "hello"
    assert after is not during


def test_only_one_module_may_authenticate() -> None:
    one = Module(name="one", container=GreetContainer, authenticator=GreetContainer.authenticator)
    two = Module(name="two", container=GreetContainer, authenticator=GreetContainer.authenticator)
    with pytest.raises(ValueError, match="one, two each declare an authenticator"):
        ServiceContainer(Settings(), [one, two])
