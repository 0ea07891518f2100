"""The built-in registry names a spec may choose, without importing torch or any model code.

:mod:`snnrepro.spec.check` checks a spec's dataset, encoder, model family, rule, loss and analysis names
against these tuples first; a name not listed here (a plugin added without touching this file) is
looked up in the real registry (:mod:`snnrepro.registry`, which imports every plugin), so a new
method still needs only its files and decorators, and is checked as fast as the built-ins once its
name is added here.  A test checks that these tuples equal the registries' built-in names.

:data:`MODEL_PARAMS` lists, per built-in family, the ``model.params`` names its builder accepts (its own
keywords and its config dataclass's fields: ``RelPspConfig``, ``ResonateConfig``, ``IIRConfig``,
``LIFNodeConfig``, ``BRPNeuronConfig``), so a typo is refused without torch; a test checks it against
the builders' signatures and the config fields.
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

#: family -> the ``model.params`` names its builder takes (builder keywords and config fields)
MODEL_PARAMS: dict[str, tuple[str, ...]] = {
    "brp": ("T", "backend", "bias", "channels", "decay", "detach_reset", "padding", "refractory", "surrogate",
            "threshold", "time_axis", "v_reset", "width"),
    "iir": ("alpha", "backend", "beta", "bias", "delay", "detach_reset", "input_pool", "input_time_axis",
            "kernel_param", "lam", "memory", "padding", "preset", "psp_norm", "readout", "reset_scale", "sigma",
            "surrogate", "tau", "tau_m", "tau_r", "tau_s", "theta", "train_kernel", "v_th", "weight_gain"),
    "lif": ("T", "alpha", "ann_warmup_epochs", "backend", "bn", "checkpoint", "decay", "dense_as_flatten",
            "detach_reset", "gradient", "input_size", "relu", "reset", "surrogate", "threshold", "voters"),
    "relpsp": ("chunk", "gain", "init", "kernel", "mean", "padding", "reference", "silent_output", "silent_slope",
               "t_max", "theta"),
    "relu": ("bias", "padding"),
    "resonate": ("delay_init", "delays", "late", "padding", "period", "phase_grad", "psp", "threshold",
                 "train_delays", "train_weights", "weight_gain", "weight_init", "window"),
}  # fmt: skip

#: family -> the architectures it builds by name instead of parsing (lower case; ``lif``: ``RESNETS``)
NAMED_ARCHS: dict[str, tuple[str, ...]] = {"lif": ("resnet18", "resnet34")}

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
