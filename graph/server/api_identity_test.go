package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/agora/agora/graph/server"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// clientPage is the client page sign-ins return to in these tests (AGORA_SIGNIN_REDIRECT_URLS).
const clientPage = "http://app.test/signed-in"

// idp is Agora with a real OpenID provider (mockoidc, over HTTP, with its own keys) and a GitHub
// speaking GitHub's OAuth and REST shapes, all started by the test.
type idp struct {
	*api
	oidc    *mockoidc.MockOIDC
	github  *githubServer
	public  string // Agora's address
	mailDir string // where Agora's mail is written

	// tamper, when set, rewrites the ID token the provider's token endpoint answers with.
	tamper atomic.Pointer[func(claims jwt.MapClaims) *rsa.PrivateKey]
}

func newIdP(t *testing.T, dialect string, configure func(*config.Config)) *idp {
	t.Helper()
	o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")}
	if dialect == "postgres" {
		o = database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10}
	}
	db := openDB(t, o)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	x := &idp{github: newGitHubServer(t)}
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.AddMiddleware(x.tamperTokens)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	x.oidc = m

	srv := httptest.NewUnstartedServer(nil)
	x.public = "http://" + srv.Listener.Addr().String()
	cfg := testConfig()
	x.mailDir = t.TempDir()
	cfg.Mail.Dir, cfg.Mail.BaseURL = x.mailDir, "http://app.test"
	cfg.Identity = config.Identity{
		PublicURL:    x.public,
		RedirectURLs: []string{clientPage},
		OIDC: []config.OIDCProvider{{Name: "local", DisplayName: "Local IdP", Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecret: m.ClientSecret},
			// An issuer nobody answers at: a provider that is down.
			{Name: "down", DisplayName: "Down", Issuer: "http://127.0.0.1:9/oidc", ClientID: "c", ClientSecret: "s"}},
		GitHub: config.GitHub{ClientID: "gh-client", ClientSecret: "gh-secret", WebURL: x.github.URL, APIURL: x.github.URL},
	}
	if configure != nil {
		configure(&cfg)
	}
	app, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	startJobs(t, app)
	srv.Config.Handler = app.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	x.api = &api{GraphQL: testenv.GraphQL{URL: srv.URL + "/graphql"}, srv: srv, db: db, accounts: app.Accounts, live: app.Live, jobs: app.Queue}
	return x
}

