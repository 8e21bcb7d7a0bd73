"""The di-τ paper's flow: nflows' rational-quadratic spline autoregressive flow, graph-safe.

nflows' ``unconstrained_rational_quadratic_spline`` selects the inputs inside the tail bound
with boolean masks and checks its domain with ``torch.min``/``assert``: each is a host–device
synchronisation and a data-dependent shape, so a training step cannot be captured as a CUDA
graph. :func:`rq_spline` computes the same function without them: the spline is evaluated
on inputs clamped to the bound, and ``torch.where`` keeps the identity (log-det 0) outside,
as nflows' linear tails do. :class:`GraphSafeRQSTransform` is nflows' masked autoregressive
RQS transform with that spline; the tests check it against nflows' own, forwards, inverse
and through a whole flow.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

log = logging.getLogger(__name__)

MIN_BIN_WIDTH = MIN_BIN_HEIGHT = MIN_DERIVATIVE = 1e-3


def rq_spline(
    inputs: torch.Tensor,
    unnormalized_widths: torch.Tensor,
    unnormalized_heights: torch.Tensor,
    unnormalized_derivatives: torch.Tensor,
    inverse: bool,
    tail_bound: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """nflows' linear-tailed rational-quadratic spline (Durkan et al.), elementwise.

    ``unnormalized_derivatives`` has one value fewer than the bins plus one: the outer
    derivatives are fixed to 1 (linear tails), as in nflows. Returns (outputs, log|det|).
    """
    bins = unnormalized_widths.shape[-1]
    bound = float(tail_bound)
    inside = (inputs >= -bound) & (inputs <= bound)
    x = inputs.clamp(-bound, bound)
    edge = torch.full_like(
        unnormalized_derivatives[..., :1], math.log(math.expm1(1 - MIN_DERIVATIVE))
    )
    derivatives = MIN_DERIVATIVE + F.softplus(torch.cat([edge, unnormalized_derivatives, edge], -1))

    def knots(unnormalized: torch.Tensor, minimum: float) -> tuple[torch.Tensor, torch.Tensor]:
        sizes = minimum + (1 - minimum * bins) * F.softmax(unnormalized, dim=-1)
        cum = F.pad(torch.cumsum(sizes, dim=-1), pad=(1, 0), value=0.0)
        cum = 2 * bound * cum - bound
        cum = torch.cat([torch.full_like(cum[..., :1], -bound), cum[..., 1:-1],
                         torch.full_like(cum[..., :1], bound)], -1)  # fmt: skip
        return cum, cum[..., 1:] - cum[..., :-1]

    cumwidths, widths = knots(unnormalized_widths, MIN_BIN_WIDTH)
    cumheights, heights = knots(unnormalized_heights, MIN_BIN_HEIGHT)
    locations = cumheights if inverse else cumwidths
    # nflows' searchsorted: the last knot nudged up by 1e-6 so that the bound is in a bin
    last = locations[..., -1:] + 1e-6
    locations = torch.cat([locations[..., :-1], last], -1)
    idx = (torch.sum(x[..., None] >= locations, dim=-1) - 1).clamp(0, bins - 1)[..., None]

    def at(t: torch.Tensor) -> torch.Tensor:
        return t.gather(-1, idx)[..., 0]

    in_cumwidths, in_widths = at(cumwidths), at(widths)
    in_cumheights, in_heights = at(cumheights), at(heights)
    delta = heights / widths
    in_delta = at(delta)
    d0, d1 = at(derivatives[..., :-1]), at(derivatives[..., 1:])
    if inverse:
        shifted = x - in_cumheights
        a = shifted * (d0 + d1 - 2 * in_delta) + in_heights * (in_delta - d0)
        b = in_heights * d0 - shifted * (d0 + d1 - 2 * in_delta)
        c = -in_delta * shifted
        discriminant = (b.pow(2) - 4 * a * c).clamp(min=0.0)
        theta = (2 * c) / (-b - torch.sqrt(discriminant))
        out = theta * in_widths + in_cumwidths
    else:
        theta = (x - in_cumwidths) / in_widths
    theta_1m = theta * (1 - theta)
    denominator = in_delta + (d0 + d1 - 2 * in_delta) * theta_1m
    derivative_numerator = in_delta.pow(2) * (
        d1 * theta.pow(2) + 2 * in_delta * theta_1m + d0 * (1 - theta).pow(2)
    )
    logabsdet = torch.log(derivative_numerator) - 2 * torch.log(denominator)
    if inverse:
        logabsdet = -logabsdet
    else:
        out = in_cumheights + in_heights * (in_delta * theta.pow(2) + d0 * theta_1m) / denominator
    return torch.where(inside, out, inputs), torch.where(inside, logabsdet, 0.0)


def graph_safe_rqs_transform(*args, **kwargs):
    """nflows' masked autoregressive RQS transform, with :func:`rq_spline` as its spline."""
    from nflows.transforms.autoregressive import (
        MaskedPiecewiseRationalQuadraticAutoregressiveTransform,
    )

    class GraphSafeRQSTransform(MaskedPiecewiseRationalQuadraticAutoregressiveTransform):
        """nflows' transform; its elementwise spline without masks or host syncs."""

        def _spline(self, inputs, params, inverse):
            """:func:`rq_spline` of ``inputs`` (batch, k) with their ``params`` (batch, k, ·)."""
            widths = params[..., : self.num_bins]
            heights = params[..., self.num_bins : 2 * self.num_bins]
            if hasattr(self.autoregressive_net, "hidden_features"):  # as nflows (MADE: no)
                scale = np.sqrt(self.autoregressive_net.hidden_features)
                widths, heights = widths / scale, heights / scale
            derivatives = params[..., 2 * self.num_bins :]
            return rq_spline(inputs, widths, heights, derivatives, inverse, self.tail_bound)

        def _elementwise(self, inputs, autoregressive_params, inverse=False):
            batch, features = inputs.shape[0], inputs.shape[1]
            params = autoregressive_params.view(batch, features, self._output_dim_multiplier())
            out, logabsdet = self._spline(inputs, params, inverse)
            return out, logabsdet.sum(-1)

        def inverse(self, inputs, context=None):
            """nflows' autoregressive inverse, computing in pass i only what feature i needs.

            Pass i needs the MADE's hidden layers on the features before i (already inverted),
            its output rows of feature i and the spline of feature i: nflows computes every
            feature's output rows and spline in every pass, the same outputs for a factor of
            the features more work in the largest layer and the spline."""
            batch, features = inputs.shape[0], inputs.shape[1]
            made, mult = self.autoregressive_net, self._output_dim_multiplier()
            final = made.final_layer
            weight, bias = final.weight * final.mask, final.bias
            outputs = torch.zeros_like(inputs)
            logabsdet = inputs.new_zeros(batch)
            column = torch.arange(features, device=inputs.device)
            for i in range(features):
                hidden = made.initial_layer(outputs)  # nflows' MADE.forward up to the last layer
                if context is not None:
                    hidden = hidden + made.activation(made.context_layer(context))
                if not made.use_residual_blocks:
                    hidden = made.activation(hidden)
                for block in made.blocks:
                    hidden = block(hidden, context)
                rows = slice(i * mult, (i + 1) * mult)
                params = F.linear(hidden, weight[rows], bias[rows]).view(batch, 1, mult)
                out, lad = self._spline(inputs[:, i : i + 1], params, True)
                outputs = torch.where(column == i, out, outputs)
                logabsdet = logabsdet + lad[:, 0]
            return outputs, logabsdet

    return GraphSafeRQSTransform(*args, **kwargs)


