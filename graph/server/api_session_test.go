package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agora/agora/graph/server"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

const refreshMutation = `mutation($t: String!) {
  refreshSession(input: {refreshToken: $t}) { accessToken expiresAt refreshToken refreshTokenExpiresAt user { username } }
}`

type tokens struct {
	AccessToken, RefreshToken string
	ExpiresAt                 string
	RefreshTokenExpiresAt     string
}

func (a *api) login(t *testing.T, username string) tokens {
	t.Helper()
	var out struct{ Login tokens }
	a.Do(t, `mutation($n: String!, $p: String!) { login(input: {usernameOrEmail: $n, password: $p}) { accessToken refreshToken } }`,
		map[string]any{"n": username, "p": "password-" + username}, &out)
	return out.Login
}

func (a *api) refresh(t *testing.T, refresh string) tokens {
	t.Helper()
	var out struct{ RefreshSession tokens }
	a.Do(t, refreshMutation, map[string]any{"t": refresh}, &out)
	return out.RefreshSession
}

// signedIn reports whether an access token still works.
func (a *api) signedIn(t *testing.T, access string) bool {
	t.Helper()
	r := a.As(access).Post(t, `{ viewer { id } }`, nil)
	if r.Status == http.StatusUnauthorized {
		return false
	}
	if len(r.Errors) > 0 {
		t.Fatalf("viewer: %+v", r.Errors)
	}
	return true
}

// eachDBWith is eachDB with the test configuration changed by configure.
func eachDBWith(t *testing.T, configure func(*config.Config), fn func(t *testing.T, a *api)) {
	for _, name := range []string{"postgres", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")}
			if name == "postgres" {
				o = database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10}
			}
			db := openDB(t, o)
			if _, err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			fn(t, startAPIWith(t, db, nil, configure))
		})
	}
}

// TestRefreshRotation: each refresh token works once; without a grace window
// (AGORA_REFRESH_GRACE=0s) presenting a used one ends its session at once.
func TestRefreshRotation(t *testing.T) {
	eachDBWith(t, func(c *config.Config) { c.Auth.RefreshGrace = 0 }, func(t *testing.T, a *api) {
		a.register(t, "ada")
		first := a.login(t, "ada")
		second := a.refresh(t, first.RefreshToken)
		if second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
			t.Fatalf("refresh did not rotate: %+v", second)
		}
		third := a.refresh(t, second.RefreshToken)
		if !a.signedIn(t, third.AccessToken) || !a.signedIn(t, first.AccessToken) {
			t.Fatal("access tokens of a live session stopped working")
		}

		// Replaying a rotated token (a thief, or the victim after the thief) ends the whole session:
		// the newest tokens stop working too.
		if e := a.Fail(t, "UNAUTHENTICATED", "", refreshMutation, map[string]any{"t": first.RefreshToken}); e.Extensions["reason"] != "REFRESH_TOKEN_REUSED" {
			t.Errorf("a replayed refresh token: %+v", e)
		}
		if e := a.Fail(t, "UNAUTHENTICATED", "", refreshMutation, map[string]any{"t": third.RefreshToken}); e.Extensions["reason"] != "REFRESH_TOKEN_INVALID" {
			t.Errorf("the newest refresh token of an ended session: %+v", e)
		}
		if a.signedIn(t, third.AccessToken) {
			t.Fatal("the session's access token still works after a refresh token was replayed")
		}
		// Other sessions of the user are untouched.
		other := a.login(t, "ada")
		if !a.signedIn(t, other.AccessToken) {
			t.Fatal("another session was revoked too")
		}
		a.Fail(t, "UNAUTHENTICATED", "", refreshMutation, map[string]any{"t": "not-a-token"})
	})
}

func TestLogout(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		a.register(t, "ada")
		phone, laptop := a.login(t, "ada"), a.login(t, "ada")
		a.As(phone.AccessToken).Do(t, `mutation { logout { sessionID } }`, nil, nil)
		if a.signedIn(t, phone.AccessToken) {
			t.Fatal("access token works after logout")
		}
		a.Fail(t, "UNAUTHENTICATED", "", refreshMutation, map[string]any{"t": phone.RefreshToken})
		if !a.signedIn(t, laptop.AccessToken) {
			t.Fatal("logout ended another session")
		}

		var out struct {
			LogoutAll struct{ RevokedSessionCount int }
		}
		a.As(laptop.AccessToken).Do(t, `mutation { logoutAll { revokedSessionCount } }`, nil, &out)
		if out.LogoutAll.RevokedSessionCount != 2 { // laptop and register's session
			t.Fatalf("logoutAll ended %d sessions, want 2", out.LogoutAll.RevokedSessionCount)
		}
		if a.signedIn(t, laptop.AccessToken) {
			t.Fatal("access token works after logoutAll")
		}
		a.Fail(t, "UNAUTHENTICATED", "", `mutation { logout { sessionID } }`, nil)
	})
}

