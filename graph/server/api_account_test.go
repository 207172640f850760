package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

func TestRegister(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		if ada.Username != "ada" || ada.Token == "" {
			t.Fatalf("register: %+v", ada)
		}
		cases := []struct {
			name, code, field string
			in                map[string]any
		}{
			{"username taken in another case", "CONFLICT", "username", map[string]any{"username": "ADA", "email": "other@example.com", "password": "long-enough"}},
			{"email taken in another case", "CONFLICT", "email", map[string]any{"username": "ada2", "email": "Ada@Example.com", "password": "long-enough"}},
			{"username too short", "BAD_USER_INPUT", "username", map[string]any{"username": "ab", "email": "ab@example.com", "password": "long-enough"}},
			{"username with a dash", "BAD_USER_INPUT", "username", map[string]any{"username": "a-b-c", "email": "abc@example.com", "password": "long-enough"}},
			{"username too long", "BAD_USER_INPUT", "username", map[string]any{"username": strings.Repeat("a", 33), "email": "long@example.com", "password": "long-enough"}},
			{"email without domain", "BAD_USER_INPUT", "email", map[string]any{"username": "bob", "email": "bob@", "password": "long-enough"}},
			{"email with a display name", "BAD_USER_INPUT", "email", map[string]any{"username": "bob", "email": "Bob <bob@example.com>", "password": "long-enough"}},
			{"password too short", "BAD_USER_INPUT", "password", map[string]any{"username": "bob", "email": "bob@example.com", "password": "short"}},
			{"display name too long", "BAD_USER_INPUT", "displayName", map[string]any{"username": "bob", "email": "bob@example.com", "password": "long-enough", "displayName": strings.Repeat("x", 65)}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := a.count(t, "users")
				a.Fail(t, c.code, c.field, registerMutation, map[string]any{"in": c.in})
				if after := a.count(t, "users"); after != before {
					t.Fatalf("a refused registration wrote a user: %d → %d", before, after)
				}
			})
		}
	})
}

func TestLogin(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		const login = `mutation($in: LoginInput!) { login(input: $in) { accessToken expiresAt user { id username email } } }`
		for _, id := range []string{"ada", "ADA", "ada@example.com", " Ada@Example.com "} {
			var out struct {
				Login struct {
					AccessToken string
					User        struct{ ID, Username string }
				}
			}
			a.Do(t, login, map[string]any{"in": map[string]any{"usernameOrEmail": id, "password": "password-ada"}}, &out)
			if out.Login.User.ID != ada.ID || out.Login.AccessToken == "" {
				t.Fatalf("login as %q: %+v", id, out.Login)
			}
			var v struct{ Viewer struct{ ID string } }
			a.As(out.Login.AccessToken).Do(t, `{ viewer { id } }`, nil, &v)
			if v.Viewer.ID != ada.ID {
				t.Fatalf("token from login as %q: viewer %+v", id, v.Viewer)
			}
		}
		// Unknown accounts and wrong passwords are indistinguishable.
		wrong := a.Fail(t, "UNAUTHENTICATED", "", login, map[string]any{"in": map[string]any{"usernameOrEmail": "ada", "password": "not-the-password"}})
		unknown := a.Fail(t, "UNAUTHENTICATED", "", login, map[string]any{"in": map[string]any{"usernameOrEmail": "nobody", "password": "not-the-password"}})
		if wrong.Message != unknown.Message {
			t.Fatalf("wrong password says %q, unknown user says %q", wrong.Message, unknown.Message)
		}
	})
}

func TestAccessTokens(t *testing.T) {
	a := newAPI(t, "sqlite")
	ada := a.register(t, "ada")
	var v struct{ Viewer *struct{ Username string } }
	a.Do(t, `{ viewer { username } }`, nil, &v)
	if v.Viewer != nil {
		t.Fatalf("signed out, viewer is %+v", v.Viewer)
	}
	// A token that does not verify is refused, never treated as anonymous.
	tampered := ada.Token[:len(ada.Token)-2] + "xx"
	for _, tok := range []string{tampered, "not-a-jwt", forgedNone(ada.Token)} {
		r := a.As(tok).Post(t, `{ viewer { username } }`, nil)
		if r.Status != http.StatusUnauthorized || len(r.Errors) != 1 || r.Errors[0].Code() != "UNAUTHENTICATED" {
			t.Fatalf("token %q: status %d errors %+v", tok, r.Status, r.Errors)
		}
	}
}

