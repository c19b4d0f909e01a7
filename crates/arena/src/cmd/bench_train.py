# Reference timing for `arena bench train`: the same model, token ids, batch, steps, loss
# masking, optimiser and clipping as our trainer, with PyTorch + transformers on CPU.
# Input: a JSON job file (argv[1]); output: one JSON line on stdout.
import json
import math
import sys
import time

import torch
from transformers import AutoModelForCausalLM

job = json.load(open(sys.argv[1]))
torch.set_num_threads(job["threads"])
torch.manual_seed(job["seed"])
model = AutoModelForCausalLM.from_pretrained(
    job["model"], dtype=torch.float32, attn_implementation=job["attn"]
)
model.train()
if job["dtype"] == "bf16":
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)
else:
    import contextlib

    autocast = contextlib.nullcontext


class Lora(torch.nn.Module):
    """W x + (alpha / r) B A x with A kaiming-uniform, B zero (as PEFT initialises)."""

    def __init__(self, base, rank, alpha):
        super().__init__()
        self.base = base
        self.a = torch.nn.Parameter(torch.empty(rank, base.in_features))
        self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        torch.nn.init.kaiming_uniform_(self.a, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, x):
        return self.base(x) + (x @ self.a.t() @ self.b.t()) * self.scale


rank = job["lora_rank"]
if rank > 0:
    for p in model.parameters():
        p.requires_grad_(False)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name in targets:
                if hasattr(parent, name):
                    setattr(parent, name, Lora(getattr(parent, name), rank, job["lora_alpha"]))
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=job["lr"], weight_decay=0.01, eps=1e-8)
ids = torch.tensor(job["ids"], dtype=torch.long)
labels = ids.clone()
labels[:, : job["first_target"]] = -100

times, losses = [], []
for step in range(job["steps"]):
    start = time.perf_counter()
    with autocast():
        logits = model(input_ids=ids).logits
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    target = labels[:, 1:]
    mask = target != -100
    nll = -logp.gather(-1, target.clamp(min=0)[..., None]).squeeze(-1)
    # Per-sequence mean over the scored tokens, then the mean over sequences (the validator's).
    loss = ((nll * mask).sum(1) / mask.sum(1)).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    times.append(time.perf_counter() - start)
    losses.append(loss.item())

hwm_kb = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        hwm_kb = int(line.split()[1])
print(
    json.dumps(
        {
            "step_seconds": times,
            "losses": losses,
            "peak_rss_bytes": hwm_kb * 1024,
            "trainable_params": sum(p.numel() for p in params),
            "torch": torch.__version__,
        }
    )
)
