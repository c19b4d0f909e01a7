"""Writes small copies of two Hugging Face datasets in their real schemas, as Parquet files laid out
the way the Hub lays them out, and uploads them with the official client to a hub.

* PrimeIntellect/SYNTHETIC-1-SFT-Data: config `default`, split `train`, columns response_id,
  problem_id, task_type, score, messages (list of {content, role}).
* open-r1/codeforces-cots: configs `solutions` and `solutions_py`, split `train`, columns id,
  contest_type, title, prompt, generation, messages.

Every row's content is derived from its index, so a test can tell from a sample which row it is:
math rows answer `\\boxed{<expression with nested braces>}`, code-output rows end with a
`{"output": "..."}` JSON; a share of rows is of the task types SN37 drops, codeforces rows of three
messages or over the length cap are dropped too.

usage: reasoning_datasets.py OUT_DIR [--endpoint URL --token-synthetic T --token-codeforces T]
Prints one JSON line: the files written and, per dataset, what a loader should keep.
"""

import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

SYNTHETIC_ROWS = 300
CODEFORCES_ROWS = {"solutions": 160, "solutions_py": 140}
MESSAGE = pa.struct([("content", pa.string()), ("role", pa.string())])


def synthetic_row(i):
    kind = ["verifiable_math", "code_output_prediction", "llm_judgeable_groundtruth_similarity",
            "verifiable_math", "verifiable_code"][i % 5]
    question = f"Problem {i}: compute the value asked for in exercise {i}."
    if kind == "verifiable_math":
        answer = f"\\frac{{{i}}}{{{i + 1}}}"
        reply = (f"<think>\nExercise {i} reduces to a fraction.\n</think>\n"
                 f"The result of exercise {i} is \\boxed{{{answer}}}.")
    elif kind == "code_output_prediction":
        answer = f"out-{i}"
        reply = (f"<think>\nTrace the string transform of case {i}.\n</think>\n"
                 f'{{"output": "{answer}"}}')
    else:
        answer = None
        reply = f"Answer {i} in prose, no verifiable format."
    return {
        "response_id": f"resp-{i:05d}",
        "problem_id": f"prob-{i:05d}",
        "task_type": kind,
        "score": 1.0,
        "messages": [{"content": question, "role": "user"},
                     {"content": reply, "role": "assistant"}],
    }


def codeforces_row(config, i):
    question = f"[{config} {i}] Given n integers, print their sum modulo {1000 + i}."
    trace = f"<think>\nRead n, sum, reduce modulo {1000 + i}.\n</think>\n```python\nprint({i})\n```"
    messages = [{"content": question, "role": "user"}, {"content": trace, "role": "assistant"}]
    if i % 10 == 3:  # three messages: dropped
        messages.append({"content": "And in C++?", "role": "user"})
    if i % 10 == 7:  # over the length cap once tokens are estimated as characters / 4: dropped
        messages[1] = {"content": trace + " pad" * 17_000, "role": "assistant"}
    return {
        "id": f"{config}-{i}",
        "contest_type": "ICPC" if i % 2 else "CF",
        "title": f"Sum {i}",
        "prompt": question,
        "generation": messages[1]["content"],
        "messages": messages,
    }


def table(rows, schema):
    return pa.Table.from_pylist(rows, schema=schema)


def main():
    out = sys.argv[1]
    args = dict(zip(sys.argv[2::2], sys.argv[3::2]))
    syn_schema = pa.schema([("response_id", pa.string()), ("problem_id", pa.string()),
                            ("task_type", pa.string()), ("score", pa.float64()),
                            ("messages", pa.list_(MESSAGE))])
    cf_schema = pa.schema([("id", pa.string()), ("contest_type", pa.string()), ("title", pa.string()),
                           ("prompt", pa.string()), ("generation", pa.string()),
                           ("messages", pa.list_(MESSAGE))])
    syn_dir = os.path.join(out, "synthetic")
    cf_dir = os.path.join(out, "codeforces")
    os.makedirs(os.path.join(syn_dir, "data"), exist_ok=True)
    rows = [synthetic_row(i) for i in range(SYNTHETIC_ROWS)]
    pq.write_table(table(rows, syn_schema),
                   os.path.join(syn_dir, "data", "train-00000-of-00001.parquet"),
                   compression="snappy", row_group_size=64)
    kept = {"synthetic": sum(r["task_type"] in ("verifiable_math", "code_output_prediction") for r in rows)}
    for config, n in CODEFORCES_ROWS.items():
        os.makedirs(os.path.join(cf_dir, config), exist_ok=True)
        cf = [codeforces_row(config, i) for i in range(n)]
        pq.write_table(table(cf, cf_schema),
                       os.path.join(cf_dir, config, "train-00000-of-00001.parquet"),
                       compression="zstd", row_group_size=50)
        kept[config] = sum(i % 10 not in (3, 7) for i in range(n))
    if "--endpoint" in args:
        os.environ["HF_HUB_DISABLE_XET"] = "1"
        from huggingface_hub import HfApi
        for repo, folder, token in [
            ("PrimeIntellect/SYNTHETIC-1-SFT-Data", syn_dir, args["--token-synthetic"]),
            ("open-r1/codeforces-cots", cf_dir, args["--token-codeforces"]),
        ]:
            api = HfApi(endpoint=args["--endpoint"], token=token)
            api.create_repo(repo, repo_type="dataset", exist_ok=True)
            api.upload_folder(repo_id=repo, repo_type="dataset", folder_path=folder,
                              commit_message="dataset copy")
    print(json.dumps({"kept": kept, "synthetic_rows": SYNTHETIC_ROWS, "codeforces_rows": CODEFORCES_ROWS}))


if __name__ == "__main__":
    main()
