"""pytest fixtures; the helpers themselves live in tests/helpers.py (importable as tests.helpers)."""

import pytest

from tests.helpers import invoke


@pytest.fixture
def run():
    return invoke


@pytest.fixture(scope="session")
def private_cache(tmp_path_factory):
    """PAPERTOOLS_CACHE (NLE's databases, converted datasets) in a folder of the test session's
    own."""
    folder = tmp_path_factory.mktemp("cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("PAPERTOOLS_CACHE", str(folder))
    yield folder
    patch.undo()
