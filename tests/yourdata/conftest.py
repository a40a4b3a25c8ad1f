from tests.pull.conftest import env  # noqa: F401  (the pull tests' private landing zone and sources file)
