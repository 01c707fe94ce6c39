"""Batched training of many small feed-forward nets at once (shared code of ``fnn``).

An *ensemble* here is E independent regression nets of one architecture (hidden widths), one per
(asset, lag set, window) configuration. Their weights are stacked along a leading member axis and
trained together with batched matrix products (``torch.baddbmm``): one forward and one backward
pass per epoch for all members. Because the total loss is the sum of the members' losses and Adam
acts element-wise, every member follows exactly the trajectory it would follow if trained alone
(:func:`train_one` is that one-at-a-time reference, also the benchmark's baseline); results agree
to floating-point reduction order.

Conventions
-----------
* ``x`` (T, P): the design over the longest window, original units; ``y`` (T, N) targets.
* A member sees only its own inputs: an (E, P) 0/1 input mask zeroes the others (their first-layer
  weights start at zero and receive zero gradient, so they stay zero).
* A member trains on rows ``train_mask[e]`` and is validated on rows ``val_mask[e]``.
* Inputs and target are standardised with the member's training-row mean and standard deviation
  (a constant input column gets scale 1: it is then a constant the net can absorb in its bias).
* Weights use Glorot-uniform initialisation from a per-member seed, biases start at zero.
* Full-batch Adam; early stopping with restore-best: the state with the lowest validation MSE is
  kept, and a member stops improving its record once ``patience`` epochs passed without a new best.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import attrs
import torch
import torch.nn.functional as F  # noqa: N812 - conventional alias

from causalfolio._lazy import np


def tanh(h: torch.Tensor) -> torch.Tensor:
    """tanh(h) = 2 sigmoid(2 h) - 1: the same function, several times faster than ``torch.tanh``
    on CPU builds where tanh is not vectorised (absolute rounding error ~ machine epsilon)."""
    return 2.0 * torch.sigmoid(2.0 * h) - 1.0


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": tanh,
    "softplus": F.softplus,
    "silu": F.silu,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
}
"""Activation name -> function. All but ``relu`` are smooth (meaningful input gradients)."""

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def member_seed(seed: int, *ids: int) -> int:
    """A 63-bit seed derived deterministically from a base seed and integer identifiers."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *(int(i) for i in ids)])
    return int(state.generate_state(2, dtype=np.uint32).astype(np.uint64) @ [1, 2**31]) % 2**63


