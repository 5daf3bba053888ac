"""Shared fixtures: the real content, loaded once."""

from __future__ import annotations

import pytest

from bot.content import Content, load
from bot.engine import Engine


@pytest.fixture(scope="session")
def content() -> Content:
    return load()


@pytest.fixture(scope="session")
def engine(content: Content) -> Engine:
    return Engine(content)
