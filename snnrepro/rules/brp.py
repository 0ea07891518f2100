"""BRP: Biologically-plausible Reward Propagation (Zhang, Jia, Cheng, Xu, TNNLS 2021, Sec. II-D/E).

The target signal of the output layer is sent *straight* to every hidden layer ``l`` through a
fixed random matrix ``B^l`` (drawn once, never trained) and consolidated there by the layer's own
pseudo-gradient; no error travels from one layer to the one below.

Target signals (``rule.params.signal``), per sample, ``[B, classes]``:

=========  ==================================  ==============================================
signal     equation                            value
=========  ==================================  ==============================================
``brp``    Eq. 4  TP_BRP = Label_spikes(t)      one-hot label at every step (the reward)
``err``    Eq. 5-6  TP_err = y - y_bar          output rate over T minus the label's rate (one-hot)
``sign``   Eq. 7  TP_sign = sign(y - y_bar)     its sign (0 where equal)
=========  ==================================  ==============================================

Local consolidation (Eq. 8-9, ``rule.params.consolidation``), with ``h^l_t`` the layer's spike
output at step ``t`` (before pooling) and ``P^l = TP @ B^l`` the projected target:

* ``direct`` (default, the authors' code, DRTP/DFA): ``dL/dh^l_t = P^l`` at every step.
  The projection *replaces* the gradient that would arrive from above.
* ``difference`` (the literal state difference of Eq. 8-9 on firing rates, Sec. II-C "summed as
  firerates ... then combined with the propagated label-reward"): the local loss
  ``1/2 ||r^l - P^l||^2`` with ``r^l = mean_t h^l_t``, i.e. ``dL/dh^l_t = (r^l - P^l) / T``.

Either way ``dW^l = sum_t dL/dh^l_t * dh^l_t/dW^l`` flows only *inside* layer ``l``: through its
surrogate (Eq. 10) and its membrane across time steps; the layer's input is detached, so
``dW^l`` cannot depend on any weight above ``l`` (except, for ``err``/``sign``, through the
broadcast output rate ``y`` itself, as in DFA).  The output layer is trained with the loss
(MSE to the one-hot label in the specs) through its own surrogate only.  The optimizer step is
the engine's (Adam, lr 1e-4 in the paper); since Adam normalises each parameter's gradient, the
overall scale of ``P^l`` (per sample, not averaged over the batch, as in the authors' code) does
not change the update direction.

Network protocol (:class:`LocalLayers`): the rule looks in ``model.modules()`` for the first
module with ``hidden_shapes()`` and ``record_hidden(detach_inputs)``; see
:class:`snnrepro.models.brp.SpikingCNN`.  ``B^l`` (shape ``[classes, *hidden_shape]``,
PyTorch's ``kaiming_uniform_`` default as in the authors' DRTP-derived code, i.e.
``U(-sqrt(6/n_l), sqrt(6/n_l))`` with ``n_l = prod(hidden_shape)``) are registered as buffers
``brp_feedback_<l>`` on that module, so they are in ``state_dict`` and checkpoints resume with
the same matrices.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from snnrepro.registry import RULES
from snnrepro.rules.base import LossFn, Rule

SIGNALS = ("brp", "err", "sign")
CONSOLIDATIONS = ("direct", "difference")


@runtime_checkable
class LocalLayers(Protocol):
    """What a network offers the ``brp`` rule.

    ``hidden_shapes()``: per-sample shape of each hidden layer's spike output (without T, B),
    in forward order, output layer excluded.
    ``record_hidden(detach_inputs)``: a context manager yielding a list; every forward pass
    inside it appends each hidden layer's spike output ``[T, B, *shape]`` (still attached to
    the layer's own graph) and, when ``detach_inputs``, feeds every layer (hidden and output)
    a detached copy of its input.
    """

    def hidden_shapes(self) -> list[tuple[int, ...]]: ...

    def record_hidden(self, detach_inputs: bool = True) -> AbstractContextManager[list[torch.Tensor]]: ...


def find_local_layers(model: nn.Module) -> nn.Module:
    """The first submodule of ``model`` (DDP unwrapped) implementing :class:`LocalLayers`."""
    root = getattr(model, "module", model)
    for mod in root.modules():
        if isinstance(mod, LocalLayers):
            return mod
    raise TypeError(
        f"brp: the model ({type(root).__name__}) has no module with hidden_shapes() and record_hidden(); "
        "use the 'brp' model family (snnrepro.models.brp) or implement snnrepro.rules.brp.LocalLayers"
    )


def target_signal(kind: str, rates: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """TP of Eq. 4, 5-6 or 7 for output ``rates`` [B, C] (y of Eq. 6) and integer labels [B].

    ``y_bar`` of Eq. 6 is the mean over T of the label spike train, which fires every step for
    the true class: the one-hot label.  The result carries no graph.
    """
    if kind not in SIGNALS:
        raise ValueError(f"brp: signal must be one of {', '.join(SIGNALS)}, got {kind!r}")
    if rates.dim() != 2:
        raise ValueError(f"brp: output rates must be [batch, classes], got shape {tuple(rates.shape)}")
    onehot = F.one_hot(target, rates.shape[1]).to(rates.dtype)
    if kind == "brp":
        return onehot
    err = rates.detach() - onehot
    return err if kind == "err" else torch.sign(err)


def draw_feedback(
    classes: int, shape: tuple[int, ...], generator: torch.Generator, scale: float = 1.0
) -> torch.Tensor:
    """``B`` of shape ``[classes, *shape]``: ``kaiming_uniform_`` (a=0, fan_in = prod(shape)) times ``scale``."""
    fan_in = math.prod(shape)
    bound = scale * math.sqrt(6.0 / fan_in)
    return (torch.rand((classes, *shape), generator=generator) * 2.0 - 1.0) * bound


def injected_grad(
    projection: torch.Tensor, hidden: torch.Tensor, consolidation: str
) -> torch.Tensor:
    """``dL/dh_t`` for a hidden spike output ``hidden`` [T, B, ...] given ``projection`` = TP @ B [B, ...]."""
    if consolidation == "direct":
        return projection.unsqueeze(0).expand_as(hidden)
    rate = hidden.detach().mean(0)
    return ((rate - projection) / hidden.shape[0]).unsqueeze(0).expand_as(hidden)


@RULES.register("brp")
class BRP(Rule):
    """Reward propagation: output layer by its loss, hidden layers by ``TP @ B^l`` injected at their spikes.

    params: ``signal`` (brp | err | sign), ``consolidation`` (direct | difference),
    ``feedback_scale`` (multiplies the kaiming bound of ``B^l``, default 1),
    ``feedback_seed`` (seed of ``B^l``; default: ``torch.initial_seed()``, i.e. the run's seed).
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        signal: str = "brp",
        consolidation: str = "direct",
        feedback_scale: float = 1.0,
        feedback_seed: int | None = None,
    ) -> None:
        super().__init__(model, loss_fn)
        if signal not in SIGNALS:
            raise ValueError(f"brp: rule.params.signal must be one of {', '.join(SIGNALS)}, got {signal!r}")
        if consolidation not in CONSOLIDATIONS:
            raise ValueError(
                f"brp: rule.params.consolidation must be one of {', '.join(CONSOLIDATIONS)}, got {consolidation!r}"
            )
        if not feedback_scale > 0:
            raise ValueError(f"brp: rule.params.feedback_scale must be positive, got {feedback_scale}")
        self.signal, self.consolidation = signal, consolidation
        self.net = find_local_layers(model)
        classes = getattr(self.net, "num_classes", None)
        if not isinstance(classes, int):
            raise TypeError(f"brp: {type(self.net).__name__} must expose num_classes (int)")
        shapes = self.net.hidden_shapes()
        if not shapes:
            raise ValueError("brp: the network has no hidden layer to send the reward to")
        seed = torch.initial_seed() if feedback_seed is None else int(feedback_seed)
        gen = torch.Generator().manual_seed(seed)
        ref = next(self.net.parameters())
        self.feedback_names: list[str] = []
        for i, shape in enumerate(shapes):
            name = f"brp_feedback_{i}"
            if not hasattr(self.net, name):  # a second rule on the same model keeps the first draw
                b = draw_feedback(classes, tuple(shape), gen, feedback_scale).to(device=ref.device, dtype=ref.dtype)
                self.net.register_buffer(name, b)
            self.feedback_names.append(name)

    def feedback(self) -> list[torch.Tensor]:
        """The fixed matrices ``B^l``, one per hidden layer, ``[classes, *hidden_shape]``."""
        return [getattr(self.net, n) for n in self.feedback_names]

    def compute_grads(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.net.record_hidden(detach_inputs=True) as hidden:
            scores = self.model(x)
        if len(hidden) != len(self.feedback_names):
            raise RuntimeError(f"brp: recorded {len(hidden)} hidden outputs, expected {len(self.feedback_names)}")
        loss = self.loss_fn(scores, y)
        tp = target_signal(self.signal, scores, y)
        tensors, grads = [loss], [torch.ones_like(loss)]
        for h, b in zip(hidden, self.feedback(), strict=True):
            if not h.requires_grad:
                continue
            projection = (tp @ b.flatten(1)).view(h.shape[1:])
            tensors.append(h)
            grads.append(injected_grad(projection, h, self.consolidation))
        torch.autograd.backward(tensors, grads)
        return loss, scores
