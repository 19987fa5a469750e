"""hqtrack inside the official VOT toolkit (``vot-toolkit``, VOTS multi-object mask protocol over TraX).

- :mod:`.session`: one video's objects as the toolkit numbers them (arrival order) on top of the pipeline.
- :mod:`.server`: the TraX loop (``hqtrack vot run``), started by the toolkit for every sequence.
- :mod:`.workspace`: the files of a VOT workspace (``config.yaml``, ``trackers.ini``, a local stack).

The command line is ``hqtrack_core.commands.vot`` (``hqtrack vot workspace|run``).
"""
