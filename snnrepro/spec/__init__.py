"""Experiment specs: YAML files -> validated, profile-resolved :class:`Spec` objects.

A spec is one paper table row (``experiments/<paper>/<id>.yaml``).  Loading is strict and imports no
torch and no model code: unknown keys, wrong types, unknown registry names, model params the family
does not take and architecture strings that do not parse are refused with a :class:`SpecError` that
names the file, the key path and what was expected.  What only the code can tell (shapes, model size,
factories' own param checks) is :mod:`snnrepro.spec.deep`, which the engine runs when it builds a run
(and ``load_spec(..., deep=True)``, ``snnrepro show --build``, ``snnrepro list --build``).  Profiles
(``full``, ``quick``, ``smoke``) override budget keys only — ``train.*`` and ``dataset.*`` — never the
method.

One module per job:

=================  ==================================================================================
``classes``        the dataclasses (:class:`Spec`, ...), :meth:`Spec.hash`, the spec id rule, ``PAPERS``
``convert``        raw mapping -> dataclasses by type hints (unknown keys, types, key paths)
``profiles``       profiles (budget defaults, ``profiles:``), ``deep_merge``, ``--set`` (:func:`parse_set`)
``validate``       value ranges, optimizer and schedule, then the registry checks (``check``)
``load``           :func:`load_spec`, :func:`resolve`, the experiments folder (:func:`spec_files`, ...)
``errors``         :class:`SpecError` and how values are quoted in it
``yaml_file``      reading one file safely (size, depth, no aliases)
``extends``        ``extends:`` (merge, chains, cycles)
``check``          torch-free checks against the registries: names, model params, architecture syntax
``deep``           the checks that need the code (meta-device build, size limit, factories' params)
``plugin_names``   the built-in registry names and each family's ``model.params``, without torch
``optim_names``    the optimizer and schedule names, without torch
``schema``         the JSON Schema of spec files (``snnrepro schema``)
=================  ==================================================================================
"""

from snnrepro.spec.classes import (
    ID_PATTERN,
    ID_RULE,
    PAPERS,
    Component,
    ModelSpec,
    OptimizerSpec,
    Reference,
    ScheduleSpec,
    Spec,
    TrainSpec,
    check_id,
    is_valid_id,
)
from snnrepro.spec.errors import MAX_MESSAGE, SpecError
from snnrepro.spec.load import experiments_dir, find_spec, load_spec, read_yaml, resolve, spec_files, spec_parents
from snnrepro.spec.profiles import PROFILE_DEFAULTS, PROFILE_KEYS, PROFILES, deep_merge, parse_set
from snnrepro.spec.validate import MAX_WORKERS, TRAIN_LIMITS
from snnrepro.spec.yaml_file import MAX_DEPTH, MAX_SPEC_BYTES, load_yaml_text, read_yaml_file

__all__ = [
    "ID_PATTERN", "ID_RULE", "MAX_DEPTH", "MAX_MESSAGE", "MAX_SPEC_BYTES", "MAX_WORKERS", "PAPERS", "PROFILES",
    "PROFILE_DEFAULTS", "PROFILE_KEYS", "TRAIN_LIMITS", "Component", "ModelSpec", "OptimizerSpec", "Reference",
    "ScheduleSpec", "Spec", "SpecError", "TrainSpec", "check_id", "deep_merge", "experiments_dir", "find_spec",
    "is_valid_id", "load_spec", "load_yaml_text", "parse_set", "read_yaml", "read_yaml_file", "resolve",
    "spec_files", "spec_parents",
]  # fmt: skip