func TestSessionsAndRevoke(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada, bob := a.register(t, "ada"), a.register(t, "bob")
		lost := a.login(t, "ada")
		const list = `{ viewer { sessions { id current createdAt lastUsedAt expiresAt userAgent } } }`
		var out struct {
			Viewer struct {
				Sessions []struct {
					ID        string
					Current   bool
					UserAgent string
				}
			}
		}
		a.as(ada).Do(t, list, nil, &out)
		if len(out.Viewer.Sessions) != 2 {
			t.Fatalf("want 2 sessions, got %+v", out.Viewer.Sessions)
		}
		var lostID string
		for _, s := range out.Viewer.Sessions {
			if !s.Current {
				lostID = s.ID
			}
			if s.UserAgent == "" {
				t.Errorf("session %s has no user agent", s.ID)
			}
		}
		const revoke = `mutation($id: ID!) { revokeSession(input: {id: $id}) { sessionID } }`
		a.as(bob).Fail(t, "NOT_FOUND", "id", revoke, map[string]any{"id": lostID})
		if !a.signedIn(t, lost.AccessToken) {
			t.Fatal("another user revoked ada's session")
		}
		a.as(ada).Do(t, revoke, map[string]any{"id": lostID}, nil)
		if a.signedIn(t, lost.AccessToken) {
			t.Fatal("revoked session still works")
		}
		a.as(ada).Fail(t, "NOT_FOUND", "id", revoke, map[string]any{"id": lostID})

		// Others never see someone's sessions.
		var theirs struct{ User struct{ Sessions []any } }
		a.as(bob).Do(t, `{ user(username: "ada") { sessions { id } } }`, nil, &theirs)
		if theirs.User.Sessions != nil {
			t.Fatalf("bob sees ada's sessions: %+v", theirs.User.Sessions)
		}
	})
}

func TestChangePassword(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		a.register(t, "ada")
		here, elsewhere := a.login(t, "ada"), a.login(t, "ada")
		const change = `mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) { revokedSessionCount user { username } } }`
		a.As(here.AccessToken).Fail(t, "BAD_USER_INPUT", "currentPassword", change, map[string]any{"c": "wrong-password", "n": "a-new-password"})
		a.As(here.AccessToken).Fail(t, "BAD_USER_INPUT", "newPassword", change, map[string]any{"c": "password-ada", "n": "short"})
		var out struct {
			ChangePassword struct{ RevokedSessionCount int }
		}
		a.As(here.AccessToken).Do(t, change, map[string]any{"c": "password-ada", "n": "a-new-password"}, &out)
		if out.ChangePassword.RevokedSessionCount != 2 {
			t.Fatalf("changePassword ended %d other sessions, want 2", out.ChangePassword.RevokedSessionCount)
		}
		if !a.signedIn(t, here.AccessToken) || a.signedIn(t, elsewhere.AccessToken) {
			t.Fatal("changePassword must keep this session and end the others")
		}
		const login = `mutation($p: String!) { login(input: {usernameOrEmail: "ada", password: $p}) { accessToken } }`
		a.Fail(t, "UNAUTHENTICATED", "", login, map[string]any{"p": "password-ada"})
		a.Do(t, login, map[string]any{"p": "a-new-password"}, nil)
	})
}

// TestRefreshGrace: a refresh token presented again within AGORA_REFRESH_GRACE of its rotation —
// two tabs refreshing at once, a request retried after a lost answer — gets the same new tokens,
// byte for byte, and the session goes on; presented after the window, it ends the session with
// REFRESH_TOKEN_REUSED.
func TestRefreshGrace(t *testing.T) {
	const grace = 3 * time.Second
	eachDBWith(t, func(c *config.Config) { c.Auth.RefreshGrace = grace }, func(t *testing.T, a *api) {
		a.register(t, "ada")
		first := a.login(t, "ada")
		start := time.Now()
		second := a.refresh(t, first.RefreshToken)
		if again := a.refresh(t, first.RefreshToken); again != second {
			t.Fatalf("a retried refresh got other tokens:\n%+v\n%+v", again, second)
		}
		if !a.signedIn(t, second.AccessToken) {
			t.Fatal("the session ended on a retried refresh")
		}

		// Tabs refreshing at once all get the one new pair.
		var wg sync.WaitGroup
		got := make([]testenv.Response, 6)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = a.Post(t, refreshMutation, map[string]any{"t": second.RefreshToken})
			}()
		}
		wg.Wait()
		var third tokens
		for i, r := range got {
			var out struct{ RefreshSession tokens }
			if len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil {
				t.Fatalf("tab %d: %+v", i, r.Errors)
			}
			if i > 0 && out.RefreshSession != third {
				t.Fatalf("tabs got different tokens: %+v, %+v", third, out.RefreshSession)
			}
			third = out.RefreshSession
		}
		if third == second || !a.signedIn(t, third.AccessToken) {
			t.Fatalf("after concurrent refreshes: %+v", third)
		}
		// The first token, two rotations back and still within the window, leads to the live pair.
		if again := a.refresh(t, first.RefreshToken); again != third {
			t.Fatalf("a retry two rotations back: %+v, want %+v", again, third)
		}
		if time.Since(start) >= grace {
			t.Skipf("the machine is too slow for a %s grace window", grace)
		}

		// After the window, a used token is a copy: the session ends.
		time.Sleep(time.Until(start.Add(grace + 100*time.Millisecond)))
		e := a.Fail(t, "UNAUTHENTICATED", "", refreshMutation, map[string]any{"t": first.RefreshToken})
		if e.Extensions["reason"] != "REFRESH_TOKEN_REUSED" || !strings.Contains(e.Message, "sign in again") {
			t.Fatalf("a replay after the window: %+v", e)
		}
		if a.signedIn(t, third.AccessToken) {
			t.Fatal("the session goes on after a replay outside the grace window")
		}
		a.Fail(t, "UNAUTHENTICATED", "", refreshMutation, map[string]any{"t": third.RefreshToken})
	})
}

