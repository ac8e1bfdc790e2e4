# recon — the commands a newcomer needs. `make demo`, then `make test`.

CARGO ?= cargo

.PHONY: demo test build release fmt lint clean

## Build two demo ledgers with planted differences and reconcile them (writes ./demo-out/).
demo:
	$(CARGO) run --quiet -- demo --out demo-out

## Format check, clippy with warnings as errors, and the whole test suite.
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked -- -D warnings
	$(CARGO) test --locked

build:
	$(CARGO) build --locked

release:
	$(CARGO) build --release --locked

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) clippy --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean
	rm -rf demo-out recon-out
