"""The frozen app's entry point: the same ``esimdesk`` command as the wheel's console script.

The sandbox needs no second program here: ``--demo`` serves it from a thread of this process
(esimdesk/sandbox/server.py), so the bundle needs no ``python -m esimdesk.sandbox``.
"""

import sys

from esimdesk.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
