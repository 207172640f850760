package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/agora/agora/internal/apperr"
)

// body is a request body read into memory by LimitBody, so that later handlers can look at it
// without reading it again.
type body struct {
	*bytes.Reader
	b []byte
}

func (body) Close() error { return nil }

// NewBody is a request body holding b, which Body returns without reading it.
func NewBody(b []byte) io.ReadCloser { return newBody(b) }

func newBody(b []byte) *body { return &body{Reader: bytes.NewReader(b), b: b} }

// Body returns the request's body without consuming it.
func Body(r *http.Request) ([]byte, error) {
	if b, ok := r.Body.(*body); ok {
		return b.b, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body = newBody(b)
	return b, err
}

// LimitBody reads request bodies of up to n bytes into memory and answers larger ones with 413
// and the code PAYLOAD_TOO_LARGE, before anything parses them.
func LimitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tooLarge := func() {
			WriteError(w, r, http.StatusRequestEntityTooLarge, apperr.CodePayloadTooLarge,
				fmt.Sprintf("the request body is larger than %d bytes", n), map[string]any{"maxBytes": n})
		}
		if r.ContentLength > n {
			tooLarge()
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, n+1))
		switch {
		case err != nil:
			WriteError(w, r, http.StatusBadRequest, apperr.CodeBadRequest, "the request body could not be read", nil)
		case int64(len(b)) > n:
			tooLarge()
		default:
			r.Body = newBody(b)
			next.ServeHTTP(w, r)
		}
	})
}

// CSRF prevention follows Apollo Server's rule: a browser sends a cross-site request without a
// CORS preflight only when its Content-Type is absent or one of these, and it carries no
// custom header. Such a request must name one of csrfHeaders, which forces a preflight.
var (
	simpleContentTypes = []string{"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
	csrfHeaders        = []string{"X-Apollo-Operation-Name", "Apollo-Require-Preflight", "GraphQL-Require-Preflight"}
)

// PreventCSRF refuses requests a browser could send from any site without a preflight (GET
// without a Content-Type, form and text/plain POSTs, uploads as multipart/form-data) unless they
// carry a non-empty X-Apollo-Operation-Name, Apollo-Require-Preflight or GraphQL-Require-Preflight
// header: 400 with CSRF_PREVENTED.
// WebSocket upgrades, and GETs asking for an event stream (AsksEventStream), are left to the
// origin check of the stream handler: only a page's script can send either, and a script's
// cross-origin request names its Origin.
func PreventCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions || r.Header.Get("Upgrade") != "" ||
			(r.Method == http.MethodGet && AsksEventStream(r)) || preflighted(r) {
			next.ServeHTTP(w, r)
			return
		}
		WriteError(w, r, http.StatusBadRequest, apperr.CodeCSRFPrevented,
			"this request has been blocked as a potential cross-site request forgery: send a Content-Type "+
				"other than "+strings.Join(simpleContentTypes, ", ")+" (e.g. application/json), or a non-empty "+
				strings.Join(csrfHeaders, " or ")+" header", nil)
	})
}

// AsksEventStream reports whether a request names text/event-stream in its Accept. Navigations,
// images and forms cannot ask for it: only scripts (EventSource, fetch) can.
func AsksEventStream(r *http.Request) bool {
	return strings.Contains(strings.ToLower(strings.Join(r.Header.Values("Accept"), ",")), "text/event-stream")
}

func preflighted(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		return true // browsers preflight every other method (PUT, DELETE: graphql-sse's single-connection mode)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		// A browser judges a Content-Type by its media type alone: "text/plain; x" needs no
		// preflight, though its parameter does not parse. ParseMediaType returns the type then.
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
			return true // browsers cannot send an unparseable type without a preflight
		}
		simple := false
		for _, s := range simpleContentTypes {
			simple = simple || mt == s
		}
		if !simple {
			return true
		}
	}
	for _, h := range csrfHeaders {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// OriginAllowed reports whether a request may come from its Origin: non-browser clients (no
// Origin), pages of the API's own host, and pages whose host matches one of patterns (path.Match
// syntax, e.g. app.example.com or *.example.org).
func OriginAllowed(patterns []string, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || MatchOrigin(patterns, u)
}

// MatchOrigin reports whether an origin (scheme://host[:port]) matches one of the patterns. A
// pattern with a scheme ("http://localhost:5173") matches that scheme only; a bare host pattern
// ("app.example.com", "*.example.org") matches https, and http only on this machine's own names
// (localhost, 127.0.0.1, [::1]), where development servers have no TLS. So an http:// page of an
// allowed site, which anyone on the network path could have written, is not an allowed origin.
func MatchOrigin(patterns []string, origin *url.URL) bool {
	scheme, host := strings.ToLower(origin.Scheme), strings.ToLower(origin.Host)
	if scheme != "https" && scheme != "http" || host == "" {
		return false
	}
	for _, pattern := range patterns {
		pattern = strings.ToLower(pattern)
		want, hostPattern, hasScheme := strings.Cut(pattern, "://")
		if !hasScheme {
			want, hostPattern = "https", pattern
			if scheme == "http" && loopback(origin.Hostname()) {
				want = "http"
			}
		}
		if ok, _ := path.Match(hostPattern, host); ok && want == scheme {
			return true
		}
	}
	return false
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CORS lets pages of the hosts patterns match call the API from the browser (with credentials,
// the refresh cookie, when credentials is true): it answers their preflights (any method the API serves, the headers they ask for, cached 10
// minutes) and marks their responses readable. Other origins get no CORS headers (the browser
// keeps the answer from the page) and their preflights are refused with 403. Responses vary by
// Origin.
func CORS(patterns []string, credentials bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		u, err := url.Parse(origin)
		allowed := origin != "" && err == nil && MatchOrigin(patterns, u)
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			if credentials {
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			// What an SPA reads of an answer: the request ID to quote, and its rate-limit budget.
			h.Set("Access-Control-Expose-Headers", "X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, Retry-After")
		}
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if !allowed {
			WriteError(w, r, http.StatusForbidden, apperr.CodeForbidden, "this origin may not call the API: see AGORA_ALLOWED_ORIGINS", nil)
			return
		}
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}
