import sys

from edp_local.runtime.cli import main

sys.exit(main())
