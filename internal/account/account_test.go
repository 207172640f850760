package account_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/cache"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/ratelimit"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const password = "correct horse battery"

// env is the service as the app wires it: the loader's cache watching the client.
type env struct {
	db     *database.DB
	s      *account.Service
	tokens *auth.Tokens
	cache  *loader.Cache
}

func newEnv(db *database.DB) *env {
	plenty := ratelimit.Limit{Burst: 1000, Per: time.Minute}
	tokens := auth.NewTokens([]byte("account-test-secret-account-test-secret"), nil, "agora", time.Minute)
	c := loader.NewCache(cache.NewMemoryStore(1000))
	c.Watch(db.Client)
	s := account.New(db.Client, tokens, time.Hour, account.LoginLimits{Limiter: ratelimit.NewMemory(), PerAccount: plenty, PerIP: plenty, SignUps: plenty})
	return &env{db: db, s: s, tokens: tokens, cache: c}
}

// register signs a user up and returns their session.
func (e *env) register(t *testing.T, username, role string) *account.Session {
	t.Helper()
	s, err := e.s.Register(context.Background(), account.RegisterInput{Username: username, Email: username + "@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		if err := e.s.SetRoleByUsername(context.Background(), username, role); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// viewer is who a session's access token stands for now, as the auth middleware sees it.
func (e *env) viewer(s *account.Session) (auth.Viewer, error) {
	return auth.Authenticate(context.Background(), e.tokens, e.s.Lookup, "Bearer "+s.AccessToken)
}

// cached reads a user through fresh loaders as a signed-out reader: from the cache when it has it.
func (e *env) cached(t *testing.T, id int) *ent.User {
	t.Helper()
	u, err := loader.New(e.db.Client, e.cache, auth.Viewer{}, nil).UserByID().Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRegister: sign-up input is checked and normalized, names and addresses are unique whatever
// their case, and a new account shows at once, even where its ID was cached as missing.
func TestRegister(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(db)
		taken := e.register(t, "taken", "")
		next := taken.User.ID + 1 // the ID the next account gets
		if u := e.cached(t, next); u != nil {
			t.Fatalf("user %d exists already", next)
		}
		name := "Ada L."
		for _, tc := range []struct {
			name        string
			in          account.RegisterInput
			want        string
			username    string
			displayName string
		}{
			{name: "valid", in: account.RegisterInput{Username: " Ada_1 ", Email: "Ada@Example.com", Password: password, DisplayName: &name},
				want: "ok", username: "ada_1", displayName: "Ada L."},
			{name: "no display name", in: account.RegisterInput{Username: "bob", Email: "bob@example.com", Password: password},
				want: "ok", username: "bob", displayName: "bob"},
			{name: "bad username", in: account.RegisterInput{Username: "a b", Email: "x@example.com", Password: password}, want: "BAD_USER_INPUT:username"},
			{name: "bad email", in: account.RegisterInput{Username: "carol", Email: "carol@", Password: password}, want: "BAD_USER_INPUT:email"},
			{name: "short password", in: account.RegisterInput{Username: "carol", Email: "carol@example.com", Password: "short"}, want: "BAD_USER_INPUT:password"},
			{name: "username taken", in: account.RegisterInput{Username: "TAKEN", Email: "new@example.com", Password: password}, want: "CONFLICT:username"},
			{name: "email taken", in: account.RegisterInput{Username: "newname", Email: "Taken@example.com", Password: password}, want: "CONFLICT:email"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, err := e.s.Register(context.Background(), tc.in)
				if got := testenv.Outcome(err); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				if err != nil {
					return
				}
				if s.User.Username != tc.username || s.User.DisplayName != tc.displayName || s.AccessToken == "" || s.RefreshToken == "" {
					t.Fatalf("registered %q (%q) with tokens %q, %q", s.User.Username, s.User.DisplayName, s.AccessToken, s.RefreshToken)
				}
				if v, err := e.viewer(s); err != nil || v.UserID != s.User.ID {
					t.Fatalf("the new session signs in as %+v (%v)", v, err)
				}
				if u := e.cached(t, s.User.ID); u == nil || u.Username != tc.username {
					t.Fatalf("through the cache, user %d is %v", s.User.ID, u)
				}
			})
		}
	})
}

// TestLogin: the right password signs in by username or email, whatever their case; a wrong
// password and an unknown account get the same answer.
func TestLogin(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(db)
		ada := e.register(t, "ada", "")
		for _, tc := range []struct {
			name, id, password, want string
		}{
			{"username", "ada", password, "ok"},
			{"email, any case", " ADA@example.com", password, "ok"},
			{"wrong password", "ada", "wrong password", "UNAUTHENTICATED"},
			{"unknown account", "nobody", password, "UNAUTHENTICATED"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, err := e.s.Login(context.Background(), account.LoginInput{UsernameOrEmail: tc.id, Password: tc.password})
				if got := testenv.Outcome(err); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				if err == nil && s.User.ID != ada.User.ID {
					t.Fatalf("signed in as user %d, not ada", s.User.ID)
				}
			})
		}
	})
}

