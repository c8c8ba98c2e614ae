"""``python -m fanpin.cli``: the same as the ``fanpin`` command."""

import sys

from fanpin.cli.main import main

sys.exit(main())
