"""What sealing costs per record: ``python -m bench.seal [--records N] [--batch B] [--sample S]``.

Seals and opens N realistic minimised payloads (synthetic approvals, routed and minimised per item as
the hub sends them) in batches of B, for both suites (SM twice: on the active SM2 engine and on gmalg,
the pure-Python fallback), and reports:

- symmetric µs per record (JSON, AEAD, tree leaf; the root), sealing and opening;
- asymmetric ms per batch (wrap + sign when sealing, verify + unwrap when opening);
- the amortised total µs per record, timed end to end through ``seal_batch`` / ``BatchOpener``;
- the same records sealed one per envelope (a wrapped key and a signature each), on S records: what
  sealing would cost without batching, projected to N;
- SM2 ms per operation (sign, verify, wrap, unwrap) on the active engine and on gmalg, and what SM2 costs
  per record at batch sizes 100 and 1,000 (the default) for one exchange: the hub wraps, signs and verifies
  the department's signed answer; the department verifies, unwraps and signs its answer.

Prints tables and writes ``bench/results/seal.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from lianban.crypto import merkle, sm2
from lianban.crypto.batch import BatchOpener, leaf_data, seal_batch
from lianban.crypto.suites import SMSuite, Suite, get_suite
from lianban.domain.catalog import load_catalog
from lianban.domain.record import RetirementRecord
from lianban.domain.routing import minimise
from lianban.wire.ids import aad, idempotency_key
from lianban.wire.settings import DEFAULT_BATCH_SIZE
from simulators.people import synthetic_application

RESULTS = Path(__file__).parent / "results" / "seal.json"
Item = tuple[str, dict[str, Any]]
SM2_BATCH_SIZES = (100, DEFAULT_BATCH_SIZE)


def records(n: int, seed: int = 2025) -> list[Item]:
    """n (aad, payload) pairs: each chosen pushed item of a synthetic approval, minimised for its department."""
    catalog, rng, out = load_catalog(), random.Random(seed), []
    for seq in range(1, n + 1):
        app = synthetic_application(rng, seq)
        record = RetirementRecord(**{**app, "items": tuple(app["items"].split(","))})
        for code in record.items:
            item = catalog.item(code)
            if item.fields:
                key = idempotency_key(record.case_no, code, item.department)
                out.append((aad(key, record.case_no, code), minimise(record, item.fields)))
        if len(out) >= n:
            return out[:n]
    return out


def batches(items: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def symmetric(suite: Suite, items: Sequence[Item], size: int) -> tuple[float, float]:
    """(seal, open) seconds for the symmetric work alone: what seal_batch does per item, and the root."""
    dek = bytes(suite.data_key_bytes)
    seal_s = open_s = 0.0
    for chunk in batches(items, size):
        start = time.perf_counter()
        sealed, leaves = [], []
        for i, (text, payload) in enumerate(chunk):
            nonce, bound = bytes(4) + i.to_bytes(8, "big"), text.encode()
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            ct = suite.seal_data(dek, nonce, body, bound)
            sealed.append((bound, nonce, ct))
            leaves.append(leaf_data(text, nonce, ct))
        merkle.root(leaves, suite.digest)
        middle = time.perf_counter()
        merkle.root([leaf_data(b.decode(), n, c) for b, n, c in sealed], suite.digest)
        for bound, nonce, ct in sealed:
            json.loads(suite.open_data(dek, nonce, ct, bound))
        seal_s, open_s = seal_s + middle - start, open_s + time.perf_counter() - middle
    return seal_s, open_s


def asymmetric(suite: Suite, rounds: int) -> tuple[float, float]:
    """(seal, open) seconds per batch for the public-key work: wrap + sign, verify + unwrap."""
    signer, recipient = suite.generate_signing_key(), suite.generate_recipient_key()
    dek, msg = bytes(suite.data_key_bytes), b"x" * 400  # about the size of a canonical header
    seal_s = open_s = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        wrapped, signature = suite.wrap(recipient.public, dek), suite.sign(signer.private, msg)
        middle = time.perf_counter()
        if not suite.verify(signer.public, msg, signature) or suite.unwrap(recipient.private, wrapped) != dek:
            raise AssertionError(f"{suite.name} round trip failed")
        seal_s, open_s = seal_s + middle - start, open_s + time.perf_counter() - middle
    return seal_s / rounds, open_s / rounds


def end_to_end(suite: Suite, items: Sequence[Item], size: int) -> tuple[float, float]:
    """(seal, open) seconds through seal_batch and BatchOpener, every check included.

    With ``size=1`` this is the per-record alternative: one wrapped key and one signature per record.
    """
    signer, recipient = suite.generate_signing_key(), suite.generate_recipient_key()
    opener = BatchOpener(suite, {"dept": recipient.private}, {"hub": signer.public})
    seal_s = open_s = 0.0
    for chunk in batches(items, size):
        start = time.perf_counter()
        batch = seal_batch(suite, "dept", recipient.public, "hub", signer.private, "bench", chunk)
        middle = time.perf_counter()
        opener.open_header(batch.header).open_all(batch.envelopes)
        seal_s, open_s = seal_s + middle - start, open_s + time.perf_counter() - middle
    return seal_s, open_s


def measure(name: str, suite: Suite, items: Sequence[Item], size: int, sample: int) -> dict[str, Any]:
    n = len(items)
    n_batches = -(-n // size)
    sym_seal, sym_open = symmetric(suite, items, size)
    asym_seal, asym_open = asymmetric(suite, max(3, min(n_batches, 20)))
    seal_s, open_s = end_to_end(suite, items, size)
    one_seal, one_open = end_to_end(suite, items[:sample], 1)
    per_record_s = (one_seal + one_open) / sample
    return {
        "suite": name, "records": n, "batch_size": size, "batches": n_batches,
        "symmetric_seal_us_per_record": sym_seal / n * 1e6, "symmetric_open_us_per_record": sym_open / n * 1e6,
        "asymmetric_seal_ms_per_batch": asym_seal * 1e3, "asymmetric_open_ms_per_batch": asym_open * 1e3,
        "total_seal_us_per_record": seal_s / n * 1e6, "total_open_us_per_record": open_s / n * 1e6,
        "total_seal_s": seal_s, "total_open_s": open_s,
        "per_record_seal_ms": one_seal / sample * 1e3, "per_record_open_ms": one_open / sample * 1e3,
        "per_record_sample": sample,
        "per_record_projected_s": per_record_s * n,
        "batching_speedup": per_record_s * n / (seal_s + open_s),
    }


ROWS = (("symmetric seal, µs/record", "symmetric_seal_us_per_record", "{:.1f}"),
        ("symmetric open, µs/record", "symmetric_open_us_per_record", "{:.1f}"),
        ("asymmetric seal (wrap+sign), ms/batch", "asymmetric_seal_ms_per_batch", "{:.2f}"),
        ("asymmetric open (verify+unwrap), ms/batch", "asymmetric_open_ms_per_batch", "{:.2f}"),
        ("amortised seal, µs/record", "total_seal_us_per_record", "{:.1f}"),
        ("amortised open, µs/record", "total_open_us_per_record", "{:.1f}"),
        ("seal + open all records, s", "total_s", "{:.2f}"),
        ("batch of one per record: seal, ms/record", "per_record_seal_ms", "{:.2f}"),
        ("batch of one per record: open, ms/record", "per_record_open_ms", "{:.2f}"),
        ("  projected for all records, s", "per_record_projected_s", "{:.1f}"),
        ("  batching speed-up, ×", "batching_speedup", "{:.0f}"))


def table(results: Sequence[dict[str, Any]]) -> str:
    head = results[0]
    lines = [f"{head['records']} records, batches of {head['batch_size']}",
             f"{'':48}" + "".join(f"{r['suite']:>14}" for r in results)]
    for label, key, fmt in ROWS:
        values = [r["total_seal_s"] + r["total_open_s"] if key == "total_s" else r[key] for r in results]
        lines.append(f"{label:48}" + "".join(f"{fmt.format(v):>14}" for v in values))
    return "\n".join(lines)


def _ms_per_call(call: Callable[[], object], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        call()
    return (time.perf_counter() - start) / rounds * 1e3


def sm2_costs(suite: SMSuite, rounds: int) -> dict[str, Any]:
    """ms per SM2 operation on the suite's engine, and SM2 ms per record for one exchange per batch size."""
    key, dek, msg = suite.generate_signing_key(), bytes(suite.data_key_bytes), b"x" * 400
    sig, wrapped = suite.sign(key.private, msg), suite.wrap(key.public, dek)  # also fills the d·G cache
    calls = {"sign": lambda: suite.sign(key.private, msg), "verify": lambda: suite.verify(key.public, msg, sig),
             "wrap": lambda: suite.wrap(key.public, dek), "unwrap": lambda: suite.unwrap(key.private, wrapped)}
    ms = {op: _ms_per_call(call, rounds) for op, call in calls.items()}
    hub, department = ms["wrap"] + ms["sign"] + ms["verify"], ms["verify"] + ms["unwrap"] + ms["sign"]
    per_record = {size: (hub + department) / size for size in SM2_BATCH_SIZES}
    return {"engine": suite.sm2.name, "rounds": rounds, "ms_per_op": ms, "hub_ms_per_batch": hub,
            "department_ms_per_batch": department, "ms_per_record": per_record}