// TestUpdateProfile: profile input is checked, and a change shows at once through the cache.
func TestUpdateProfile(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(db)
		ada := e.register(t, "ada", "")
		str := func(s string) *string { return &s }
		for _, tc := range []struct {
			name string
			ctx  context.Context
			in   account.UpdateProfileInput
			want string
			bio  string // after
		}{
			{name: "bio", ctx: testenv.As(ada.User), in: account.UpdateProfileInput{Bio: str(" Hello ")}, want: "ok", bio: "Hello"},
			{name: "empty display name", ctx: testenv.As(ada.User), in: account.UpdateProfileInput{DisplayName: str(" ")}, want: "BAD_USER_INPUT:displayName", bio: "Hello"},
			{name: "avatar not http", ctx: testenv.As(ada.User), in: account.UpdateProfileInput{AvatarURL: str("javascript:alert(1)")}, want: "BAD_USER_INPUT:avatarURL", bio: "Hello"},
			{name: "signed out", ctx: context.Background(), in: account.UpdateProfileInput{Bio: str("Hijacked")}, want: "UNAUTHENTICATED", bio: "Hello"},
			{name: "bio again", ctx: testenv.As(ada.User), in: account.UpdateProfileInput{Bio: str("Bye")}, want: "ok", bio: "Bye"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.cached(t, ada.User.ID) // cached from here on
				_, err := e.s.UpdateProfile(tc.ctx, tc.in)
				if got := testenv.Outcome(err); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				if u := e.cached(t, ada.User.ID); u.Bio != tc.bio {
					t.Fatalf("through the cache, bio %q, want %q", u.Bio, tc.bio)
				}
			})
		}
	})
}

// TestAdminChanges: only admins change roles and bans, never their own; a change reaches the
// target's signed-in sessions and the cache at once.
func TestAdminChanges(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(db)
		admin, mod := e.register(t, "admin", auth.RoleAdmin), e.register(t, "mod", auth.RoleModerator)
		for i, tc := range []struct {
			name   string
			by     *account.Session
			self   bool
			change func(ctx context.Context, id int) (*ent.User, error)
			want   string
			role   string // of the target's session after
			banned bool
		}{
			{name: "promote", by: admin, want: "ok", role: auth.RoleModerator, change: func(ctx context.Context, id int) (*ent.User, error) {
				return e.s.SetUserRole(ctx, account.SetRoleInput{UserID: id, Role: user.RoleMODERATOR})
			}},
			{name: "ban", by: admin, want: "ok", role: auth.RoleUser, banned: true, change: e.s.BanUser},
			{name: "promote, by a moderator", by: mod, want: "FORBIDDEN", role: auth.RoleUser, change: func(ctx context.Context, id int) (*ent.User, error) {
				return e.s.SetUserRole(ctx, account.SetRoleInput{UserID: id, Role: user.RoleADMIN})
			}},
			{name: "ban oneself", by: admin, self: true, want: "BAD_USER_INPUT:userID", role: auth.RoleAdmin, change: e.s.BanUser},
			{name: "unknown role", by: admin, want: "BAD_USER_INPUT:role", role: auth.RoleUser, change: func(ctx context.Context, id int) (*ent.User, error) {
				return e.s.SetUserRole(ctx, account.SetRoleInput{UserID: id, Role: "KING"})
			}},
			{name: "ban nobody", by: admin, want: "NOT_FOUND:userID", change: func(ctx context.Context, id int) (*ent.User, error) {
				return e.s.BanUser(ctx, id+1000)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				target := e.register(t, fmt.Sprintf("target%d", i), "")
				if tc.self {
					target = tc.by
				}
				if _, err := e.viewer(target); err != nil { // its state is cached from here on
					t.Fatal(err)
				}
				e.cached(t, target.User.ID)
				by, err := e.viewer(tc.by)
				if err != nil {
					t.Fatal(err)
				}
				u, err := tc.change(auth.WithViewer(context.Background(), by), target.User.ID)
				if got := testenv.Outcome(err); got != tc.want {
					t.Fatalf("got %s, want %s", got, tc.want)
				}
				if tc.role == "" {
					return
				}
				if err == nil && u.ID != target.User.ID {
					t.Fatalf("returned user %d, not the target", u.ID)
				}
				v, err := e.viewer(target)
				if err != nil || v.Role != tc.role || v.Banned != tc.banned {
					t.Fatalf("the target's session is %+v (%v), want role %s, banned %t", v, err, tc.role, tc.banned)
				}
				if c := e.cached(t, target.User.ID); c.Role.String() != tc.role || (c.BannedAt != nil) != tc.banned {
					t.Fatalf("through the cache, the target has role %s, banned %t", c.Role, c.BannedAt != nil)
				}
			})
		}
	})
}

