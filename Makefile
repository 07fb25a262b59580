# Set-up on a fresh machine is two commands: `make zip` and `make test`.
# `make zip` installs what it needs (cargo-lambda from PyPI, binutils from Debian);
# `make test` needs cargo and python3 only, and installs nothing.

.PHONY: zip test lint e2e bench bench-aws deploy services services-down clean

## Build every function as target/lambda/<function>/bootstrap.zip and print their sizes.
zip:
	scripts/build-zips

## Unit tests, doc examples and the docs' tests: no network beyond 127.0.0.1, no AWS
## account, no credentials.
test:
	cargo test --workspace

## Formatting and lints, as CI checks them (each feature group on its own too), and the
## template's: cfn-lint on template.yaml, then cfn-lint and checkov on its transformed,
## resolved form for each parameter set (offline; scripts/checkov-skips.yaml lists the
## accepted checkov findings, each with its reason: any other fails); and shared's API
## docs, every public item documented, without a warning.
lint:
	scripts/template-tools lint
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo clippy -p functions --no-default-features --features rds -- -D warnings
	cargo clippy -p functions --no-default-features --features aws -- -D warnings
	RUSTDOCFLAGS="-D warnings -D missing_docs" cargo doc --no-deps -p shared

## Start MariaDB, moto (S3, KMS, Lambda) and the Lambda runtime API emulator on 127.0.0.1.
services:
	scripts/services up

## Stop what `make services` started.
services-down:
	scripts/services down

## End-to-end: the zipped functions against the local services; stops them even on failure.
e2e: zip
	rm -rf target/e2e
	scripts/template-tools
	cargo build -q -p bench --bin bench # the report renderer tests/tests/bench_aws.rs runs
	scripts/services up
	status=0; cargo test -p e2e --features services --no-fail-fast || status=$$?; scripts/services down; exit $$status

## Deploy template.yaml with the zips: `sam deploy --guided` (needs an AWS account).
deploy: zip
	scripts/template-tools deploy

## The article's experiment and the costs behind it: docs/benchmarks.md, .json and charts.
bench:
	scripts/bench

## The article's experiment on a stack you deployed (docs/bench-aws.md). Prints the plan,
## the invocations and their cost, and changes nothing; ARGS=--yes runs it.
bench-aws:
	@test -n "$(STACK)" || { echo "usage: make bench-aws STACK=<stack name> [ARGS='--yes ...']" >&2; exit 2; }
	bash -c 'source scripts/lib.sh && need_pip "boto3==$$BOTO3_VERSION"'
	python3 scripts/bench-aws.py --stack "$(STACK)" $(ARGS)

clean: services-down
	cargo clean
