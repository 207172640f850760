package server_test

import (
	"net/http"
	"testing"
)

const refreshMutation = `mutation($t: String!) {
  refreshSession(input: {refreshToken: $t}) { accessToken refreshToken refreshTokenExpiresAt user { username } }
}`

type tokens struct{ AccessToken, RefreshToken string }

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

func TestRefreshRotation(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
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
		a.Fail(t, "UNAUTHENTICATED", "", refreshMutation, map[string]any{"t": first.RefreshToken})
		a.Fail(t, "UNAUTHENTICATED", "", refreshMutation, map[string]any{"t": third.RefreshToken})
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