// forgedNone rewrites a token's header to alg "none" with no signature.
func forgedNone(tok string) string {
	parts := strings.Split(tok, ".")
	return "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
}

func TestUpdateProfile(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		const update = `mutation($in: UpdateProfileInput!) { updateProfile(input: $in) { user { displayName bio avatarURL } } }`
		var out struct {
			UpdateProfile struct {
				User struct{ DisplayName, Bio, AvatarURL string }
			}
		}
		a.as(ada).Do(t, update, map[string]any{"in": map[string]any{"displayName": " Ada L. ", "bio": "Engines.", "avatarURL": "https://example.com/a.png"}}, &out)
		if u := out.UpdateProfile.User; u.DisplayName != "Ada L." || u.Bio != "Engines." || u.AvatarURL != "https://example.com/a.png" {
			t.Fatalf("updateProfile: %+v", u)
		}
		// Absent fields stay as they are.
		a.as(ada).Do(t, update, map[string]any{"in": map[string]any{"bio": "Numbers."}}, &out)
		if u := out.UpdateProfile.User; u.DisplayName != "Ada L." || u.Bio != "Numbers." {
			t.Fatalf("partial updateProfile: %+v", u)
		}
		for _, c := range []struct {
			field string
			in    map[string]any
		}{
			{"avatarURL", map[string]any{"avatarURL": "javascript:alert(1)", "bio": "changed"}},
			{"displayName", map[string]any{"displayName": "  ", "bio": "changed"}},
			{"bio", map[string]any{"bio": strings.Repeat("b", 2001)}},
		} {
			a.as(ada).Fail(t, "BAD_USER_INPUT", c.field, update, map[string]any{"in": c.in})
		}
		var me struct{ Viewer struct{ Bio string } }
		a.as(ada).Do(t, `{ viewer { bio } }`, nil, &me)
		if me.Viewer.Bio != "Numbers." {
			t.Fatalf("refused updates changed the bio to %q", me.Viewer.Bio)
		}
		a.Fail(t, "UNAUTHENTICATED", "", update, map[string]any{"in": map[string]any{"bio": "x"}})
	})
}

func TestLoginRateLimit(t *testing.T) {
	a := newAPI(t, "sqlite", "3/1h", "5/1h") // per account from one address, per address
	a.register(t, "ada")
	a.register(t, "bob")
	const login = `mutation($n: String!, $p: String!) { login(input: {usernameOrEmail: $n, password: $p}) { accessToken } }`
	for range 3 {
		a.Fail(t, "UNAUTHENTICATED", "", login, map[string]any{"n": "ada", "p": "guess"})
	}
	// The account's budget at this address is spent: even the right password waits here, and the
	// client learns how long.
	e := a.Fail(t, "RATE_LIMITED", "", login, map[string]any{"n": "ada", "p": "password-ada"})
	if secs, _ := e.Extensions["retryAfterSeconds"].(float64); secs < 1 || secs > 3600 {
		t.Fatalf("retryAfterSeconds = %v, want the wait in seconds", e.Extensions["retryAfterSeconds"])
	}
	// Another account from the same address: the address's budget (5) runs out after two more
	// failures (a successful sign-in, like the refused attempt above, does not count).
	a.Do(t, login, map[string]any{"n": "bob", "p": "password-bob"}, nil)
	a.Fail(t, "UNAUTHENTICATED", "", login, map[string]any{"n": "bob", "p": "guess"})
	a.Fail(t, "UNAUTHENTICATED", "", login, map[string]any{"n": "bob", "p": "guess"})
	a.Fail(t, "RATE_LIMITED", "", login, map[string]any{"n": "bob", "p": "password-bob"})
}

// TestLoginRateLimitAcrossReplicas: two replicas on one PostgreSQL and one Redis share the sign-in
// budget, so spreading guesses over replicas gains nothing.
func TestLoginRateLimitAcrossReplicas(t *testing.T) {
	rdb := newRedis(t)
	url := testenv.PostgresURL(t)
	first := openDB(t, database.Options{PostgresURL: url})
	if _, err := first.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, first, rdb, "2/1h", "100/1h")
	b := startAPI(t, openDB(t, database.Options{PostgresURL: url}), rdb, "2/1h", "100/1h")
	a.register(t, "ada")
	const login = `mutation { login(input: {usernameOrEmail: "ada", password: "guess"}) { accessToken } }`
	a.Fail(t, "UNAUTHENTICATED", "", login, nil)
	b.Fail(t, "UNAUTHENTICATED", "", login, nil)
	a.Fail(t, "RATE_LIMITED", "", login, nil)
	b.Fail(t, "RATE_LIMITED", "", login, nil)
}

