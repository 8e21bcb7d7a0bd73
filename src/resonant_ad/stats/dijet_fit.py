"""The dijet-function fit of an mJJ histogram: binned Poisson likelihood with iminuit.

    dN/dm = p0 · (1 − x)^p1 / x^(p2 + p3 ln x + p4 ln² x),     x = m / √s

(``dijet4`` fixes p4 = 0, ``dijet3`` p3 = p4 = 0), fitted in the sidebands (MIGRAD), with
HESSE for the covariance and MINOS for the 68% interval of the SR yield; the shape is fitted
in whitened coordinates so that MIGRAD sees a round minimum. ``auto`` chooses the number of
parameters per histogram by Fisher's F-test on the SB fits (:func:`choose_function`), as the
LHC dijet searches do. The bump hunt (:mod:`~resonant_ad.stats.bumphunt`) builds on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

#: fit functions: name → number of parameters (normalization included)
FUNCTIONS = {"dijet3": 3, "dijet4": 4, "dijet5": 5}
#: the ``function`` setting that chooses among :data:`FUNCTIONS` per histogram (F-test)
AUTO = "auto"
#: Gauss-Legendre nodes per bin for the bin integrals of the fit function
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(4)


def bin_edges(window: Sequence[float], fit_range: Sequence[float], width: float) -> np.ndarray:
    """Bins of ``width`` inside ``fit_range`` with the SR ``window`` edges among the edges.

    The SR is divided into ``round((high − low) / width)`` equal bins; the SB bins step
    outwards from the SR edges and stop inside ``fit_range``.
    """
    lo, hi = (float(v) for v in window)
    start, stop = (float(v) for v in fit_range)
    width = float(width)
    if width <= 0:
        raise ValueError(f"bin_width must be > 0, got {width}")
    if not start <= lo < hi <= stop:
        raise ValueError(
            f"signal region {[lo, hi]} must lie inside the bump-hunt fit_range {[start, stop]}"
        )
    n_sr = max(1, round((hi - lo) / width))
    n_below = int(np.floor((lo - start) / width + 1e-9))
    n_above = int(np.floor((stop - hi) / width + 1e-9))
    if n_below + n_above < 4:
        raise ValueError(
            f"fit_range {[start, stop]} leaves {n_below + n_above} SB bins of width {width} "
            f"around {[lo, hi]}: too few for a fit"
        )
    below = lo - width * np.arange(n_below, 0, -1)
    above = hi + width * np.arange(1, n_above + 1)
    return np.concatenate([below, np.linspace(lo, hi, n_sr + 1), above])


def sr_bins(edges: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """True for the bins inside the SR window."""
    centres = 0.5 * (edges[:-1] + edges[1:])
    return (centres > float(window[0])) & (centres < float(window[1]))


@dataclass
class DijetModel:
    """Bin integrals of the dijet function on fixed ``edges`` (mJJ in the unit of ``sqrt_s``)."""

    edges: np.ndarray
    sqrt_s: float
    n_params: int

    def __post_init__(self) -> None:
        if self.n_params not in FUNCTIONS.values():
            raise ValueError(f"the dijet function has 3 to 5 parameters, not {self.n_params}")
        lo, hi = self.edges[:-1], self.edges[1:]
        half = 0.5 * (hi - lo)
        nodes = 0.5 * (hi + lo)[:, None] + half[:, None] * _NODES[None, :]
        x = nodes / self.sqrt_s
        if np.any(x <= 0) or np.any(x >= 1):
            raise ValueError(
                f"bins {self.edges[[0, -1]]} must lie inside (0, sqrt_s={self.sqrt_s})"
            )
        self._weights = half[:, None] * _WEIGHTS[None, :]
        # log f = p1 ln(1 − x) − p2 ln x − p3 (ln x)² − p4 (ln x)³: linear in the shape
        lx = np.log(x)
        terms = [np.log1p(-x), -lx, -(lx**2), -(lx**3)]
        self._basis = np.stack(terms[: self.n_params - 1], axis=-1)

    def shape(self, theta: np.ndarray) -> np.ndarray:
        """Bin integrals of (1 − x)^p1 / x^(p2 + p3 ln x) for shape parameters ``theta``."""
        return self.expected(np.r_[0.0, np.asarray(theta, dtype=float)])

    def expected(self, params: np.ndarray) -> np.ndarray:
        """Expected counts per bin for ``params = (ln p0, p1, …)``."""
        return self.derivatives(params, order=0)[0]

    def derivatives(
        self, params: np.ndarray, order: int = 2
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Expected counts per bin and their exact first and second derivatives in ``params``.

        The integrand is exp(φ · (1, basis)), so each derivative is a weighted sum of the
        same exponentials: ∂μ = Σ w e (1, b), ∂²μ = Σ w e (1, b)(1, b)ᵀ.
        """
        params = np.asarray(params, dtype=float)
        expo = np.clip(params[0] + self._basis @ params[1:], -700.0, 700.0)
        we = self._weights * np.exp(expo)
        mu = we.sum(axis=1)
        if order == 0:
            return mu, None, None
        design = np.concatenate([np.ones((*self._basis.shape[:2], 1)), self._basis], axis=-1)
        grad = np.einsum("bk,bkp->bp", we, design)
        hess = np.einsum("bk,bkp,bkq->bpq", we, design, design) if order > 1 else None
        return mu, grad, hess

    def log_integral(self, theta: np.ndarray, bins: np.ndarray) -> tuple[float, np.ndarray]:
        """ln of the shape's integral over ``bins`` and its gradient in θ, without underflow.

        The dijet parameters of a fit to a narrow range can be large and nearly cancel, so
        the integral is summed in log space (log-sum-exp over bins and quadrature nodes).
        """
        return self.log_integral_of(bins)(theta)

    def log_integral_of(self, bins: np.ndarray) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        """:meth:`log_integral` over fixed ``bins``, as a function of θ: a fit calls it at
        every step, so the bins' log weights and basis are selected once."""
        log_weights, basis = np.log(self._weights[bins]), self._basis[bins]

        def log_integral(theta: np.ndarray) -> tuple[float, np.ndarray]:
            log_terms = log_weights + basis @ np.asarray(theta, dtype=float)
            top = float(np.max(log_terms))
            share = np.exp(log_terms - top)
            total = float(share.sum())
            grad = np.einsum("bk,bkp->p", share, basis) / total
            return top + float(np.log(total)), grad

        return log_integral

    def start(self, counts: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Starting values from a weighted linear fit of ln(count / bin width) on ``mask``."""
        use = mask & (counts > 0)
        centres = 0.5 * (self.edges[:-1] + self.edges[1:])
        widths = np.diff(self.edges)
        x = centres / self.sqrt_s
        lx = np.log(x)
        design = np.column_stack([np.ones_like(x), np.log1p(-x), -lx, -(lx**2), -(lx**3)])
        design = design[:, : self.n_params]
        if use.sum() < self.n_params:
            norm = np.log(max(counts[mask].sum(), 1.0) / widths[mask].sum())
            return np.r_[norm, 10.0, 5.0, 0.0, 0.0][: self.n_params]
        w = np.sqrt(counts[use])
        y = np.log(counts[use] / widths[use])
        coef, *_ = np.linalg.lstsq(design[use] * w[:, None], y * w, rcond=None)
        return coef


def _prepend(first: float, rest: np.ndarray) -> np.ndarray:
    """``np.r_[first, rest]`` for a scalar and a vector, without its indexing machinery (a
    fit's cost function builds one at every MINUIT step)."""
    out = np.empty(rest.size + 1)
    out[0] = first
    out[1:] = rest
    return out


def _poisson_nll(mu: np.ndarray, n: np.ndarray) -> float:
    """Σ (μ − n ln μ) (the constant ln n! dropped); μ = 0 with n = 0 contributes nothing."""
    mu = np.maximum(mu, 1e-300)
    return float(np.sum(mu - n * np.log(mu)))


def poisson_deviance(mu: np.ndarray, n: np.ndarray) -> float:
    """The likelihood χ² 2 Σ [μ − n + n ln(n / μ)] of counts ``n`` against expectation ``mu``."""
    mu = np.maximum(np.asarray(mu, dtype=float), 1e-300)
    n = np.asarray(n, dtype=float)
    log_term = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu), 0.0)
    return float(2.0 * np.sum(mu - n + log_term))


