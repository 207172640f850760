package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// mailAPI serves Agora on a fresh database of dialect, mailing through a real SMTP server.
func mailAPI(t *testing.T, dialect string, configure func(*config.Config)) (*api, *testenv.MailServer) {
	t.Helper()
	ms := testenv.SMTP(t)
	o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")}
	if dialect == "postgres" {
		o = database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10}
	}
	db := openDB(t, o)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := startAPIWith(t, db, nil, func(cfg *config.Config) {
		cfg.Mail.SMTPURL, cfg.Mail.BaseURL = ms.URL, "http://app.test"
		if configure != nil {
			configure(cfg)
		}
	})
	return a, ms
}

// mailsTo are the received messages to address whose subject starts with subject.
func mailsTo(ms *testenv.MailServer, address, subject string) []testenv.Mail {
	var out []testenv.Mail
	for _, m := range ms.Received() {
		to, _ := m.Header.AddressList("To")
		if len(to) == 1 && to[0].Address == address && strings.HasPrefix(m.Header.Get("Subject"), subject) {
			out = append(out, m)
		}
	}
	return out
}

// linkToken finds the link to path in m's text part and returns its token.
func linkToken(t *testing.T, m testenv.Mail, path string) string {
	t.Helper()
	re := regexp.MustCompile(`https?://app\.test` + regexp.QuoteMeta(path+"?token=") + `([A-Za-z0-9_-]+)`)
	sub := re.FindStringSubmatch(m.Text(t))
	if sub == nil {
		t.Fatalf("no link to %s in the mail's text part:\n%s", path, m.Raw)
	}
	return sub[1]
}

const (
	verifyEmailMutation  = `mutation($t: String!) { verifyEmail(input: {token: $t}) { email } }`
	requestResetMutation = `mutation($e: String!) { requestPasswordReset(input: {email: $e}) { accepted } }`
	resetMutation        = `mutation($t: String!, $p: String!) { resetPassword(input: {token: $t, newPassword: $p}) { revokedSessionCount } }`
	loginMutation        = `mutation($u: String!, $p: String!) { login(input: {usernameOrEmail: $u, password: $p}) { accessToken } }`
)

func emailVerified(t *testing.T, a *api, u user) bool {
	t.Helper()
	var out struct{ Viewer struct{ EmailVerified *bool } }
	a.as(u).Do(t, `{ viewer { emailVerified } }`, nil, &out)
	if out.Viewer.EmailVerified == nil {
		t.Fatal("emailVerified is null for the user themselves")
	}
	return *out.Viewer.EmailVerified
}

