# Reference timing for `arena bench eval`: the same sequences, batches and scored positions as
# the Rust engine, run with PyTorch + transformers (sdpa attention, transformers' default).
# By default the full logits go through log_softmax and gather, which is what a Python
# validator does; with "scored_only" the LM head runs only on the scored positions (what a
# careful validator does for long sequences). Input: a JSON file (argv[1]); output: one JSON
# line on stdout with the best time, the per-sample mean losses, load time and peak RSS.
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM

job = json.load(open(sys.argv[1]))
torch.set_num_threads(job["threads"])
dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
load_start = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(job["model"], dtype=dtypes[job["dtype"]]).eval()
load_seconds = time.perf_counter() - load_start
seqs = job["seqs"]
means = [None] * len(seqs)


def run_once():
    with torch.inference_mode():
        for batch in job["batches"]:
            width = max(len(seqs[i]["ids"]) for i in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(batch):
                s = seqs[i]["ids"]
                ids[row, : len(s)] = torch.tensor(s)
                mask[row, : len(s)] = 1
            if job.get("scored_only"):
                hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            else:
                logp = torch.log_softmax(
                    model(input_ids=ids, attention_mask=mask).logits.float(), -1
                )
            for row, i in enumerate(batch):
                s, first = seqs[i]["ids"], seqs[i]["first_target"]
                target = torch.tensor(s[first:])
                if job.get("scored_only"):
                    logits = model.lm_head(hidden[row, first - 1 : len(s) - 1]).float()
                    rows = torch.log_softmax(logits, -1)
                else:
                    rows = logp[row, first - 1 : len(s) - 1]
                nll = -rows.gather(-1, target[:, None]).squeeze(-1)
                means[i] = nll.double().mean().item()


best = float("inf")
for _ in range(job["repeat"]):
    start = time.perf_counter()
    run_once()
    best = min(best, time.perf_counter() - start)
hwm_kb = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        hwm_kb = int(line.split()[1])
print(
    json.dumps(
        {
            "seconds": best,
            "means": means,
            "torch": torch.__version__,
            "load_seconds": load_seconds,
            "peak_rss_bytes": hwm_kb * 1024,
            "attn": getattr(model.config, "_attn_implementation", None),
        }
    )
)
