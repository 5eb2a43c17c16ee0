"""What the training loop adds to the bare step by definition, per iteration on the shapes generator: the foreach Adam
step, the EMA update and the gradient norm, in CPU milliseconds (one thread, `time.process_time` over 200 calls).

    OMP_NUM_THREADS=1 python reports/bench/loop_extras.py
"""
import copy, time
import torch
from air_nb.models.generators import load_generator


def per_call_ms(fn, n: int = 200) -> float:
    for _ in range(5): fn()
    c0 = time.process_time()
    for _ in range(n): fn()
    return (time.process_time() - c0) / n * 1000


if __name__ == "__main__":
    torch.set_num_threads(1)
    G = load_generator("shapes-photo", "cpu"); G.set_trainable()
    ema = copy.deepcopy(G)
    params = [p for p in G.parameters() if p.requires_grad]
    for p in params: p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=0.01, betas=(0.0, 0.99), foreach=True)
    print(f"shapes-photo: {sum(p.numel() for p in params)} trained parameters")
    print(f"Adam (foreach) {per_call_ms(opt.step):.2f} ms, EMA update {per_call_ms(lambda: ema.ema_update(G, 0.999)):.2f} ms, "
          f"gradient norm {per_call_ms(lambda: torch.nn.utils.get_total_norm([p.grad for p in params])):.2f} ms per iteration")
