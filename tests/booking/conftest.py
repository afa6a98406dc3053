from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Photos go to a temporary folder through the storage API."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path
