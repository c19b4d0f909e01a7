# Reference timing for `arena bench eval`: the same sequences, batches and scored positions as
# the Rust engine, run with PyTorch + transformers (full logits, log_softmax, gather), which is
# what a Python validator does. Input: a JSON file (argv[1]); output: one JSON line on stdout.
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM

job = json.load(open(sys.argv[1]))
torch.set_num_threads(job["threads"])
model = AutoModelForCausalLM.from_pretrained(job["model"], dtype=torch.float32).eval()
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
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
            for row, i in enumerate(batch):
                s, first = seqs[i]["ids"], seqs[i]["first_target"]
                target = torch.tensor(s[first:])
                nll = -logp[row, first - 1 : len(s) - 1].gather(-1, target[:, None]).squeeze(-1)
                means[i] = nll.double().mean().item()


best = float("inf")
for _ in range(job["repeat"]):
    start = time.perf_counter()
    run_once()
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "means": means, "torch": torch.__version__}))
