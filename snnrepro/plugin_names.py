"""The built-in registry names a spec may choose, without importing torch or any model code.

:mod:`snnrepro.spec` checks a spec's dataset, encoder, model family, rule, loss and analysis names
against these tuples first; a name not listed here (a plugin added without touching this file) is
looked up in the real registry (:mod:`snnrepro.registry`, which imports every plugin), so a new
method still needs only its files and decorators, and is checked as fast as the built-ins once its
name is added here.  A test checks that these tuples equal the registries' built-in names.
"""

from __future__ import annotations

DATASET_NAMES = (
    "assoc_patterns", "auslan", "cifar10", "cifar100", "cifar10dvs", "digits", "dvsgesture", "fashion_mnist",
    "fsdd", "gsc", "mnist", "nmnist", "ntidigits", "standin_frames", "tidigits", "xor",
)  # fmt: skip
ENCODER_NAMES = ("amount_phase", "direct", "events", "frames", "identity", "latency", "lif_current", "rate")
MODEL_FAMILIES = ("brp", "iir", "lif", "relpsp", "relu", "resonate")
RULE_NAMES = ("backprop", "brp")
LOSS_NAMES = ("cross_entropy", "mse_onehot", "van_rossum")
ANALYSIS_NAMES = (
    "assoc_memory", "energy", "iir_kernels", "neuromorphic", "silent_neurons", "spike_times", "xor_membranes",
)  # fmt: skip

#: registry attribute in :mod:`snnrepro.registry` -> its built-in names
BUILTIN: dict[str, tuple[str, ...]] = {
    "DATASETS": DATASET_NAMES,
    "ENCODERS": ENCODER_NAMES,
    "MODELS": MODEL_FAMILIES,
    "RULES": RULE_NAMES,
    "LOSSES": LOSS_NAMES,
    "ANALYSES": ANALYSIS_NAMES,
}


def is_builtin(registry: str, name: object) -> bool:
    """Whether ``name`` is a built-in entry of the registry called ``registry`` (no import of plugins)."""
    return isinstance(name, str) and name in BUILTIN[registry]
