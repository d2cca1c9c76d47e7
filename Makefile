# keygate — make targets. `make run` starts a server on the embedded SQLite
# default; `make test` needs only Go; `make e2e` installs its real peers.
GO        ?= go
BIN       ?= bin/keygate
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PG_DSN    ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
TEMPL     := $(GO) run github.com/a-h/templ/cmd/templ@v0.3.977
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test e2e bench generate lint check-generated clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/keygate

# A working server on ./keygate.db, on 127.0.0.1:8080 (KEYGATE_HTTP_ADDR=:8080
# for every interface); admin/admin is created on first start, and serve
# warns while that password is unchanged.
run: build
	KEYGATE_HTTP_ADDR=$${KEYGATE_HTTP_ADDR:-127.0.0.1:8080} \
	KC_BOOTSTRAP_ADMIN_USERNAME=$${KC_BOOTSTRAP_ADMIN_USERNAME:-admin} \
	KC_BOOTSTRAP_ADMIN_PASSWORD=$${KC_BOOTSTRAP_ADMIN_PASSWORD:-admin} \
	./$(BIN) serve

# Unit, store-conformance and end-to-end Go tests (the binary against
# go-oidc and x/oauth2), and the docs' runnable blocks (test/docs_test.go).
# The PostgreSQL runs need KEYGATE_TEST_POSTGRES.
test:
	@[ -n "$$KEYGATE_TEST_POSTGRES" ] || echo '*** KEYGATE_TEST_POSTGRES is not set: the PostgreSQL tests (store conformance, replicas, docs) are SKIPPED ***'
	$(GO) test -count=1 ./...

# Real-peer suite (browser, npm clients, oauth2-proxy built from the Go
# module proxy, slapd, SimpleSAMLphp); installs what it needs, and with
# KEYGATE_REQUIRE_SAML=1 the SAML tests fail rather than skip without it.
OAUTH2_PROXY := bin/oauth2-proxy
OAUTH2_PROXY_VERSION := v7.15.6
# Mailpit: the real SMTP server the mail tests send to (built from its own
# module, never in keygate's go.mod; idp/mail/mailtest finds bin/mailpit).
MAILPIT := bin/mailpit
MAILPIT_VERSION := v1.33.1
e2e: build $(OAUTH2_PROXY) $(MAILPIT)
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	@[ -x /usr/sbin/slapd ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils; }
	@{ command -v php >/dev/null && [ -f /usr/share/simplesamlphp/www/saml2/idp/SSOService.php ] && php -m | grep -qx dom && php -m | grep -qx mbstring; } \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq simplesamlphp php-cli php-xml php-mbstring; }
	KEYGATE_REQUIRE_SAML=1 KEYGATE_REQUIRE_MAILPIT=1 MAILPIT_BIN=$(abspath $(MAILPIT)) \
	KEYGATE_BIN=$(abspath $(BIN)) OAUTH2_PROXY_BIN=$(abspath $(OAUTH2_PROXY)) \
		$(GO) test -count=1 -tags e2e -run '^TestE2E' ./test/

$(OAUTH2_PROXY):
	GOBIN=$(abspath bin) $(GO) install github.com/oauth2-proxy/oauth2-proxy/v7@$(OAUTH2_PROXY_VERSION)

$(MAILPIT):
	GOBIN=$(abspath bin) $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION)

