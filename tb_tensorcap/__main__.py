"""`python -m tb_tensorcap …` runs the `tensorcap` command."""

import sys

from tb_tensorcap.cli import main

sys.exit(main())
