# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the operator's-toolkit suite (issue 6): the integration
suite's own volumes, mounts, watchdog and failure reports, loaded from
../integration/conftest.py so both suites make volumes the same way and
honour the same environment (TIDEFS_TEST_META=redis, TIDEFS_BIN, ...)."""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "..", "integration")
sys.path.insert(0, INTEGRATION)

_spec = importlib.util.spec_from_file_location("tidefs_integration_conftest",
                                               os.path.join(INTEGRATION, "conftest.py"))
_it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_it)

# every fixture and hook, re-exported so pytest finds them in this conftest
globals().update({k: v for k, v in vars(_it).items() if not k.startswith("_")})
