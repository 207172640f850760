package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/agora/agora/internal/config"
)

// graphiqlPage fetches GraphiQL's page the way a browser does (/ redirects to /?query=…) and
// returns it with its response.
func graphiqlPage(t *testing.T, a *api) (*http.Response, string) {
	t.Helper()
	res, _ := httpGet(t, a.srv.URL+"/")
	if res.StatusCode != http.StatusFound {
		t.Fatalf("GET /: want 302, got %d", res.StatusCode)
	}
	res, body := httpGet(t, a.srv.URL+res.Header.Get("Location"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", res.Request.URL, res.StatusCode, body)
	}
	return res, string(body)
}

var (
	pageRefs      = regexp.MustCompile(`(?:src|href)="([^"]*)"`)
	pageConfig    = regexp.MustCompile(`(?s)<script type="application/json" id="graphiql-config">(.*?)</script>`)
	stylesheetURL = regexp.MustCompile(`url\(\s*["']?([^"')]+)`)
)

// graphiqlConfig is the page's settings for the bundle (scripts/graphiql/main.jsx).
type graphiqlConfig struct {
	Endpoint      string
	Introspection bool
	Headers       string
	Workers       map[string]string
}

func parseGraphiQLConfig(t *testing.T, page string) graphiqlConfig {
	t.Helper()
	m := pageConfig.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no graphiql-config in the page:\n%s", page)
	}
	var c graphiqlConfig
	if err := json.Unmarshal([]byte(m[1]), &c); err != nil {
		t.Fatalf("graphiql-config: %v\n%s", err, m[1])
	}
	return c
}

// TestGraphiQLOffline: GraphiQL's page and every file it loads come from Agora itself (no CDN, no
// other origin), under a strict Content-Security-Policy; the files are served with their content
// types, long-lived caching and ETags; the page carries what the bundle needs (the endpoint, the
// workers, the Authorization placeholder, introspection or not). In production (GraphiQL off) the
// page and its files are 404.
func TestGraphiQLOffline(t *testing.T) {
	t.Parallel()
	dev := sqliteAPI(t, func(*config.Config) {})
	res, page := graphiqlPage(t, dev)

	if mt := contentMediaType(t, res); mt != "text/html" {
		t.Errorf("page: Content-Type %s", mt)
	}
	for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("page: %s %q, want %q", name, got, want)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'",
		"worker-src 'self'", "font-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, directive+";") && !strings.HasSuffix(csp, directive) {
			t.Errorf("page: Content-Security-Policy %q lacks %q", csp, directive)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page names another origin:\n%s", page)
	}

	// What the page loads: its own src and href, and the workers its script starts.
	cfg := parseGraphiQLConfig(t, page)
	var assets []string
	for _, m := range pageRefs.FindAllStringSubmatch(page, -1) {
		if strings.HasPrefix(m[1], "data:") {
			continue
		}
		assets = append(assets, m[1])
	}
	for _, role := range []string{"editor", "json", "graphql"} {
		if cfg.Workers[role] == "" {
			t.Errorf("graphiql-config: no %s worker: %+v", role, cfg.Workers)
		}
		assets = append(assets, cfg.Workers[role])
	}
	if cfg.Endpoint != "/graphql" || !cfg.Introspection || !strings.Contains(cfg.Headers, `"Authorization": "Bearer <accessToken>"`) {
		t.Errorf("graphiql-config: %+v", cfg)
	}

	wantType := map[string]string{".js": "text/javascript", ".css": "text/css", ".ttf": "font/ttf"}
	var js, css int
	for i := 0; i < len(assets); i++ {
		u, err := url.Parse(assets[i])
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/graphiql/") {
			t.Errorf("%q: not a file of Agora's under /graphiql/", assets[i])
			continue
		}
		res, body := httpGet(t, dev.srv.URL+u.Path)
		ext := u.Path[strings.LastIndex(u.Path, "."):]
		if res.StatusCode != http.StatusOK || contentMediaType(t, res) != wantType[ext] || len(body) == 0 {
			t.Errorf("GET %s: %d %s, %d bytes", u.Path, res.StatusCode, res.Header.Get("Content-Type"), len(body))
			continue
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", u.Path, cc)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", u.Path)
		}
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", u.Path)
		} else {
			res, _ := send(t, http.MethodGet, dev.srv.URL+u.Path, "", map[string]string{"If-None-Match": etag})
			if res.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match: want 304, got %d", u.Path, res.StatusCode)
			}
		}
		switch ext {
		case ".js":
			js++
		case ".css":
			css++
			// The stylesheet's own references (Monaco's icon font): same origin, served too.
			for _, m := range stylesheetURL.FindAllStringSubmatch(string(body), -1) {
				if strings.HasPrefix(m[1], "data:") {
					continue
				}
				ref, err := u.Parse(m[1])
				if err != nil {
					t.Errorf("%s: url(%s): %v", u.Path, m[1], err)
					continue
				}
				assets = append(assets, ref.String())
			}
		}
	}
	if js != 4 || css != 1 || len(assets) != 6 {
		t.Errorf("want the page's script, 3 workers, a stylesheet and its font; got %q", assets)
	}

	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, assets[0]},
		{http.MethodGet, "/graphiql/manifest.json"},
		{http.MethodGet, "/graphiql/nope.js"},
	} {
		res, _ := send(t, tc.method, dev.srv.URL+tc.path, "", nil)
		if want := map[string]int{http.MethodPost: http.StatusMethodNotAllowed, http.MethodGet: http.StatusNotFound}[tc.method]; res.StatusCode != want {
			t.Errorf("%s %s: want %d, got %d", tc.method, tc.path, want, res.StatusCode)
		}
	}

	t.Run("without introspection", func(t *testing.T) {
		t.Parallel()
		a := sqliteAPI(t, func(c *config.Config) { c.GraphQL.Introspection = false })
		if _, page := graphiqlPage(t, a); parseGraphiQLConfig(t, page).Introspection {
			t.Error("graphiql-config: introspection on, though the server refuses it")
		}
	})

	t.Run("production", func(t *testing.T) {
		t.Parallel()
		prod := sqliteAPI(t, func(c *config.Config) {
			c.GraphQL.Introspection, c.GraphQL.FieldSuggestions, c.GraphQL.GraphiQL = false, false, false
		})
		for _, p := range append([]string{"/", "/?query=%7B__typename%7D"}, assets...) {
			if res, _ := httpGet(t, prod.srv.URL+p); res.StatusCode != http.StatusNotFound {
				t.Errorf("production: GET %s: want 404, got %d", p, res.StatusCode)
			}
		}
	})
}
