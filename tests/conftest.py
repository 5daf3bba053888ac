"""Shared fixtures: the real content and the real semantic layer, loaded once; a private copy of the content."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import Content, load
from bot.engine import Engine
from bot.semantic import load_semantic

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def content() -> Content:
    return load()


@pytest.fixture(scope="session")
def engine(content: Content) -> Engine:
    status = load_semantic(content.root)
    assert status.model is not None, status.message
    return Engine(content, status.model)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A private copy of intents/ and directory/ to change or break."""
    for folder in ("intents", "directory"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path
