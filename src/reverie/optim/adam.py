"""Adam for image parameters, outside ``torch.optim``: the same arithmetic, without its start-up cost.

Any ``torch.optim.Optimizer`` imports ``torch._dynamo`` on its first call (its methods are wrapped so
that a compiler leaves them alone), which takes 1-3 s of a fresh process on a CPU: as long as a
whole 64-step 224 px visualization. This class does what ``torch.optim.Adam`` does for the one case
the render loop uses (no weight decay, no amsgrad, a float learning rate), in the order of
operations of its single-tensor path, so a render gives the same pixels as with
``torch.optim.Adam`` on the CPU (``test_adam_matches_torch_adam_bit_for_bit`` pins it). The step
count is a Python number, so a step never reads a value back from an accelerator.

It keeps torch's interface where outside code looks: ``state[parameter]`` holds ``step``,
``exp_avg`` and ``exp_avg_sq``, ``param_groups`` holds the rate, and the global step hooks of
``torch.optim.optimizer.register_optimizer_step_pre_hook``/``..._post_hook`` run around each step,
so profilers and benchmarks that watch every torch optimizer watch this one too.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim import optimizer as torch_optimizer


class Adam:
    """Adam (Kingma & Ba) over ``parameters`` at rate ``lr``, with ``betas`` and ``eps`` as in torch."""

    def __init__(self, parameters: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.parameters = list(parameters)
        self.lr, self.betas, self.eps = float(lr), betas, eps
        # Per parameter, as torch keeps them, from its first gradient: steps taken, first and second moments.
        self.state: dict[torch.Tensor, dict] = {}
        # What a torch optimizer exposes, for code that reads or changes the rate.
        self.param_groups = [{"params": self.parameters, "lr": self.lr, "betas": betas, "eps": eps}]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for parameter in self.parameters:
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.zero_()

    def step(self) -> None:
        # Read at each step, as torch does: hooks are usually registered after the optimizer is made.
        for hook in tuple(torch_optimizer._global_optimizer_pre_hooks.values()):
            hook(self, (), {})
        self._update()
        for hook in tuple(torch_optimizer._global_optimizer_post_hooks.values()):
            hook(self, (), {})

    @torch.no_grad()
    def _update(self) -> None:
        beta1, beta2 = self.betas
        lr = self.param_groups[0]["lr"]
        for parameter in self.parameters:
            grad = parameter.grad
            if grad is None:
                continue
            state = self.state.get(parameter)
            if state is None:
                state = self.state[parameter] = {
                    "step": 0, "exp_avg": torch.zeros_like(parameter, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(parameter, memory_format=torch.preserve_format)}
            state["step"] += 1
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            if torch.is_complex(parameter):  # as torch does: real and imaginary parts as two reals
                grad, parameter = torch.view_as_real(grad), torch.view_as_real(parameter)
                exp_avg, exp_avg_sq = torch.view_as_real(exp_avg), torch.view_as_real(exp_avg_sq)
            # torch keeps the count in a float32 tensor and reads it back as a float: the same numbers.
            step = float(state["step"])
            bias_correction1 = 1 - beta1 ** step
            bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
            step_size = lr / bias_correction1
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            parameter.addcdiv_(exp_avg, denom, value=-step_size)

__all__ = ["Adam"]
