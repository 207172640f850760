package httpx

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientIP: proxy headers count only when the peer is a trusted proxy, and then the client is
// the right-most address that is not a trusted proxy; whatever a client writes itself (spoofing)
// comes before that and is never taken.
func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("192.168.1.10/32")}
	for _, tc := range []struct {
		name, peer, header string
		values             []string
		trusted            []netip.Prefix
		want               string
	}{
		{"no proxies trusted: the header is ignored", "203.0.113.7:5000", "X-Forwarded-For", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"an untrusted peer's header is ignored (spoofing)", "203.0.113.7:5000", "X-Forwarded-For", []string{"198.51.100.1"}, trusted, "203.0.113.7"},
		{"an untrusted peer's Forwarded is ignored", "203.0.113.7:5000", "Forwarded", []string{"for=198.51.100.1"}, trusted, "203.0.113.7"},
		{"a trusted proxy names the client", "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"a spoofed address before the proxy's is skipped", "10.0.0.2:5000", "X-Forwarded-For", []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"through two trusted proxies", "10.0.0.2:5000", "X-Forwarded-For", []string{"1.2.3.4, 198.51.100.1, 10.0.0.9"}, trusted, "198.51.100.1"},
		{"several header lines are one list", "10.0.0.2:5000", "X-Forwarded-For", []string{"1.2.3.4", "198.51.100.1,192.168.1.10"}, trusted, "198.51.100.1"},
		{"every hop trusted: the left-most", "10.0.0.2:5000", "X-Forwarded-For", []string{"10.1.1.1, 10.0.0.9"}, trusted, "10.1.1.1"},
		{"no header: the proxy itself", "10.0.0.2:5000", "X-Forwarded-For", nil, trusted, "10.0.0.2"},
		{"garbage: the nearest trusted hop", "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.1, nonsense, 10.0.0.9"}, trusted, "10.0.0.9"},
		{"the other header is not read", "10.0.0.2:5000", "Forwarded", nil, trusted, "10.0.0.2"},
		{"Forwarded for=", "10.0.0.2:5000", "Forwarded", []string{`for=1.2.3.4, for=198.51.100.1;proto=https;by=10.0.0.2`}, trusted, "198.51.100.1"},
		{"Forwarded IPv6 with a port", "[fd00::1]:443", "Forwarded", []string{`for="[2001:db8:cafe::17]:4711"`}, trusted, "2001:db8:cafe::17"},
		{"Forwarded unknown", "10.0.0.2:5000", "Forwarded", []string{`for=unknown`}, trusted, "10.0.0.2"},
		{"IPv4 with a port in X-Forwarded-For", "10.0.0.2:5000", "X-Forwarded-For", []string{"198.51.100.1:4711"}, trusted, "198.51.100.1"},
		{"IPv4-mapped IPv6 peer", "[::ffff:10.0.0.2]:5000", "X-Forwarded-For", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
			r.RemoteAddr = tc.peer
			other := "Forwarded"
			if tc.header == "Forwarded" {
				other = "X-Forwarded-For"
			}
			for _, v := range tc.values {
				r.Header.Add(tc.header, v)
			}
			header := tc.header
			if tc.name == "the other header is not read" {
				r.Header.Set(other, "198.51.100.1")
			}
			if got := ClientIP(r, tc.trusted, header); got != tc.want {
				t.Errorf("ClientIP = %s, want %s", got, tc.want)
			}
			var seen string
			Proxied(tc.trusted, header, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = ClientAddr(r.Context()) })).ServeHTTP(httptest.NewRecorder(), r)
			if seen != tc.want {
				t.Errorf("Proxied noted %s, want %s", seen, tc.want)
			}
		})
	}
}
