"""Shared pytest set-up: hypothesis profiles ('dev' locally, 'ci' when CI is set) and the `device` fixture."""

import os

import pytest
from hypothesis import HealthCheck, settings

import minigrad as mg

settings.register_profile(
    "dev",
    max_examples=20,
    deadline=None,  # gradchecks on a shared 2-core machine have no stable per-example time
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=15,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not mg.cuda_is_available(), reason="needs CuPy and a CUDA GPU"),
    ),
]


@pytest.fixture(params=DEVICES, scope="session")
def device(request):
    """Every op and engine test runs once per available device ('cuda' is skipped without CuPy/GPU)."""
    return request.param