// tamperTokens lets a test replace the provider's ID token by one with other claims, signed by the
// provider's own key or by the key tamper returns: what a token minted for another client, or
// forged, looks like to Agora.
func (x *idp) tamperTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := x.tamper.Load()
		if f == nil || r.URL.Path != mockoidc.TokenEndpoint {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["id_token"] == nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(body["id_token"].(string), claims); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if key := (*f)(claims); key != nil {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
			kid, _ := x.oidc.Keypair.KeyID()
			tok.Header["kid"] = kid
			body["id_token"], _ = tok.SignedString(key)
		} else {
			body["id_token"], _ = x.oidc.Keypair.SignJWT(claims)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
}

// browser follows redirects one by one with its own cookies, like a browser tab.
type browser struct {
	t   *testing.T
	c   *http.Client
	log []string
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// visit opens u and follows redirects until stop says so (returning the URL it would go to next),
// or until a page answers (returning its status and body, and a nil URL).
func (b *browser) visit(u string, stop func(*url.URL) bool) (*url.URL, int, string) {
	b.t.Helper()
	for range 10 {
		b.log = append(b.log, u)
		res, err := b.c.Get(u)
		if err != nil {
			b.t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
			return nil, res.StatusCode, string(body)
		}
		next, err := res.Request.URL.Parse(res.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		if next.Host == "app.test" || (stop != nil && stop(next)) {
			return next, res.StatusCode, ""
		}
		u = next.String()
	}
	b.t.Fatalf("too many redirects: %v", b.log)
	return nil, 0, ""
}

// signIn runs a whole sign-in through provider in a new browser and returns where it ended on
// the client page.
func (x *idp) signIn(t *testing.T, c testenv.GraphQL, provider string) url.Values {
	t.Helper()
	return x.flow(t, c, "startSignIn", provider)
}

func (x *idp) flow(t *testing.T, c testenv.GraphQL, mutation, provider string) url.Values {
	t.Helper()
	start := x.start(t, c, mutation, provider)
	landed, status, body := newBrowser(t).visit(start, nil)
	if landed == nil {
		t.Fatalf("the sign-in ended on a page (%d %s), not on the client page", status, body)
	}
	if got := landed.Scheme + "://" + landed.Host + landed.Path; got != clientPage {
		t.Fatalf("sent to %s, want %s", got, clientPage)
	}
	return landed.Query()
}

// start asks Agora for the URL that begins a sign-in (startSignIn) or a linking (linkIdentity).
func (x *idp) start(t *testing.T, c testenv.GraphQL, mutation, provider string) string {
	t.Helper()
	var out map[string]struct{ AuthorizationURL string }
	c.Do(t, `mutation($p: String!, $r: String!) { `+mutation+`(input: {provider: $p, redirectURI: $r}) { authorizationURL } }`,
		map[string]any{"p": provider, "r": clientPage}, &out)
	return out[mutation].AuthorizationURL
}

// complete trades a ticket for a session and returns its access token.
func (x *idp) complete(t *testing.T, ticket string) string {
	t.Helper()
	var out struct {
		CompleteSignIn struct{ AccessToken, RefreshToken string }
	}
	x.Do(t, `mutation($t: String!) { completeSignIn(input: {ticket: $t}) { accessToken refreshToken } }`, map[string]any{"t": ticket}, &out)
	if out.CompleteSignIn.AccessToken == "" || out.CompleteSignIn.RefreshToken == "" {
		t.Fatalf("completeSignIn gave no tokens: %+v", out)
	}
	return out.CompleteSignIn.AccessToken
}

type viewerIdentities struct {
	Viewer *struct {
		Username    string
		HasPassword bool
		Identities  []struct{ Provider, Email string }
		Sessions    []struct{ Current bool }
	}
}

func (x *idp) viewer(t *testing.T, token string) viewerIdentities {
	t.Helper()
	var out viewerIdentities
	x.As(token).Do(t, `{ viewer { username hasPassword identities { provider email } sessions { current } } }`, nil, &out)
	if out.Viewer == nil {
		t.Fatal("no viewer")
	}
	return out
}

// rows counts what a refused sign-in must not create.
func (x *idp) rows(t *testing.T) [3]int {
	return [3]int{x.count(t, "users"), x.count(t, "identities"), x.count(t, "sessions")}
}

func oidcUser(sub, email string, verified bool, username string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: sub, Email: email, EmailVerified: verified, PreferredUsername: username}
}

// TestSignInOIDC drives the whole redirect flow against a real OpenID provider: a new identity
// creates an account and signs in like login; the same identity signs in to it again; a verified
// email of an existing account is refused, never linked silently; that account links it after
// signing in; an identity cannot be linked to two accounts; unlinking keeps a way to sign in.
func TestSignInOIDC(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		x := newIdP(t, dialect, nil)
		var providers struct {
			Providers []struct{ Name, DisplayName string }
		}
		x.Do(t, `{ providers { name displayName } }`, nil, &providers)
		if len(providers.Providers) != 3 || providers.Providers[0].Name != "local" || providers.Providers[0].DisplayName != "Local IdP" || providers.Providers[2].Name != "github" {
			t.Fatalf("providers: %+v", providers)
		}

		// A new identity: a new account, named after the provider's username, without a password.
		x.oidc.QueueUser(oidcUser("ada-sub", "Ada@Example.com", true, "Ada.L"))
		q := x.signIn(t, x.GraphQL, "local")
		if q.Get("ticket") == "" {
			t.Fatalf("no ticket: %v", q)
		}
		ada := x.complete(t, q.Get("ticket"))
		v := x.viewer(t, ada).Viewer
		if v.Username != "ada_l" || v.HasPassword || len(v.Identities) != 1 || v.Identities[0].Provider != "local" ||
			v.Identities[0].Email != "ada@example.com" || len(v.Sessions) != 1 || !v.Sessions[0].Current {
			t.Fatalf("the new account: %+v", v)
		}
		// No password opens it: the empty one included.
		for _, pw := range []string{"", "password"} {
			x.Fail(t, "UNAUTHENTICATED", "", `mutation($p: String!) { login(input: {usernameOrEmail: "ada_l", password: $p}) { accessToken } }`, map[string]any{"p": pw})
		}
		x.As(ada).Fail(t, "BAD_USER_INPUT", "currentPassword", `mutation { changePassword(input: {currentPassword: "", newPassword: "new-password"}) { revokedSessionCount } }`, nil)
		// The ticket works once.
		x.Fail(t, "UNAUTHENTICATED", "ticket", `mutation($t: String!) { completeSignIn(input: {ticket: $t}) { accessToken } }`, map[string]any{"t": q.Get("ticket")})

		// The same identity again: the same account, a second session; a clashing username is
		// derived anew for a new one.
		before := x.rows(t)
		x.oidc.QueueUser(oidcUser("ada-sub", "ada@example.com", true, "someone-else"))
		again := x.complete(t, x.signIn(t, x.GraphQL, "local").Get("ticket"))
		if v := x.viewer(t, again).Viewer; v.Username != "ada_l" || len(v.Sessions) != 2 {
			t.Fatalf("signed in again as %+v", v)
		}
		if after := x.rows(t); after[0] != before[0] || after[1] != before[1] {
			t.Fatalf("signing in again created users or identities: %v → %v", before, after)
		}
		x.oidc.QueueUser(oidcUser("other-ada", "ada2@example.com", true, "ada_l"))
		clash := x.complete(t, x.signIn(t, x.GraphQL, "local").Get("ticket"))
		if name := x.viewer(t, clash).Viewer.Username; name == "ada_l" || !strings.HasPrefix(name, "ada_l_") {
			t.Fatalf("a clashing username became %q", name)
		}

		// An identity whose verified email is an existing account's: refused, nothing created.
		bob := x.register(t, "bob")
		before = x.rows(t)
		x.oidc.QueueUser(oidcUser("bob-sub", "bob@example.com", true, "bob"))
		if q := x.signIn(t, x.GraphQL, "local"); q.Get("error") != "ACCOUNT_EXISTS" || q.Get("confirmation") != "sent" || q.Get("ticket") != "" {
			t.Fatalf("silent linking by email: %v", q)
		}
		// Again: the owner is not mailed twice for one identity.
		x.oidc.QueueUser(oidcUser("bob-sub", "bob@example.com", true, "bob"))
		if q := x.signIn(t, x.GraphQL, "local"); q.Get("error") != "ACCOUNT_EXISTS" || q.Get("confirmation") != "sent" {
			t.Fatalf("a second try: %v", q)
		}
		// Nor with the address unverified: then it cannot create an account either.
		x.oidc.QueueUser(oidcUser("bob-sub", "bob@example.com", false, "bob"))
		if q := x.signIn(t, x.GraphQL, "local"); q.Get("error") != "EMAIL_UNVERIFIED" {
			t.Fatalf("an unverified address: %v", q)
		}
		if after := x.rows(t); after != before {
			t.Fatalf("refused sign-ins changed users, identities, sessions: %v → %v", before, after)
		}

		if n := len(x.mails(t)); n != 1 {
			t.Fatalf("%d mails for the refused sign-ins, want the one confirmation", n)
		}

		// Bob proves the account is his by being signed in, and links the identity.
		x.oidc.QueueUser(oidcUser("bob-sub", "bob@example.com", true, "bob"))
		if q := x.flow(t, x.as(bob), "linkIdentity", "local"); q.Get("linked") != "local" {
			t.Fatalf("linking: %v", q)
		}
		x.oidc.QueueUser(oidcUser("bob-sub", "bob@example.com", true, "bob"))
		if v := x.viewer(t, x.complete(t, x.signIn(t, x.GraphQL, "local").Get("ticket"))).Viewer; v.Username != "bob" || !v.HasPassword || len(v.Identities) != 1 {
			t.Fatalf("bob through the provider: %+v", v)
		}
		// Or Bob confirms by the mail he was sent, for another identity with his address.
		seen := map[string]bool{}
		for _, m := range x.mails(t) {
			seen[m.text] = true
		}
		x.oidc.QueueUser(oidcUser("bob-second", "bob@example.com", true, "bob"))
		if q := x.signIn(t, x.GraphQL, "local"); q.Get("error") != "ACCOUNT_EXISTS" || q.Get("confirmation") != "sent" {
			t.Fatalf("another identity of Bob's: %v", q)
		}
		mails := x.mails(t)
		token := ""
		for _, m := range mails {
			if m.to == "bob@example.com" && !seen[m.text] && strings.Contains(m.text, "http://app.test/link-identity?token=") {
				token = regexp.MustCompile(`link-identity\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(m.text)[1]
			}
		}
		if len(mails) != 2 || token == "" {
			t.Fatalf("want a second confirmation mail with a link, got %+v", mails)
		}
		confirm := `mutation($t: String!) { confirmIdentityLink(input: {token: $t}) { provider } }`
		var confirmed struct{ ConfirmIdentityLink struct{ Provider string } }
		x.Do(t, confirm, map[string]any{"t": token}, &confirmed)
		if confirmed.ConfirmIdentityLink.Provider != "local" {
			t.Fatalf("confirmed %+v", confirmed)
		}
		x.Fail(t, "BAD_USER_INPUT", "token", confirm, map[string]any{"t": token}) // once
		x.oidc.QueueUser(oidcUser("bob-second", "bob@example.com", true, "bob"))
		q = x.signIn(t, x.GraphQL, "local")
		if q.Get("ticket") == "" {
			t.Fatalf("bob through his second identity: %v", q)
		}
		if v := x.viewer(t, x.complete(t, q.Get("ticket"))).Viewer; v.Username != "bob" || len(v.Identities) != 2 {
			t.Fatalf("bob through his second identity: %+v", v)
		}
		x.as(bob).Do(t, `mutation { unlinkIdentity(input: {provider: "local"}) { user { id } } }`, nil, nil) // one of the two

		// Ada's identity cannot be linked to Bob's account as well.
		before = x.rows(t)
		x.oidc.QueueUser(oidcUser("ada-sub", "ada@example.com", true, "ada"))
		if q := x.flow(t, x.as(bob), "linkIdentity", "local"); q.Get("error") != "IDENTITY_IN_USE" {
			t.Fatalf("linking someone else's identity: %v", q)
		}
		if after := x.rows(t); after != before {
			t.Fatalf("a refused link changed rows: %v → %v", before, after)
		}

		// Unlinking: not Ada's only way in, until she sets a password.
		unlink := `mutation { unlinkIdentity(input: {provider: "local"}) { user { username } } }`
		e := x.As(ada).Fail(t, "CONFLICT", "provider", unlink, nil)
		if e.Extensions["reason"] != "LAST_SIGN_IN_METHOD" {
			t.Fatalf("reason %v", e.Extensions["reason"])
		}
		x.As(ada).Fail(t, "BAD_USER_INPUT", "newPassword", `mutation { setPassword(input: {newPassword: "short"}) { user { id } } }`, nil)
		x.As(ada).Do(t, `mutation { setPassword(input: {newPassword: "ada-password"}) { user { id } } }`, nil, nil)
		x.As(ada).Fail(t, "CONFLICT", "newPassword", `mutation { setPassword(input: {newPassword: "another-password"}) { user { id } } }`, nil)
		x.As(ada).Do(t, unlink, nil, nil)
		if v := x.viewer(t, ada).Viewer; len(v.Identities) != 0 || !v.HasPassword {
			t.Fatalf("after unlinking: %+v", v)
		}
		x.Do(t, `mutation { login(input: {usernameOrEmail: "ada_l", password: "ada-password"}) { accessToken } }`, nil, nil)
		x.As(ada).Fail(t, "NOT_FOUND", "provider", unlink, nil)
		// Bob has a password: his only identity may go.
		x.as(bob).Do(t, unlink, nil, nil)
	})
}

// eachDialect runs fn on PostgreSQL and on SQLite, in parallel.
func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, name := range []string{"postgres", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, name)
		})
	}
}

// TestSignInRefusals: each attack and fault is refused with its code, and creates nothing.
func TestSignInRefusals(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		x := newIdP(t, dialect, nil)
		before := x.rows(t)
		start := `mutation($p: String!, $r: String!) { startSignIn(input: {provider: $p, redirectURI: $r}) { authorizationURL } }`
		reason := func(e testenv.Error, want string) {
			t.Helper()
			if e.Extensions["reason"] != want {
				t.Fatalf("reason %v, want %s (%s)", e.Extensions["reason"], want, e.Message)
			}
		}

		// An unknown provider, a client page not allowed, a provider that is down.
		reason(x.Fail(t, "BAD_USER_INPUT", "provider", start, map[string]any{"p": "nope", "r": clientPage}), "UNKNOWN_PROVIDER")
		reason(x.Fail(t, "BAD_USER_INPUT", "redirectURI", start, map[string]any{"p": "local", "r": "https://evil.test/steal"}), "REDIRECT_NOT_ALLOWED")
		reason(x.Fail(t, "SERVICE_UNAVAILABLE", "provider", start, map[string]any{"p": "down", "r": clientPage}), "PROVIDER_UNAVAILABLE")
		if _, status, body := newBrowser(t).visit(x.public+"/auth/callback/nope?state=x&code=y", nil); status != http.StatusNotFound || !strings.HasPrefix(body, "UNKNOWN_PROVIDER") {
			t.Fatalf("callback of an unknown provider: %d %s", status, body)
		}

		// Stops a browser where the provider sends it back to Agora, with the code and state.
		atCallback := func(u *url.URL) bool { return strings.HasPrefix(u.Path, "/auth/callback/") }
		x.oidc.QueueUser(oidcUser("eve-sub", "eve@example.com", true, "eve"))
		victim := newBrowser(t)
		cb, _, _ := victim.visit(x.start(t, x.GraphQL, "startSignIn", "local"), atCallback)
		if cb == nil || cb.Query().Get("code") == "" {
			t.Fatalf("no callback: %v", victim.log)
		}

		// A wrong state.
		wrong := *cb
		q := wrong.Query()
		q.Set("state", "forged")
		wrong.RawQuery = q.Encode()
		if _, status, body := victim.visit(wrong.String(), nil); status != http.StatusBadRequest || !strings.HasPrefix(body, "STATE_INVALID") {
			t.Fatalf("wrong state: %d %s", status, body)
		}
		// The right state in another browser (login CSRF: an attacker's callback URL opened in the
		// victim's browser): it lacks the cookie binding the flow.
		if _, status, body := newBrowser(t).visit(cb.String(), nil); status != http.StatusBadRequest || !strings.HasPrefix(body, "STATE_INVALID") {
			t.Fatalf("another browser's callback: %d %s", status, body)
		}
		// The start link works once: another browser cannot bind the flow to itself.
		link := x.start(t, x.GraphQL, "startSignIn", "local")
		x.oidc.QueueUser(oidcUser("eve-sub", "eve@example.com", true, "eve"))
		newBrowser(t).visit(link, atCallback)
		if _, status, body := newBrowser(t).visit(link, nil); status != http.StatusBadRequest || !strings.HasPrefix(body, "STATE_INVALID") {
			t.Fatalf("a start link used twice: %d %s", status, body)
		}
		if after := x.rows(t); after != before {
			t.Fatalf("refusals created rows: %v → %v", before, after)
		}

		// The genuine callback works once; replaying it (code and state) is refused.
		landed, _, _ := victim.visit(cb.String(), nil)
		if landed == nil || landed.Query().Get("ticket") == "" {
			t.Fatalf("the genuine callback: %v", victim.log)
		}
		before = x.rows(t)
		if _, status, body := victim.visit(cb.String(), nil); status != http.StatusBadRequest || !strings.HasPrefix(body, "STATE_INVALID") {
			t.Fatalf("replayed callback: %d %s", status, body)
		}
		// A used code with a fresh flow's state: the provider refuses it.
		fresh := newBrowser(t)
		x.oidc.QueueUser(oidcUser("mallory-sub", "mallory@example.com", true, "mallory"))
		cb2, _, _ := fresh.visit(x.start(t, x.GraphQL, "startSignIn", "local"), atCallback)
		q = cb2.Query()
		q.Set("code", cb.Query().Get("code"))
		cb2.RawQuery = q.Encode()
		if landed, _, _ := fresh.visit(cb2.String(), nil); landed == nil || landed.Query().Get("error") != "CODE_INVALID" {
			t.Fatalf("a replayed code: %v", fresh.log)
		}

		// ID tokens that fail verification: for another client, expired, signed by another key,
		// with another nonce.
		otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name   string
			tamper func(jwt.MapClaims) *rsa.PrivateKey
		}{
			{"another audience", func(c jwt.MapClaims) *rsa.PrivateKey { c["aud"] = "another-client"; return nil }},
			{"expired", func(c jwt.MapClaims) *rsa.PrivateKey {
				c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
				return nil
			}},
			{"another issuer", func(c jwt.MapClaims) *rsa.PrivateKey { c["iss"] = "https://evil.test"; return nil }},
			{"forged signature", func(jwt.MapClaims) *rsa.PrivateKey { return otherKey }},
			{"another nonce", func(c jwt.MapClaims) *rsa.PrivateKey { c["nonce"] = "replayed"; return nil }},
		} {
			x.tamper.Store(&c.tamper)
			x.oidc.QueueUser(oidcUser("trudy-"+c.name, "trudy@example.com", true, "trudy"))
			if q := x.signIn(t, x.GraphQL, "local"); q.Get("error") != "TOKEN_INVALID" {
				t.Fatalf("%s: %v", c.name, q)
			}
		}
		x.tamper.Store(nil)

		// The provider fails at the token endpoint.
		x.oidc.QueueUser(oidcUser("zed-sub", "zed@example.com", true, "zed"))
		link = x.start(t, x.GraphQL, "startSignIn", "local")
		b := newBrowser(t)
		cb3, _, _ := b.visit(link, atCallback)
		x.oidc.QueueError(&mockoidc.ServerError{Code: http.StatusServiceUnavailable, Error: "temporarily_unavailable"})
		if landed, _, _ := b.visit(cb3.String(), nil); landed == nil || landed.Query().Get("error") != "PROVIDER_UNAVAILABLE" {
			t.Fatalf("provider failing: %v", b.log)
		}
		// The user refused at the provider.
		x.oidc.QueueUser(oidcUser("zed-sub", "zed@example.com", true, "zed"))
		b = newBrowser(t)
		cb4, _, _ := b.visit(x.start(t, x.GraphQL, "startSignIn", "local"), atCallback)
		q = cb4.Query()
		q.Del("code")
		q.Set("error", "access_denied")
		cb4.RawQuery = q.Encode()
		if landed, _, _ := b.visit(cb4.String(), nil); landed == nil || landed.Query().Get("error") != "PROVIDER_DENIED" {
			t.Fatalf("provider denied: %v", b.log)
		}
		if after := x.rows(t); after != before {
			t.Fatalf("refused sign-ins created rows: %v → %v", before, after)
		}

		// A banned account cannot sign in through its provider.
		x.oidc.QueueUser(oidcUser("ban-sub", "ban@example.com", true, "banned"))
		tok := x.complete(t, x.signIn(t, x.GraphQL, "local").Get("ticket"))
		var me struct{ Viewer struct{ ID string } }
		x.As(tok).Do(t, `{ viewer { id } }`, nil, &me)
		id, _ := strconv.Atoi(me.Viewer.ID)
		(&fixture{t: t}).allow(x.db.Client.User.UpdateOneID(id).SetBannedAt(time.Now().UTC()).Exec)
		x.oidc.QueueUser(oidcUser("ban-sub", "ban@example.com", true, "banned"))
		if q := x.signIn(t, x.GraphQL, "local"); q.Get("error") != "BANNED" {
			t.Fatalf("banned: %v", q)
		}
	})
}

// TestSignInRateLimit: every started sign-in spends the address's sign-in budget
// (AGORA_LOGIN_LIMIT_IP) until one completes.
func TestSignInRateLimit(t *testing.T) {
	x := newIdP(t, "sqlite", func(c *config.Config) { c.RateLimits.LoginPerIP = config.Budget{Burst: 2, Per: time.Hour} })
	x.start(t, x.GraphQL, "startSignIn", "github")
	x.start(t, x.GraphQL, "startSignIn", "github")
	e := x.Fail(t, "RATE_LIMITED", "", `mutation { startSignIn(input: {provider: "github", redirectURI: "`+clientPage+`"}) { authorizationURL } }`, nil)
	if e.Extensions["retryAfterSeconds"] == nil {
		t.Fatalf("rate limited without a hint: %+v", e)
	}
}

// TestSignInGitHub: GitHub's OAuth flow (with PKCE) and its API's verified primary address.
func TestSignInGitHub(t *testing.T) {
	x := newIdP(t, "sqlite", nil)
	x.github.queue(githubUser{ID: 4242, Login: "octo-cat", Name: "Octo Cat", Emails: []githubEmail{
		{Email: "octo@work.test", Primary: false, Verified: true}, {Email: "Octo@Example.com", Primary: true, Verified: true}}})
	q := x.signIn(t, x.GraphQL, "github")
	v := x.viewer(t, x.complete(t, q.Get("ticket"))).Viewer
	if v.Username != "octo_cat" || len(v.Identities) != 1 || v.Identities[0].Provider != "github" || v.Identities[0].Email != "octo@example.com" {
		t.Fatalf("GitHub account: %+v", v)
	}
	before := x.rows(t)
	x.github.queue(githubUser{ID: 7, Login: "unverified", Emails: []githubEmail{{Email: "u@example.com", Primary: true, Verified: false}}})
	if q := x.signIn(t, x.GraphQL, "github"); q.Get("error") != "EMAIL_UNVERIFIED" {
		t.Fatalf("unverified primary address: %v", q)
	}
	if after := x.rows(t); after != before {
		t.Fatalf("refused sign-in created rows: %v → %v", before, after)
	}
	if x.github.pkceChecked.Load() < 2 {
		t.Fatal("the sign-ins did not use PKCE")
	}
}

// githubServer speaks the parts of GitHub a sign-in uses: /login/oauth/authorize and
// /login/oauth/access_token (OAuth 2 with PKCE), and the REST API's /user and /user/emails.
type githubServer struct {
	*httptest.Server
	mu          sync.Mutex
	users       []githubUser
	codes       map[string]githubCode
	tokens      map[string]githubUser
	pkceChecked atomic.Int32
}

type githubUser struct {
	ID     int64
	Login  string
	Name   string
	Emails []githubEmail
}

type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type githubCode struct {
	user      githubUser
	challenge string
	redirect  string
}

func (g *githubServer) queue(u githubUser) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users = append(g.users, u)
}

func newGitHubServer(t *testing.T) *githubServer {
	g := &githubServer{codes: map[string]githubCode{}, tokens: map[string]githubUser{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "gh-client" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.users) == 0 {
			http.Error(w, "no user queued", http.StatusBadRequest)
			return
		}
		code := strconv.FormatInt(time.Now().UnixNano(), 36)
		g.codes[code] = githubCode{user: g.users[0], challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		g.users = g.users[1:]
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		g.mu.Lock()
		c, ok := g.codes[r.Form.Get("code")]
		delete(g.codes, r.Form.Get("code"))
		g.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		answer := map[string]any{}
		switch {
		case r.Form.Get("client_id") != "gh-client" || r.Form.Get("client_secret") != "gh-secret":
			answer["error"] = "incorrect_client_credentials"
		case !ok || c.redirect != r.Form.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
			answer["error"] = "bad_verification_code" // GitHub answers 200 with an error field
		default:
			g.pkceChecked.Add(1)
			token := "gho_" + strconv.FormatInt(time.Now().UnixNano(), 36)
			g.mu.Lock()
			g.tokens[token] = c.user
			g.mu.Unlock()
			answer = map[string]any{"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}
		}
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(answer)
			return
		}
		form := url.Values{}
		for k, v := range answer {
			form.Set(k, v.(string))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = io.WriteString(w, form.Encode())
	})
	user := func(r *http.Request) (githubUser, bool) {
		g.mu.Lock()
		defer g.mu.Unlock()
		u, ok := g.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		return u, ok
	}
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		u, ok := user(r)
		if !ok {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "name": u.Name, "type": "User"})
	})
	mux.HandleFunc("GET /user/emails", func(w http.ResponseWriter, r *http.Request) {
		u, ok := user(r)
		if !ok {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		var buf bytes.Buffer
		_ = json.NewEncoder(&buf).Encode(u.Emails)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(buf.Bytes())
	})
	g.Server = httptest.NewServer(mux)
	t.Cleanup(g.Close)
	return g
}

// TestSignInCookieMode: with AGORA_REFRESH_COOKIE, completeSignIn puts the refresh token in the
// cookie, as login does, and refreshSession reads it there.
func TestSignInCookieMode(t *testing.T) {
	x := newIdP(t, "sqlite", func(c *config.Config) { c.Auth.RefreshCookie = true })
	x.oidc.QueueUser(oidcUser("cookie-sub", "cookie@example.com", true, "cookie"))
	ticket := x.signIn(t, x.GraphQL, "local").Get("ticket")
	body, _ := json.Marshal(map[string]any{"query": `mutation($t: String!) { completeSignIn(input: {ticket: $t}) { accessToken refreshToken } }`, "variables": map[string]any{"t": ticket}})
	req, _ := http.NewRequest(http.MethodPost, x.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			CompleteSignIn struct {
				AccessToken  string
				RefreshToken *string
			}
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == server.RefreshCookieName {
			cookie = c
		}
	}
	if out.Data.CompleteSignIn.AccessToken == "" || out.Data.CompleteSignIn.RefreshToken != nil || cookie == nil || cookie.Value == "" || !cookie.HttpOnly {
		t.Fatalf("cookie mode: payload %+v, cookie %+v", out.Data.CompleteSignIn, cookie)
	}
	body, _ = json.Marshal(map[string]any{"query": `mutation { refreshSession(input: {}) { accessToken } }`})
	req, _ = http.NewRequest(http.MethodPost, x.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(cookie)
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	if b, _ := io.ReadAll(res2.Body); !strings.Contains(string(b), "accessToken") || strings.Contains(string(b), "errors") {
		t.Fatalf("refresh with the cookie: %s", b)
	}
}

type sentMail struct{ to, text string }

// mails reads what Agora wrote into its mail folder.
func (x *idp) mails(t *testing.T) []sentMail {
	t.Helper()
	x.settle(t) // each mail is a job
	files, err := filepath.Glob(filepath.Join(x.mailDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []sentMail
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = m.Body
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		text, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.Header.Get("Subject"), "Link your ") {
			continue // the confirmations of addresses at sign-up
		}
		to, _ := mail.ParseAddress(m.Header.Get("To"))
		out = append(out, sentMail{to: to.Address, text: string(text)})
	}
	return out
}
