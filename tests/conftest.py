"""Shared fixtures: the real content and the real semantic layer, loaded once."""

from __future__ import annotations

import pytest

from bot.content import Content, load
from bot.engine import Engine
from bot.semantic import load_semantic


@pytest.fixture(scope="session")
def content() -> Content:
    return load()


@pytest.fixture(scope="session")
def engine(content: Content) -> Engine:
    status = load_semantic(content.root)
    assert status.model is not None, status.message
    return Engine(content, status.model)
