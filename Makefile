# Set-up on a fresh machine is two commands: `make zip` and `make test`.
# Each installs what it needs (cargo-lambda from PyPI, binutils from Debian).

.PHONY: zip test lint e2e services services-down clean

## Build every function as target/lambda/<function>/bootstrap.zip and print their sizes.
zip:
	scripts/build-zips

## Unit tests: no network, no AWS account, no credentials.
test:
	cargo test --workspace --exclude e2e

## Formatting and lints, as CI checks them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	cargo clean
