#!/usr/bin/env python3
"""`make bench-aws STACK=<name>`: the article's experiment on your own account, against a
stack deployed with template.yaml (DeployNaive=true). Without --yes it prints the plan,
the number of invocations and an estimate of the cost, and changes nothing.
See docs/bench-aws.md; the code is in bench_aws/ (run.py first)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_aws.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
