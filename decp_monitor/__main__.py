import sys

from decp_monitor.cli import main

sys.exit(main())