#: nflows' MADE buffers that its architecture fixes (``random_mask`` is off): the masks, as
#: large as the weights they mask, and the units' degrees
DERIVED_BUFFERS = ("mask", "degrees")


def derived_buffers_not_saved(model: nn.Module) -> None:
    """Keep ``model``'s MADE masks and degrees out of its state dict, and drop them from a
    state dict it loads (a file written before).

    They follow from the architecture, so the model rebuilds them; in the state dict they
    were half of every kept epoch's state, in memory, in the checkpoint and in the model file.
    """
    for module in model.modules():
        for name in DERIVED_BUFFERS:
            if name in module._buffers and name not in module._non_persistent_buffers_set:
                module.register_buffer(name, module._buffers.pop(name), persistent=False)

    def drop(module: nn.Module, state: dict[str, Any], prefix: str, *args: Any) -> None:
        for key in [k for k in state if k.startswith(prefix)]:
            if key.rsplit(".", 1)[-1] in DERIVED_BUFFERS:
                del state[key]

    model.register_load_state_dict_pre_hook(drop)


class NflowsRQS(nn.Module):
    """nflows' masked piecewise rational-quadratic autoregressive flow, with :class:`MAF`'s API.

    ``blocks`` layers of (RQS transform, reverse permutation), each transform's MADE with
    ``made_blocks`` hidden blocks of width ``hidden`` (residual blocks if ``residual_blocks``;
    the di-τ paper: 6 layers × 6 MADE blocks of 512, not residual, as the authors' library
    sk_cathode builds it); the spline is :func:`rq_spline` unless ``graph_safe`` is false
    (nflows' own, for the tests).
    """

    members = 1

    def __init__(
        self,
        features: int,
        context: int = 1,
        blocks: int = 6,
        hidden: int = 512,
        bins: int = 24,
        tail_bound: float = 6.0,
        made_blocks: int = 2,
        residual_blocks: bool = False,
        graph_safe: bool = True,
    ) -> None:
        super().__init__()
        from nflows.distributions.normal import StandardNormal
        from nflows.flows.base import Flow
        from nflows.transforms.autoregressive import (
            MaskedPiecewiseRationalQuadraticAutoregressiveTransform,
        )
        from nflows.transforms.base import CompositeTransform
        from nflows.transforms.permutations import ReversePermutation

        make = (
            graph_safe_rqs_transform
            if graph_safe
            else MaskedPiecewiseRationalQuadraticAutoregressiveTransform
        )
        layers: list[nn.Module] = []
        for _ in range(blocks):
            layers += [
                make(
                    features,
                    hidden,
                    context_features=context,
                    num_bins=bins,
                    tails="linear",
                    tail_bound=tail_bound,
                    num_blocks=made_blocks,
                    use_residual_blocks=residual_blocks,
                ),
                ReversePermutation(features),
            ]
        self.flow = Flow(CompositeTransform(layers), StandardNormal([features]))
        derived_buffers_not_saved(self)

    def transform(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow._transform(x, context=c)

    def log_prob(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.flow.log_prob(x, context=c)

    @torch.no_grad()
    def inverse(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.flow._transform.inverse(z, context=c)[0]

    def set_batchnorm_statistics(self, x: torch.Tensor, c: torch.Tensor) -> None:
        """No batch norm in this architecture."""


def beyond_tail_bound(Y: np.ndarray, tail_bound: float) -> np.ndarray:
    """Per feature, the fraction of preprocessed training values beyond ±``tail_bound``.

    An RQ spline maps [−B, B] onto itself and is the identity beyond, so a flow of such
    layers puts there only the base draws beyond B (~1e-9 at B = 6): those events are never
    generated (the di-τ ρ of a 7th or 8th object, 10+ std out after standardization).
    """
    return (np.abs(Y) > tail_bound).mean(axis=0)


def warn_beyond_tail_bound(Y: np.ndarray, tail_bound: float) -> None:
    """Log which features have training values the spline flow cannot generate."""
    frac = beyond_tail_bound(Y, tail_bound)
    if frac.any():
        where = ", ".join(f"feature {i}: {100 * f:.2g}%" for i, f in enumerate(frac) if f > 0)
        log.warning(
            "SB training values beyond the spline's tail bound %g after preprocessing (%s): "
            "the flow cannot generate them (a larger flow.tail_bound can)",
            tail_bound,
            where,
        )


#: devices on which the members of an RQ-spline ensemble train together as one
#: :class:`StackedRQS`: a GPU step is bound by kernel latency, so members come almost free;
#: on a CPU it is bound by arithmetic (3 members of the default's flow: 150 ms per step
#: stacked, 146 ms one after the other), and the flows train one after the other
STACK_DEVICES = ("cuda",)


class StackedRQS(nn.Module):
    """The members of an RQ-spline ensemble (:class:`NflowsRQS`, non-residual MADEs) as one
    model: each weight gets a leading member dimension, the layers are batched products,
    inputs are (members, batch, features). The same function per member as nflows' flow, so
    training together is training each alone up to float rounding (members share nothing,
    Adam is elementwise). Only the training direction (``log_prob``) is here: the trained
    members go back to :class:`NflowsRQS` (:meth:`member_state`) for everything else.
    """

    def __init__(self, template: NflowsRQS, members: int) -> None:
        super().__init__()
        layers = list(template.flow._transform._transforms)
        made = layers[0].autoregressive_net
        if made.use_residual_blocks:
            raise ValueError("StackedRQS stacks MADEs of feed-forward blocks, not residual ones")
        self.features = d = made.initial_layer.in_features
        if any(not torch.equal(t._permutation, torch.arange(d - 1, -1, -1)) for t in layers[1::2]):
            raise ValueError("StackedRQS needs a reverse permutation after every layer")
        self.members, self.n_layers, self.n_blocks = members, len(layers) // 2, len(made.blocks)
        self.bins, self.tail_bound = layers[0].num_bins, float(layers[0].tail_bound)
        self.mult = layers[0]._output_dim_multiplier()
        #: nflows' state-dict key of each stacked parameter's (layer, block) slice
        self.keys: dict[str, list[str]] = {}
        for name, per_layer in self._layout().items():
            shapes = {tuple(template.state_dict()[k].shape) for k in per_layer}
            (shape,) = shapes
            self.keys[name] = per_layer
            self.register_parameter(
                name, nn.Parameter(torch.zeros(members, len(per_layer), *shape))
            )
        for name in ("initial_layer", "final_layer"):
            self.register_buffer(f"mask_{name}", getattr(made, name).mask.clone())
        masks = [b.linear.mask for t in layers[::2] for b in t.autoregressive_net.blocks]
        if any(not torch.equal(m, masks[0]) for m in masks):
            raise ValueError("StackedRQS needs the same mask in every hidden block")
        self.register_buffer("mask_block", masks[0].clone())
        self._template = {k: v.clone() for k, v in template.state_dict().items()}

    def _layout(self) -> dict[str, list[str]]:
        """Stacked parameter name → the nflows keys it holds, (layer, block) flattened."""
        pre = [
            f"flow._transform._transforms.{2 * i}.autoregressive_net." for i in range(self.n_layers)
        ]
        blocks = [f"{p}blocks.{k}.linear." for p in pre for k in range(self.n_blocks)]
        return {
            "w0": [f"{p}initial_layer.weight" for p in pre],
            "b0": [f"{p}initial_layer.bias" for p in pre],
            "wc": [f"{p}context_layer.weight" for p in pre],
            "bc": [f"{p}context_layer.bias" for p in pre],
            "wk": [f"{b}weight" for b in blocks],
            "bk": [f"{b}bias" for b in blocks],
            "wf": [f"{p}final_layer.weight" for p in pre],
            "bf": [f"{p}final_layer.bias" for p in pre],
        }

    @classmethod
    def stack(cls, flows: Sequence[NflowsRQS]) -> StackedRQS:
        """One model whose members are ``flows`` (same architecture), in order."""
        out = cls(flows[0], len(flows)).to(next(flows[0].parameters()).device)
        states = [flow.state_dict() for flow in flows]
        with torch.no_grad():
            for name, keys in out.keys.items():
                for r, state in enumerate(states):
                    getattr(out, name)[r].copy_(torch.stack([state[k] for k in keys]))
        return out

    def member_state(self, index: int) -> dict[str, torch.Tensor]:
        """Member ``index`` as a state dict of :class:`NflowsRQS` (detached copies)."""
        state = {k: v.to(self.w0.device, copy=True) for k, v in self._template.items()}
        for name, keys in self.keys.items():
            for j, key in enumerate(keys):
                state[key] = getattr(self, name)[index, j].detach().clone()
        return state

    def log_prob(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """log p(x | c) per member and event, (members, batch), for (members, batch, ·) inputs."""
        w0, wf = self.w0 * self.mask_initial_layer, self.wf * self.mask_final_layer
        wk = (self.wk * self.mask_block).view(self.members, self.n_layers, self.n_blocks,
                                              *self.mask_block.shape)  # fmt: skip
        bk = self.bk.view(self.members, self.n_layers, self.n_blocks, -1)
        logdet = x.new_zeros(x.shape[:-1])
        for i in range(self.n_layers):
            ctx = torch.baddbmm(self.bc[:, i].unsqueeze(1), c, self.wc[:, i].transpose(1, 2))
            h = torch.baddbmm(self.b0[:, i].unsqueeze(1), x, w0[:, i].transpose(1, 2))
            h = F.relu(h + F.relu(ctx))
            for k in range(self.n_blocks):
                h = F.relu(torch.baddbmm(bk[:, i, k].unsqueeze(1), h, wk[:, i, k].transpose(1, 2)))
            out = torch.baddbmm(self.bf[:, i].unsqueeze(1), h, wf[:, i].transpose(1, 2))
            p = out.view(*x.shape, self.mult)
            b = self.bins
            y, lad = rq_spline(x, p[..., :b], p[..., b : 2 * b], p[..., 2 * b :], False,
                               self.tail_bound)  # fmt: skip
            x = y.flip(-1)  # nflows' ReversePermutation
            logdet = logdet + lad.sum(-1)
        return -0.5 * x.square().sum(-1) - 0.5 * self.features * math.log(2 * math.pi) + logdet

    def set_batchnorm_statistics(self, x: torch.Tensor, c: torch.Tensor) -> None:
        """No batch norm in this architecture."""
