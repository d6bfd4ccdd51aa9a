import sys

from resdepth.cli import main

sys.exit(main())
