package main

import (
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The layers of ARCHITECTURE.md, bottom up. A package may import only packages of lower layers,
// and of its own layer where its row says so: every allowed import is written in importTable.
const (
	layerBase      = iota // config, apperr, telemetry, slug, selection, documents: the standard library and outside modules only
	layerInfra            // httpx, cache, pubsub, ratelimit: small interfaces and middleware
	layerModel            // auth, authz, ent schema and ent's generated client: one unit, see below
	layerData             // database (opens ent's client, migrations), loader (request-scoped dataloaders)
	layerDomain           // account, live, notify, message, publish, social, search, seed, trusted (…jobs, mail, media)
	layerGenerated        // graph/generated: gqlgen's executable schema and models, and the scalars they use
	layerResolvers        // graph: the resolvers, which implement graph/generated's interfaces
	layerServer           // graph/server: the app, handler, transports, extensions, presenter, directives
	layerCommand          // main (the module's root) and the bench tools
	layerTest             // testenv: imported by test files only
)

// rule is one package's row: its layer, and the packages of this module it may import (besides
// itself). below lets it import every package of a lower layer instead (testenv excepted).
type rule struct {
	layer   int
	imports []string
	below   bool
}

// Domain packages build on the layers below; what they may use of them.
var domainBase = []string{"ent", "internal/apperr", "internal/auth", "internal/cache", "internal/database",
	"internal/loader", "internal/pubsub", "internal/ratelimit", "internal/slug", "internal/telemetry"}

// domain is a domain package's row: domainBase plus the domain packages it may use. Domain
// packages import each other only as listed in importTable, and those edges go one way down an
// order: live ← notify ← message, publish, social ← seed; media ← account, publish; jobs ← mail ← account ← identity; jobs, notify ← billing; search and trusted stand alone.
// So no domain package ever reaches one that calls it, and a new edge is a decision made here.
func domain(others ...string) rule {
	return rule{layer: layerDomain, imports: append(slices.Clone(domainBase), others...)}
}

// graphUses is what the resolvers may use: gqlgen's interfaces and models, the domain packages,
// loaders and the transaction from the context.
var graphUses = []string{"ent", "graph/generated", "graph/generated/model", "graph/scalar", "internal/apperr",
	"internal/auth", "internal/database", "internal/loader", "internal/account", "internal/filter", "internal/live", "internal/message",
	"internal/notify", "internal/publish", "internal/search", "internal/social", "internal/identity", "internal/media", "internal/jobs",
	"internal/billing"}

// importTable is ARCHITECTURE.md's table of imports, enforced. Keys are paths inside the module;
// "main" is the module's root and "ent" every package ent generates (all of ent/ but ent/schema).
// A new package fails TestImportTable until it has a row here.
var importTable = map[string]rule{
	"internal/config":    {layer: layerBase},
	"internal/apperr":    {layer: layerBase},
	"internal/telemetry": {layer: layerBase},
	"internal/slug":      {layer: layerBase},
	"internal/selection": {layer: layerBase},
	"internal/documents": {layer: layerBase}, // the query cache, whose collected fields the executor and ent ask for

	"internal/httpx":  {layer: layerInfra, imports: []string{"internal/apperr", "internal/telemetry"}},
	"internal/cache":  {layer: layerInfra, imports: []string{"internal/apperr"}},
	"internal/pubsub": {layer: layerInfra, imports: []string{"internal/apperr"}},
	// Same layer: its HTTP middleware answers refusals with httpx.WriteError, like every refusal.
	// Its Limit is config's Budget, parsed where the configuration is read.
	"internal/ratelimit": {layer: layerInfra, imports: []string{"internal/apperr", "internal/config", "internal/httpx"}},

	// ent's generated runtime registers the schema's hooks and privacy policies, whose rules
	// (authz) query through the generated client and read the Viewer (auth): entc makes these one
	// unit, so they share a layer and these edges within it are the only ones.
	"internal/auth":  {layer: layerModel, imports: []string{"internal/apperr", "internal/cache", "internal/httpx"}},
	"internal/authz": {layer: layerModel, imports: []string{"ent", "internal/apperr", "internal/auth"}},
	"ent/schema":     {layer: layerModel, imports: []string{"ent", "internal/authz"}},
	"ent":            {layer: layerModel, imports: []string{"ent/schema", "internal/documents"}},

	"internal/database": {layer: layerData, imports: []string{"ent", "internal/apperr", "internal/telemetry"}},
	// loader registers the invalidations of the writes it sees on their transaction (database).
	"internal/loader": {layer: layerData, imports: []string{"ent", "internal/apperr", "internal/auth", "internal/authz", "internal/cache", "internal/database", "internal/selection", "internal/telemetry"}},

	"internal/live":    domain(),
	"internal/notify":  domain("internal/jobs", "internal/live", "internal/mail"),
	"internal/message": domain("internal/live", "internal/notify"),
	"internal/publish": domain("internal/live", "internal/notify", "internal/media"),
	"internal/social":  domain("internal/notify"),
	"internal/account": domain("internal/jobs", "internal/mail", "internal/media"), // account mail; uploaded avatars
	// media: image intake, storage (a folder or S3) and the attach/release rules posts and
	// profiles apply in their transactions.
	"internal/media":    domain("internal/jobs"),
	"internal/identity": domain("internal/account", "internal/mail"),
	"internal/search":   domain(),
	// billing: memberships through Stripe; its webhook events are jobs, a new member a notice.
	"internal/billing": domain("internal/authz", "internal/jobs", "internal/notify"),
	"internal/trusted": domain(),
	// filter turns the designed filter inputs into ent predicates.
	"internal/filter": domain("internal/account"), // usernames are normalized as account does
	// jobs is the durable queue: inserts join the transaction database.InTx opened.
	"internal/jobs": {layer: layerDomain, imports: []string{"ent", "internal/apperr", "internal/database"}},
	// mail renders and sends: templates and a sender chosen by the configuration.
	// Its outbox queues mail as jobs.
	"internal/mail": {layer: layerDomain, imports: []string{"internal/apperr", "internal/config", "internal/jobs"}},
	// seed loads the demo data through the services, as a client would.
	"internal/seed": domain("internal/account", "internal/publish", "internal/social"),

	// gqlgen's output binds GraphQL inputs and payloads to ent's and the domain's types (gqlgen.yml
	// models); the resolvers implement its interfaces, so it never imports them.
	"graph/generated": {layer: layerGenerated, imports: []string{"ent", "graph/generated/model", "graph/scalar",
		"internal/account", "internal/documents", "internal/filter", "internal/identity", "internal/jobs", "internal/media", "internal/message", "internal/notify", "internal/publish", "internal/search"}},
	"graph/generated/model": {layer: layerGenerated, imports: []string{"ent"}},
	"graph/scalar":          {layer: layerGenerated, imports: []string{"ent", "internal/apperr"}}, // Cursor is ent/relay's
	"graph":                 {layer: layerResolvers, imports: graphUses},
	"graph/server":          {layer: layerServer, below: true},

	"main":                {layer: layerCommand, below: true},
	"bench/cmd/baseline":  {layer: layerCommand, imports: []string{"internal/auth"}},
	"bench/cmd/benchdata": {layer: layerCommand, imports: []string{"internal/auth"}},
	"bench/cmd/benchrun":  {layer: layerCommand},
	"bench/cmd/subload":   {layer: layerCommand},
	// testenv: servers, the GraphQL client and fixtures written through ent, for tests only.
	"internal/testenv": {layer: layerTest, imports: []string{"ent", "internal/apperr", "internal/auth", "internal/database", "internal/jobs", "internal/pubsub"}},
}

const module = "github.com/agora/agora"

// node is a package's key in importTable ("" when it is not one of this module's).
func node(path string) string {
	switch {
	case path == module:
		return "main"
	case !strings.HasPrefix(path, module+"/"):
		return ""
	}
	p := strings.TrimPrefix(path, module+"/")
	if p == "ent" || strings.HasPrefix(p, "ent/") && p != "ent/schema" {
		return "ent"
	}
	return p
}

// allowed reports whether product code of from may import to (both importTable keys).
func allowed(from, to string) bool {
	r, ok := importTable[from]
	t, known := importTable[to]
	switch {
	case from == to:
		return true
	case !ok || !known || to == "internal/testenv":
		return false
	case r.below:
		return t.layer < r.layer
	}
	return slices.Contains(r.imports, to)
}

// allowedInTest reports whether the tests of from may import to: what from may, testenv, and the
// packages below the GraphQL layer, which tests assemble around the package under test (authz's
// tests open a database, seed's build every service). Below the GraphQL layer, no test imports it.
func allowedInTest(from, to string) bool {
	t, known := importTable[to]
	return allowed(from, to) || to == "internal/testenv" || known && t.layer < layerGenerated
}

// TestImportTable enforces importTable on every package of the module, tests included.
func TestImportTable(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`, "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		from := node(parts[0])
		if _, ok := importTable[from]; !ok {
			t.Errorf("%s has no row in importTable (arch_test.go): add it with its layer and the packages it may import (ARCHITECTURE.md)", parts[0])
			continue
		}
		for _, imp := range strings.Fields(parts[1]) {
			if to := node(imp); to != "" && !allowed(from, to) {
				t.Errorf("%s imports %s: not in its row of importTable (arch_test.go, ARCHITECTURE.md)", parts[0], imp)
			}
		}
		for _, imp := range strings.Fields(parts[2]) {
			if to := node(imp); to != "" && !allowedInTest(from, to) {
				t.Errorf("tests of %s import %s: tests may import what their package may, testenv, and packages below graph", parts[0], imp)
			}
		}
	}
}

// TestImportTableRules: the table itself keeps the order of the layers, names only packages it has
// rows for, and refuses the imports ARCHITECTURE.md rules out.
func TestImportTableRules(t *testing.T) {
	keys := make([]string, 0, len(importTable))
	for k := range importTable {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, from := range keys {
		r := importTable[from]
		for _, to := range r.imports {
			t2, ok := importTable[to]
			switch {
			case !ok:
				t.Errorf("%s's row names %s, which has no row", from, to)
			case t2.layer > r.layer:
				t.Errorf("%s's row lets it import %s, of a higher layer", from, to)
			}
		}
		for _, to := range keys {
			if to == from {
				continue
			}
			if to == "graph/server" && from != "main" && allowed(from, to) {
				t.Errorf("%s may import graph/server: only main may", from)
			}
			if to == "graph/generated" && from != "graph" && from != "graph/server" && from != "main" && allowed(from, to) {
				t.Errorf("%s may import graph/generated: only the resolvers, graph/server and main may", from)
			}
			if strings.HasPrefix(to, "graph") && importTable[from].layer < layerGenerated && allowedInTest(from, to) {
				t.Errorf("%s (or its tests) may import %s: nothing below the GraphQL layer may", from, to)
			}
			if to == "internal/testenv" && allowed(from, to) {
				t.Errorf("%s may import testenv outside tests", from)
			}
		}
	}
	for _, tc := range []struct{ from, to string }{
		{"internal/loader", "internal/publish"}, // a loader that knows a domain
		{"internal/publish", "graph"},           // a domain package that knows the GraphQL layer
		{"internal/notify", "internal/publish"}, // a domain edge against the order
		{"internal/live", "internal/notify"},
		{"internal/search", "internal/publish"},
		{"internal/httpx", "internal/auth"},
		{"internal/config", "internal/apperr"},
		{"graph/generated", "graph"},
		{"graph", "graph/server"},
		{"graph/generated", "graph/server"},
		{"ent/schema", "internal/database"},
		{"bench/cmd/baseline", "graph/server"},
	} {
		if allowed(tc.from, tc.to) {
			t.Errorf("%s may import %s", tc.from, tc.to)
		}
	}
	for _, tc := range []struct{ from, to string }{
		{"graph", "graph/generated"},
		{"graph/server", "graph/generated"},
		{"graph/server", "internal/publish"},
		{"main", "graph/server"},
	} {
		if !allowed(tc.from, tc.to) {
			t.Errorf("%s may not import %s", tc.from, tc.to)
		}
	}
}
