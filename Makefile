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
e2e: build $(OAUTH2_PROXY)
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	@[ -x /usr/sbin/slapd ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils; }
	@{ command -v php >/dev/null && [ -f /usr/share/simplesamlphp/www/saml2/idp/SSOService.php ] && php -m | grep -qx dom && php -m | grep -qx mbstring; } \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq simplesamlphp php-cli php-xml php-mbstring; }
	KEYGATE_REQUIRE_SAML=1 KEYGATE_BIN=$(abspath $(BIN)) OAUTH2_PROXY_BIN=$(abspath $(OAUTH2_PROXY)) \
		$(GO) test -count=1 -tags e2e -run '^TestE2E' ./test/

$(OAUTH2_PROXY):
	GOBIN=$(abspath bin) $(GO) install github.com/oauth2-proxy/oauth2-proxy/v7@$(OAUTH2_PROXY_VERSION)

# Load benchmark against the real server; prints figures and ratios. Then
# the admin API's search/create figures (in-process, real SQLite store), and
# `users import` of 1M md5 users into SQLite and PostgreSQL ($(PG_DSN); set
# PG_DSN= to skip it) with the first legacy login's cost; then LDAP logins
# and syncs against a slapd the benchmark starts (100,000 users); brokered
# SAML logins against an in-process IdP (ACS step and whole logins).
bench: build
	KEYGATE_BIN=$(abspath $(BIN)) $(GO) run ./test/bench
	$(GO) test -run '^$$' -bench . -benchtime 2s ./idp/admin/
	KEYGATE_BIN=$(abspath $(BIN)) $(GO) run ./test/bench/userimport -pg '$(PG_DSN)'
	KEYGATE_BIN=$(abspath $(BIN)) $(GO) test -run '^$$' -bench 'LDAP|Broker' -benchtime 1x -timeout 30m ./test/bench/

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
