"""Spiking neurons as a network of IIR filters (Fang et al., IJCAI 2020, Eq. 4-5 and 18-19).

:mod:`.kernel` holds the kernels (synapse filter presets and closed forms, the fused Eq. 5d and Eq. 5a/5c/5e
recursions with their adjoint backward, :func:`iir_neuron`, the erfc surrogate); :mod:`.layers` the modules
built on them (:class:`SynapseFilter`, :class:`IIRNeuron`, :class:`IIRConfig`).  The public names of both are
re-exported here.
"""

from snnrepro.neurons.iir.kernel import (
    BACKENDS,
    KERNEL_PARAMS,
    PRESETS,
    alpha_kernel,
    dual_exp_kernel,
    dual_exp_peak_norm,
    erfc_surrogate,
    iir_neuron,
    is_soft_reset_lif,
    poly_from_poles,
    preset_coefficients,
    real_poles,
    soft_reset_lif_config,
    spike_probability,
)
from snnrepro.neurons.iir.layers import IIRConfig, IIRNeuron, SynapseFilter, default_lambda

__all__ = [
    "BACKENDS",
    "KERNEL_PARAMS",
    "PRESETS",
    "IIRConfig",
    "IIRNeuron",
    "SynapseFilter",
    "alpha_kernel",
    "default_lambda",
    "dual_exp_kernel",
    "dual_exp_peak_norm",
    "erfc_surrogate",
    "iir_neuron",
    "is_soft_reset_lif",
    "poly_from_poles",
    "preset_coefficients",
    "real_poles",
    "soft_reset_lif_config",
    "spike_probability",
]
