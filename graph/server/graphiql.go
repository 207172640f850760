package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// The GraphiQL page's files, built from the npm packages by scripts/graphiql.sh (`make graphiql`):
// GraphiQL with its web workers and styles, nothing loaded from another origin.
//
//go:embed graphiql
var graphiqlFiles embed.FS

// graphiqlPrefix is where the page's files are served.
const graphiqlPrefix = "/graphiql/"

// graphiqlCSP is the page's Content-Security-Policy: everything from this origin (connect-src 'self'
// also covers ws:/wss: to it, for subscriptions), the workers included. Styles may be inline:
// Monaco positions and colours its lines with style attributes. Images may be data: URLs (the
// icons in GraphiQL's CSS).
const graphiqlCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// graphiqlHeaders is what the headers editor of a new tab holds: the Authorization header, to be
// filled in and uncommented (the editor takes JSON with comments).
const graphiqlHeaders = `{
  // Paste the accessToken from register
  // or login, then remove the // below:
  // "Authorization": "Bearer <accessToken>"
}`

var graphiqlPage = template.Must(template.New("graphiql").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Agora GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.CSS}}">
<script type="application/json" id="graphiql-config">{{.Config}}</script>
<script src="{{.JS}}" defer></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript.</noscript>
</body>
</html>
`))

// hashedName is a file name with esbuild's content hash: such a file never changes.
var hashedName = regexp.MustCompile(`-[A-Z0-9]{8}\.[a-z0-9]+$`)

// graphiqlAsset is one of the page's files, ready to serve.
type graphiqlAsset struct {
	body        []byte
	contentType string
	etag        string
	immutable   bool
}

// graphiQL serves GraphiQL for endpoint: the page at / (opening with defaultQuery) and its files
// under /graphiql/. Without introspection the page asks for no schema (and has no Docs panel).
// routes are the paths it serves, for the metrics.
func graphiQL(endpoint string, introspection bool) (page, assets http.Handler, routes []string) {
	var manifest map[string]string
	if err := json.Unmarshal(mustRead("graphiql/manifest.json"), &manifest); err != nil {
		panic(fmt.Sprintf("graphiql/manifest.json: %v", err))
	}
	files := map[string]graphiqlAsset{}
	entries, err := fs.ReadDir(graphiqlFiles, "graphiql")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		name := e.Name()
		contentType := map[string]string{
			".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
			".ttf": "font/ttf", ".txt": "text/plain; charset=utf-8",
		}[path.Ext(name)]
		if e.IsDir() || contentType == "" {
			continue // manifest.json is for the page, not the browser
		}
		body := mustRead("graphiql/" + name)
		sum := sha256.Sum256(body)
		files[name] = graphiqlAsset{body: body, contentType: contentType,
			etag: `"` + hex.EncodeToString(sum[:12]) + `"`, immutable: hashedName.MatchString(name)}
		routes = append(routes, graphiqlPrefix+name)
	}
	asset := func(role string) string {
		name, ok := manifest[role]
		if _, served := files[name]; !ok || !served {
			panic("graphiql/manifest.json: no " + role)
		}
		return graphiqlPrefix + name
	}
	config, err := json.Marshal(map[string]any{
		"endpoint":      endpoint,
		"introspection": introspection,
		"headers":       graphiqlHeaders,
		"workers": map[string]string{
			"editor":  asset("editor.worker.js"),
			"json":    asset("json.worker.js"),
			"graphql": asset("graphql.worker.js"),
		},
	})
	if err != nil {
		panic(err)
	}
	var html bytes.Buffer
	// json.Marshal escapes <, > and &: the JSON cannot end the script element.
	if err := graphiqlPage.Execute(&html, map[string]any{
		"CSS": asset("graphiql.css"), "JS": asset("graphiql.js"), "Config": template.JS(config),
	}); err != nil {
		panic(err)
	}
	return graphiqlPageHandler(html.Bytes()), graphiqlAssets(files), routes
}

// graphiqlPageHandler serves the page at / (and nothing else there). A bare / is redirected to
// /?query=<defaultQuery>: the page keeps the operation in the address, so a link opens it.
func graphiqlPageHandler(html []byte) http.Handler {
	start := "/?" + url.Values{"query": {defaultQuery}}.Encode()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if !getOrHead(w, r) {
			return
		}
		if r.URL.RawQuery == "" {
			http.Redirect(w, r, start, http.StatusFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", graphiqlCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodHead {
			_, _ = w.Write(html)
		}
	})
}

// graphiqlAssets serves the page's files under /graphiql/: those whose names carry a content hash
// are cached for a year and never revalidated; every file has an ETag.
func graphiqlAssets(files map[string]graphiqlAsset) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[strings.TrimPrefix(r.URL.Path, graphiqlPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if !getOrHead(w, r) {
			return
		}
		h := w.Header()
		h.Set("ETag", f.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if f.immutable {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if etagMatch(r.Header.Get("If-None-Match"), f.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", f.contentType)
		if r.Method != http.MethodHead {
			_, _ = w.Write(f.body)
		}
	})
}

// getOrHead answers 405 to any other method, and says whether the request goes on.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// etagMatch reads If-None-Match: a list of ETags (weak ones compare equal) or *.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func mustRead(name string) []byte {
	b, err := graphiqlFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}
