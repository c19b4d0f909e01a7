"""Dataset repos with the official client and pyarrow (used by tests/datasets.rs).

Usage: datasets.py MODE ARGS...; endpoint and token come from HF_ENDPOINT / HF_TOKEN.
Prints one JSON object on the last line of stdout; any failure raises (non-zero exit).

  write FOLDER            writes Parquet (Snappy and Zstandard, several row groups, a nested
                          `messages` column) and JSONL files in configs/splits; prints the rows
                          each (config, split) must serve, in order
  upload REPO FOLDER CACHE [private]
                          create_repo/upload_folder/snapshot_download/list_repo_files with
                          repo_type="dataset"; checks the downloaded bytes
"""
import filecmp
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import HfApi, snapshot_download


def chat_rows(start, count):
    rows = []
    for i in range(start, start + count):
        rows.append({
            "id": i,
            "score": i * 0.25,
            "ok": i % 3 == 0,
            "prompt": f"question {i} \u00e9\u4e2d \"quoted\"",
            "messages": [
                {"role": "user", "content": f"hello {i}"},
                {"role": "assistant", "content": "x" * (i % 7) + f" answer {i}"},
            ][: 1 + i % 2],
        })
    return rows


SCHEMA = pa.schema([
    ("id", pa.int64()),
    ("score", pa.float64()),
    ("ok", pa.bool_()),
    ("prompt", pa.string()),
    ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
])


def write_parquet(path, rows, compression, row_group_size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    pq.write_table(table, path, compression=compression, row_group_size=row_group_size)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == -(-len(rows) // row_group_size), meta
    for i in range(meta.num_row_groups):
        assert meta.row_group(i).column(0).compression.lower() == compression, compression
    return table.to_pylist()


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i, row in enumerate(rows):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if i == 5:
                f.write("\n")  # a blank line is not a row


def write(folder):
    expected = {}
    # config "chat", split "train": two files in path order, Snappy then Zstandard.
    a = write_parquet(os.path.join(folder, "chat/train/0000.parquet"), chat_rows(0, 10), "snappy", 4)
    b = write_parquet(os.path.join(folder, "chat/train/0001.parquet"), chat_rows(10, 7), "zstd", 3)
    expected["chat/train"] = a + b
    expected["chat/test"] = write_parquet(
        os.path.join(folder, "chat/test-00000-of-00001.parquet"), chat_rows(100, 5), "zstd", 2)
    plain = [{"text": f"line {i}", "n": i, "tags": ["a", str(i)]} for i in range(2500)]
    write_jsonl(os.path.join(folder, "data/train.jsonl"), plain)
    expected["default/train"] = plain
    small = [{"text": f"v{i}", "n": -i} for i in range(3)]
    write_jsonl(os.path.join(folder, "data/validation-00000.jsonl"), small)
    expected["default/validation"] = small
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write("---\nlicense: mit\n---\n# test dataset\n")
    return {"expected": expected}


def same_tree(local, downloaded):
    def files(root):
        out = set()
        for dirpath, _, names in os.walk(root):
            for name in names:
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if not rel.startswith(".cache"):
                    out.add(rel)
        return out
    want, got = files(local), files(downloaded) - {".gitattributes"}
    assert want == got, f"file sets differ: {sorted(want ^ got)}"
    for rel in want:
        assert filecmp.cmp(os.path.join(local, rel), os.path.join(downloaded, rel), shallow=False), rel


def upload(repo_id, folder, cache, private):
    api = HfApi()
    url = api.create_repo(repo_id, repo_type="dataset", private=private)
    assert "/datasets/" in str(url) and str(url).endswith(repo_id), url
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="dataset",
                             commit_message="dataset upload")
    sha = info.oid
    meta = api.dataset_info(repo_id, files_metadata=True)
    assert meta.sha == sha and meta.private is private, meta
    snap = snapshot_download(repo_id, repo_type="dataset", revision=sha, cache_dir=cache)
    assert snap.endswith(sha) and "datasets--" in snap, snap
    same_tree(folder, snap)
    files = sorted(api.list_repo_files(repo_id, repo_type="dataset", revision=sha))
    lfs = sorted(s.rfilename for s in meta.siblings if s.lfs is not None)
    return {"sha": sha, "files": files, "lfs": lfs}


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "write":
        out = write(args[0])
    elif mode == "upload":
        out = upload(args[0], args[1], args[2], len(args) > 3 and args[3] == "private")
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
