"""Drives the official huggingface_hub client against `arena hub serve` (used by tests/hub.rs).

Usage: hf_compat.py MODE ARGS...; endpoint and token come from HF_ENDPOINT / HF_TOKEN.
Prints one JSON object on the last line of stdout; any failure raises (non-zero exit).
"""
import filecmp
import json
import os
import sys

from huggingface_hub import HfApi, hf_hub_download, snapshot_download


def same_tree(local, downloaded):
    """Every file of `local` exists in `downloaded` with identical bytes, and nothing else does
    (apart from .gitattributes, which the hub adds)."""
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


def upload(repo_id, folder, cache):
    api = HfApi()
    url = api.create_repo(repo_id, private=True)
    assert str(url).endswith(repo_id), url
    api.create_repo(repo_id, private=True, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="python upload")
    sha = info.oid
    meta = api.model_info(repo_id, files_metadata=True)
    assert meta.sha == sha and meta.private is True, meta
    sizes = {s.rfilename: (s.size, s.lfs is not None) for s in meta.siblings}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, folder)
            assert sizes[rel][0] == os.path.getsize(path), (rel, sizes[rel])
    snap = snapshot_download(repo_id, revision=sha, cache_dir=cache)
    assert snap.endswith(sha), snap
    same_tree(folder, snap)
    big = max(sizes, key=lambda k: sizes[k][0])
    assert sizes[big][1], f"{big} was not stored through LFS: {sizes}"
    single = hf_hub_download(repo_id, big, cache_dir=os.path.join(cache, "single"))
    assert filecmp.cmp(single, os.path.join(folder, big), shallow=False)
    files = sorted(api.list_repo_files(repo_id, revision=sha))
    api.update_repo_settings(repo_id, private=False)
    public = HfApi(token=False).model_info(repo_id, revision=sha)
    assert public.private is False and public.sha == sha, public
    return {"sha": sha, "lfs": [k for k, v in sizes.items() if v[1]], "files": files}


def download(repo_id, revision, folder, cache):
    snap = snapshot_download(repo_id, revision=revision, cache_dir=cache)
    same_tree(folder, snap)
    name = sorted(os.listdir(folder))[0]
    single = hf_hub_download(repo_id, name, revision=revision, cache_dir=os.path.join(cache, "single"))
    assert filecmp.cmp(single, os.path.join(folder, name), shallow=False)
    return {"snapshot": snap}


def upload_only(repo_id, folder):
    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    try:
        info = api.upload_folder(repo_id=repo_id, folder_path=folder)
        return {"ok": True, "sha": info.oid}
    except Exception as err:  # report the message to the Rust test
        return {"ok": False, "error": f"{type(err).__name__}: {err}"}


def private_probe(repo_id):
    """What a caller whose token (maybe none) is in HF_TOKEN sees of a repo."""
    from huggingface_hub.errors import RepositoryNotFoundError
    try:
        HfApi(token=os.environ.get("HF_TOKEN") or False).model_info(repo_id)
        return {"visible": True}
    except RepositoryNotFoundError as err:
        return {"visible": False, "error": type(err).__name__}


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    result = {"upload": upload, "download": download, "upload_only": upload_only,
              "private_probe": private_probe}[mode](*args)
    print(json.dumps(result))