# Load benchmark against the real server (built with -tags pprof, so each
# grant is also profiled for its crypto share); prints figures and ratios. Then
# the admin API's search/create figures (in-process, real SQLite store),
# idp/password's PBKDF2 against crypto/pbkdf2 for SHA-1, SHA-256 and SHA-512
# (the reason it has its own), and
# `users import` of 1M md5 users into SQLite and PostgreSQL ($(PG_DSN); set
# PG_DSN= to skip it) with the first legacy login's cost; then LDAP logins
# and syncs against a slapd the benchmark starts (100,000 users); brokered
# SAML logins against an in-process IdP (ACS step and whole logins); the
# login flood (concurrency 200 for 20 s: accepted and shed logins, their
# p99, client_credentials p99, readiness, RSS, with the load average) and a
# 3-minute SQLite soak (file and WAL sizes); each prints FAIL and the
# missed target rather than stopping the run.
bench: build
	CGO_ENABLED=0 $(GO) build -trimpath -tags pprof -ldflags '$(LDFLAGS)' -o $(BIN)-pprof ./cmd/keygate
	KEYGATE_BIN=$(abspath $(BIN))-pprof $(GO) run ./test/bench
	$(if $(PG_DSN),KEYGATE_BIN=$(abspath $(BIN))-pprof $(GO) run ./test/bench -db '$(PG_DSN)' -only '^(password|client_credentials|refresh|refresh_16)$$')
	$(GO) test -run '^$$' -bench . -benchtime 2s ./idp/admin/
	$(GO) test -run '^$$' -bench '^BenchmarkPBKDF2$$' -benchtime 20x ./idp/password/
	KEYGATE_BIN=$(abspath $(BIN)) $(GO) run ./test/bench/userimport -pg '$(PG_DSN)'
	KEYGATE_BIN=$(abspath $(BIN)) $(GO) test -run '^$$' -bench 'LDAP|Broker' -benchtime 1x -timeout 30m ./test/bench/
	-KEYGATE_BIN=$(abspath $(BIN)) KEYGATE_FLOOD=200x20s $(GO) test -count=1 -v -run '^TestLoginFlood$$' ./test/ | grep -E 'flood|RSS|want|^(---|ok|FAIL)'
	-KEYGATE_SOAK=3m $(GO) test -count=1 -v -timeout 10m -run '^TestHousekeepingSoak$$' ./store/sqlite/ | grep -E 'tokens|idle|want|^(---|ok|FAIL)'

generate:
	$(TEMPL) generate -path templates

check-generated: generate
	git diff --exit-code -- '*_templ.go'

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf bin

# ---- Shipping: releases, the OCI image, the chart and unit tests ----------
# `make release` cross-builds static binaries into dist/ (RELEASE_TARGETS=
# linux/amd64 builds one), each as keygate_VERSION_OS_ARCH.tar.gz with the
# LICENSE and README, a CycloneDX SBOM per target and SHA256SUMS, then checks
# them. `make image` writes dist/keygate_VERSION_linux.oci.tar without a
# daemon: an OCI layout whose index.json names one multi-platform image
# index (IMAGE_PLATFORMS: linux/amd64 and linux/arm64) for skopeo (--all),
# crane and podman, and whose manifest.json names the first platform's
# image for docker load.
# `make ship-test` builds the image and runs the image, chart and unit tests.

# Read once, so that one run names everything alike.
ifeq ($(origin COMMIT),undefined)
COMMIT            := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
endif
ifeq ($(origin SOURCE_DATE_EPOCH),undefined)
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
endif
RELEASE_VERSION   := $(VERSION)
DIST              ?= dist
RELEASE_TARGETS   ?= linux/amd64 linux/arm64 darwin/arm64
RELEASE_LDFLAGS   := -s -w -X main.version=$(RELEASE_VERSION) -X main.commit=$(COMMIT)
# Installed for the build machine (bin/), then run with each target's GOOS
# and GOARCH, which it reads to pick the modules linked for that target.
CYCLONEDX         := bin/cyclonedx-gomod
CYCLONEDX_VERSION := v1.10.0
IMAGE             ?= ghcr.io/keygate/keygate
IMAGE_PLATFORMS   ?= linux/amd64 linux/arm64
IMAGE_TAR          = $(DIST)/keygate_$(RELEASE_VERSION)_linux.oci.tar

.PHONY: release image ship-test

