"""Probability distributions of the config: multapses, delays, synapse placement.

A distribution is given in the config as ``{distribution: <scipy.stats name>,
**keyword arguments}``. These functions freeze it and derive the discrete forms
the kernel method needs.

The discrete forms (and the checks of the config) are kept in the user cache by the
content of their arguments (:func:`hpckernels.usercache.stored`): importing
``scipy.stats`` takes about half a second here, more than a kernel job's work, and a
process that finds what it needs there never imports it.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from .errors import ConfigError
from .usercache import stored


def _scipy():
    import scipy.stats

    return scipy.stats


#: Most multapses a connection can have: counts are taken on 1..MAX_MULTAPSE.
MAX_MULTAPSE = 99


def frozen(spec, where="distribution", ignore=()):
    """Freeze a config distribution.

    Parameters
    ----------
    spec : dict
        ``{"distribution": name, **kwargs}``.
    where : str
        Config key for error messages.
    ignore : tuple of str
        Keys that are not keyword arguments of the distribution (e.g. ``weight``).

    Returns
    -------
    scipy.stats frozen distribution
    """
    key = json.dumps({k: v for k, v in spec.items() if k not in ignore}, sort_keys=True)
    return _frozen(key, where)


@stored("distributions", ("scipy",))
def check(spec, where="distribution", ignore=()):
    """Raise ConfigError unless ``spec`` is a distribution of scipy.stats with valid
    parameters and a finite mean (see :func:`frozen`)."""
    frozen(spec, where, list(ignore))


@lru_cache(maxsize=1024)
def _frozen(key, where):
    # frozen distributions are shared: callers pass their own random_state to rvs
    st = _scipy()
    spec = json.loads(key)
    name = spec.pop("distribution")
    kwargs = spec
    family = getattr(st, name, None)
    if not isinstance(family, (st.rv_continuous, st.rv_discrete)):
        raise ConfigError(f"{where}.distribution", f"unknown distribution '{name}'")
    try:
        dist = family(**kwargs)
        mean = dist.mean()
    except (TypeError, ValueError) as exc:
        raise ConfigError(where, f"invalid parameters for {name}: {exc}") from None
    if not np.isfinite(mean) and hasattr(dist, "pdf"):
        raise ConfigError(where, f"parameters {kwargs} give {name} no finite mean")
    return dist


@stored("distributions", ("scipy",))
def multapse_pmf(spec, where="multapse"):
    """Probability of 1..MAX_MULTAPSE synapses per connection.

    A continuous distribution is evaluated (pdf) at the integers 1..MAX_MULTAPSE
    and renormalised; a discrete one is restricted to that range (pmf) and
    renormalised, so every connection has at least one synapse.

    Returns
    -------
    counts : ndarray of int, shape (MAX_MULTAPSE,)
    pmf : ndarray of float, shape (MAX_MULTAPSE,)
    """
    st = _scipy()
    dist = frozen(spec, where)
    _check_multapse_support(dist, where)
    counts = np.arange(1, MAX_MULTAPSE + 1)
    weights = (
        dist.pdf(counts)
        if hasattr(dist.dist, "pdf") and isinstance(dist.dist, st.rv_continuous)
        else dist.pmf(counts)
    )
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        raise ConfigError(
            where, f"no probability mass on 1..{MAX_MULTAPSE} synapses per connection"
        )
    return counts, weights / total


def multapse_mean(spec, where="multapse"):
    """Expected number of synapses per connection (see :func:`multapse_pmf`)."""
    counts, pmf = multapse_pmf(spec, where)
    return float(np.sum(counts * pmf))


#: Largest share of a multapse or delay distribution that may lie outside what the kernels
#: can represent (multapses 1..MAX_MULTAPSE, delays 0..tau): it would be lost.
MAX_LOST_MASS = 1e-4


def _check_multapse_support(dist, where):
    """Raise ConfigError when more than :data:`MAX_LOST_MASS` of a multapse distribution
    lies where the kernels cannot represent it: above MAX_MULTAPSE synapses per
    connection, or, for a continuous distribution (read as counts: its pdf at the
    integers), below 0.5. A discrete distribution's mass at 0 is a connection without a
    synapse, left out as lfpykernels does (a zero-truncated count)."""
    if isinstance(dist.dist, _scipy().rv_continuous):
        below, above = float(dist.cdf(0.5)), float(dist.sf(MAX_MULTAPSE + 0.5))
    else:
        below, above = 0.0, float(dist.sf(MAX_MULTAPSE))
    if not below <= MAX_LOST_MASS:
        raise ConfigError(
            where,
            f"{below:.3g} of the multapse distribution lies below 1 synapse per "
            f"connection; allowed at most {MAX_LOST_MASS:g} (e.g. a truncnorm with "
            "a >= (1 - loc) / scale, or a discrete distribution)",
        )
    if not above <= MAX_LOST_MASS:
        raise ConfigError(
            where,
            f"{above:.3g} of the multapse distribution lies above {MAX_MULTAPSE} synapses "
            f"per connection; allowed at most {MAX_LOST_MASS:g}",
        )


@stored("distributions", ("scipy",))
def check_delay(spec, tau, where="delay"):
    """Raise ConfigError unless delays are >= 0 and (almost) all within tau (ms).

    One rule for mean-field and ensemble kernels: a synapse cannot act before the
    presynaptic spike, and delays beyond tau fall off the kernel's lag axis.
    """
    dist = frozen(spec, where)
    low = float(dist.support()[0])
    if low < 0:
        raise ConfigError(
            where,
            f"the delay distribution starts at {low:g} ms; delays must "
            "be >= 0 ms (e.g. a truncnorm with a >= -loc / scale)",
        )
    beyond = float(dist.sf(tau))
    if beyond > MAX_LOST_MASS:
        raise ConfigError(
            where,
            f"{beyond:.3g} of the delay distribution lies beyond "
            f"simulation.tau = {tau:g} ms; allowed at most "
            f"{MAX_LOST_MASS:g} (raise simulation.tau)",
        )


@stored("distributions", ("scipy",))
def delay_pmf(spec, dt, n_steps_tau, where="delay"):
    """Delay distribution on the lag grid [-tau, tau] as weights summing to 1.

    The pdf (or pmf for discrete distributions, with delays in ms on the grid) is
    evaluated at lags ``k * dt`` for k = -n_steps_tau..n_steps_tau and normalised.

    Parameters
    ----------
    spec : dict
        Delay distribution (ms).
    dt : float
        Time step (ms).
    n_steps_tau : int
        Steps in tau.

    Returns
    -------
    ndarray, shape (2 * n_steps_tau + 1,)
    """
    st = _scipy()
    dist = frozen(spec, where)
    lags = np.linspace(-n_steps_tau * dt, n_steps_tau * dt, 2 * n_steps_tau + 1)
    weights = dist.pdf(lags) if isinstance(dist.dist, st.rv_continuous) else dist.pmf(lags)
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        raise ConfigError(where, "no probability mass on lags within [-tau, tau]")
    return weights / total


@stored("distributions", ("scipy",))
def delay_step_pmf(spec, dt, n_steps_tau, where="delay"):
    """Distribution of delays rounded to whole steps of dt (what a synapse of an
    ensemble realization gets).

    P(k) is the probability that ``rint(D / dt) = k`` for a delay D of the
    distribution: for continuous distributions cdf((k + 1/2) dt) - cdf((k - 1/2) dt)
    (delays are >= 0, see :func:`check_delay`); for discrete ones the pmf summed over
    the support values that round to k. Parameters are those of :func:`delay_pmf`.

    Returns
    -------
    ndarray, shape (n_steps_tau + 2,)
        P(k) for k = 0..n_steps_tau, then the probability of a delay beyond tau
        (rounding to more than n_steps_tau steps); sums to 1.
    """
    st = _scipy()
    dist = frozen(spec, where)
    n = n_steps_tau
    pmf = np.zeros(n + 2)
    if isinstance(dist.dist, st.rv_continuous):
        upper = dist.cdf((np.arange(n + 1) + 0.5) * dt)
        pmf[: n + 1] = np.diff(upper, prepend=0.0)
        pmf[n + 1] = dist.sf((n + 0.5) * dt)
    else:
        low = max(0, int(np.floor(dist.support()[0])))
        values = np.arange(low, int(np.ceil((n + 1) * dt)) + 2)
        steps = delay_steps(values, dt).astype(int)
        inside = steps <= n
        np.add.at(pmf, steps[inside], dist.pmf(values[inside]))
        pmf[n + 1] = max(0.0, 1.0 - pmf[: n + 1].sum())
    pmf = np.clip(pmf, 0.0, None)
    total = pmf.sum()
    if not np.isfinite(total) or total <= 0:
        raise ConfigError(where, "no probability mass on delays >= 0")
    return pmf / total


def delay_steps(delays, dt):
    """Delays (ms) in whole steps of dt, ``rint(D / dt)``: the rule whose distribution
    :func:`delay_step_pmf` tabulates (a drawn delay acts at the step nearest to it)."""
    return np.rint(np.asarray(delays, dtype=float) / dt)


def placement_weights(z_mid, densities, depth_spread):
    """Unnormalised synapse density at segment depths.

    Each density is widened by the population's depth spread: the depth of a
    synapse on a randomly placed cell is the sum of two independent variables, so
    the variances add (exact for Gaussians; applied to every density with a
    ``scale``).

    Parameters
    ----------
    z_mid : ndarray
        Segment midpoint depths (um).
    densities : list of dict
        Distributions over depth (um) with an optional mixture ``weight`` (default 1).
    depth_spread : float
        Standard deviation of soma depths in the population (um).

    Returns
    -------
    ndarray, same shape as ``z_mid``
    """
    total = np.zeros_like(z_mid, dtype=float)
    for density in densities:
        spec = dict(density)
        if "scale" in spec:
            spec["scale"] = float(np.sqrt(spec["scale"] ** 2 + depth_spread**2))
        dist = frozen(spec, "placement.densities", ignore=("weight",))
        total += dist.pdf(z_mid) * density.get("weight", 1.0)
    return total
