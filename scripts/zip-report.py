#!/usr/bin/env python3
"""Prints each function's zip size, unzipped size, highest GLIBC symbol version and the
sha256 of its zip and of the bootstrap in it (the zip also records file times), and fails if a
zip holds anything but `bootstrap`, its bootstrap is not a position-independent executable
(PIE: its code and data at a random address in every environment, as Rust links a binary),
needs a glibc newer than provided.al2023's (2.34) or a shared library that is not glibc's, or
grows past its size budget. Writes the figures to <dir>/sizes.json."""

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MAX_GLIBC = (2, 34)  # provided.al2023
# The shared libraries a bootstrap may need: glibc's, which provided.al2023 has. Anything else
# would be missing there (or mapped and relocated at every cold start for nothing).
ALLOWED_LIBRARIES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                     "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
# Size budgets (bytes of the zip): a regression guard, with headroom over what we measure.
BUDGET = {
    # The MySQL functions sign IAM tokens with the credentials Lambda hands out, from the key
    # variables or the container credentials endpoint (long-lived Managed Instances
    # environments): through the SDK's own providers and HTTPS client, about 524 KB of each
    # zip (their HTTP/2 stack included). rds-enrich's SIGTERM hook (lambda-extension) is
    # about 108 KB more.
    "rds-enrich": 2_600_000,
    "rds-enrich-naive": 2_500_000,
    "decrypt-env": 1_900_000,
    "s3-get-object": 2_700_000,
}


def glibc_needed(binary: Path) -> tuple[int, ...]:
    out = subprocess.run(["objdump", "-T", str(binary)], check=True, capture_output=True, text=True).stdout
    versions = {tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)", out)}
    return max(versions, default=(0,))


def is_pie(binary: Path) -> bool:
    """ELF e_type: ET_DYN (3) for a position-independent executable, ET_EXEC (2) otherwise."""
    return int.from_bytes(binary.read_bytes()[16:18], "little") == 3


def libraries_needed(binary: Path) -> list[str]:
    out = subprocess.run(["objdump", "-p", str(binary)], check=True, capture_output=True, text=True).stdout
    return re.findall(r"^\s*NEEDED\s+(\S+)", out, re.MULTILINE)


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "target/lambda")
    zips = sorted(root.glob("*/bootstrap.zip"))
    missing = sorted(set(BUDGET) - {z.parent.name for z in zips})
    problems = [f"{name}: no {root}/{name}/bootstrap.zip" for name in missing]
    rows = []
    for z in zips:
        name = z.parent.name
        with zipfile.ZipFile(z) as archive:
            entries = archive.infolist()
            unzipped = sum(e.file_size for e in entries)
            with tempfile.TemporaryDirectory() as tmp:
                archive.extract("bootstrap", tmp)
                glibc = glibc_needed(Path(tmp) / "bootstrap")
                libraries = libraries_needed(Path(tmp) / "bootstrap")
                pie = is_pie(Path(tmp) / "bootstrap")
                bootstrap_sha = hashlib.sha256((Path(tmp) / "bootstrap").read_bytes()).hexdigest()
        names = [e.filename for e in entries]
        if names != ["bootstrap"]:
            problems.append(f"{name}: zip holds {names}, expected only bootstrap")
        if glibc > MAX_GLIBC:
            problems.append(f"{name}: needs GLIBC_{'.'.join(map(str, glibc))} > 2.34")
        if not pie:
            problems.append(f"{name}: bootstrap is linked at a fixed address, not position-"
                            "independent (no ASLR for its own code and data)")
        extra = sorted(set(libraries) - ALLOWED_LIBRARIES)
        if extra:
            problems.append(f"{name}: needs {', '.join(extra)} (loaded at every cold start)")
        size = z.stat().st_size
        if name in BUDGET and size > BUDGET[name]:
            problems.append(f"{name}: zip is {size} bytes, over its budget of {BUDGET[name]}")
        rows.append({"function": name, "zip_bytes": size, "unzipped_bytes": unzipped,
                     "glibc": "GLIBC_" + ".".join(map(str, glibc)),
                     "libraries": libraries, "pie": pie,
                     "zip_sha256": hashlib.sha256(z.read_bytes()).hexdigest(),
                     "bootstrap_sha256": bootstrap_sha})

    print(f"{'function':<18} {'zip bytes':>10} {'unzipped':>10}  {'max glibc':<12} {'PIE':<4} budget")
    for r in rows:
        budget = BUDGET.get(r["function"])
        budget_text = f"{budget:,}" if budget else "-"
        print(f"{r['function']:<18} {r['zip_bytes']:>10,} {r['unzipped_bytes']:>10,}  {r['glibc']:<12} {'yes' if r['pie'] else 'no':<4} {budget_text}")
    print("\nsha256 (zip, then the bootstrap in it):")
    for r in rows:
        print(f"{r['function']:<18} {r['zip_sha256']}  {r['bootstrap_sha256']}")
    (root / "sizes.json").write_text(json.dumps(rows, indent=2) + "\n")
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
