"""Allow ``python -m migrate``."""

import sys

from migrate.cli import main

if __name__ == "__main__":  # a worker started by spawn imports this module again
    sys.exit(main())
