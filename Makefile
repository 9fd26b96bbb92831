# crawlmaster — run `make help` for the targets.
#
# The two commands a new machine needs are `make run` and `make test`; both
# install and start everything they depend on (a private PostgreSQL 15
# cluster under .data/, installed with apt when missing).

SHELL := /bin/bash
GO    ?= go
BIN   := bin
# Passed to `make run`: a Tranco list (.zip or .csv) to crawl instead of the
# synthetic web, and the synthetic web's size.
TRANCO  ?=
DOMAINS ?= 10000

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/master, bin/assistant, bin/websim
	$(GO) build -o $(BIN)/ ./cmd/master ./cmd/assistant ./cmd/websim

.PHONY: run
run: build ## crawl 10,000 synthetic domains end to end (TRANCO=file crawls a real list); daemons stay up
	TRANCO="$(TRANCO)" DOMAINS="$(DOMAINS)" scripts/run.sh start

.PHONY: stop
stop: ## stop the daemons started by `make run` (and the private PostgreSQL)
	scripts/run.sh stop

.PHONY: status
status: ## show the daemons of `make run` and the crawl's status
	scripts/run.sh status

.PHONY: test
test: deploy-tools ## start (or reuse) the private PostgreSQL, go test -race ./..., stop PostgreSQL again if this started it
	@scripts/with-pg.sh $(GO) test -race -timeout 20m ./...

.PHONY: bench
bench: ## benchmarks: Tranco import of 1M lines, and crawlmaster vs the raw limit, Colly and Scrapy (writes BENCHMARKS.md)
	scripts/with-pg.sh scripts/bench.sh

.PHONY: bench-revisit
bench-revisit: ## revisits of 15,000 changing pages for a minute, conditional requests answered vs ignored (~2 min)
	scripts/with-pg.sh $(GO) test -run '^$$' -bench BenchmarkRevisits -benchtime 1x -timeout 10m ./master/ | grep -E "revisits of|conditional requests|Benchmark"

.PHONY: bench-scale bench-scale-sites
bench-scale: ## 1,000,000 websim domains imported and crawled end to end, then the sites run (not part of CI; ~35 min)
	SKIP_IMPORT_BENCH=1 SKIP_REVISIT_BENCH=1 scripts/with-pg.sh scripts/bench.sh --domains 1000000 --contenders crawlmaster --workloads cpu --out BENCHMARKS-scale.md
	$(MAKE) bench-scale-sites

bench-scale-sites: build ## site crawl to >= 1,000,000 pages fetched and >= 10,000,000 URLs discovered (a section of BENCHMARKS-scale.md)
	$(GO) build -o $(BIN)/ ./bench/sitescale
	scripts/with-pg.sh $(BIN)/sitescale --bin $(BIN) --out BENCHMARKS-scale.md

# protoc comes from Debian (installed when missing); the Go plugins are
# pinned by go.mod's tool directive and built into .data/protoc-bin.
PLUGINS := .data/protoc-bin
.PHONY: protoc-tools
protoc-tools:
	@command -v protoc >/dev/null || { echo "installing protobuf-compiler (protoc) with apt"; \
	  (apt-get install -y -q protobuf-compiler || (apt-get update -q && apt-get install -y -q protobuf-compiler)) >/dev/null; }
	@mkdir -p $(PLUGINS) && $(GO) build -o $(PLUGINS)/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc

.PHONY: proto
proto: protoc-tools ## regenerate Go code from proto/ (protoc from Debian, plugins pinned in go.mod)
	PATH="$(CURDIR)/$(PLUGINS):$$PATH" protoc -I proto \
	  --go_out=proto --go_opt=paths=source_relative \
	  --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
	  proto/crawlmaster/v1/assistant.proto proto/crawlmaster/v1/manager.proto

.PHONY: verify
verify: proto ## fail if generated code is stale, go.mod is untidy, or code is unformatted
	$(GO) mod tidy
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@git diff --exit-code -- proto go.mod go.sum || { echo "verify: generated code or go.mod is stale: run 'make proto' and 'go mod tidy' and commit"; exit 1; }

# The tools that check deploy/ (the systemd units, the Prometheus rules and
# configuration, the live Prometheus test): Debian's prometheus package
# (unpacked under .data/prometheus, not installed as a service) and
# systemd's tools (apt-get install when missing). The deploy tests call the
# same script, so `go test ./deploy/` works without this step too.
DEPLOY_TOOLS := promtool prometheus systemd-analyze systemd-sysusers
.PHONY: deploy-tools deploy-check
deploy-tools: ## install the tools deploy/'s tests need when missing (promtool, prometheus, systemd-analyze; apt)
	@for t in $(DEPLOY_TOOLS); do scripts/deploy-tools.sh $$t >/dev/null || exit 1; done

deploy-check: deploy-tools ## the deploy/ tests alone, verbose: promtool, systemd-analyze verify, a live Prometheus (~45 s)
	@scripts/with-pg.sh $(GO) test -count=1 -v -timeout 10m ./deploy/

.PHONY: pg-start pg-stop
pg-start: ## start the private PostgreSQL cluster (.data/pg)
	scripts/pg.sh start
pg-stop: ## stop the private PostgreSQL cluster
	scripts/pg.sh stop

.PHONY: clean
clean: ## remove build output (keeps .data/)
	rm -rf $(BIN)

.PHONY: test-faults
test-faults: ## the fault suite alone, verbose, with its report (also part of make test)
	@url=$$(scripts/pg.sh start | tail -n 1) && \
	  CRAWLMASTER_TEST_DATABASE_URL="$$url" $(GO) test -count=1 -v -run 'TestFaults$$' -timeout 15m ./internal/e2e/
