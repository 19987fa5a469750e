"""The parsers of the ``hqtrack`` sub-commands, one module each (``add_parser(subparsers)``), apart from the work.

These modules import argparse and the option names alone (:mod:`.choices`): no torch, no network code, so
``hqtrack track --help`` and a usage error (``hqtrack track --precision bogus``) answer at once. Each parser sets
``handler``, the name of the function of ``hqtrack_core.commands.<command>`` that runs the parsed command;
``hqtrack_core.cli`` imports that module only once the arguments have parsed.
"""
