# fleetclaim — build, demo, test, benchmark.
GO      ?= go
BIN     := bin/fleetclaim
LABBIN  := bin/fleetlab
HOSTS   ?= 20
FUZZTIME ?= 5s
FUZZTIME_LONG ?= 10s

# Fuzz targets run for FUZZTIME each by `make test` (package:target); the
# inventory loaders get FUZZTIME_LONG (their inputs take longer to explore).
# A run that fails without writing a failing input is the fuzz engine timing
# out while it shrinks an input (a known flake of short -fuzztime runs): it
# is run once more; a real finding always writes its input and fails.
FUZZ_LONG := \
	./inventory:FuzzLoadNative \
	./inventory:FuzzLoadAnsibleINI \
	./inventory:FuzzLoadAnsibleYAML
FUZZ_TARGETS := \
	./inventory:FuzzExpandRange \
	./inventory:FuzzLimit \
	./inventory:FuzzParseJump \
	./inventory:FuzzV1ScriptURLProxy \
	./inventory:FuzzGlobMatcher \
	./inventory:FuzzNativeFastEntry \
	./inventory/internal/sshconfig:FuzzResolve \
	./remote:FuzzQuote \
	./remote:FuzzParseProbe \
	./remote:FuzzProbeConf \
	./remote:FuzzParseOSRelease \
	./remote:FuzzFrameSink \
	./claim:FuzzParseAgentOutput \
	./claim/cloud:FuzzParseCloudAnswers \
	./claim:FuzzReadScriptAnswer \
	./claim/rollout:FuzzParseSerial \
	./cmd/fleetclaim:FuzzReadResults

.PHONY: all build demo test unit race fuzz vet mutants bench bench-go bench-fleet bench-sshd clean

all: build

# The product binary, and the lab's (never part of the product: see lab/doc.go).
build:
	$(GO) build -o $(BIN) ./cmd/fleetclaim
	$(GO) build -o $(LABBIN) ./cmd/fleetlab

# The main job on the built-in lab: a simulated fleet and Cloud endpoint in a
# temporary directory, claimed twice (the second run changes nothing), then
# stopped. No root, no internet, no sshd, no Netdata needed.
demo: build
	@BIN=$(BIN) LABBIN=$(LABBIN) HOSTS=$(HOSTS) sh lab/demo.sh

test: vet fuzz unit race

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	@sh .ci/mutants.sh --check >/tmp/fleetclaim-mutants-check.log 2>&1 || { cat /tmp/fleetclaim-mutants-check.log; echo "a mutant no longer matches the code: update .ci/mutants.sh"; exit 1; }

unit: build
	$(GO) test -count=1 -timeout 20m ./...

# The library packages again under the race detector (needs cgo: gcc). The
# end-to-end tests of cmd/ run the real binary, which -race would not cover.
race:
	$(GO) test -race -count=1 -timeout 20m ./inventory ./remote ./claim ./lab

fuzz:
	@for t in $(FUZZ_LONG:%=%:$(FUZZTIME_LONG)) $(FUZZ_TARGETS:%=%:$(FUZZTIME)); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; time=$${rest#*:}; \
		echo "fuzz $$pkg $$name ($$time)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $$time -fuzzminimizetime 1s >/tmp/fleetclaim-fuzz.log 2>&1 || \
		{ grep -q 'Failing input written' /tmp/fleetclaim-fuzz.log && { cat /tmp/fleetclaim-fuzz.log; exit 1; }; \
		  echo "  (no failing input: the fuzz engine's own deadline; once more)"; \
		  $(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $$time -fuzzminimizetime 1s >/tmp/fleetclaim-fuzz.log 2>&1 || { cat /tmp/fleetclaim-fuzz.log; exit 1; }; }; \
	done

# The mutation check (never part of `make test`, which only checks that
# every mutant's sed still applies: `make vet`): .ci/mutants.sh plants
# one-line bugs where they matter (redaction, quoting, host keys,
# max-fail, the clone hold, the privilege choice, the token's transport,
# value validation), each in a fresh copy of the tree, and runs the owning
# package's tests; it fails if a mutant survives, or if a mutant's sed no
# longer matches the code (update it). MUTANTS_USER=nobody runs the tests
# without root; MUTANTS="ID ..." runs only those.
MUTANTS ?=
mutants:
	GO=$(GO) sh .ci/mutants.sh $(MUTANTS)

# Benchmarks (never part of `make test`; see BENCHMARKS.md): the Go
# benchmarks of the hot paths, then the fleet benchmark on a lab of
# BENCH_HOSTS hosts, every tool BENCH_RUNS times in alternation.
BENCH_HOSTS ?= 100
BENCH_RUNS  ?= 3
BENCH_TOOLS ?= fleetclaim,floor,pssh,ansible

bench: bench-go bench-fleet

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-fleet: build
	$(GO) run ./cmd/fleetbench --fleetclaim $(BIN) --fleetlab $(LABBIN) --hosts $(BENCH_HOSTS) --runs $(BENCH_RUNS) --tools $(BENCH_TOOLS)

# The same comparison on real OpenSSH: one sshd per host (needs root), v1 claim.
bench-sshd: build
	$(GO) run ./cmd/fleetbench --fleetclaim $(BIN) --fleetlab $(LABBIN) --sshd --method v1 --hosts 50 --runs $(BENCH_RUNS) --tools $(BENCH_TOOLS)

clean:
	rm -rf bin
