"""``python -m flowengine`` is the ``flowengine`` command."""

import sys

from flowengine.cli import main

sys.exit(main())
