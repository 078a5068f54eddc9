"""Built-in simulators of the four vendor APIs. A separate program: only tests and ``--demo`` start it."""

from esimdesk.sandbox.base import SANDBOX_CREDENTIALS, SandboxConfig  # noqa: F401
from esimdesk.sandbox.faults import FAULT_KINDS, Fault  # noqa: F401
from esimdesk.sandbox.server import SandboxServer  # noqa: F401
