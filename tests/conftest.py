"""Shared test configuration: hypothesis profiles.

CI (``CI`` set in the environment) uses the derandomized ``ci`` profile, so a
run is a pure function of the code; locally the ``dev`` profile explores.
Select one explicitly with ``HYPOTHESIS_PROFILE``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
