"""Oracle side of arena-timelock's cross-checks: the PyPI drand timelock packages.

Reads one JSON request on stdin, writes one JSON answer on stdout. Byte strings are hex.
Packages: `bittensor_drand` (1.3.0: legacy `get_encrypted_commit`) and `bittensor_core`
(0.1.5: `get_encrypted_commit_v2`); both wrap `encrypt_at_round` / `decrypt_with_signature`
ciphertexts in SCALE `UserData { encrypted_data: Vec<u8>, reveal_round: u64 }`.
"""
import importlib.metadata
import json
import sys
import time

import bittensor_core
import bittensor_drand

PKGS = {"bittensor_drand": bittensor_drand, "bittensor_core": bittensor_core}
GENESIS = 1692803367


def block_time_for(case):
    """The block time that makes `blocks` blocks end 1.5 s into round `to_round` from now."""
    if "to_round" in case:
        target = GENESIS + 3 * case["to_round"] + 1.5
        return (target - time.time()) / case["blocks"]
    return case["block_time"]


def commit_v1(case):
    t0 = time.time()
    ct, rnd = bittensor_drand.get_encrypted_commit(
        case["uids"], case["weights"], case["version_key"], case["tempo"],
        case["current_block"], case["netuid"], case["period"], block_time_for(case),
        bytes.fromhex(case["hotkey"]))
    return {"ct": ct.hex(), "round": rnd, "t0": t0, "t1": time.time()}


def commit_v2(case):
    s = case["state"]
    t0 = time.time()
    try:
        ct, rnd = bittensor_core.get_encrypted_commit_v2(
            case["uids"], case["weights"], case["version_key"], s["last_epoch_block"],
            s["pending_epoch_at"], s["subnet_epoch_index"], s["tempo"],
            s["blocks_since_last_step"], s["current_block"], case["period"],
            block_time_for(case), bytes.fromhex(case["hotkey"]))
    except ValueError as e:
        return {"error": str(e)}
    return {"ct": ct.hex(), "round": rnd, "t0": t0, "t1": time.time()}


def main():
    req = json.load(sys.stdin)
    op = req["op"]
    if op == "versions":
        out = {p: importlib.metadata.version(p.replace("_", "-")) for p in PKGS}
    elif op == "decrypt":
        out = {"plain": PKGS[req["pkg"]].decrypt_with_signature(
            bytes.fromhex(req["ct"]), req["sig"]).hex()}
    elif op == "encrypt_at_round":
        ct, rnd = PKGS[req["pkg"]].encrypt_at_round(bytes.fromhex(req["data"]), req["round"])
        out = {"ct": ct.hex(), "round": rnd}
    elif op == "commit_v1":
        out = [commit_v1(c) for c in req["cases"]]
    elif op == "commit_v2":
        out = [commit_v2(c) for c in req["cases"]]
    else:
        raise SystemExit(f"unknown op {op}")
    json.dump(out, sys.stdout)


main()
