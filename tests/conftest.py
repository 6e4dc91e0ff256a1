"""Shared fixtures: each real server the tests start lives in its own plugin module."""

pytest_plugins = [
    "tests.fixtures.apiserver",
    "tests.fixtures.s3",
    "tests.support.plane",
]