// TestSessions: a password change needs the current password and ends the other sessions; a
// refresh token works once, and presenting it again ends its session.
func TestSessions(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		e := newEnv(db)
		for i, tc := range []struct {
			name    string
			current string
			next    string
			want    string
			revoked int
		}{
			{name: "wrong current password", current: "wrong password", next: "new password!", want: "BAD_USER_INPUT:currentPassword"},
			{name: "short new password", current: password, next: "short", want: "BAD_USER_INPUT:newPassword"},
			{name: "change", current: password, next: "new password!", want: "ok", revoked: 2},
		} {
			t.Run("change password: "+tc.name, func(t *testing.T) {
				name := fmt.Sprintf("pw%d", i)
				this := e.register(t, name, "")
				others := make([]*account.Session, 2)
				for j := range others {
					var err error
					if others[j], err = e.s.Login(context.Background(), account.LoginInput{UsernameOrEmail: name, Password: password}); err != nil {
						t.Fatal(err)
					}
				}
				v, err := e.viewer(this)
				if err != nil {
					t.Fatal(err)
				}
				u, n, err := e.s.ChangePassword(auth.WithViewer(context.Background(), v), account.ChangePasswordInput{CurrentPassword: tc.current, NewPassword: tc.next})
				if got := testenv.Outcome(err); got != tc.want || n != tc.revoked {
					t.Fatalf("got %s ending %d sessions, want %s ending %d", got, n, tc.want, tc.revoked)
				}
				if err == nil && u.ID != this.User.ID {
					t.Fatalf("returned user %d, not the viewer", u.ID)
				}
				if _, err := e.viewer(this); err != nil {
					t.Fatalf("the session that changed the password ended: %v", err)
				}
				for _, o := range others {
					if _, err := e.viewer(o); (err == nil) != (tc.revoked == 0) {
						t.Fatalf("another session after the change: %v", err)
					}
				}
				signIn := password
				if tc.want == "ok" {
					signIn = tc.next
				}
				if _, err := e.s.Login(context.Background(), account.LoginInput{UsernameOrEmail: name, Password: signIn}); err != nil {
					t.Fatalf("signing in with the password now in force: %v", err)
				}
			})
		}

		t.Run("refresh", func(t *testing.T) {
			first := e.register(t, "refresher", "")
			second, err := e.s.RefreshSession(context.Background(), first.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := e.viewer(second); err != nil || v.UserID != first.User.ID {
				t.Fatalf("the refreshed session signs in as %+v (%v)", v, err)
			}
			// The rotated token again: someone else has a copy, so the session ends for both.
			if _, err := e.s.RefreshSession(context.Background(), first.RefreshToken); testenv.Outcome(err) != "UNAUTHENTICATED" {
				t.Fatalf("reusing a rotated refresh token: %v", err)
			}
			if _, err := e.viewer(second); err == nil {
				t.Fatal("the session survived the reuse of a rotated refresh token")
			}
			if _, err := e.s.RefreshSession(context.Background(), second.RefreshToken); testenv.Outcome(err) != "UNAUTHENTICATED" {
				t.Fatalf("refreshing an ended session: %v", err)
			}
		})
	})
}
