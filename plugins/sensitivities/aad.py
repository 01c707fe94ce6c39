"""``aad``: per-sample input gradients of torch models by reverse-mode automatic differentiation
(SPEC §3; monograph §7, eq. 20-21)."""

from __future__ import annotations

import attrs

from causalfolio import hookimpl
from causalfolio._lazy import np
from causalfolio.errors import ConfigError
from causalfolio.stages import FittedDynamics, SensitivityExtractor

from .fd import check_inputs


def input_jacobian(forward, x: np.ndarray) -> np.ndarray:
    """S[t, i, j] = d forward(x)_t,i / d x_t,j for a row-wise model, shape (T, N, P).

    ``forward`` maps a float64 tensor (T, P) to (T, N) and treats rows independently (sample t's
    output depends on row t only, true of every dynamics model), so the gradient of the column
    sum of output i with respect to x is S[:, i, :]. One forward pass, then one reverse pass
    batched over the N one-hot cotangents (``is_grads_batched``, vmapped by torch).
    """
    import torch  # here, not at module level: registry loading stays free of torch's import

    xt = torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64).clone()
    xt.requires_grad_(True)
    out = forward(xt)
    n = out.shape[1]
    cot = torch.eye(n, dtype=out.dtype).unsqueeze(1).expand(n, *out.shape)
    (grad,) = torch.autograd.grad(out, xt, grad_outputs=cot, is_grads_batched=True)
    return grad.permute(1, 0, 2).detach().numpy()


@attrs.define(frozen=True, kw_only=True)
class AAD(SensitivityExtractor):
    """Per-sample input gradients d f_i(x_t) / d x_t,j of torch models, by reverse-mode AD."""

    name = "aad"
    requires = ("torch",)

    def per_sample(self, model: FittedDynamics, x: np.ndarray) -> np.ndarray:
        forward = model.torch_forward()
        if forward is None:
            raise ConfigError(
                f"aad needs a differentiable torch model; {type(model).__name__} has none: use "
                "'fd' (finite differences) for this dynamics model, or 'beta' for linear ones"
            )
        check_inputs(self.name, model, np.asarray(x, dtype=float))
        return input_jacobian(forward, x)


@hookimpl
def register_sensitivities(register):
    register(AAD)
