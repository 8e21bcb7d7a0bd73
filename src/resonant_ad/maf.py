"""A lean masked autoregressive flow with the exact maths of nflows' CATHODE-style MAF.

The CATHODE reference flow is, per block, nflows' ``MaskedAffineAutoregressiveTransform``
(a MADE with two hidden layers, ReLU, conditioned on m), nflows' ``BatchNorm`` and a
``ReversePermutation``; the base is a standard normal. Built from nflows' generic transform
classes it runs at a few thousand events/s on a 2-core CPU, limited by per-operation
overhead. This module computes the same function with far fewer, larger tensor operations:
the masked weights, the scale/shift split and the batch-norm bookkeeping are written out
once per block. :func:`from_nflows` / :func:`to_nflows` copy weights to and from the nflows
build, and the tests check that both give identical log-probabilities and latents.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

_LOG_2PI = math.log(2 * math.pi)


def made_masks(features: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """nflows' sequential-degree MADE masks: input→hidden, hidden→hidden, hidden→(scale, shift)."""
    in_deg = torch.arange(1, features + 1)
    lo, hi = min(1, features - 1), max(1, features - 1)
    h_deg = torch.arange(hidden) % hi + lo
    out_deg = in_deg.repeat_interleave(
        2
    )  # (scale_i, shift_i) interleaved, as nflows' view(-1, d, 2)
    m0 = (h_deg[:, None] >= in_deg[None, :]).float()
    m1 = (h_deg[:, None] >= h_deg[None, :]).float()
    m2 = (out_deg[:, None] > h_deg[None, :]).float()
    return m0, m1, m2


