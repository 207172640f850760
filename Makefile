# Agora's everyday commands. `make test` is the one test command: CI runs it too.
GO ?= go
# Stamped into the binary (agora version, the start-up log): the Dockerfile passes its build
# arguments of the same names, since an image's build has no .git.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)

.PHONY: run seed build static static-check test test-deps generate check-generated audit migration bench ws-check federation-check clients-check graphiql graphiql-check browser-check signin-check client-schema-check

run: ## serve on :8080 with an embedded SQLite database
	$(GO) run .

seed: ## load the demo data set
	$(GO) run . seed

build: ## the binary, stamped with VERSION and REVISION
	$(GO) build -ldflags="$(LDFLAGS)" -o agora .

static: ## the static, stripped binary the Dockerfile ships (no cgo: SQLite is pure Go)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="$(LDFLAGS)" -o agora .

static-check: static ## CI: the Dockerfile's build line gives a static binary that runs, without the code generators
	@$(GO) version -m agora | grep -q 'CGO_ENABLED=0' || { echo "agora is not a static build" >&2; exit 1; }
	@./agora version | grep -qx 'revision: $(REVISION)' || { echo "agora version does not show REVISION $(REVISION):" >&2; ./agora version >&2; exit 1; }
	@! $(GO) list -deps . | grep -E '^(entgo.io/contrib/entgql|entgo.io/ent/entc|github.com/99designs/gqlgen/(api|codegen)|golang.org/x/tools/go/packages|go/types|entgo.io/ent/dialect/sql/schema)$$' || \
		{ echo "agora links the code generators or ent's migration engine above (see ent/relay's package doc, ent/entc.go's dropSchemaClient)" >&2; exit 1; }
	@./agora schema > /dev/null && echo "static binary: OK ($$(du -h agora | cut -f1), $$(./agora version | head -1))"

test: test-deps ## everything: vet, then all tests on real PostgreSQL and SQLite
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

test-deps:
	@scripts/test-deps.sh

generate: ## ent, entgql and gqlgen code generation
	$(GO) generate ./...

check-generated: generate ## fails when generated code is not committed
	@git diff --exit-code --stat && test -z "$$(git status --porcelain)" || \
		{ echo "generated code is out of date: run make generate and commit" >&2; git status --porcelain >&2; exit 1; }

bench: ## wrk benchmark of Agora in production mode on throwaway PostgreSQL + Redis, with a hand-written baseline (BENCH_DURATION=15s; BENCH_PEERS=1 adds PostGraphile 5 from npm)
	@scripts/bench.sh

audit: ## graphql-http server audit suite against a freshly built server
	scripts/graphql-http-audit.sh
ws-check: ## the graphql-ws npm client receives commentAdded and notificationAdded from a freshly built server
	@scripts/graphql-ws-check.sh
federation-check: ## Agora composed with a second subgraph behind Apollo Gateway and Hive Gateway (npm): queries crossing both, auth, a subscription
	@scripts/federation-check.sh
clients-check: ## urql (core, graphcache), Apollo Client 4 and graphql-sse (both modes) with their defaults against a freshly built server
	@scripts/clients-check.sh

client-schema-check: ## graphql-js buildSchema and relay-compiler (npm, pinned) accept schema/client.graphql
	@scripts/client-schema-check.sh
graphiql: ## rebuild the embedded GraphiQL page (graph/server/graphiql/) from the npm packages pinned in scripts/graphiql
	@scripts/graphiql.sh
graphiql-check: ## fails when graph/server/graphiql/ is not exactly what scripts/graphiql builds
	@scripts/graphiql.sh --check
browser-check: ## headless Chromium, offline: GraphiQL on a freshly built server (query, Docs, subscription), then an SPA on another origin in cookie mode (sign-in, reload, feed, live comment) (screenshots in .ci/artifacts)
	@scripts/browser-check.sh

signin-check: ## headless Chromium signs in through a local OpenID provider and reads viewer (screenshots in .ci/artifacts)
	@scripts/signin-check.sh

migration: ## new versioned migration from the ent schema: make migration NAME=add_something
	@test -n "$(NAME)" || { echo "usage: make migration NAME=what_changed" >&2; exit 1; }
	$(GO) test ./internal/database -run TestMigrationsMatchSchema -count=1 -update -name $(NAME)
