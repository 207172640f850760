package notify_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/live"
	"github.com/agora/agora/internal/mail"
	"github.com/agora/agora/internal/notify"
	"github.com/agora/agora/internal/testenv"
)

// mailService is a Service whose notification mail goes over SMTP to ms, signed by keys (the
// current key first), with a running queue. The digest runs when a test calls it.
func mailService(t *testing.T, db *database.DB, ms *testenv.MailServer, keys ...string) (*notify.Service, func()) {
	t.Helper()
	s, q := signedBy(t, db, ms, keys...)
	testenv.StartQueue(t, q)
	return s, func() { testenv.Settle(t, q) }
}

// signedBy is a Service of a server with these keys whose queue is not started: another
// process, as far as links go.
func signedBy(t *testing.T, db *database.DB, ms *testenv.MailServer, keys ...string) (*notify.Service, *jobs.Queue) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	q := testenv.NewQueue(db)
	s := notify.New(db.Client, live.New(db.Client, testenv.NewBus(), log), q, log)
	sender, err := mail.NewSMTP(ms.URL, "Agora <no-reply@agora.test>")
	if err != nil {
		t.Fatal(err)
	}
	composer, err := mail.NewComposer("https://app.test")
	if err != nil {
		t.Fatal(err)
	}
	s.SetMail(notify.Mail{Outbox: mail.NewOutbox(q, sender, log), Composer: composer, Sign: signer(keys...)})
	return s, q
}

// signer is the Derive of a server with these JWT keys, the current one first.
func signer(keys ...string) func(string, []byte) [][]byte {
	var previous [][]byte
	for _, k := range keys[1:] {
		previous = append(previous, []byte(k))
	}
	return auth.NewTokens([]byte(keys[0]), previous, "agora", time.Hour).Derive
}

// mailUser is a user with a confirmed address, banned if banned.
func mailUser(t *testing.T, db *database.DB, name string, confirmed, banned bool) *ent.User {
	t.Helper()
	u := testenv.NewUser(t, db.Client, name, "")
	upd := db.Client.User.UpdateOne(u)
	if confirmed {
		upd.SetEmailVerifiedAt(time.Now().UTC())
	}
	if banned {
		upd.SetBannedAt(time.Now().UTC())
	}
	return upd.SaveX(testenv.System)
}

// received are the mails to name whose subject starts with subject.
func received(ms *testenv.MailServer, name, subject string) []testenv.Mail {
	var out []testenv.Mail
	for _, m := range ms.Received() {
		if len(m.To) == 1 && m.To[0] == name+"@example.com" && strings.HasPrefix(m.Header.Get("Subject"), subject) {
			out = append(out, m)
		}
	}
	return out
}

