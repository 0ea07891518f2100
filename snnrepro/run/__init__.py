"""Orchestration: which (spec, seed) runs to do, which are already finished, and where they run.

``plan`` (specs and seeds -> jobs), ``skip`` (the one "finished already?" check), ``serial`` (runs in
this process: ``snnrepro run`` and ``reproduce --executor inline``), ``job`` (one job in this process),
``worker`` (``python -m snnrepro.run.worker JOB_JSON``, what child processes run), ``executors``
(local child processes and SLURM), ``report`` (what a serial run says).  Imports ``engine``, never ``cli``.
"""
