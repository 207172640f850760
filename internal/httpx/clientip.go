package httpx

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type clientAddrKey struct{}

// ClientAddr returns the client address Proxied found for the request, or "" outside it.
func ClientAddr(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}

// Proxied notes each request's client address (ClientAddr) for rate limits and sign-in limits.
// The peer is the client unless it is one of trusted: then it is a proxy, and the client is the
// right-most address of header (X-Forwarded-For, or Forwarded's for=) that is not trusted, since
// each trusted proxy appends the address it got the request from, and what a client writes in the
// header itself comes before those. Without trusted proxies the header is ignored: anyone could
// write it.
func Proxied(trusted []netip.Prefix, header string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := ClientIP(r, trusted, header)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, ip)))
	})
}

// ClientIP is the address of the client that sent r (see Proxied): the peer's, or, when the peer
// is a trusted proxy, the right-most untrusted address in header. An address the header cannot
// give (missing, "unknown", an obfuscated name) leaves the nearest trusted proxy as the client.
func ClientIP(r *http.Request, trusted []netip.Prefix, header string) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(trusted, peer) {
		return host
	}
	var hops []string
	if strings.EqualFold(header, "Forwarded") {
		hops = forwardedFor(r.Header.Values("Forwarded"))
	} else {
		for _, line := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(line, ",")...)
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !isTrusted(trusted, a) {
			break
		}
	}
	return client.String()
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor lists the for= parameters of Forwarded header lines (RFC 7239), in order.
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, element := range strings.Split(line, ",") {
			for _, pair := range strings.Split(element, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// parseHop reads one address of X-Forwarded-For or Forwarded: 192.0.2.60, "192.0.2.60:4711",
// "[2001:db8::17]:4711", 2001:db8::17.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}