// TestDigestOfTheDay: the digest of a UTC day gathers the recipient's unread notifications of
// that day of their DAILY kinds — not read ones, not INSTANT kinds, not the day before or after —
// and is mailed once however many runs race for it; the next day's run mails the next day's.
// Banned users and unconfirmed addresses get none.
func TestDigestOfTheDay(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		ms := testenv.SMTP(t)
		s, settle := mailService(t, db, ms, "the current key")
		ada, bob := mailUser(t, db, "ada", true, false), mailUser(t, db, "bob", true, false)
		cyd, dan := mailUser(t, db, "cyd", true, true), mailUser(t, db, "dan", false, false)
		post := testenv.NewPost(t, db.Client, ada, "Tides", true)

		now := time.Now().UTC()
		today := now.Truncate(24 * time.Hour)
		yesterday := today.Add(-24 * time.Hour)
		add := func(to *ent.User, kind notification.Kind, at time.Time, read bool) {
			actor := bob
			if to.ID == bob.ID {
				actor = ada
			}
			c := db.Client.Notification.Create().SetKind(kind).SetRecipientID(to.ID).SetActorID(actor.ID).SetCreatedAt(at)
			if kind == notification.KindPOST_LIKED {
				c.SetPostID(post.ID)
			}
			if read {
				c.SetReadAt(now)
			}
			c.ExecX(testenv.System)
		}
		for _, u := range []*ent.User{ada, cyd, dan} {
			add(u, notification.KindNEW_FOLLOWER, yesterday.Add(9*time.Hour), false)
		}
		add(ada, notification.KindPOST_LIKED, yesterday.Add(10*time.Hour), false)
		add(ada, notification.KindPOST_LIKED, yesterday.Add(11*time.Hour), true)   // read: not told again
		add(ada, notification.KindNEW_MESSAGE, yesterday.Add(12*time.Hour), false) // INSTANT by default
		add(ada, notification.KindPOST_LIKED, yesterday.Add(-time.Hour), false)    // the day before
		add(ada, notification.KindPOST_LIKED, today.Add(time.Second), false)       // today: tomorrow's digest
		add(bob, notification.KindNEW_MESSAGE, yesterday.Add(time.Hour), false)    // bob has only an INSTANT kind
		if _, err := db.Client.User.UpdateOne(bob).SetMailNewMessage(user.MailNewMessageDAILY).
			SetMailNewFollower(user.MailNewFollowerOFF).Save(testenv.System); err != nil {
			t.Fatal(err)
		}

		// Two runs at once, as two processes might: one claims each user's day.
		var wg sync.WaitGroup
		sent := make([]int, 3)
		for i := range 2 {
			wg.Go(func() {
				n, err := s.Digest(context.Background(), now)
				if err != nil {
					t.Error(err)
				}
				sent[i] = n
			})
		}
		wg.Wait()
		n, err := s.Digest(context.Background(), now) // and a rerun
		if err != nil {
			t.Fatal(err)
		}
		sent[2] = n
		settle()
		if sent[0]+sent[1]+sent[2] != 2 || sent[2] != 0 {
			t.Errorf("digests queued by the runs: %v, want 2 (ada and bob) in all, none by the rerun", sent)
		}
		digests := received(ms, "ada", "Your day on Agora")
		if len(digests) != 1 {
			t.Fatalf("%d digests to ada, want 1", len(digests))
		}
		d := digests[0]
		if got := d.Header.Get("Subject"); got != "Your day on Agora: 2 new notifications" {
			t.Errorf("subject %q: want the follow and the unread like of yesterday", got)
		}
		if !strings.HasPrefix(d.Header.Get("List-Unsubscribe"), "<https://app.test/unsubscribe?token=") ||
			d.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("unsubscribe headers: %q %q", d.Header.Get("List-Unsubscribe"), d.Header.Get("List-Unsubscribe-Post"))
		}
		if !strings.Contains(string(d.Raw), yesterday.Format("Monday, 2 January 2006")) {
			t.Errorf("the digest does not name its day, %s", yesterday.Format(time.DateOnly))
		}
		if n := len(received(ms, "bob", "Your day on Agora: 1 new notification")); n != 1 {
			t.Errorf("%d digests of bob's message, want 1", n)
		}
		for _, u := range []string{"cyd", "dan"} {
			if n := len(received(ms, u, "")); n != 0 {
				t.Errorf("%d mails to %s (banned or unconfirmed)", n, u)
			}
		}

		// The next day's run mails today's like, under another key.
		if n, err := s.Digest(context.Background(), now.Add(24*time.Hour)); err != nil || n != 1 {
			t.Fatalf("the next day's run: %d digests, %v; want 1", n, err)
		}
		settle()
		digests = received(ms, "ada", "Your day on Agora")
		if len(digests) != 2 || digests[1].Header.Get("Subject") != "Your day on Agora: 1 new notification" ||
			digests[1].Header.Get("Message-Id") == digests[0].Header.Get("Message-Id") {
			t.Fatalf("after the next day's run: %d digests to ada", len(digests))
		}
	})
}