def init_layers(seed: int, sizes: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Glorot-uniform weights (fan_in, fan_out) and zero biases for layer sizes [in, h1, .., 1].

    Drawn in float64 from ``torch.Generator().manual_seed(seed)`` so that batched and one-at-a-time
    training start from the same numbers.
    """
    g = torch.Generator().manual_seed(int(seed))
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = (torch.rand(fan_in, fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bound
        layers.append((w.numpy(), np.zeros(fan_out)))
    return layers


@attrs.frozen
class Standardisation:
    """Per-member affine scalings, original = standardised * scale + mean.

    Attributes
    ----------
    x_mean, x_scale
        (E, P) input means and standard deviations (1 where the column is constant).
    y_mean, y_scale
        (E,) target means and standard deviations.
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray


def standardisation(x: np.ndarray, y: np.ndarray, train_mask: np.ndarray, asset: np.ndarray
                    ) -> Standardisation:
    """Training-row means and standard deviations of inputs (E, P) and targets (E,)."""
    tm = train_mask.astype(float)
    n = tm.sum(axis=1)
    xm = tm @ x / n[:, None]
    xs = np.sqrt(np.maximum(tm @ x**2 / n[:, None] - xm**2, 0.0))
    yt = y[:, asset].T  # (E, T)
    ym = (tm * yt).sum(axis=1) / n
    ys = np.sqrt(np.maximum((tm * yt**2).sum(axis=1) / n - ym**2, 0.0))
    tiny = 1e-12 * (np.abs(xm) + 1.0)
    xs = np.where(xs > tiny, xs, 1.0)
    return Standardisation(xm, xs, ym, ys)


@attrs.frozen
class EnsembleResult:
    """Trained members of one architecture.

    Attributes
    ----------
    layers
        Per layer (W (E, fan_in, fan_out), b (E, fan_out)), float64 numpy, standardised units;
        the first layer has fan_in = P with zero rows for masked inputs.
    scaling
        The members' standardisation.
    val_rmse
        (E,) validation RMSE in original units (the target's units, return per day).
    best_epoch
        (E,) epoch of the kept state (0 = the initial weights).
    epochs_run
        Epochs the ensemble ran before every member had stopped.
    """

    layers: list[tuple[np.ndarray, np.ndarray]]
    scaling: Standardisation
    val_rmse: np.ndarray
    best_epoch: np.ndarray
    epochs_run: int


def _stacked_init(hidden: Sequence[int], input_mask: np.ndarray, seeds: Sequence[int]
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    e_count, p = input_mask.shape
    sizes = [p, *hidden, 1]
    out = [(np.zeros((e_count, a, b)), np.zeros((e_count, b)))
           for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    for e in range(e_count):
        active = np.flatnonzero(input_mask[e])
        layers = init_layers(seeds[e], [len(active), *hidden, 1])
        for k, (w, b) in enumerate(layers):
            if k == 0:
                out[k][0][e, active] = w
            else:
                out[k][0][e] = w
            out[k][1][e] = b
    return out


def forward_stacked(layers: Sequence[tuple[torch.Tensor, torch.Tensor]], z: torch.Tensor,
                    act: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Outputs (E, T) of E stacked nets on standardised inputs z (E, T, P)."""
    h = z
    last = len(layers) - 1
    for k, (w, b) in enumerate(layers):
        h = torch.baddbmm(b.unsqueeze(1), h, w)
        if k < last:
            h = act(h)
    return h.squeeze(-1)


def train_ensemble(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: Sequence[int],
    asset: np.ndarray,
    input_mask: np.ndarray,
    train_mask: np.ndarray,
    val_mask: np.ndarray,
    seeds: Sequence[int],
    activation: str = "tanh",
    lr: float = 0.01,
    weight_decay: float = 0.0,
    epochs: int = 300,
    patience: int = 30,
    min_epochs: int = 0,
    device: str = "cpu",
    dtype: str = "float32",
) -> EnsembleResult:
    """Train E = len(asset) nets of hidden widths ``hidden`` as one batched ensemble.

    Parameters
    ----------
    x, y
        Inputs (T, P) and targets (T, N), original units.
    hidden
        Hidden layer widths (empty: an affine model).
    asset
        (E,) target column of each member.
    input_mask, train_mask, val_mask
        (E, P), (E, T), (E, T) booleans: inputs a member sees, its training and validation rows.
    seeds
        (E,) initialisation seeds.
    activation, lr, weight_decay, epochs, patience, min_epochs, device, dtype
        Training settings (see ``fnn``); ``weight_decay`` is Adam's L2 penalty; states before
        epoch ``min_epochs`` are never kept and do not count towards ``patience``.
    """
    tdt = DTYPES[dtype]
    dev = torch.device(device)
    asset = np.asarray(asset, dtype=int)
    scal = standardisation(x, y, train_mask, asset)
    z = (x[None] - scal.x_mean[:, None, :]) / scal.x_scale[:, None, :] * input_mask[:, None, :]
    ys = (y[:, asset].T - scal.y_mean[:, None]) / scal.y_scale[:, None]
    zt = torch.as_tensor(z, dtype=tdt, device=dev)
    yt = torch.as_tensor(ys, dtype=tdt, device=dev)
    tm = torch.as_tensor(train_mask, dtype=tdt, device=dev)
    vm = torch.as_tensor(val_mask, dtype=tdt, device=dev)
    ntr, nval = tm.sum(dim=1), vm.sum(dim=1)
    # all weights of a member live in one row of theta (E, D); layers are views into it, so that
    # Adam, the best-state copy and the working-set selection are one operation each
    init = [a for pair in _stacked_init(hidden, input_mask, seeds) for a in pair]
    shapes = [a.shape[1:] for a in init]
    offsets = np.cumsum([0, *(int(np.prod(sh)) for sh in shapes)])
    e_count = len(asset)
    theta = torch.tensor(np.concatenate([a.reshape(e_count, -1) for a in init], axis=1),
                         dtype=tdt, device=dev, requires_grad=True)
    n_layers = len(shapes) // 2

    def unpack(t: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        views = [t[:, offsets[i]:offsets[i + 1]].view(t.shape[0], *shapes[i])
                 for i in range(len(shapes))]
        return [(views[2 * k], views[2 * k + 1]) for k in range(n_layers)]

    adam = _Adam([theta], lr=lr, weight_decay=weight_decay)
    act = ACTIVATIONS[activation]
    best = theta.detach().clone()
    best_loss = torch.full((e_count,), math.inf, dtype=tdt, device=dev)
    best_epoch = torch.zeros(e_count, dtype=torch.long, device=dev)
    since = torch.zeros(e_count, dtype=torch.long, device=dev)
    alive = torch.arange(e_count, device=dev)  # working set: members still improving
    epochs_run = 0
    for epoch in range(epochs + 1):
        sq = (forward_stacked(unpack(theta), zt, act) - yt) ** 2
        with torch.no_grad():
            vloss = (sq * vm).sum(dim=1) / nval
            improved = (vloss < best_loss[alive]) & (epoch >= min_epochs)
            ids = alive[improved]
            best_loss[ids] = vloss[improved]
            best_epoch[ids] = epoch
            best[ids] = theta[improved]
            since[alive] = torch.where(improved, 0, since[alive] + int(epoch >= min_epochs))
            keep = since[alive] <= patience
        if epoch == epochs or not bool(keep.any()):
            break
        ((sq * tm).sum(dim=1) / ntr).sum().backward()
        adam.step()
        epochs_run = epoch + 1
        if not bool(keep.all()):
            # members past their patience are frozen at their best state: drop them from the
            # working set so that the remaining epochs cost only what the live members need
            k_idx = torch.nonzero(keep).squeeze(1)
            alive = alive[k_idx]
            (theta,) = adam.select(k_idx)
            zt, yt, tm, vm = zt[k_idx], yt[k_idx], tm[k_idx], vm[k_idx]
            ntr, nval = ntr[k_idx], nval[k_idx]
    layers = [(w.cpu().double().numpy(), b.cpu().double().numpy()) for w, b in unpack(best)]
    val_rmse = np.sqrt(best_loss.cpu().double().numpy()) * scal.y_scale
    return EnsembleResult(layers, scal, val_rmse, best_epoch.cpu().numpy(), epochs_run)


class _Adam:
    """Adam on stacked member tensors, op for op as ``torch.optim.Adam`` (L2 ``weight_decay``
    added to the gradient, bias corrections, eps outside the square root), with
    :meth:`select` to keep only some members (rows of the leading axis) with their moments."""

    def __init__(self, params: list[torch.Tensor], *, lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = params
        self.lr, self.wd, self.b1, self.b2, self.eps = lr, weight_decay, *betas, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        bc1 = 1 - self.b1**self.t
        bc2_sqrt = (1 - self.b2**self.t) ** 0.5
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            g = p.grad
            if self.wd != 0:
                g = g.add(p, alpha=self.wd)
            m.lerp_(g, 1 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / bc1)
            p.grad = None

    def select(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Keep members ``idx``; returns the new parameter leaves."""
        self.params = [p.detach()[idx].requires_grad_(True) for p in self.params]
        self.m = [m[idx] for m in self.m]
        self.v = [v[idx] for v in self.v]
        return self.params


def train_one(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: Sequence[int],
    asset: int,
    input_mask: np.ndarray,
    train_mask: np.ndarray,
    val_mask: np.ndarray,
    seed: int,
    activation: str = "tanh",
    lr: float = 0.01,
    weight_decay: float = 0.0,
    epochs: int = 300,
    patience: int = 30,
    min_epochs: int = 0,
    device: str = "cpu",
    dtype: str = "float32",
) -> EnsembleResult:
    """Train one net the ordinary way (``torch.nn.Sequential``, its own loop): the reference for
    :func:`train_ensemble` and the per-model baseline of the benchmark. Same conventions and
    result layout with E = 1 (first-layer weights scattered back to all P inputs)."""
    tdt = DTYPES[dtype]
    dev = torch.device(device)
    active_cols = np.flatnonzero(input_mask)
    scal = standardisation(x, y, train_mask[None], np.array([asset]))
    xs = ((x - scal.x_mean[0]) / scal.x_scale[0])[:, active_cols]
    ys = (y[:, asset] - scal.y_mean[0]) / scal.y_scale[0]
    tr, va = np.flatnonzero(train_mask), np.flatnonzero(val_mask)
    xtr = torch.as_tensor(xs[tr], dtype=tdt, device=dev)
    ytr = torch.as_tensor(ys[tr], dtype=tdt, device=dev)
    xva = torch.as_tensor(xs[va], dtype=tdt, device=dev)
    yva = torch.as_tensor(ys[va], dtype=tdt, device=dev)
    sizes = [len(active_cols), *hidden, 1]
    mods: list[torch.nn.Module] = []
    for k, (w, b) in enumerate(init_layers(seed, sizes)):
        lin = torch.nn.Linear(w.shape[0], w.shape[1], dtype=tdt, device=dev)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w.T))
            lin.bias.copy_(torch.as_tensor(b))
        mods.append(lin)
        if k < len(sizes) - 2:
            mods.append(_Act(ACTIVATIONS[activation]))
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    best_loss, best_epoch, since, epochs_run = math.inf, 0, 0, 0
    for epoch in range(epochs + 1):
        with torch.no_grad():
            vloss = float(((net(xva).squeeze(-1) - yva) ** 2).mean())
        if epoch >= min_epochs and vloss < best_loss:
            best_loss, best_epoch, since = vloss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        elif epoch >= min_epochs:
            since += 1
        if epoch == epochs or since > patience:
            break
        opt.zero_grad(set_to_none=True)
        ((net(xtr).squeeze(-1) - ytr) ** 2).mean().backward()
        opt.step()
        epochs_run = epoch + 1
    linears = [m for m in mods if isinstance(m, torch.nn.Linear)]
    layers = []
    for k, lin in enumerate(linears):
        w = best_state[f"{mods.index(lin)}.weight"].cpu().double().numpy().T
        b = best_state[f"{mods.index(lin)}.bias"].cpu().double().numpy()
        if k == 0:
            full = np.zeros((x.shape[1], w.shape[1]))
            full[active_cols] = w
            w = full
        layers.append((w[None], b[None]))
    val_rmse = np.sqrt(np.array([best_loss])) * scal.y_scale
    return EnsembleResult(layers, scal, val_rmse, np.array([best_epoch]), epochs_run)


class _Act(torch.nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fn(h)