def _sm2_rows(result: dict[str, Any]) -> list[tuple[str, float]]:
    rows = [(f"{op}, ms", result["ms_per_op"][op]) for op in ("sign", "verify", "wrap", "unwrap")]
    rows += [("hub per batch (wrap + sign + verify answer), ms", result["hub_ms_per_batch"]),
             ("department per batch (verify + unwrap + sign), ms", result["department_ms_per_batch"])]
    for size, both in result["ms_per_record"].items():
        rows += [(f"hub per record, batches of {size}, ms", result["hub_ms_per_batch"] / size),
                 (f"both ends per record, batches of {size}, ms", both)]
    return rows


def sm2_table(results: Sequence[dict[str, Any]]) -> str:
    columns = [_sm2_rows(result) for result in results]
    lines = ["", "SM2 (GB/T 32918)", f"{'':52}" + "".join(f"{r['engine']:>14}" for r in results)]
    for i, (label, _) in enumerate(columns[0]):
        lines.append(f"{label:52}" + "".join(f"{column[i][1]:>14.3f}" for column in columns))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seal", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--sample", type=int, default=50, help="records sealed with per-record SM2/NIST")
    parser.add_argument("--sm2-rounds", type=int, default=30, help="calls timed per SM2 operation and engine")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    items = records(args.records)
    active, fallback = SMSuite(), SMSuite(sm2.PureSM2())
    suites: dict[str, Suite] = {f"SM {active.sm2.name}": active, "SM gmalg": fallback, "NIST": get_suite("NIST")}
    results = [measure(name, suite, items, args.batch, args.sample) for name, suite in suites.items()]
    print(table(results))
    sm2_results = [sm2_costs(suite, args.sm2_rounds) for suite in (active, fallback)]
    print(sm2_table(sm2_results))
    env = {"python": platform.python_version(), "machine": platform.machine(), "gmalg": version("gmalg"),
           "gmssl-pyx": version("gmssl-pyx"), "cryptography": version("cryptography"),
           "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"environment": env, "results": results, "sm2": sm2_results}, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