// TestAccountMail: a sign-up is mailed a confirmation link over SMTP that works once; a password
// reset is asked for alike whether or not the address has an account, is mailed only to an
// account, works once, and ends every session; an address change needs the password and is
// confirmed again.
func TestAccountMail(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			a, ms := mailAPI(t, dialect, nil)
			ada := a.register(t, "ada")
			a.settle(t)
			confirm := mailsTo(ms, "ada@example.com", "Confirm your email address")
			if len(confirm) != 1 {
				t.Fatalf("%d confirmation mails to ada, want 1 (all: %d)", len(confirm), len(ms.Received()))
			}
			if id := confirm[0].Header.Get("Message-Id"); !strings.HasSuffix(id, "@localhost>") {
				t.Errorf("Message-ID %q is not Agora's", id)
			}
			if emailVerified(t, a, ada) {
				t.Fatal("verified before the link was opened")
			}
			token := linkToken(t, confirm[0], "/verify-email")
			var v struct{ VerifyEmail struct{ Email string } }
			a.Do(t, verifyEmailMutation, map[string]any{"t": token}, &v) // signed out, as from a mail reader
			if v.VerifyEmail.Email != "ada@example.com" || !emailVerified(t, a, ada) {
				t.Fatalf("verifyEmail: %+v, verified %t", v, emailVerified(t, a, ada))
			}
			if e := a.Fail(t, "BAD_USER_INPUT", "token", verifyEmailMutation, map[string]any{"t": token}); e.Extensions["reason"] != "TOKEN_INVALID" {
				t.Errorf("a used link: %+v", e)
			}

			// Resets: the same answer for an address without an account; a mail only to ada.
			known := a.Post(t, requestResetMutation, map[string]any{"e": "Ada@Example.com"})
			unknown := a.Post(t, requestResetMutation, map[string]any{"e": "nobody@example.com"})
			if string(known.Data) != string(unknown.Data) || len(known.Errors)+len(unknown.Errors) != 0 || known.Status != unknown.Status {
				t.Fatalf("answers differ: %s %v / %s %v", known.Data, known.Errors, unknown.Data, unknown.Errors)
			}
			a.settle(t)
			if n := len(mailsTo(ms, "nobody@example.com", "")); n != 0 {
				t.Fatalf("%d mails to an address without an account", n)
			}
			reset := mailsTo(ms, "ada@example.com", "Reset your Agora password")
			if len(reset) != 1 {
				t.Fatalf("%d reset mails to ada, want 1", len(reset))
			}
			a.Do(t, loginMutation, map[string]any{"u": "ada", "p": "password-ada"}, nil) // a second session
			resetToken := linkToken(t, reset[0], "/reset-password")
			a.Fail(t, "BAD_USER_INPUT", "newPassword", resetMutation, map[string]any{"t": resetToken, "p": "short"})
			var r struct {
				ResetPassword struct{ RevokedSessionCount int }
			}
			a.Do(t, resetMutation, map[string]any{"t": resetToken, "p": "a new password"}, &r)
			if r.ResetPassword.RevokedSessionCount != 2 {
				t.Errorf("reset ended %d sessions, want both", r.ResetPassword.RevokedSessionCount)
			}
			a.Fail(t, "BAD_USER_INPUT", "token", resetMutation, map[string]any{"t": resetToken, "p": "another password"})
			if r := a.as(ada).Post(t, `{ viewer { id } }`, nil); len(r.Errors) == 0 && !strings.Contains(string(r.Data), "null") {
				t.Errorf("a session from before the reset still works: %s", r.Data)
			}
			a.Fail(t, "UNAUTHENTICATED", "", loginMutation, map[string]any{"u": "ada", "p": "password-ada"})
			var in struct{ Login struct{ AccessToken string } }
			a.Do(t, loginMutation, map[string]any{"u": "ada", "p": "a new password"}, &in)
			ada.Token = in.Login.AccessToken

			// A new address: the password is required, and it is unconfirmed until its link is opened.
			change := `mutation($e: String!, $p: String) { changeEmail(input: {newEmail: $e, currentPassword: $p}) { user { email emailVerified } } }`
			a.as(ada).Fail(t, "BAD_USER_INPUT", "currentPassword", change, map[string]any{"e": "ada@new.example", "p": "wrong password"})
			a.as(ada).Fail(t, "BAD_USER_INPUT", "newEmail", change, map[string]any{"e": "not an address", "p": "a new password"})
			a.register(t, "bob")
			a.as(ada).Fail(t, "CONFLICT", "newEmail", change, map[string]any{"e": "bob@example.com", "p": "a new password"})
			var c struct {
				ChangeEmail struct {
					User struct {
						Email         string
						EmailVerified bool
					}
				}
			}
			a.as(ada).Do(t, change, map[string]any{"e": "ada@new.example", "p": "a new password"}, &c)
			if c.ChangeEmail.User.Email != "ada@new.example" || c.ChangeEmail.User.EmailVerified {
				t.Fatalf("changeEmail: %+v", c)
			}
			a.settle(t)
			confirm = mailsTo(ms, "ada@new.example", "Confirm your email address")
			if len(confirm) != 1 {
				t.Fatalf("%d confirmation mails to the new address, want 1", len(confirm))
			}
			a.Do(t, verifyEmailMutation, map[string]any{"t": linkToken(t, confirm[0], "/verify-email")}, nil)
			if !emailVerified(t, a, ada) {
				t.Fatal("the new address is not confirmed by its link")
			}
			var resend struct{ ResendVerificationEmail struct{ Sent bool } }
			a.as(ada).Do(t, `mutation { resendVerificationEmail { sent } }`, nil, &resend)
			if resend.ResendVerificationEmail.Sent {
				t.Error("a confirmed address was mailed again")
			}
		})
	}
}

