package mail

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agora/agora/internal/apperr"
)

func composer(t *testing.T, base string) *Composer {
	t.Helper()
	c, err := NewComposer(base)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCompose renders every mail and checks its subject, the links in both parts, the
// unsubscribe link of notification mail only, and the key.
func TestCompose(t *testing.T) {
	c := composer(t, "https://agora.example.com/app/")
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, berlin)
	for _, tc := range []struct {
		name        string
		render      func() (Message, error)
		subject     string
		links       []string // in the text part as is, in the HTML part as href
		texts       []string // more in the text part
		unsubscribe bool
	}{
		{
			name: "verification",
			render: func() (Message, error) {
				return c.Verification(Verification{To: "ann@example.com", Recipient: "Ann", Token: "tok/+=1", Valid: 48 * time.Hour, Key: "verify:1"})
			},
			subject: "Confirm your email address for Agora",
			links:   []string{"https://agora.example.com/app/verify-email?token=tok%2F%2B%3D1"},
			texts:   []string{"Hi Ann,", "for 2 days"},
		},
		{
			name: "password reset",
			render: func() (Message, error) {
				return c.PasswordReset(PasswordReset{To: "ann@example.com", Recipient: "Ann", Token: "r3s3t", Valid: 30 * time.Minute, Key: "reset:1"})
			},
			subject: "Reset your Agora password",
			links:   []string{"https://agora.example.com/app/reset-password?token=r3s3t"},
			texts:   []string{"for 30 minutes", "signs you out"},
		},
		{
			name: "new follower",
			render: func() (Message, error) {
				return c.Notification(Notification{To: "ann@example.com", Recipient: "Ann", Unsubscribe: "u-1", Key: "n:1",
					Event: Event{Kind: NewFollower, Actor: "bob", Path: "/users/bob"}})
			},
			subject:     "bob started following you on Agora",
			links:       []string{"https://agora.example.com/app/users/bob"},
			texts:       []string{"bob started following you."},
			unsubscribe: true,
		},
		{
			name: "new comment",
			render: func() (Message, error) {
				return c.Notification(Notification{To: "ann@example.com", Recipient: "Ann", Unsubscribe: "u-1", Key: "n:2",
					Event: Event{Kind: NewComment, Actor: "bob", Title: "Fish", Excerpt: "Lovely\n\npost", Path: "/posts/42?comment=7#c7"}})
			},
			subject:     `bob commented on "Fish"`,
			links:       []string{"https://agora.example.com/app/posts/42?comment=7#c7"},
			texts:       []string{`bob commented on your post "Fish":`, `"Lovely post"`},
			unsubscribe: true,
		},
		{
			name: "post liked",
			render: func() (Message, error) {
				return c.Notification(Notification{To: "ann@example.com", Recipient: "Ann", Unsubscribe: "u-1", Key: "n:3",
					Event: Event{Kind: PostLiked, Actor: "bob", Title: "Fish", Path: "/posts/42"}})
			},
			subject:     `bob liked "Fish"`,
			links:       []string{"https://agora.example.com/app/posts/42"},
			texts:       []string{`bob liked your post "Fish".`},
			unsubscribe: true,
		},
		{
			name: "new message",
			render: func() (Message, error) {
				return c.Notification(Notification{To: "ann@example.com", Recipient: "Ann", Unsubscribe: "u-1", Key: "n:4",
					Event: Event{Kind: NewMessage, Actor: "bob", Excerpt: "Are you coming?", Path: "/messages/9"}})
			},
			subject:     "New message from bob",
			links:       []string{"https://agora.example.com/app/messages/9"},
			texts:       []string{"bob sent you a message:", `"Are you coming?"`},
			unsubscribe: true,
		},
		{
			name: "digest",
			render: func() (Message, error) {
				return c.Digest(Digest{To: "ann@example.com", Recipient: "Ann", Day: day, Unsubscribe: "u-2", Key: "digest:1:2026-03-04",
					Events: []Event{
						{Kind: NewFollower, Actor: "bob", Path: "/users/bob", At: time.Date(2026, 3, 4, 8, 5, 0, 0, time.UTC)},
						{Kind: PostLiked, Actor: "cleo", Title: "Fish", Path: "/posts/42"},
						{Kind: NewMessage, Actor: "dan", Path: "/messages/9"},
					}})
			},
			subject:     "Your day on Agora: 3 new notifications",
			links:       []string{"https://agora.example.com/app/users/bob", "https://agora.example.com/app/posts/42", "https://agora.example.com/app/messages/9"},
			texts:       []string{"on Wednesday, 4 March 2026:", "* 09:05 bob started following you.", `* cleo liked your post "Fish".`, "* dan sent you a message."},
			unsubscribe: true,
		},
		{
			name: "digest of one",
			render: func() (Message, error) {
				return c.Digest(Digest{To: "ann@example.com", Recipient: "Ann", Day: day, Unsubscribe: "u-2", Key: "digest:1:2026-03-04",
					Events: []Event{{Kind: NewFollower, Actor: "bob", Path: "/users/bob"}}})
			},
			subject:     "Your day on Agora: 1 new notification",
			links:       []string{"https://agora.example.com/app/users/bob"},
			unsubscribe: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tc.subject || m.To != "ann@example.com" || m.Key == "" {
				t.Errorf("subject %q to %q key %q", m.Subject, m.To, m.Key)
			}
			for _, part := range []string{m.Text, m.HTML} {
				if strings.Contains(part, "<no value>") || strings.Contains(part, "%!") {
					t.Errorf("a field is missing:\n%s", part)
				}
			}
			if strings.Contains(m.Text, "<p") || strings.Contains(m.Text, "&amp;") {
				t.Errorf("HTML in the text part:\n%s", m.Text)
			}
			if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") || !strings.Contains(m.HTML, "<title>"+tc.subject) && !strings.Contains(tc.subject, `"`) {
				t.Errorf("HTML part:\n%s", m.HTML)
			}
			for _, link := range tc.links {
				if !strings.Contains(m.Text, link) {
					t.Errorf("text part lacks %s:\n%s", link, m.Text)
				}
				if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) {
					t.Errorf("HTML part lacks a link to %s:\n%s", link, m.HTML)
				}
			}
			for _, want := range tc.texts {
				if !strings.Contains(m.Text, want) {
					t.Errorf("text part lacks %q:\n%s", want, m.Text)
				}
			}
			if tc.unsubscribe {
				if !strings.HasPrefix(m.Unsubscribe, "https://agora.example.com/app/unsubscribe?token=u-") ||
					!strings.Contains(m.Text, m.Unsubscribe) || !strings.Contains(m.HTML, `href="`+m.Unsubscribe+`"`) {
					t.Errorf("unsubscribe %q not in both parts", m.Unsubscribe)
				}
			} else if m.Unsubscribe != "" || strings.Contains(m.Text, "unsubscribe") || strings.Contains(m.HTML, "unsubscribe") {
				t.Errorf("transactional mail with an unsubscribe link: %q", m.Unsubscribe)
			}
		})
	}
}

// TestComposeEscapes: what users write is escaped in the HTML part, kept as written in the text
// part and the subject, and folded to one line.
func TestComposeEscapes(t *testing.T) {
	c := composer(t, "http://localhost:8080")
	m, err := c.Notification(Notification{To: "ann@example.com", Recipient: `Ann "<b>"`, Unsubscribe: "u", Key: "k",
		Event: Event{Kind: NewComment, Actor: "<script>alert(1)</script>", Title: "Fish & <i>chips</i>\nand more",
			Excerpt: `<img src=x onerror="alert(2)">`, Path: "/posts/1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"<script>", "<i>chips", "<img", `"<b>"`} {
		if strings.Contains(m.HTML, raw) {
			t.Errorf("HTML part has %q unescaped:\n%s", raw, m.HTML)
		}
	}
	for _, escaped := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "Fish &amp; &lt;i&gt;chips&lt;/i&gt; and more", "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;"} {
		if !strings.Contains(m.HTML, escaped) {
			t.Errorf("HTML part lacks %q:\n%s", escaped, m.HTML)
		}
	}
	if m.Subject != `<script>alert(1)</script> commented on "Fish & <i>chips</i> and more"` {
		t.Errorf("subject: %q", m.Subject)
	}
	if !strings.Contains(m.Text, `<script>alert(1)</script> commented on your post "Fish & <i>chips</i> and more":`) {
		t.Errorf("text part:\n%s", m.Text)
	}
	// http:// in development: List-Unsubscribe without one-click POST.
	if m.Unsubscribe != "http://localhost:8080/unsubscribe?token=u" || len(m.Headers("localhost")) != 3 {
		t.Errorf("unsubscribe %q, headers %q", m.Unsubscribe, m.Headers("localhost"))
	}

	long := strings.Repeat("é", 400)
	m, err = c.Notification(Notification{To: "ann@example.com", Recipient: "Ann", Unsubscribe: "u", Key: "k",
		Event: Event{Kind: NewMessage, Actor: "bob", Excerpt: long, Path: "/messages/1"}})
	if err != nil {
		t.Fatal(err)
	}
	excerpt := strings.Repeat("é", 279) + "…"
	if !strings.Contains(m.Text, `"`+excerpt+`"`) || strings.Contains(m.Text, strings.Repeat("é", 281)) {
		t.Errorf("want the excerpt cut to 280 characters:\n%s", m.Text)
	}
	if n := utf8.RuneCountInString(oneLine(long, 280)); n != 280 {
		t.Errorf("oneLine: %d characters", n)
	}
}

func TestComposeRefuses(t *testing.T) {
	c := composer(t, "https://agora.example.com")
	ok := Event{Kind: NewFollower, Actor: "bob", Path: "/users/bob"}
	notify := func(e Event) func() (Message, error) {
		return func() (Message, error) {
			return c.Notification(Notification{To: "ann@example.com", Recipient: "Ann", Unsubscribe: "u", Key: "k", Event: e})
		}
	}
	for _, tc := range []struct {
		name   string
		render func() (Message, error)
		want   string
	}{
		{"unknown kind", notify(Event{Kind: "POKED", Actor: "bob", Path: "/"}), `unknown notification kind "POKED"`},
		{"no actor", notify(Event{Kind: NewFollower, Path: "/users/x"}), "needs its actor"},
		{"like without title", notify(Event{Kind: PostLiked, Actor: "bob", Path: "/posts/1"}), "needs the post's title"},
		{"another site", notify(Event{Kind: NewFollower, Actor: "bob", Path: "https://evil.example/x"}), "want a path under the base URL"},
		{"scheme-relative", notify(Event{Kind: NewFollower, Actor: "bob", Path: "//evil.example/x"}), "want a path under the base URL"},
		{"relative path", notify(Event{Kind: NewFollower, Actor: "bob", Path: "users/bob"}), "want a path under the base URL"},
		{"no path", notify(Event{Kind: NewFollower, Actor: "bob"}), "want a path under the base URL"},
		{"no unsubscribe token", func() (Message, error) {
			return c.Notification(Notification{To: "ann@example.com", Key: "k", Event: ok})
		}, "needs an unsubscribe token"},
		{"empty digest", func() (Message, error) {
			return c.Digest(Digest{To: "ann@example.com", Unsubscribe: "u", Key: "k", Day: time.Now()})
		}, "at least one event"},
		{"verification without token", func() (Message, error) {
			return c.Verification(Verification{To: "ann@example.com", Valid: time.Hour, Key: "k"})
		}, "needs a token"},
		{"reset without validity", func() (Message, error) {
			return c.PasswordReset(PasswordReset{To: "ann@example.com", Token: "t", Key: "k"})
		}, "needs a token and its validity"},
		{"bad address", func() (Message, error) {
			return c.Verification(Verification{To: "Ann <ann@example.com>", Token: "t", Valid: time.Hour, Key: "k"})
		}, "to: must be one plain address"},
		{"no key", func() (Message, error) {
			return c.Verification(Verification{To: "ann@example.com", Token: "t", Valid: time.Hour})
		}, "key: must not be empty"},
	} {
		if _, err := tc.render(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want %q, got %v", tc.name, tc.want, err)
		}
	}
	if _, err := c.Verification(Verification{To: "bad", Token: "t", Valid: time.Hour, Key: "k"}); func() bool {
		e, ok := apperr.As(err)
		return !ok || e.Kind != apperr.Invalid || e.Field != "to"
	}() {
		t.Errorf("a bad recipient: want apperr Invalid on to, got %v", err)
	}
	for _, base := range []string{"", "localhost:8080", "ftp://agora.example.com", "https://agora.example.com/?a=b", "https://"} {
		if _, err := NewComposer(base); err == nil || !strings.Contains(err.Error(), "AGORA_BASE_URL") {
			t.Errorf("NewComposer(%q): %v", base, err)
		}
	}
}

func TestWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes", time.Minute: "1 minute", 90 * time.Second: "2 minutes",
		time.Hour: "1 hour", 24 * time.Hour: "24 hours", 48 * time.Hour: "2 days", 7 * 24 * time.Hour: "7 days",
		90 * time.Minute: "90 minutes",
	} {
		if got := words(d); got != want {
			t.Errorf("words(%s) = %q, want %q", d, got, want)
		}
	}
}