// TestUnsubscribeLink: the link of an instant mail turns off its kind only, with no session;
// links made before a key rotation still work; a link another server signed, or one altered, is
// refused and changes nothing.
func TestUnsubscribeLink(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		ms := testenv.SMTP(t)
		s, settle := mailService(t, db, ms, "the old key")
		ada, bob := mailUser(t, db, "ada", true, false), mailUser(t, db, "bob", true, false)
		if err := s.Notify(context.Background(), notify.Notice{Kind: notification.KindNEW_FOLLOWER, Recipient: ada.ID, Actor: bob.ID}); err != nil {
			t.Fatal(err)
		}
		settle() // its job reads the setting when it runs
		if _, err := s.UpdateSettings(testenv.As(ada), notify.Settings{notification.KindNEW_FOLLOWER: notify.MailInstant}); err != nil {
			t.Fatal(err)
		}
		if err := s.Notify(context.Background(), notify.Notice{Kind: notification.KindNEW_FOLLOWER, Recipient: ada.ID, Actor: bob.ID}); err != nil {
			t.Fatal(err)
		}
		settle()
		mails := received(ms, "ada", "")
		if len(mails) != 1 {
			t.Fatalf("%d mails to ada, want 1: the follow while it was DAILY is for the digest", len(mails))
		}
		link := strings.Trim(mails[0].Header.Get("List-Unsubscribe"), "<>")
		_, token, _ := strings.Cut(link, "?token=")

		// Another server (another key) made neither of these.
		other, _ := signedBy(t, db, ms, "another server's key")
		if _, err := other.Unsubscribe(context.Background(), token); err != notify.ErrBadUnsubscribe {
			t.Errorf("another server's link: %v, want ErrBadUnsubscribe", err)
		}
		payload, mac, _ := strings.Cut(token, ".")
		last := "A"
		if strings.HasSuffix(payload, "A") {
			last = "B"
		}
		for name, forged := range map[string]string{
			"altered payload": payload[:len(payload)-1] + last + "." + mac, "altered signature": payload + "." + mac[:len(mac)-2],
			"no signature": payload, "empty": "", "not base64": "%%%.%%%",
		} {
			if _, err := s.Unsubscribe(context.Background(), forged); err != notify.ErrBadUnsubscribe {
				t.Errorf("%s: %v, want ErrBadUnsubscribe", name, err)
			}
		}
		if got, _ := s.Settings(testenv.System, ada.ID); got[notification.KindNEW_FOLLOWER] != notify.MailInstant {
			t.Fatalf("a refused token changed the settings: %v", got)
		}

		// The keys rotated since the mail left: its link still works.
		rotated, _ := signedBy(t, db, ms, "the new key", "the old key")
		if what, err := rotated.Unsubscribe(context.Background(), token); err != nil || what != "new followers" {
			t.Fatalf("unsubscribed from %q, %v; want new followers", what, err)
		}
		got, err := s.Settings(testenv.System, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := notify.Settings{notification.KindNEW_FOLLOWER: notify.MailOff, notification.KindNEW_COMMENT: notify.MailInstant,
			notification.KindPOST_LIKED: notify.MailDaily, notification.KindNEW_MESSAGE: notify.MailInstant}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("after unsubscribing from follows: %s is %s, want %s", k, got[k], v)
			}
		}
		if err := s.Notify(context.Background(), notify.Notice{Kind: notification.KindNEW_FOLLOWER, Recipient: ada.ID, Actor: bob.ID}); err != nil {
			t.Fatal(err)
		}
		settle()
		if n := len(received(ms, "ada", "")); n != 1 {
			t.Errorf("%d mails to ada after unsubscribing, want still 1", n)
		}
	})
}