// TestAccountMailLimits: confirmation and reset mails to one address are rate-limited with a clear
// code, and an expired link is refused.
func TestAccountMailLimits(t *testing.T) {
	a, ms := mailAPI(t, "postgres", func(cfg *config.Config) { cfg.RateLimits.AccountMail = config.Budget{Burst: 2, Per: time.Hour} })
	ada := a.register(t, "ada")
	a.Do(t, requestResetMutation, map[string]any{"e": "ada@example.com"}, nil)
	a.Do(t, requestResetMutation, map[string]any{"e": "ada@example.com"}, nil)
	a.Fail(t, "RATE_LIMITED", "", requestResetMutation, map[string]any{"e": "ada@example.com"})
	a.as(ada).Fail(t, "RATE_LIMITED", "", `mutation { resendVerificationEmail { sent } }`, nil)
	a.settle(t)
	if n := len(mailsTo(ms, "ada@example.com", "Reset your Agora password")); n != 2 {
		t.Errorf("%d reset mails, want the 2 within the budget", n)
	}
	// An expired link is refused; using a link ends the others.
	reset := mailsTo(ms, "ada@example.com", "Reset your Agora password")
	expired, live := linkToken(t, reset[0], "/reset-password"), linkToken(t, reset[1], "/reset-password")
	sum := sha256.Sum256([]byte(expired))
	if _, err := a.db.SQL.Exec("UPDATE account_tokens SET expires_at = $1 WHERE hash = $2", time.Now().Add(-time.Second), hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	a.Fail(t, "BAD_USER_INPUT", "token", resetMutation, map[string]any{"t": expired, "p": "a new password"})
	a.Do(t, loginMutation, map[string]any{"u": "ada", "p": "password-ada"}, nil)
	a.Do(t, resetMutation, map[string]any{"t": live, "p": "a new password"}, nil)
	if n := a.count(t, "account_tokens"); n != 1 { // ada's confirmation link
		t.Errorf("%d account tokens left, want only the confirmation link", n)
	}
	a.Do(t, loginMutation, map[string]any{"u": "ada", "p": "a new password"}, nil)
}

// verifiedUser signs a user up and confirms their address by the link mailed to it.
func verifiedUser(t *testing.T, a *api, ms *testenv.MailServer, name string) user {
	t.Helper()
	u := a.register(t, name)
	a.settle(t)
	confirm := mailsTo(ms, name+"@example.com", "Confirm your email address")
	if len(confirm) != 1 {
		t.Fatalf("%d confirmation mails to %s", len(confirm), name)
	}
	a.Do(t, verifyEmailMutation, map[string]any{"t": linkToken(t, confirm[0], "/verify-email")}, nil)
	return u
}

// unsubscribe sends link's request to Agora (the base URL is the app's address, which routes
// /unsubscribe to Agora).
func unsubscribe(t *testing.T, a *api, method, link string) (int, string) {
	t.Helper()
	u := a.srv.URL + strings.TrimPrefix(link, "https://app.test")
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("List-Unsubscribe=One-Click") // RFC 8058's one-click POST
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(page)
}

func settings(t *testing.T, a *api, u user) map[string]string {
	t.Helper()
	var out struct {
		Viewer struct{ NotificationSettings map[string]string }
	}
	a.as(u).Do(t, `{ viewer { notificationSettings { newFollower newComment postLiked newMessage } } }`, nil, &out)
	return out.Viewer.NotificationSettings
}

// TestNotificationMail: a comment is mailed at once (the default) with a one-click unsubscribe link
// that works signed out — a GET only shows the button, a POST turns that kind off, a forged token
// is refused; likes and follows wait for the daily digest, mailed once however often the job runs;
// nothing goes to an unconfirmed address or a banned user.
func TestNotificationMail(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			a, ms := mailAPI(t, dialect, func(cfg *config.Config) { cfg.Mail.BaseURL = "https://app.test" })
			ada, bob := verifiedUser(t, a, ms, "ada"), verifiedUser(t, a, ms, "bob")
			if got := settings(t, a, ada); got["newComment"] != "INSTANT" || got["postLiked"] != "DAILY" || got["newFollower"] != "DAILY" || got["newMessage"] != "INSTANT" {
				t.Fatalf("default settings: %v", got)
			}
			p := a.createPost(t, ada, map[string]any{"title": "Tides", "body": "About the sea.", "publish": true})
			comment := `mutation($id: ID!, $b: String!) { addComment(input: {postID: $id, body: $b}) { comment { id } } }`
			a.as(bob).Do(t, comment, map[string]any{"id": p.ID, "b": "Lovely waves"}, nil)
			a.settle(t)
			instant := mailsTo(ms, "ada@example.com", `bob commented on "Tides"`)
			if len(instant) != 1 {
				t.Fatalf("%d comment mails to ada, want 1", len(instant))
			}
			h := instant[0].Header
			link := strings.Trim(h.Get("List-Unsubscribe"), "<>")
			if !strings.HasPrefix(link, "https://app.test/unsubscribe?token=") || h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
				t.Fatalf("unsubscribe headers: %q %q", h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"))
			}
			if !bytes.Contains(instant[0].Raw, []byte("Lovely waves")) || !bytes.Contains(instant[0].Raw, []byte("https://app.test/posts/")) {
				t.Errorf("the mail does not tell the comment or link to the post:\n%s", instant[0].Raw)
			}

			// A GET (a mail scanner following the link) shows the button and changes nothing.
			if code, page := unsubscribe(t, a, http.MethodGet, link); code != http.StatusOK || !strings.Contains(page, `method="post"`) {
				t.Fatalf("GET: %d %s", code, page)
			}
			if settings(t, a, ada)["newComment"] != "INSTANT" {
				t.Fatal("a GET unsubscribed")
			}
			for _, forged := range []string{link + "x", strings.Replace(link, "token=", "token=x", 1), "https://app.test/unsubscribe?token=MQ.AAAA"} {
				if code, _ := unsubscribe(t, a, http.MethodPost, forged); code != http.StatusBadRequest {
					t.Errorf("forged token %s: %d, want 400", forged, code)
				}
			}
			if settings(t, a, ada)["newComment"] != "INSTANT" {
				t.Fatal("a forged token unsubscribed")
			}
			if code, page := unsubscribe(t, a, http.MethodPost, link); code != http.StatusOK || !strings.Contains(page, "no more mail") {
				t.Fatalf("one-click POST: %d %s", code, page)
			}
			if got := settings(t, a, ada); got["newComment"] != "OFF" || got["postLiked"] != "DAILY" {
				t.Fatalf("after unsubscribing from comments: %v", got)
			}
			a.as(bob).Do(t, comment, map[string]any{"id": p.ID, "b": "Again"}, nil)
			a.settle(t)
			if n := len(mailsTo(ms, "ada@example.com", "bob commented")); n != 1 {
				t.Fatalf("%d comment mails after unsubscribing, want still 1", n)
			}

			// Likes and follows wait for the digest of the day they happened.
			a.as(bob).Do(t, `mutation($id: ID!) { likePost(input: {postID: $id}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
			a.as(bob).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": ada.ID}, nil)
			a.settle(t)
			if n := len(mailsTo(ms, "ada@example.com", "bob liked")) + len(mailsTo(ms, "ada@example.com", "bob started")); n != 0 {
				t.Fatalf("%d instant mails for DAILY kinds", n)
			}
			yesterday := time.Now().UTC().Add(-24 * time.Hour)
			if _, err := a.db.SQL.Exec("UPDATE notifications SET created_at = $1", yesterday); err != nil {
				t.Fatal(err)
			}
			for range 2 { // a rerun, or a second process, mails nobody twice
				if _, err := a.notices.Digest(context.Background(), time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			a.settle(t)
			digests := mailsTo(ms, "ada@example.com", "Your day on Agora")
			if len(digests) != 1 || !strings.HasPrefix(digests[0].Header.Get("Subject"), "Your day on Agora: 2 new notifications") {
				t.Fatalf("digests to ada: %d (%v)", len(digests), digests)
			}
			if n := len(mailsTo(ms, "bob@example.com", "Your day on Agora")); n != 0 {
				t.Errorf("%d digests to bob, who had nothing that day", n)
			}
			// The digest's link turns off every kind it gathers.
			code, _ := unsubscribe(t, a, http.MethodPost, strings.Trim(digests[0].Header.Get("List-Unsubscribe"), "<>"))
			if got := settings(t, a, ada); code != http.StatusOK || got["postLiked"] != "OFF" || got["newFollower"] != "OFF" || got["newMessage"] != "INSTANT" {
				t.Fatalf("after unsubscribing from the digest: %d %v", code, got)
			}

			// Nothing to an unconfirmed address, nor to a banned user.
			cyd := a.register(t, "cyd")
			q := a.createPost(t, bob, map[string]any{"title": "Rocks", "body": "About stones.", "publish": true})
			cp := a.createPost(t, cyd, map[string]any{"title": "Sand", "body": "About dunes.", "publish": true})
			if _, err := a.db.SQL.Exec("UPDATE users SET banned_at = $1 WHERE username = 'bob'", time.Now()); err != nil {
				t.Fatal(err)
			}
			a.as(ada).Do(t, comment, map[string]any{"id": q.ID, "b": "Nice rocks"}, nil)
			a.as(ada).Do(t, comment, map[string]any{"id": cp.ID, "b": "Nice sand"}, nil)
			a.settle(t)
			if n := len(mailsTo(ms, "bob@example.com", "ada commented")) + len(mailsTo(ms, "cyd@example.com", "ada commented")); n != 0 {
				t.Errorf("%d comment mails to a banned user or an unconfirmed address", n)
			}
		})
	}
}

// TestUnconfirmedAccounts: where a confirmed address is required, a new account reads but may not
// write (FORBIDDEN, reason EMAIL_NOT_VERIFIED) until it opens its link; then it may, at once.
func TestUnconfirmedAccounts(t *testing.T) {
	a, ms := mailAPI(t, "sqlite", func(cfg *config.Config) { cfg.Mail.RequireVerified = true })
	ada := a.register(t, "ada")
	a.as(ada).Do(t, `{ viewer { username } }`, nil, nil)
	e := a.as(ada).Fail(t, "FORBIDDEN", "", createPostMutation, map[string]any{"in": map[string]any{"title": "Early"}})
	if e.Extensions["reason"] != "EMAIL_NOT_VERIFIED" {
		t.Fatalf("refusal: %+v", e)
	}
	a.settle(t)
	confirm := mailsTo(ms, "ada@example.com", "Confirm your email address")
	if len(confirm) != 1 {
		t.Fatalf("%d confirmation mails", len(confirm))
	}
	a.Do(t, verifyEmailMutation, map[string]any{"t": linkToken(t, confirm[0], "/verify-email")}, nil)
	a.createPost(t, ada, map[string]any{"title": "Now"})
}
