"""An emulator test that skips: where gcloud exists, the suite must fail it (tests/test_ci.py)."""

import pytest


@pytest.mark.emulator
def test_needs_the_emulator():
    pytest.skip("pretending the emulator is missing")