// TestDigestThatCannotBeMade: a digest that cannot be made (here a like whose post is unknown)
// is dropped with its day claimed, not retried forever, and holds back nobody after it.
func TestDigestThatCannotBeMade(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		ms := testenv.SMTP(t)
		s, settle := mailService(t, db, ms, "the current key")
		abe, ada, bob := mailUser(t, db, "abe", true, false), mailUser(t, db, "ada", true, false), mailUser(t, db, "bob", true, false)
		yesterday := time.Now().UTC().Truncate(24 * time.Hour).Add(-time.Hour)
		db.Client.Notification.Create().SetKind(notification.KindPOST_LIKED).SetRecipientID(abe.ID).SetActorID(bob.ID).
			SetCreatedAt(yesterday).ExecX(testenv.System) // no post: the mail cannot name it
		db.Client.Notification.Create().SetKind(notification.KindNEW_FOLLOWER).SetRecipientID(ada.ID).SetActorID(bob.ID).
			SetCreatedAt(yesterday).ExecX(testenv.System)
		for run, want := range []int{1, 0} {
			if n, err := s.Digest(context.Background(), time.Now()); err != nil || n != want {
				t.Errorf("run %d: %d digests, %v; want %d", run, n, err, want)
			}
		}
		settle()
		if n := len(received(ms, "ada", "Your day on Agora")); n != 1 {
			t.Errorf("%d digests to ada, want 1", n)
		}
		if n := len(received(ms, "abe", "")); n != 0 {
			t.Errorf("%d mails to abe, want none", n)
		}
		if u := db.Client.User.GetX(testenv.System, abe.ID); u.DigestThrough == nil {
			t.Error("abe's day is not claimed: every run would try it again")
		}
	})
}

// TestInstantMailToABadAddress: a mail that cannot be made (here an address stored before
// addresses were checked) is dropped, and the notification it tells of is still written.
func TestInstantMailToABadAddress(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		ms := testenv.SMTP(t)
		s, settle := mailService(t, db, ms, "the current key")
		eve, bob := mailUser(t, db, "eve", true, false), mailUser(t, db, "bob", true, false)
		if _, err := s.UpdateSettings(testenv.As(eve), notify.Settings{notification.KindNEW_FOLLOWER: notify.MailInstant}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL.Exec("UPDATE users SET email = 'eve at example' WHERE id = $1", eve.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Notify(context.Background(), notify.Notice{Kind: notification.KindNEW_FOLLOWER, Recipient: eve.ID, Actor: bob.ID}); err != nil {
			t.Fatal(err)
		}
		settle()
		if n := db.Client.Notification.Query().Where(notification.RecipientID(eve.ID)).CountX(testenv.System); n != 1 {
			t.Errorf("%d notifications to eve, want 1", n)
		}
		if n := len(ms.Received()); n != 0 {
			t.Errorf("%d mails sent", n)
		}
	})
}

// TestDigestOfABusyDay: a day with more events than a digest shows mails the most recent 50; its
// subject counts them all, and the mail says the rest are in the app.
func TestDigestOfABusyDay(t *testing.T) {
	testenv.EachDatabase(t, func(t *testing.T, db *database.DB) {
		ms := testenv.SMTP(t)
		s, settle := mailService(t, db, ms, "the current key")
		ada, bob := mailUser(t, db, "ada", true, false), mailUser(t, db, "bob", true, false)
		now := time.Now().UTC()
		yesterday := now.Truncate(24 * time.Hour).Add(-24 * time.Hour)
		likes := make([]*ent.NotificationCreate, 52)
		post := testenv.NewPost(t, db.Client, ada, "Tides", true)
		for i := range likes {
			likes[i] = db.Client.Notification.Create().SetKind(notification.KindPOST_LIKED).SetRecipientID(ada.ID).
				SetActorID(bob.ID).SetPostID(post.ID).SetCreatedAt(yesterday.Add(time.Duration(i) * time.Minute))
		}
		db.Client.Notification.CreateBulk(likes...).ExecX(testenv.System)
		if n, err := s.Digest(context.Background(), now); err != nil || n != 1 {
			t.Fatalf("digests: %d, %v", n, err)
		}
		settle()
		digests := received(ms, "ada", "Your day on Agora")
		if len(digests) != 1 || digests[0].Header.Get("Subject") != "Your day on Agora: 52 new notifications" {
			t.Fatalf("%d digests to ada: %+v", len(digests), digests)
		}
		body := digests[0].Text(t)
		if !strings.Contains(body, "(the 50 most recent of 52; the others are in the app)") || strings.Count(body, "Tides") != 50 {
			t.Errorf("the digest does not say it shows the 50 most recent:\n%s", body)
		}
	})
}