class MAF(nn.Module):
    """Conditional MAF: ``blocks`` × (MADE affine layer, batch norm, reverse permutation).

    Parameters of all blocks are stacked (leading dimension = block), so that the masks are
    applied with three multiplications per step, the context enters every block through one
    matrix product, and the backward pass needs no per-block bookkeeping. Initialization is
    that of ``nn.Linear`` per layer, as in nflows.
    """

    def __init__(self, features: int, context: int = 1, blocks: int = 15, hidden: int = 128):
        super().__init__()
        self.features, self.n_blocks, self.hidden, self.eps = features, blocks, hidden, 1e-3
        self.bn_eps, self.momentum = 1e-5, 0.1

        def stacked(n_in: int, n_out: int) -> tuple[nn.Parameter, nn.Parameter]:
            layers = [nn.Linear(n_in, n_out) for _ in range(blocks)]
            w = torch.stack([layer.weight.detach() for layer in layers])
            b = torch.stack([layer.bias.detach() for layer in layers])
            return nn.Parameter(w), nn.Parameter(b)

        self.w0, self.b0 = stacked(features, hidden)
        self.wc, self.bc = stacked(context, hidden)
        self.w1, self.b1 = stacked(hidden, hidden)
        self.w2, self.b2 = stacked(hidden, 2 * features)
        bn_init = math.log(math.exp(1 - self.bn_eps) - 1)  # nflows: softplus(w) + eps = 1
        self.bn_w = nn.Parameter(torch.full((blocks, features), bn_init))
        self.bn_b = nn.Parameter(torch.zeros(blocks, features))
        self.register_buffer("running_mean", torch.zeros(blocks, features))
        self.register_buffer("running_var", torch.ones(blocks, features))
        m0, m1, m2 = made_masks(features, hidden)
        self.register_buffer("m0", m0)
        self.register_buffer("m1", m1)
        self.register_buffer("m2", m2)

    # -- pieces ------------------------------------------------------------------------
    def _weights(self):
        """Per-block masked weights and biases, as lists (``unbind`` keeps backward cheap)."""
        return (
            (self.w0 * self.m0).unbind(0),
            (self.w1 * self.m1).unbind(0),
            (self.w2 * self.m2).unbind(0),
            self.b1.unbind(0),
            self.b2.unbind(0),
        )

    #: above this many events, contexts are computed block by block (memory: blocks × n × hidden)
    BATCHED_CONTEXT_MAX = 4096

    def _context_block(self, c: torch.Tensor, b: int) -> torch.Tensor:
        """relu(context layer) + MADE input bias of block ``b``."""
        return F.relu(torch.addmm(self.bc[b], c, self.wc[b].t())) + self.b0[b]

    def _context(self, c: torch.Tensor):
        """Per-block relu(context layer) + MADE input bias, indexable by block.

        For training batches all blocks come from one batched product, in (block, event,
        hidden) layout so each slice is contiguous; for large inputs each block's context
        is computed when asked for, to keep memory at n × hidden.
        """
        if c.shape[0] > self.BATCHED_CONTEXT_MAX:
            return _LazyContext(self, c)
        ctx = torch.baddbmm(
            self.bc.unsqueeze(1), c.expand(self.n_blocks, *c.shape), self.wc.transpose(1, 2)
        )
        return (F.relu(ctx) + self.b0.unsqueeze(1)).unbind(0)

    def _made(self, x, pre, w0, w1, b1, w2, b2) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(torch.addmm(pre, x, w0.t()))
        h = F.relu(torch.addmm(b1, h, w1.t()))
        out = torch.addmm(b2, h, w2.t()).view(-1, self.features, 2)
        return F.softplus(out[..., 0]) + self.eps, out[..., 1]

    def _bn_weight(self) -> torch.Tensor:
        return F.softplus(self.bn_w) + self.bn_eps

    # -- directions --------------------------------------------------------------------
    def transform(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data → latent: (z, log|det J|) per event (batch statistics in training mode)."""
        w0s, w1s, w2s, b1s, b2s = self._weights()
        pres = self._context(c)
        bn_w = self._bn_weight()
        log_scale_sum = 0.0
        bn_logdet = 0.0
        for b in range(self.n_blocks):
            scale, shift = self._made(x, pres[b], w0s[b], w1s[b], b1s[b], w2s[b], b2s[b])
            z = scale * x + shift
            log_scale_sum = log_scale_sum + torch.log(scale)
            if self.training:
                mean, var = z.mean(0), z.var(0)
                with torch.no_grad():
                    self.running_mean[b].lerp_(mean, self.momentum)
                    self.running_var[b].lerp_(var, self.momentum)
            else:
                mean, var = self.running_mean[b], self.running_var[b]
            inv_std = torch.rsqrt(var + self.bn_eps)
            a = bn_w[b] * inv_std
            x = torch.addcmul(self.bn_b[b] - mean * a, z, a).flip(1)
            bn_logdet = bn_logdet + torch.log(a).sum()
        return x, log_scale_sum.sum(1) + bn_logdet

    def log_prob(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """log p(x | c) per event."""
        z, logdet = self.transform(x, c)
        return -0.5 * (z.square().sum(1) + self.features * _LOG_2PI) + logdet

    @torch.no_grad()
    def inverse(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Latent → data (uses the running batch-norm statistics), feature by feature."""
        w0s, w1s, w2s, b1s, b2s = self._weights()
        pres = self._context(c)
        bn_w = self._bn_weight()
        for b in reversed(range(self.n_blocks)):
            y = z.flip(1)
            std = torch.sqrt(self.running_var[b] + self.bn_eps)
            target = (y - self.bn_b[b]) / bn_w[b] * std + self.running_mean[b]
            x = torch.zeros_like(target)
            for i in range(self.features):
                scale, shift = self._made(x, pres[b], w0s[b], w1s[b], b1s[b], w2s[b], b2s[b])
                x[:, i] = (target[:, i] - shift[:, i]) / scale[:, i]
            z = x
        return z

    @torch.no_grad()
    def set_batchnorm_statistics(
        self, x: torch.Tensor, c: torch.Tensor, chunk: int = 65536
    ) -> None:
        """Set every batch norm's running mean/variance from the full dataset ``x``.

        The CATHODE reference recomputes these statistics on the whole training set after
        each epoch instead of trusting momentum averages. Block by block, the input of each
        batch norm is computed with the statistics already set for the blocks before it.
        """
        w0s, w1s, w2s, b1s, b2s = self._weights()
        bn_w = self._bn_weight()
        h = x
        for b in range(self.n_blocks):
            parts = []
            for s in range(0, len(h), chunk):
                pre = self._context_block(c[s : s + chunk], b)
                scale, shift = self._made(
                    h[s : s + chunk], pre, w0s[b], w1s[b], b1s[b], w2s[b], b2s[b]
                )
                parts.append(scale * h[s : s + chunk] + shift)
            z = torch.cat(parts)
            self.running_mean[b] = z.mean(0)
            self.running_var[b] = z.var(0)
            a = bn_w[b] * torch.rsqrt(self.running_var[b] + self.bn_eps)
            h = ((z - self.running_mean[b]) * a + self.bn_b[b]).flip(1)


class _LazyContext:
    """Block contexts of a large input, computed one block at a time when indexed."""

    def __init__(self, maf: MAF, c: torch.Tensor) -> None:
        self.maf, self.c = maf, c

    def __getitem__(self, b: int) -> torch.Tensor:
        return self.maf._context_block(self.c, b)


def build_nflows_maf(features: int, context: int = 1, blocks: int = 15, hidden: int = 128):
    """The same architecture from nflows' own classes (the reference for :class:`MAF`)."""
    from nflows.distributions.normal import StandardNormal
    from nflows.flows.base import Flow
    from nflows.transforms.autoregressive import MaskedAffineAutoregressiveTransform
    from nflows.transforms.base import CompositeTransform
    from nflows.transforms.normalization import BatchNorm
    from nflows.transforms.permutations import ReversePermutation

    layers = []
    for _ in range(blocks):
        layers += [
            MaskedAffineAutoregressiveTransform(
                features,
                hidden,
                context_features=context,
                num_blocks=1,
                use_residual_blocks=False,
                activation=F.relu,
            ),
            BatchNorm(features),
            ReversePermutation(features),
        ]
    return Flow(CompositeTransform(layers), StandardNormal([features]))


@torch.no_grad()
def copy_to_nflows(maf: MAF, flow) -> None:
    """Copy :class:`MAF` weights and batch-norm statistics into :func:`build_nflows_maf`'s flow."""
    transforms = list(flow._transform._transforms)
    for b in range(maf.n_blocks):
        made, bn = transforms[3 * b].autoregressive_net, transforms[3 * b + 1]
        pairs = [
            (made.initial_layer.weight, maf.w0),
            (made.initial_layer.bias, maf.b0),
            (made.context_layer.weight, maf.wc),
            (made.context_layer.bias, maf.bc),
            (made.blocks[0].linear.weight, maf.w1),
            (made.blocks[0].linear.bias, maf.b1),
            (made.final_layer.weight, maf.w2),
            (made.final_layer.bias, maf.b2),
            (bn.unconstrained_weight, maf.bn_w),
            (bn.bias, maf.bn_b),
            (bn.running_mean, maf.running_mean),
            (bn.running_var, maf.running_var),
        ]
        for target, source in pairs:
            target.copy_(source[b])
