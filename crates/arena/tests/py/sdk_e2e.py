#!/usr/bin/env python3
"""A miner and a validator through the official Python SDK (bittensor 10.2.0), public API only.

Usage:
  python sdk_e2e.py --url ws://127.0.0.1:9944 --netuid 1 [--stake-tao 100] [--max-epochs 6]

Against any Subtensor-compatible node (arena's chain here): the subnet `netuid` exists, commit-reveal
is off on it, its weights rate limit is below its tempo, and the coldkeys are funded. Registers two
hotkeys, commits a model pointer from the first and reads it back, stakes on the second (more than the
subnet's whole stake, so that its weights decide consensus), waits for its validator permit, sets all
weight on the first, and reads the first's incentive after the next epoch, from neurons_lite and from
the metagraph. Prints one JSON object per step and a summary; exits non-zero at the first failure.
"""
import argparse
import json
import sys
import tempfile
import time
import traceback

import bittensor as bt
from bittensor.utils.balance import Balance
from bittensor.core.chain_data.utils import decode_metadata
from bittensor_wallet import Wallet

RESULTS = {}


def emit(step, **kw):
    RESULTS[step] = kw
    print(json.dumps({"step": step, **kw}, default=str), flush=True)


def fail(step, msg, **kw):
    emit(step, ok=False, error=str(msg), **kw)
    print(json.dumps({"ok": False, "failed_step": step, "results": RESULTS}, default=str), flush=True)
    sys.exit(1)


def resp_info(r):
    """ExtrinsicResponse → small dict."""
    return {"success": bool(getattr(r, "success", False)), "message": str(getattr(r, "message", "")),
            "error": str(getattr(r, "error", "")) if getattr(r, "error", None) else None}


def make_wallet(root, name, hotkey_name, coldkey_uri, hotkey_uri):
    w = Wallet(name=name, hotkey=hotkey_name, path=root)
    w.create_coldkey_from_uri(coldkey_uri, use_password=False, overwrite=True, suppress=True)
    w.create_hotkey_from_uri(hotkey_uri, use_password=False, overwrite=True, suppress=True)
    return w


def neuron_by_uid(st, netuid, uid):
    for n in st.neurons_lite(netuid):
        if n.uid == uid:
            return n
    return None


