"""``python -m srgan.cli`` (and ``torchrun -m srgan.cli``): the ``srgan`` command."""

import sys

from srgan.cli import main

sys.exit(main())
