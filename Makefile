# Lifeboat: `make demo` shows the main job end to end (KEEP=1 leaves the
# standby running), `make test` runs every test. Both install what they need
# first (scripts/demo.sh, scripts/test-deps.sh).

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.buildVersion=$(VERSION)
# Where `make build` writes the binary (the Ansible role cross-builds with
# GOOS/GOARCH into bin/lifeboat-linux-ARCH).
OUT     ?= bin/lifeboat

.PHONY: all build demo demo-clean test bench deps vet fmt clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(OUT) ./cmd/lifeboat

deps:
	scripts/test-deps.sh

demo:
	scripts/demo.sh $(if $(KEEP),--keep)

# Removes the Docker objects of a demo run with KEEP=1.
demo-clean:
	$(GO) run ./internal/demo -clean

test:
	scripts/test.sh

bench:
	scripts/bench.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin .cache/demo .cache/bench
