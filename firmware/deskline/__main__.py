import sys

from deskline.cli import main

sys.exit(main())