@dataclass
class FitResult:
    """A maximum-likelihood fit: parameters ``(ln p0, p1, …)``, covariance, −ln L, success.

    ``yield_interval`` is MINOS's 68% interval of the expected count in the anchor bins
    (see :func:`fit_counts`), when it was asked for.
    """

    params: np.ndarray
    cov: np.ndarray
    nll: float
    converged: bool
    yield_interval: tuple[float, float] = (float("nan"), float("nan"))


#: MIGRAD's tolerance: it stops at an estimated distance to the minimum below 2e-3 × tol × 0.5
MIGRAD_TOL = 1e-4


def fit_counts(
    model: DijetModel,
    counts: np.ndarray,
    mask: np.ndarray,
    sr_total: float | None = None,
    sr_mask: np.ndarray | None = None,
    anchor: np.ndarray | None = None,
    minos: bool = False,
) -> FitResult:
    """Maximum-likelihood fit of the bins in ``mask`` (and, if given, the SR sum ``sr_total``).

    With ``sr_total`` the SR bins ``sr_mask`` enter as one counting bin with the function's
    SR integral as its expectation (the background-only hypothesis of the significance).
    MINUIT (iminuit) minimizes the binned Poisson −ln L with its exact gradient (MIGRAD),
    from a linear fit of ln(counts), in the parameters (ln Y, p1, …): Y is the expected
    count in the ``anchor`` bins (default: the fitted bins), so that with ``minos`` MINOS
    gives the 68% interval of Y, e.g. of the SR prediction, by profiling the likelihood.
    HESSE gives the covariance; the result is reported in (ln p0, p1, …).
    """
    from iminuit import Minuit

    counts = np.asarray(counts, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    anchor = mask if anchor is None else np.asarray(anchor, dtype=bool)
    idx = np.flatnonzero(mask)
    groups = np.zeros((idx.size, counts.size))
    groups[np.arange(idx.size), idx] = 1.0
    observed = counts[idx]
    if sr_total is not None:
        groups = np.vstack([groups, np.asarray(sr_mask, dtype=float)])
        observed = np.r_[observed, float(sr_total)]

    def terms(params: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray | None]:
        mu, grad, _ = model.derivatives(params, min(order, 1))
        return groups @ mu, (groups @ grad if order else None)

    def nll(params: np.ndarray) -> float:
        return _poisson_nll(terms(params, 0)[0], observed)

    def jac(params: np.ndarray) -> np.ndarray:
        mu, grad = terms(params, 1)
        return (1.0 - observed / np.maximum(mu, 1e-300)) @ grad

    # ln of the shape's integral over the anchor bins, and its gradient in θ
    log_shape = model.log_integral_of(anchor)

    def to_params(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ln Y, θ) → (ln p0, θ), and ∂ ln(shape integral)/∂θ."""
        ln_s, d_ln_s = log_shape(phi[1:])
        return _prepend(phi[0] - ln_s, phi[1:]), d_ln_s

    def cost(phi: np.ndarray) -> float:
        return nll(to_params(phi)[0])

    def cost_grad(phi: np.ndarray) -> np.ndarray:
        params, d_ln_s = to_params(phi)
        g = jac(params)
        return _prepend(g[0], g[1:] - g[0] * d_ln_s)

    start = model.start(counts, mask)
    # the normalization that matches the total count at the start values
    start[0] += np.log(max(observed.sum(), 1e-12) / max(terms(start, 0)[0].sum(), 1e-300))
    phi0 = np.r_[start[0] + log_shape(start[1:])[0], start[1:]]
    # The dijet shape parameters are strongly correlated: MINUIT works in shape coordinates
    # u = L^T (θ − θ0), L the Cholesky factor of the expected information of θ at the start,
    # in which the likelihood is close to round (a pure reparametrization).
    mu0, grad0 = terms(start, 1)
    info = grad0.T @ (grad0 / np.maximum(mu0, 1e-300)[:, None])
    jac0 = np.eye(start.size)
    jac0[0, 1:] = -log_shape(start[1:])[1]
    info = jac0.T @ info @ jac0  # in (ln Y, θ)
    try:
        whiten = np.linalg.inv(np.linalg.cholesky(info[1:, 1:])).T
    except np.linalg.LinAlgError:
        whiten = np.diag(1.0 / np.sqrt(np.maximum(np.diag(info)[1:], 1e-12)))
    to_phi = np.eye(start.size)
    to_phi[1:, 1:] = whiten

    def internal_cost(u: np.ndarray) -> float:
        return cost(_prepend(u[0], phi0[1:] + whiten @ u[1:]))

    def internal_grad(u: np.ndarray) -> np.ndarray:
        g = cost_grad(_prepend(u[0], phi0[1:] + whiten @ u[1:]))
        return _prepend(g[0], whiten.T @ g[1:])

    names = ("ln_yield", "u1", "u2", "u3", "u4")[: model.n_params]
    m = Minuit(
        internal_cost, np.r_[phi0[0], np.zeros(start.size - 1)], grad=internal_grad, name=names
    )
    m.errordef = Minuit.LIKELIHOOD
    m.errors = np.r_[1.0 / np.sqrt(max(info[0, 0], 1e-12)), np.ones(start.size - 1)]
    m.tol = MIGRAD_TOL
    m.print_level = 0
    m.migrad()
    if not m.valid:  # a hard start: a simplex pass, then MIGRAD again
        m.simplex().migrad()
    u = np.array(m.values)
    phi = np.r_[u[0], phi0[1:] + whiten @ u[1:]]
    params, d_ln_s = to_params(phi)
    if not np.all(np.isfinite(params)):
        nan = np.full((params.size, params.size), np.nan)
        return FitResult(params, nan, float("nan"), converged=False)
    m.hesse()
    # covariance in (ln p0, θ): θ = θ0 + W u, ln p0 = ln Y − ln S(θ)
    jacobian = np.eye(params.size)
    jacobian[0, 1:] = -d_ln_s
    jacobian = jacobian @ to_phi
    cov_u = np.array(m.covariance) if m.covariance is not None else np.full_like(jacobian, np.nan)
    cov = jacobian @ cov_u @ jacobian.T
    ok = bool(m.valid and m.accurate and np.all(np.isfinite(cov)))
    interval = (float("nan"), float("nan"))
    if minos and ok:
        m.minos("ln_yield")
        me = m.merrors["ln_yield"]
        if me.is_valid:
            interval = (float(np.exp(phi[0] + me.lower)), float(np.exp(phi[0] + me.upper)))
    return FitResult(params=params, cov=cov, nll=nll(params), converged=ok, yield_interval=interval)


def sr_prediction(model: DijetModel, fit: FitResult, sr_mask: np.ndarray) -> tuple[float, float]:
    """Predicted SR yield and its uncertainty (gradient · covariance · gradient, exact gradient)."""
    mu, grad, _ = model.derivatives(fit.params, order=1)
    value, grad = float(mu[sr_mask].sum()), grad[sr_mask].sum(axis=0)
    var = float(grad @ fit.cov @ grad)
    return value, float(np.sqrt(var)) if var > 0 else float("nan")


def fittable(counts: np.ndarray, sb: np.ndarray, n_params: int) -> bool:
    """Whether the SB bins ``sb`` of ``counts`` hold at least ``n_params`` + 1 filled bins:
    fewer leave the dijet shape undetermined, and no fit is made."""
    return int(np.count_nonzero(np.asarray(counts)[sb])) >= int(n_params) + 1


def sb_fit_quality(
    counts: np.ndarray, edges: np.ndarray, window: Sequence[float], sqrt_s: float, n_params: int
) -> tuple[float, int, bool, FitResult]:
    """(Poisson deviance, n_dof, converged, the fit) of the ``n_params`` dijet function fitted
    to the SB bins of ``counts``, anchored in the SR as the bump hunt's SB fit is (no MINOS:
    the quality of the fit only; the bump hunt reuses the fit it chose)."""
    model = DijetModel(np.asarray(edges, dtype=float), float(sqrt_s), int(n_params))
    sb = ~sr_bins(model.edges, window)
    fit = fit_counts(model, counts, sb, anchor=~sb)
    chi2 = poisson_deviance(model.expected(fit.params)[sb], counts[sb])
    return chi2, int(sb.sum()) - model.n_params, bool(fit.converged and np.isfinite(chi2)), fit


def choose_function(
    counts: np.ndarray,
    edges: np.ndarray,
    window: Sequence[float],
    sqrt_s: float,
    alpha: float,
) -> tuple[int, float, FitResult | None]:
    """The fewest dijet parameters that the SB data support, by Fisher's F-test, and the
    SB fit of that function (None where none was fitted).

    Every function of :data:`FUNCTIONS` is fitted to the SB; the fewest parameters n are
    kept that no larger function m beats: F = (Δχ² / (m − n)) / (χ²_m / n_dof,m) against
    F(m − n, n_dof,m), p ≥ ``alpha`` for every m. (Testing each larger function, not only
    the next, catches a shape that four parameters miss as badly as three and five fit.)
    A function the SB cannot fit (:func:`fittable`) or whose fit does not converge is left
    out. Returns the number of parameters and the smallest p-value of its tests against the
    larger functions (NaN where there were none), so that the table shows how close the
    choice was, and its fit.
    """
    counts = np.asarray(counts, dtype=float)
    sb = ~sr_bins(np.asarray(edges, dtype=float), window)
    fits: dict[int, tuple[float, int]] = {}
    results: dict[int, FitResult] = {}
    for n in sorted(FUNCTIONS.values()):
        if not fittable(counts, sb, n):
            break
        chi2, ndof, ok, results[n] = sb_fit_quality(counts, edges, window, sqrt_s, n)
        if ok and ndof > 0:
            fits[n] = (chi2, ndof)
    if not fits:
        return min(FUNCTIONS.values()), float("nan"), None

    def beaten_by(n: int) -> list[float]:
        """p-values of n's F-tests against each larger function fitted."""
        chi2_n = fits[n][0]
        return [
            float(
                special.fdtrc(
                    m - n, dof, max(chi2_n - chi2, 0.0) / (m - n) / max(chi2 / dof, 1e-300)
                )
            )
            for m, (chi2, dof) in fits.items()
            if m > n
        ]

    # the largest function fitted has no larger one to test against, so one n is kept
    chosen = next(n for n in sorted(fits) if all(p >= alpha for p in beaten_by(n)))
    return chosen, min(beaten_by(chosen), default=float("nan")), results[chosen]
