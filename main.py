"""Entry point: ``python main.py [inspect|classify|record|gui] ...`` (see ``--help``)."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
