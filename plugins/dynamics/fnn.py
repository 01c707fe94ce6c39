"""``fnn``: feed-forward nets per asset with a search over architectures, lag sets and windows
(SPEC §2; monograph §7, §9 Algorithm 2), trained as batched ensembles."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np, pd
from causalfolio.errors import ConfigError, DataError, NumericalError, ParameterError
from causalfolio.params import in_range, non_empty, non_negative, param, positive, unique_items
from causalfolio.resources import gib as _gib
from causalfolio.resources import memory_limit
from causalfolio.stages import DynamicsModel, FittedDynamics

from .linear import training_arrays

if TYPE_CHECKING:
    import torch

# torch and the ensemble trainer are imported where they are used, so that building the plugin
# registry (every CLI command) does not pay torch's import time.

MIN_TRAIN = 10
"""Fewest training samples (window minus validation block) a candidate window may leave."""
MIN_VAL = 5
"""Fewest validation samples."""


def memory_estimate(hidden: tuple[int, ...], n_inputs: int, n_rows: int, n_members: int,
                    dtype: str, *, batched: bool = True) -> tuple[int, int]:
    """Bytes that training one architecture needs at least, and its parameters per net.

    Counts the float64 initial weights (built, then stacked), the training copies (weights, best
    state, gradient, Adam's two moments) of the members trained together (all ``n_members`` when
    ``batched``, else one), the standardised inputs and the activations kept for the backward
    pass; the real peak is higher (temporaries), so this only refuses what cannot fit.

    Parameters
    ----------
    hidden
        Hidden-layer widths of the architecture.
    n_inputs, n_rows
        Inputs P (lagged drivers) and rows T (the longest window) of the design.
    n_members
        Nets of this architecture: assets x lag sets x windows.
    dtype
        Training precision (``float32`` or ``float64``).
    batched
        Members trained as one ensemble (True) or one at a time.

    Returns
    -------
    (bytes, parameters per net)
    """
    sizes = [int(n_inputs), *(int(h) for h in hidden), 1]
    n_par = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    b = 4 if dtype == "float32" else 8
    together = n_members if batched else 1
    weights = n_members * n_par * 2 * 8 + together * n_par * 5 * b
    acts = together * n_rows * (n_inputs * (8 + b) + sum(int(h) for h in hidden) * 3 * b)
    return weights + acts, n_par


class FittedFNN(FittedDynamics):
    """The selected net of every asset.

    Nets are grouped by architecture; within a group the members' weights are stacked so that
    prediction and differentiation run as batched matrix products. All arithmetic here is float64
    on CPU, whatever the training dtype/device (the nets' weights are upcast), so that input
    gradients are those of the trained net to double precision.

    Attributes
    ----------
    groups
        One dict per architecture with ``assets`` (asset positions, (G,)), ``layers`` (stacked
        (W, b) float64 tensors in standardised units), ``x_mean``/``x_scale``/``mask`` ((G, P))
        and ``y_mean``/``y_scale`` ((G,)).
    """

    def __init__(self, groups: list[dict[str, Any]], activation: str, assets, drivers, lags,
                 inputs, train_index, info) -> None:
        self.groups = groups
        self.activation = activation
        super().__init__(assets, drivers, lags, inputs, train_index, info)
        order = np.concatenate([g["assets"] for g in groups])
        import torch

        self._perm = torch.as_tensor(np.argsort(order))

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        from ._ensemble import ACTIVATIONS, forward_stacked

        act = ACTIVATIONS[self.activation]
        outs = []
        for g in self.groups:
            z = (x.unsqueeze(0) - g["x_mean"].unsqueeze(1)) / g["x_scale"].unsqueeze(1)
            z = z * g["mask"].unsqueeze(1)
            out = forward_stacked(g["layers"], z, act)  # (G, T)
            outs.append(out * g["y_scale"].unsqueeze(1) + g["y_mean"].unsqueeze(1))
        return torch.cat(outs, dim=0)[self._perm].T

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        xt = torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64)
        with torch.no_grad():
            return self._forward(xt).numpy()

    def torch_forward(self):
        """Differentiable map from inputs (T, P) to predicted returns (T, N), float64, original
        units."""
        return self._forward


def _check_nested(owner: str, name: str, value: tuple[tuple[int, ...], ...], *,
                  allow_empty_item: bool, minimum: int) -> None:
    if len(value) == 0:
        raise ParameterError(f"{owner}: parameter '{name}' must not be empty; give at least one "
                             "item, e.g. [[8],[16,16]]")
    for item in value:
        if not allow_empty_item and len(item) == 0:
            raise ParameterError(f"{owner}: parameter '{name}' has an empty item")
        if any(v < minimum for v in item) or len(set(item)) != len(item) and name == "lag_sets":
            raise ParameterError(f"{owner}: parameter '{name}' has an invalid item {list(item)} "
                                 f"(values must be >= {minimum}"
                                 + (", without repeats)" if name == "lag_sets" else ")"))
    if len(set(value)) != len(value):
        raise ParameterError(f"{owner}: parameter '{name}' repeats an item: "
                             f"{[list(v) for v in value]}")


@attrs.define(frozen=True, kw_only=True)
class FNN(DynamicsModel):
    """Feed-forward nets per asset; the best (architecture, lag set, window) by held-out RMSE."""

    name = "fnn"
    requires = ("torch",)

    hidden: tuple[tuple[int, ...], ...] = param(
        ((8,), (16,), (32,), (8, 8), (16, 16), (32, 32)),
        doc="candidate architectures: hidden-layer widths per net, e.g. [[16],[16,16]] "
            "([] = affine)")
    lag_sets: tuple[tuple[int, ...], ...] = param(
        ((0,), (1,), (0, 1)), doc="candidate lag sets (days), e.g. [[0],[1],[0,1]]")
    lags: tuple[int, ...] | None = param(
        None, doc="shorthand for one lag set: lags=[0,1] means lag_sets=[[0,1]] (give one of "
                  "the two)", validator=[non_empty, unique_items, non_negative])
    windows: tuple[int, ...] | None = param(
        (60, 90, 125), doc="candidate training windows (trading days, each including the "
                           "validation block); None: the backtest's training window",
        validator=[non_empty, unique_items, positive])
    val_frac: float = param(0.2, doc="validation block = this share of the shortest window "
                                     "(its last samples, common to all candidates)",
                            validator=in_range(0.0, 0.5, lo_open=True))
    activation: Literal["tanh", "softplus", "silu", "gelu", "sigmoid", "relu"] = param(
        "tanh", doc="hidden activation (smooth by default; relu gives piecewise-constant "
                    "sensitivities)")
    epochs: int = param(300, doc="maximum full-batch Adam epochs", validator=positive)
    patience: int = param(30, doc="early stopping: epochs without a better validation loss",
                          validator=positive)
    min_epochs: int = param(20, doc="epochs always trained before a state can be kept "
                                    "(guards against keeping barely trained nets)",
                            validator=non_negative)
    lr: float = param(0.01, doc="Adam learning rate", validator=positive)
    weight_decay: float = param(0.01, doc="Adam L2 penalty on weights (standardised units)",
                                validator=non_negative)
    batched: bool = param(True, doc="train each architecture's nets as one batched ensemble "
                                    "(False: one at a time, same result, slower)")
    device: str = param("cpu", doc="torch device for training: 'cpu', 'cuda' or 'cuda:N'")
    dtype: Literal["float32", "float64"] = param("float32", doc="training precision")

    @property
    def candidate_lag_sets(self) -> tuple[tuple[int, ...], ...]:
        """The lag sets searched: ``(lags,)`` when ``lags`` is given, else ``lag_sets``."""
        return (tuple(sorted(self.lags)),) if self.lags is not None else self.lag_sets

    def validate(self) -> None:
        if self.lags is not None and self.lag_sets != attrs.fields(type(self)).lag_sets.default:
            raise ParameterError(f"{self.name}: parameter 'lags' is a shorthand for one lag set; "
                                 "give either lags or lag_sets, not both")
        _check_nested(self.name, "hidden", self.hidden, allow_empty_item=True, minimum=1)
        _check_nested(self.name, "lag_sets", self.lag_sets, allow_empty_item=False, minimum=0)
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ParameterError(f"{self.name}: parameter 'device' must be 'cpu', 'cuda' or "
                                 f"'cuda:N', got {self.device!r}")
        if self.min_epochs > self.epochs:
            raise ParameterError(f"{self.name}: parameter 'min_epochs' ({self.min_epochs}) must "
                                 f"not exceed 'epochs' ({self.epochs})")
        if self.windows is not None:
            self._check_windows(self.windows, ParameterError)
        # the smallest problem these settings can meet (one asset, one input, the shortest
        # window): an architecture that cannot fit even then is refused before any data is read
        wins = self.windows or (MIN_TRAIN + MIN_VAL,)
        members = len(self.candidate_lag_sets) * len(wins)
        limit = memory_limit()
        for h in self.hidden:
            need, n_par = memory_estimate(h, 1, min(wins), members, self.dtype,
                                          batched=self.batched)
            if need > limit:
                raise ParameterError(
                    f"{self.name}: architecture hidden={list(h)} needs at least {_gib(need)} "
                    f"({n_par:,} parameters per net, {members} nets per asset), more than this "
                    f"machine's {_gib(limit)} of memory; use narrower layers, e.g. "
                    "hidden=[[16],[16,16]]")

    def _n_val(self, windows: tuple[int, ...]) -> int:
        return max(MIN_VAL, int(round(self.val_frac * min(windows))))

    def _check_windows(self, windows: tuple[int, ...], err: type[Exception]) -> None:
        n_val = self._n_val(windows)
        short = [w for w in windows if w - n_val < MIN_TRAIN]
        if short:
            raise err(f"{self.name}: window {short[0]} leaves {short[0] - n_val} training "
                      f"samples after the {n_val}-sample validation block; need >= {MIN_TRAIN}: "
                      "use longer windows or a smaller val_frac")

    def history(self, window: int) -> int:
        wins = self.windows or (int(window),)
        return max(wins) + max(max(s) for s in self.candidate_lag_sets)

    def fit(self, assets: pd.DataFrame, drivers: pd.DataFrame, *, window: int, seed: int
            ) -> FittedFNN:
        import torch

        from ._ensemble import member_seed, train_ensemble, train_one

        wins = tuple(self.windows or (int(window),))
        self._check_windows(wins, DataError)
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"{self.name}: device {self.device!r} requested but CUDA is not "
                              "available; use device='cpu'")
        lag_sets = self.candidate_lag_sets
        union = sorted(set().union(*lag_sets))
        x, y = training_arrays(assets, drivers, tuple(union), max(wins), self.name)
        X, Y = x.to_numpy(float), y.to_numpy(float)
        T, P = X.shape
        N = Y.shape[1]
        n_val = self._n_val(wins)
        col_lag = np.array([int(c.rsplit("@", 1)[1]) for c in x.columns])
        configs = [(li, wi) for li in range(len(lag_sets)) for wi in range(len(wins))]
        C = len(configs)
        # members: asset-major, then configuration
        m_asset = np.repeat(np.arange(N), C)
        m_cfg = np.tile(np.arange(C), N)
        input_mask = np.stack([np.isin(col_lag, lag_sets[configs[c][0]]) for c in m_cfg])
        train_mask = np.zeros((N * C, T), dtype=bool)
        val_mask = np.zeros((N * C, T), dtype=bool)
        for e, c in enumerate(m_cfg):
            w = wins[configs[c][1]]
            train_mask[e, T - w: T - n_val] = True
            val_mask[e, T - n_val:] = True
        for w in sorted(set(wins)):
            part = Y[T - w: T - n_val]
            flat = np.flatnonzero(np.ptp(part, axis=0) == 0)
            if len(flat):
                raise DataError(f"{self.name}: asset {y.columns[flat[0]]!r} has a constant return "
                                f"over the training part of the {w}-day window; it has no "
                                "sensitivities to learn")
        settings = dict(activation=self.activation, lr=self.lr, weight_decay=self.weight_decay,
                        epochs=self.epochs, patience=self.patience,
                        min_epochs=self.min_epochs, device=self.device,
                        dtype=self.dtype)
        limit = memory_limit()
        for hidden in self.hidden:
            need, n_par = memory_estimate(hidden, P, T, N * C, self.dtype, batched=self.batched)
            if need > limit:
                raise ConfigError(
                    f"{self.name}: training hidden={list(hidden)} as {N * C} nets ({N} assets x "
                    f"{C} lag-set/window candidates, {n_par:,} parameters each) on {T} days x "
                    f"{P} inputs needs at least {_gib(need)}, more than this machine's "
                    f"{_gib(limit)} of memory; use narrower layers, fewer lag sets or windows, "
                    "or batched=False")
        results = []
        for a, hidden in enumerate(self.hidden):
            seeds = [member_seed(seed, a, int(m_asset[e]), *configs[m_cfg[e]])
                     for e in range(N * C)]
            if self.batched:
                res = train_ensemble(X, Y, hidden=hidden, asset=m_asset, input_mask=input_mask,
                                     train_mask=train_mask, val_mask=val_mask, seeds=seeds,
                                     **settings)
            else:
                res = _concat([train_one(X, Y, hidden=hidden, asset=int(m_asset[e]),
                                         input_mask=input_mask[e], train_mask=train_mask[e],
                                         val_mask=val_mask[e], seed=seeds[e], **settings)
                               for e in range(N * C)])
            results.append(res)
        rmse = np.stack([r.val_rmse.reshape(N, C) for r in results])  # (A, N, C)
        rmse = np.where(np.isfinite(rmse), rmse, np.inf)
        groups, selection = [], {}
        chosen: dict[int, list[tuple[int, int]]] = {}
        for i in range(N):
            flat_idx = int(np.argmin(rmse[:, i, :]))  # first minimum: architecture order, then
            a, c = divmod(flat_idx, C)                # lag set, then window
            if not np.isfinite(rmse[a, i, c]):
                raise NumericalError(f"{self.name}: every candidate net for asset "
                                     f"{y.columns[i]!r} diverged; lower lr or use dtype='float64'")
            chosen.setdefault(a, []).append((i, i * C + c))
            li, wi = configs[c]
            selection[str(y.columns[i])] = {
                "hidden": list(self.hidden[a]), "lags": list(lag_sets[li]),
                "window": int(wins[wi]), "val_rmse": float(rmse[a, i, c]),
                "best_epoch": int(results[a].best_epoch[i * C + c]),
            }
        for a in sorted(chosen):
            idx = np.array([e for _, e in chosen[a]])
            res = results[a]
            t64 = lambda v: torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float64)  # noqa: E731
            groups.append({
                "assets": np.array([i for i, _ in chosen[a]]),
                "layers": [(t64(w[idx]), t64(b[idx])) for w, b in res.layers],
                "x_mean": t64(res.scaling.x_mean[idx]), "x_scale": t64(res.scaling.x_scale[idx]),
                "mask": t64(input_mask[idx].astype(float)),
                "y_mean": t64(res.scaling.y_mean[idx]), "y_scale": t64(res.scaling.y_scale[idx]),
            })
        longest = max(s["window"] for s in selection.values())
        info = {
            "selection": selection, "n_candidates": len(self.hidden) * C,
            "validation_samples": n_val, "epochs_run": [int(r.epochs_run) for r in results],
            "in_sample": f"last {longest} samples (longest selected window)",
        }
        return FittedFNN(groups, self.activation, y.columns, drivers.columns, union, x.columns,
                         x.index[-longest:], info)


def _concat(parts: list) -> Any:
    from ._ensemble import EnsembleResult, Standardisation

    layers = [(np.concatenate([p.layers[k][0] for p in parts]),
               np.concatenate([p.layers[k][1] for p in parts]))
              for k in range(len(parts[0].layers))]
    sc = Standardisation(*(np.concatenate([getattr(p.scaling, f) for p in parts])
                           for f in ("x_mean", "x_scale", "y_mean", "y_scale")))
    return EnsembleResult(layers, sc, np.concatenate([p.val_rmse for p in parts]),
                          np.concatenate([p.best_epoch for p in parts]),
                          max(p.epochs_run for p in parts))


@hookimpl
def register_dynamics(register):
    register(FNN)