// loginFrom signs in to a from the loopback address ip (127.0.0.0/8 all reaches the test server),
// as a client at that address would.
func loginFrom(t *testing.T, a *api, ip, name, password string) testenv.Response {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}}
	defer client.CloseIdleConnections()
	b, _ := json.Marshal(map[string]any{
		"query":     `mutation($n: String!, $p: String!) { login(input: {usernameOrEmail: $n, password: $p}) { accessToken } }`,
		"variables": map[string]any{"n": name, "p": password},
	})
	res, err := client.Post(a.srv.URL+"/graphql", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := decodeGraphQL(t, body)
	r.Status = res.StatusCode
	return r
}

func wantLogin(t *testing.T, r testenv.Response, code string) {
	t.Helper()
	switch {
	case code == "" && (len(r.Errors) > 0 || !strings.Contains(string(r.Data), "accessToken")):
		t.Fatalf("want a session, got %+v", r.Errors)
	case code != "" && (len(r.Errors) != 1 || r.Errors[0].Code() != code):
		t.Fatalf("want %s, got %+v %s", code, r.Errors, r.Data)
	case code == "RATE_LIMITED":
		if secs, _ := r.Errors[0].Extensions["retryAfterSeconds"].(float64); secs < 1 {
			t.Fatalf("retryAfterSeconds = %v", r.Errors[0].Extensions["retryAfterSeconds"])
		}
	}
}

// TestLoginLimitsSpareTheOwner: password guessing from one address is stopped without locking the
// account's owner out elsewhere; successful sign-ins cost nothing; guessing spread over many
// addresses meets the per-account ceiling. With the in-process limiter and with Redis.
func TestLoginLimitsSpareTheOwner(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var rdb redis.UniversalClient // nil: in-process
			if name == "redis" {
				rdb = newRedis(t)
			}
			// 3 failures per account per address, 5 per address, 8 per account in all.
			a := newLimitedAPI(t, rdb, func(c *config.Config) {
				c.RateLimits.LoginPerAccount, c.RateLimits.LoginPerIP, c.Channels.LoginPerAccountTotal = config.Budget{Burst: 3, Per: time.Hour}, config.Budget{Burst: 5, Per: time.Hour}, config.Budget{Burst: 8, Per: time.Hour}
			})
			a.register(t, "ada")
			const attacker, owner = "127.0.0.2", "127.0.0.3"

			// One address is stopped after 3 wrong passwords on the account, right one included.
			for range 3 {
				wantLogin(t, loginFrom(t, a, attacker, "ada", "guess"), "UNAUTHENTICATED")
			}
			wantLogin(t, loginFrom(t, a, attacker, "ADA@example.com", "guess"), "RATE_LIMITED") // the email is the same account
			wantLogin(t, loginFrom(t, a, attacker, "ada", "password-ada"), "RATE_LIMITED")

			// The owner, elsewhere, signs in; as often as they like: successes spend nothing.
			for range 10 {
				wantLogin(t, loginFrom(t, a, owner, "ada", "password-ada"), "")
			}

			// Many addresses: the account's ceiling of 8 failures stops them all, the owner too
			// (the price of the ceiling, which one address cannot reach).
			for range 3 {
				wantLogin(t, loginFrom(t, a, "127.0.0.4", "ada", "guess"), "UNAUTHENTICATED")
			}
			for range 2 {
				wantLogin(t, loginFrom(t, a, "127.0.0.5", "ada", "guess"), "UNAUTHENTICATED")
			}
			wantLogin(t, loginFrom(t, a, "127.0.0.5", "ada", "guess"), "RATE_LIMITED")
			wantLogin(t, loginFrom(t, a, "127.0.0.6", "ada", "guess"), "RATE_LIMITED")
			wantLogin(t, loginFrom(t, a, owner, "ada", "password-ada"), "RATE_LIMITED")

			// One address trying many accounts meets its own budget of 5.
			for i := range 5 {
				wantLogin(t, loginFrom(t, a, "127.0.0.7", "nobody"+strconv.Itoa(i), "guess"), "UNAUTHENTICATED")
			}
			wantLogin(t, loginFrom(t, a, "127.0.0.7", "nobody9", "guess"), "RATE_LIMITED")
		})
	}
}
