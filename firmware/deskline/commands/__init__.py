"""Sub-commands of the ``deskline`` command, one module each.

Each module defines ``NAME`` (the sub-command), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. :mod:`deskline.cli` finds them by listing this package.
"""