def wait_until(st, pred, max_blocks, what):
    """Advance block by block (wait_for_block) until pred() is truthy or max_blocks have passed."""
    start = st.get_current_block()
    while True:
        v = pred()
        if v:
            return v
        now = st.get_current_block()
        if now - start >= max_blocks:
            return None
        st.wait_for_block()  # next block (chain_subscribeNewHeads)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--netuid", type=int, required=True)
    ap.add_argument("--coldkey1-uri", default="//Alice")
    ap.add_argument("--coldkey2-uri", default="//Alice")
    ap.add_argument("--hotkey1-uri", default="//Alice//miner1")
    ap.add_argument("--hotkey2-uri", default="//Alice//validator1")
    ap.add_argument("--stake-tao", type=float, default=100.0)
    ap.add_argument("--commitment", default="arena-e2e:hello")
    ap.add_argument("--max-epochs", type=int, default=6)
    args = ap.parse_args()
    netuid = args.netuid

    tmp = tempfile.mkdtemp(prefix="bt-e2e-")
    w1 = make_wallet(tmp, "w1", "hk1", args.coldkey1_uri, args.hotkey1_uri)   # miner
    w2 = make_wallet(tmp, "w2", "hk2", args.coldkey2_uri, args.hotkey2_uri)   # validator
    hk1, hk2 = w1.hotkey.ss58_address, w2.hotkey.ss58_address
    emit("wallets", ok=True, coldkey1=w1.coldkeypub.ss58_address, hotkey1=hk1,
         coldkey2=w2.coldkeypub.ss58_address, hotkey2=hk2, path=tmp)

    # 1. connect + basic reads
    try:
        st = bt.Subtensor(network=args.url)
        block = st.get_current_block()
        exists = st.subnet_exists(netuid)
        tempo = st.tempo(netuid)
        cr = st.commit_reveal_enabled(netuid)
        wrl = st.weights_rate_limit(netuid)
        bal1 = st.get_balance(w1.coldkeypub.ss58_address)
        bal2 = st.get_balance(w2.coldkeypub.ss58_address)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        fail("connect", e)
    emit("connect", ok=bool(exists), block=block, subnet_exists=exists, tempo=tempo, commit_reveal_enabled=cr,
         weights_rate_limit=wrl, balance1=str(bal1), balance2=str(bal2))
    if not exists:
        fail("connect", f"subnet {netuid} does not exist")
    if cr:
        fail("connect", "commit-reveal is enabled; set CommitRevealWeightsEnabled(netuid)=false for the plain set_weights path")
    try:
        hp = st.get_subnet_hyperparameters(netuid)
        emit("hyperparameters", ok=hp is not None, tempo=getattr(hp, "tempo", None),
             weights_rate_limit=getattr(hp, "weights_rate_limit", None),
             max_validators=getattr(hp, "max_validators", None), immunity_period=getattr(hp, "immunity_period", None))
    except Exception as e:  # noqa: BLE001  (optional surface; report but continue)
        emit("hyperparameters", ok=False, error=str(e), optional=True)
    tempo = int(tempo or 1)

    # 2. burned_register both hotkeys
    uids = {}
    for label, w in (("hotkey1", w1), ("hotkey2", w2)):
        r = st.burned_register(w, netuid)
        uid = st.get_uid_for_hotkey_on_subnet(w.hotkey.ss58_address, netuid)
        reg = st.is_hotkey_registered(w.hotkey.ss58_address, netuid=netuid)
        emit(f"burned_register_{label}", ok=bool(r.success) and uid is not None and reg, uid=uid, registered=reg,
             **resp_info(r))
        if not (r.success and uid is not None and reg):
            fail(f"burned_register_{label}", r.message)
        uids[label] = uid
    uid1, uid2 = uids["hotkey1"], uids["hotkey2"]

    # 3. commitment from hotkey1, read it back three ways
    r = st.set_commitment(w1, netuid, args.commitment)
    emit("set_commitment", ok=bool(r.success), **resp_info(r))
    if not r.success:
        fail("set_commitment", r.message)
    meta = st.get_commitment_metadata(netuid, hk1)
    direct = decode_metadata(meta) if isinstance(meta, dict) else ""
    allc = st.get_all_commitments(netuid)
    by_uid = st.get_commitment(netuid, uid1)  # through the metagraph (uid -> hotkey)
    ok = direct == args.commitment and allc.get(hk1) == args.commitment and by_uid == args.commitment
    emit("get_commitment", ok=ok, direct=direct, commit_block=(meta or {}).get("block") if isinstance(meta, dict) else None,
         all_commitments=allc, by_uid=by_uid, by_uid_ok=(by_uid == args.commitment))
    if not ok:
        fail("get_commitment", f"read-back mismatch: {direct!r} / {allc.get(hk1)!r}")

    # 4. stake to hotkey2 from its coldkey: at least --stake-tao, and twice the subnet's stake
    total_rao = sum(int(n.total_stake.rao) for n in st.neurons_lite(netuid))
    amount = Balance.from_rao(max(int(Balance.from_tao(args.stake_tao).rao), 2 * total_rao))
    r = st.add_stake(w2, netuid, hk2, amount)
    stake = st.get_stake(w2.coldkeypub.ss58_address, hk2, netuid)
    emit("add_stake", ok=bool(r.success), stake_after=str(stake), **resp_info(r))
    if not r.success:
        fail("add_stake", r.message)

    # 5. wait for a validator permit for hotkey2 (epochs run every tempo+1 blocks)
    def permit():
        n = neuron_by_uid(st, netuid, uid2)
        return n if (n is not None and n.validator_permit) else None
    n2 = wait_until(st, permit, args.max_epochs * (tempo + 1), "validator_permit")
    emit("validator_permit", ok=n2 is not None, uid=uid2, block=st.get_current_block())
    if n2 is None:
        fail("validator_permit", f"hotkey2 (uid {uid2}) got no validator permit within {args.max_epochs} epochs")

    # 6. set weights from hotkey2: all weight on uid1 (SDK retries internally while the rate limit allows)
    r = None
    for attempt in range(3):
        r = st.set_weights(w2, netuid, uids=[uid1], weights=[1.0])
        if r.success:
            break
        st.wait_for_block()  # maybe rate-limited ("too soon"); try again next block
    emit("set_weights", ok=bool(r.success), target_uid=uid1, **resp_info(r))
    if not r.success:
        fail("set_weights", r.message)
    set_block = st.get_current_block()

    # 7. wait for an epoch and read hotkey1's incentive (neurons_lite: least surface), also via metagraph if possible
    def incentive():
        n = neuron_by_uid(st, netuid, uid1)
        return n if (n is not None and n.incentive > 0) else None
    n1 = wait_until(st, incentive, args.max_epochs * (tempo + 1), "incentive")
    inc = n1.incentive if n1 is not None else 0.0
    try:
        mg = st.metagraph(netuid, lite=True)
        mg_inc = float(mg.incentive[uid1])
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        fail("metagraph", e)
    emit("incentive", ok=inc > 0 and mg_inc > 0, uid=uid1, incentive=inc, metagraph_incentive=mg_inc,
         weights_set_at=set_block, block=st.get_current_block())
    if inc <= 0 or mg_inc <= 0:
        fail("incentive", "hotkey1 incentive stayed 0")

    print(json.dumps({"ok": True, "results": RESULTS}, default=str), flush=True)
    st.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