release: $(CYCLONEDX)
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for t in $(RELEASE_TARGETS); do \
	  os=$${t%/*}; arch=$${t#*/}; name=keygate_$(RELEASE_VERSION)_$${os}_$${arch}; \
	  echo "== $$name"; mkdir -p $(DIST)/$$name; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(RELEASE_LDFLAGS)' -o $(DIST)/$$name/keygate ./cmd/keygate; \
	  $(GO) version -m $(DIST)/$$name/keygate | grep -q 'CGO_ENABLED=0' || { echo "$$name: not a static build"; exit 1; }; \
	  cp LICENSE README.md $(DIST)/$$name/; \
	  tar --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner \
	    -C $(DIST) -cf - $$name | gzip -9n > $(DIST)/$$name.tar.gz; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch ./$(CYCLONEDX) app -json -licenses -std \
	    -output $(DIST)/$$name.cdx.json -main cmd/keygate . 2>$(DIST)/$$name.cdx.log \
	    || { cat $(DIST)/$$name.cdx.log; exit 1; }; rm -f $(DIST)/$$name.cdx.log; \
	  grep -q '"bomFormat": "CycloneDX"' $(DIST)/$$name.cdx.json && grep -q '"name": "github.com/ory/fosite"' $(DIST)/$$name.cdx.json \
	    || { echo "$$name: SBOM lacks the CycloneDX header or the modules"; exit 1; }; \
	  if [ "$$os/$$arch" = "$$($(GO) env GOHOSTOS)/$$($(GO) env GOHOSTARCH)" ]; then \
	    $(DIST)/$$name/keygate version | head -2 | tee $(DIST)/$$name.version; \
	    printf 'keygate %s\ncommit: %s\n' '$(RELEASE_VERSION)' '$(COMMIT)' | cmp -s - $(DIST)/$$name.version \
	      || { echo "$$name: keygate version does not print $(RELEASE_VERSION) $(COMMIT)"; exit 1; }; \
	    rm $(DIST)/$$name.version; \
	  fi; \
	done
	cd $(DIST) && sha256sum *.tar.gz *.cdx.json > SHA256SUMS && sha256sum --quiet -c SHA256SUMS && cat SHA256SUMS

$(CYCLONEDX):
	env -u GOOS -u GOARCH GOBIN=$(abspath bin) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_VERSION)

image:
	@set -e; args=; for p in $(IMAGE_PLATFORMS); do arch=$${p#*/}; \
	  bin=$(abspath $(DIST))/keygate_$(RELEASE_VERSION)_linux_$$arch/keygate; mkdir -p $$(dirname $$bin); \
	  echo "== linux/$$arch"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(RELEASE_LDFLAGS)' -o $$bin ./cmd/keygate; \
	  args="$$args -binary $$bin -platform $$p"; \
	done; \
	cd deploy/image && $(GO) run . $$args \
	  -version '$(RELEASE_VERSION)' -revision '$(COMMIT)' -created $(SOURCE_DATE_EPOCH) -repository $(IMAGE) \
	  -out $(abspath $(IMAGE_TAR))

# The image test runs the binary from the image until /health/ready is UP;
# the chart tests lint and render deploy/helm/keygate with Helm's Go
# packages; systemd-analyze verifies the unit (installed when missing).
ship-test: image
	cd deploy/image && KEYGATE_IMAGE=$(abspath $(IMAGE_TAR)) KEYGATE_IMAGE_VERSION='$(RELEASE_VERSION)' \
	  KEYGATE_IMAGE_REVISION='$(COMMIT)' KEYGATE_IMAGE_PLATFORMS='$(IMAGE_PLATFORMS)' $(GO) test -count=1 ./...
	cd deploy/helm/test && $(GO) test -count=1 ./...
	@command -v systemd-analyze >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd; }
	KEYGATE_REQUIRE_SYSTEMD_ANALYZE=1 $(GO) test -count=1 ./deploy/systemd/
