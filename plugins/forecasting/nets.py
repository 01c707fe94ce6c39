"""Neural forecasters of the sensitivity process: ``nn`` (feed-forward autoregressive) and ``rnn``
(recurrent), pooled across series (SPEC §4, monograph Table 11).

Both work on series standardised per (asset, input) pair and train one net on all series (the
monograph finds sensitivity distributions alike across drivers and assets, §11.14.1). Output layers
read bounded features (tanh units, GRU/Elman states), so a simulated path can never explode.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar, Literal

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.params import in_range, param, positive

from ._common import HUBER_C, Fit, MonteCarloForecaster, draw_shocks, median_of, scale

Cell = Literal["gru", "elman"]


def _standardise(xs: np.ndarray, robust: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    loc = np.median(xs, axis=1) if robust else xs.mean(axis=1)
    sc = scale(xs, robust=robust)
    sc = np.where(sc > 0, sc, xs.std(axis=1))
    return (xs - loc[:, None]) / sc[:, None], loc, sc


@contextlib.contextmanager
def _torch_threads(torch: Any, n: int):
    """Run small nets on ``n`` intra-op threads (faster than many for tiny matrices); restores."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _windows(z: np.ndarray, length: int) -> np.ndarray:
    """Non-overlapping windows of ``length`` samples ending at the last sample of each series.

    (M, T) -> (M * k, length), series-major, k = max(1, T // length).
    """
    m, t = z.shape
    length = min(length, t)
    k = max(1, t // length)
    starts = t - length * np.arange(k, 0, -1)
    idx = starts[:, None] + np.arange(length)[None, :]
    return z[:, idx].reshape(m * k, length)


def _train(torch: Any, model: Any, inputs: Any, target: Any, *, epochs: int, lr: float,
           robust: bool, forward: Any) -> float:
    """Full-batch Adam; returns the final loss (NaN if training diverged)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = (torch.nn.HuberLoss(delta=HUBER_C) if robust else torch.nn.MSELoss())
    loss = torch.tensor(float("nan"))
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(forward(inputs), target)
        if not torch.isfinite(loss):
            return float("nan")
        loss.backward()
        opt.step()
    return float(loss.detach())


class NetFit(Fit):
    """A trained pooled net plus per-series location, scale and innovation sd."""

    def __init__(self, owner: Any, x: np.ndarray, rng: np.random.Generator, *, recurrent: bool
                 ) -> None:
        import torch

        self.torch = torch
        self.owner = owner
        self.recurrent = recurrent
        xs = x.T
        m, t = xs.shape
        z, self.loc, self.sc = _standardise(xs, owner.robust)
        self.z = z
        seed = int(rng.integers(0, 2**31 - 1))
        sub = rng.permutation(m)[: owner.max_series] if m > owner.max_series else np.arange(m)
        with torch.random.fork_rng(devices=[]), _torch_threads(torch, 1):
            torch.manual_seed(seed)
            if recurrent:
                kind = torch.nn.GRU if owner.cell == "gru" else torch.nn.RNN
                self.rnn = kind(1, owner.hidden, batch_first=True).double()
                self.head = torch.nn.Linear(owner.hidden, 1).double()
                params = torch.nn.ModuleList([self.rnn, self.head])
                win = _windows(z[sub], owner.seq_len + 1)
                inp = torch.from_numpy(win[:, :-1, None].copy())
                tgt = torch.from_numpy(win[:, 1:].copy())
                loss = _train(torch, params, inp, tgt, epochs=owner.epochs, lr=owner.lr,
                              robust=owner.robust,
                              forward=lambda a: self.head(self.rnn(a)[0])[..., 0])
            else:
                lags = owner.lags
                self.net = torch.nn.Sequential(torch.nn.Linear(lags, owner.hidden),
                                               torch.nn.Tanh(),
                                               torch.nn.Linear(owner.hidden, 1)).double()
                feats = np.stack([z[:, lags - i: t - i] for i in range(1, lags + 1)], axis=2)
                rows_x = feats[sub].reshape(-1, lags)
                rows_y = z[sub, lags:].reshape(-1)
                if rows_x.shape[0] > owner.max_samples:
                    keep = np.sort(rng.choice(rows_x.shape[0], owner.max_samples, replace=False))
                    rows_x, rows_y = rows_x[keep], rows_y[keep]
                loss = _train(torch, self.net, torch.from_numpy(rows_x.copy()),
                              torch.from_numpy(rows_y.copy()), epochs=owner.epochs, lr=owner.lr,
                              robust=owner.robust, forward=lambda a: self.net(a)[..., 0])
        with torch.no_grad(), _torch_threads(torch, 1):
            if recurrent:
                win = _windows(z, owner.seq_len + 1)  # (M * n_win, seq_len + 1), series-major
                out, _ = self.rnn(torch.from_numpy(win[:, :-1, None].copy()))
                resid = (win[:, 1:] - self.head(out)[..., 0].numpy()).reshape(m, -1)
                # the state of each series after its last seq_len values, as in training
                _, self.h_last = self.rnn(torch.from_numpy(z[:, -owner.seq_len:, None].copy()))
            else:
                pred = self.net(torch.from_numpy(feats))[..., 0].numpy()
                resid = z[:, owner.lags:] - pred
        self.sd = scale(resid, robust=owner.robust)
        self.resid = resid
        finite = np.isfinite(self.sd) & np.all(np.isfinite(resid), axis=1) & (self.sc > 0)
        self.degenerate = ~finite if np.isfinite(loss) else np.ones(m, dtype=bool)
        pool = None
        if owner.shocks == "bootstrap":
            from ._common import standardised_pool

            pool = standardised_pool(resid, self.sd)
        self.pool = pool
        self.info = {"train_loss": loss if np.isfinite(loss) else None,
                     "n_train_series": int(len(sub)),
                     "median_innovation_sd_std_units": median_of(self.sd, finite),
                     "diverged": bool(not np.isfinite(loss))}

    def simulate(self, rng: np.random.Generator, h: int, n_paths: int) -> np.ndarray:
        torch = self.torch
        m = self.loc.shape[0]
        eps = draw_shocks(rng, (n_paths, h, m), self.owner.shocks, self.pool)
        sd = np.where(np.isfinite(self.sd), self.sd, 0.0)
        out = np.empty((n_paths, h, m))
        with torch.no_grad(), _torch_threads(torch, 1):
            if self.recurrent:
                state = self.h_last.repeat(1, n_paths, 1)  # (1, n_paths * M, hidden)
                # batch order of the repeated state: path-major, index = path * M + series
                cur = np.tile(self.head(self.h_last[0])[..., 0].numpy(), n_paths)
                for k in range(h):
                    val = cur.reshape(n_paths, m) + sd * eps[:, k]
                    out[:, k] = val
                    o, state = self.rnn(torch.from_numpy(val.reshape(-1, 1, 1).copy()), state)
                    cur = self.head(o[:, 0])[..., 0].numpy()
            else:
                lags = self.owner.lags
                window = np.broadcast_to(self.z[:, -1: -lags - 1: -1], (n_paths, m, lags)).copy()
                for k in range(h):
                    mean = self.net(torch.from_numpy(window.reshape(-1, lags)))[..., 0].numpy()
                    val = mean.reshape(n_paths, m) + sd * eps[:, k]
                    out[:, k] = val
                    window = np.concatenate([val[..., None], window[..., :-1]], axis=2)
        return self.loc + self.sc * out


@attrs.define(frozen=True, kw_only=True)
class _NetParams(MonteCarloForecaster):
    hidden: int = param(16, doc="hidden units", validator=in_range(1, 512))
    epochs: int = param(200, doc="full-batch Adam epochs", validator=positive)
    lr: float = param(0.01, doc="Adam learning rate", validator=in_range(0.0, 1.0, lo_open=True))
    max_series: int = param(512, doc="at most this many series (drawn with the seed) train the "
                                     "net; all are simulated", validator=positive)

    min_samples: ClassVar[int] = 20
    requires: ClassVar[tuple[str, ...]] = ("torch",)


@attrs.define(frozen=True, kw_only=True)
class NN(_NetParams):
    """Autoregressive feed-forward net S_t = f(S_{t-1}, ..., S_{t-lags}) + eps, pooled."""

    name = "nn"

    lags: int = param(5, doc="number of lagged values fed to the net", validator=in_range(1, 60))
    max_samples: int = param(20_000, doc="at most this many training rows (drawn with the seed)",
                             validator=positive)

    def calibrate(self, x: np.ndarray, rng: np.random.Generator) -> NetFit:
        return NetFit(self, x, rng, recurrent=False)


@attrs.define(frozen=True, kw_only=True)
class RNN(_NetParams):
    """Recurrent net S_t = f(h_{t-1}, S_{t-1}) + eps (GRU or Elman cell), pooled."""

    name = "rnn"

    cell: Cell = param("gru", doc="recurrent cell: gru or elman (tanh)")
    seq_len: int = param(20, doc="truncated backpropagation: training windows of this many steps; "
                                 "the forecast starts from the state after the last seq_len values",
                         validator=in_range(2, 1000))
    epochs: int = param(100, doc="full-batch Adam epochs (backpropagation through time)",
                        validator=positive)
    max_series: int = param(128, doc="at most this many series (drawn with the seed) train the "
                                     "net; all are simulated", validator=positive)

    def calibrate(self, x: np.ndarray, rng: np.random.Generator) -> NetFit:
        return NetFit(self, x, rng, recurrent=True)


@hookimpl
def register_forecasters(register):
    register(NN)
    register(RNN)