// cookieClient is a browser's view of the API: a cookie jar, and its page's origin.
type cookieClient struct {
	url    string
	origin string
	http   *http.Client
}

func newCookieClient(t *testing.T, a *api) *cookieClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &cookieClient{url: a.URL, origin: "http://localhost:5173", http: &http.Client{Jar: jar}}
}

// post sends an operation as a page's fetch with credentials would, and returns the response
// with its GraphQL body.
func (c *cookieClient) post(t *testing.T, query string, vars map[string]any, headers map[string]string) (*http.Response, testenv.Response) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.origin)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r testenv.Response
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	r.Status = res.StatusCode
	return res, r
}

// refreshCookie returns the refresh cookie a response sets, or nil.
func refreshCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == server.RefreshCookieName {
			return c
		}
	}
	return nil
}

// TestRefreshCookie: with AGORA_REFRESH_COOKIE, sign-in and refresh put the refresh token in an
// HttpOnly, SameSite=Strict cookie scoped to /graphql (Secure in production) and never in the
// body; refreshSession without a token reads the cookie; logout and a dead token clear it; CORS
// allows credentials; and CSRF prevention still refuses simple requests, which are the only ones
// another site's page could make the browser send with it.
func TestRefreshCookie(t *testing.T) {
	cookieMode := func(c *config.Config) { c.Auth.RefreshCookie = true; c.Auth.RefreshGrace = 0 }
	eachDBWith(t, cookieMode, func(t *testing.T, a *api) {
		a.register(t, "ada")
		b := newCookieClient(t, a)
		const login = `mutation { login(input: {usernameOrEmail: "ada", password: "password-ada"}) { accessToken refreshToken refreshTokenExpiresAt } }`
		res, r := b.post(t, login, nil, nil)
		var out struct {
			Login struct {
				AccessToken           string
				RefreshToken          *string
				RefreshTokenExpiresAt time.Time
			}
		}
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil || out.Login.AccessToken == "" {
			t.Fatalf("login: %+v %s", r.Errors, r.Data)
		}
		if out.Login.RefreshToken != nil {
			t.Fatal("cookie mode: the refresh token is in the body, where page scripts read it")
		}
		c := refreshCookie(res)
		if c == nil || c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/graphql" || c.Secure ||
			c.Expires.Sub(out.Login.RefreshTokenExpiresAt).Abs() > time.Second {
			t.Fatalf("the refresh cookie: %+v (Set-Cookie %q)", c, res.Header.Values("Set-Cookie"))
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "true" || res.Header.Get("Access-Control-Allow-Origin") != b.origin {
			t.Errorf("CORS of a cookie-mode answer: %v", res.Header)
		}

		// refreshSession with no token: the cookie's, rotated in the cookie.
		const refresh = `mutation { refreshSession(input: {}) { accessToken refreshToken user { username } } }`
		res, r = b.post(t, refresh, nil, nil)
		var ref struct {
			RefreshSession struct {
				AccessToken  string
				RefreshToken *string
				User         struct{ Username string }
			}
		}
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &ref) != nil || ref.RefreshSession.User.Username != "ada" || ref.RefreshSession.RefreshToken != nil {
			t.Fatalf("refresh from the cookie: %+v %s", r.Errors, r.Data)
		}
		rotated := refreshCookie(res)
		if rotated == nil || rotated.Value == c.Value || !rotated.HttpOnly {
			t.Fatalf("the rotated cookie: %+v", rotated)
		}
		if !a.signedIn(t, ref.RefreshSession.AccessToken) {
			t.Fatal("the refreshed access token does not work")
		}
		// The old cookie's token, replayed (no grace here), ends the session and clears the cookie.
		replay := newCookieClient(t, a)
		u, _ := url.Parse(a.URL)
		replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: server.RefreshCookieName, Value: c.Value, Path: "/graphql"}})
		res, r = replay.post(t, refresh, nil, nil)
		if len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" || r.Errors[0].Extensions["reason"] != "REFRESH_TOKEN_REUSED" {
			t.Fatalf("a replayed cookie: %+v", r.Errors)
		}
		if cleared := refreshCookie(res); cleared == nil || cleared.MaxAge >= 0 {
			t.Fatalf("a dead cookie is not cleared: %q", res.Header.Values("Set-Cookie"))
		}
		if a.signedIn(t, ref.RefreshSession.AccessToken) {
			t.Fatal("the session goes on after its cookie was replayed")
		}
		if _, r = b.post(t, refresh, nil, nil); len(r.Errors) != 1 || r.Errors[0].Extensions["reason"] != "REFRESH_TOKEN_INVALID" {
			t.Fatalf("the ended session's cookie: %+v", r.Errors)
		}

		// No cookie, no token: a clear refusal.
		if _, r = newCookieClient(t, a).post(t, refresh, nil, nil); len(r.Errors) != 1 || r.Errors[0].Extensions["reason"] != "REFRESH_TOKEN_MISSING" {
			t.Fatalf("no cookie: %+v", r.Errors)
		}

		// Another site's form (a simple request) never reaches the mutation, cookie or not.
		b2 := newCookieClient(t, a)
		access := loginAccess(t, b2)
		res, body := send(t, http.MethodPost, a.URL, queryBody(refresh), map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example.net",
			"Cookie": server.RefreshCookieName + "=" + cookieValue(t, b2)})
		wantRefusal(t, "a cross-site text/plain refresh", res, body, http.StatusBadRequest, "CSRF_PREVENTED")
		if refreshCookie(res) != nil {
			t.Fatal("a refused request set the cookie")
		}

		// Logout ends the session and clears the cookie.
		res, r = b2.post(t, `mutation { logout { sessionID } }`, nil, map[string]string{"Authorization": "Bearer " + access})
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		if cleared := refreshCookie(res); cleared == nil || cleared.MaxAge >= 0 {
			t.Fatalf("logout does not clear the cookie: %q", res.Header.Values("Set-Cookie"))
		}
		if _, r = b2.post(t, refresh, nil, nil); len(r.Errors) != 1 || r.Errors[0].Extensions["reason"] != "REFRESH_TOKEN_MISSING" {
			t.Fatalf("refresh after logout: %+v", r.Errors)
		}
	})

	t.Run("production", func(t *testing.T) {
		t.Parallel()
		a := sqliteAPI(t, func(c *config.Config) { cookieMode(c); c.Env = "production" })
		a.register(t, "ada")
		res, r := newCookieClient(t, a).post(t, `mutation { login(input: {usernameOrEmail: "ada", password: "password-ada"}) { accessToken } }`, nil, nil)
		if c := refreshCookie(res); len(r.Errors) > 0 || c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("production's cookie: %+v %+v", c, r.Errors)
		}
	})

	t.Run("off", func(t *testing.T) {
		t.Parallel()
		a := sqliteAPI(t, func(*config.Config) {})
		a.register(t, "ada")
		res, r := newCookieClient(t, a).post(t, `mutation { login(input: {usernameOrEmail: "ada", password: "password-ada"}) { refreshToken } }`, nil, nil)
		var out struct {
			Login struct{ RefreshToken *string }
		}
		if json.Unmarshal(r.Data, &out) != nil || out.Login.RefreshToken == nil || *out.Login.RefreshToken == "" || refreshCookie(res) != nil {
			t.Fatalf("without cookie mode: body %s, Set-Cookie %q", r.Data, res.Header.Values("Set-Cookie"))
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatal("credentials allowed with no cookie to send")
		}
	})
}

// loginAccess signs b in as ada (its cookie holds the new session's refresh token) and returns
// the access token.
func loginAccess(t *testing.T, b *cookieClient) string {
	t.Helper()
	_, r := b.post(t, `mutation { login(input: {usernameOrEmail: "ada", password: "password-ada"}) { accessToken } }`, nil, nil)
	var out struct{ Login struct{ AccessToken string } }
	if len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil {
		t.Fatalf("login: %+v", r.Errors)
	}
	return out.Login.AccessToken
}

// cookieValue is the refresh cookie b's jar holds for the API.
func cookieValue(t *testing.T, b *cookieClient) string {
	t.Helper()
	u, _ := url.Parse(b.url)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == server.RefreshCookieName {
			return c.Value
		}
	}
	t.Fatal("no refresh cookie in the jar")
	return ""
}
