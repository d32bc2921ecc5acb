"""pytest fixtures; the helpers themselves live in tests/helpers.py (importable as tests.helpers)."""

import pytest

from tests.helpers import invoke


@pytest.fixture
def run():
    return invoke
