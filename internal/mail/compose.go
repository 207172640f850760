package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"
)

// The pages mail links to, under the base URL, each taking its token as the query parameter
// "token". The unsubscribe link also receives RFC 8058's one-click POST.
const (
	PathVerifyEmail   = "/verify-email"
	PathResetPassword = "/reset-password"
	PathUnsubscribe   = "/unsubscribe"
)

// Kind is what a notification tells of; the values are the notification kinds of the schema.
type Kind string

// The notification kinds.
const (
	NewFollower Kind = "NEW_FOLLOWER"
	NewComment  Kind = "NEW_COMMENT"
	PostLiked   Kind = "POST_LIKED"
	NewMessage  Kind = "NEW_MESSAGE"
)

// Verification asks the owner of an address to confirm it (on sign-up and on an address change).
type Verification struct {
	To        string        // the address to confirm
	Recipient string        // how to greet them: display name or username
	Token     string        // the single-use token of the link
	Valid     time.Duration // how long the token works
	Key       string        // idempotency key (Message.Key)
}

// PasswordReset carries a link that sets a new password.
type PasswordReset struct {
	To        string
	Recipient string
	Token     string
	Valid     time.Duration
	Key       string
}

// Event is one thing that happened to the recipient.
type Event struct {
	Kind    Kind
	Actor   string    // who did it: display name or username
	Title   string    // the post's title (NewComment, PostLiked)
	Excerpt string    // the beginning of the comment or message (NewComment, NewMessage)
	Path    string    // where to see it in the app, relative to the base URL: "/posts/42"
	At      time.Time // when it happened (shown in digests)
}

// Notification is the instant mail of one event.
type Notification struct {
	To          string
	Recipient   string
	Event       Event
	Unsubscribe string // the one-click unsubscribe token (required)
	Key         string
}

// Digest is the daily mail of the events of one day.
type Digest struct {
	To          string
	Recipient   string
	Day         time.Time // the day the events are of (its date in Day's location)
	Events      []Event   // the most recent of the day's events
	Total       int       // how many events the day had, Events included (0: len(Events))
	Unsubscribe string
	Key         string
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// The mails, each templates/NAME.tmpl defining "subject", "text" and "html" for templates/layout.tmpl.
var mailNames = []string{"verification", "password_reset", "notification", "digest"}

// Composer renders Agora's mails, with links under the app's base URL (AGORA_BASE_URL).
type Composer struct {
	base  *url.URL
	texts map[string]*texttemplate.Template // subject and text part
	htmls map[string]*htmltemplate.Template // HTML part
}

// NewComposer parses the embedded templates; baseURL is the app's public address, e.g.
// https://agora.example.com (a path prefix is kept).
func NewComposer(baseURL string) (*Composer, error) {
	base, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("AGORA_BASE_URL: want an http:// or https:// address without query, got %q", baseURL)
	}
	c := &Composer{base: base, texts: map[string]*texttemplate.Template{}, htmls: map[string]*htmltemplate.Template{}}
	funcs := map[string]any{"plural": plural}
	for _, name := range mailNames {
		files := []string{"templates/layout.tmpl", "templates/" + name + ".tmpl"}
		if c.texts[name], err = texttemplate.New(name).Funcs(funcs).Option("missingkey=error").ParseFS(templateFS, files...); err != nil {
			return nil, fmt.Errorf("mail template %s: %w", name, err)
		}
		if c.htmls[name], err = htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").ParseFS(templateFS, files...); err != nil {
			return nil, fmt.Errorf("mail template %s: %w", name, err)
		}
	}
	return c, nil
}

// The data every template sees.
type view struct {
	AppURL      string // the base URL
	Recipient   string
	Unsubscribe string // the unsubscribe link, for notification mail
	Link        string // the mail's action (verification, reset)
	Valid       string // how long Link works, in words
	Event       eventView
	Events      []eventView
	Total       int // a digest's events, of which Events are the most recent
	Day         string
}

type eventView struct {
	Kind                  Kind
	Actor, Title, Excerpt string
	Link                  string
	At                    string
}

// Verification renders the address confirmation mail.
func (c *Composer) Verification(v Verification) (Message, error) {
	if v.Token == "" || v.Valid <= 0 {
		return Message{}, errors.New("mail: a verification needs a token and its validity")
	}
	link, err := c.link(PathVerifyEmail, url.Values{"token": {v.Token}})
	if err != nil {
		return Message{}, err
	}
	return c.render("verification", v.To, v.Key, "", view{Recipient: oneLine(v.Recipient, 80), Link: link, Valid: words(v.Valid)})
}

// PasswordReset renders the password reset mail.
func (c *Composer) PasswordReset(r PasswordReset) (Message, error) {
	if r.Token == "" || r.Valid <= 0 {
		return Message{}, errors.New("mail: a password reset needs a token and its validity")
	}
	link, err := c.link(PathResetPassword, url.Values{"token": {r.Token}})
	if err != nil {
		return Message{}, err
	}
	return c.render("password_reset", r.To, r.Key, "", view{Recipient: oneLine(r.Recipient, 80), Link: link, Valid: words(r.Valid)})
}

// Notification renders the instant mail of one event.
func (c *Composer) Notification(n Notification) (Message, error) {
	ev, err := c.event(n.Event, time.UTC)
	if err != nil {
		return Message{}, err
	}
	return c.render("notification", n.To, n.Key, n.Unsubscribe, view{Recipient: oneLine(n.Recipient, 80), Event: ev})
}

// Digest renders the daily digest of events, in the order given.
func (c *Composer) Digest(d Digest) (Message, error) {
	if len(d.Events) == 0 {
		return Message{}, errors.New("mail: a digest needs at least one event")
	}
	loc := d.Day.Location()
	v := view{Recipient: oneLine(d.Recipient, 80), Day: d.Day.Format("Monday, 2 January 2006"), Total: max(d.Total, len(d.Events))}
	for _, e := range d.Events {
		ev, err := c.event(e, loc)
		if err != nil {
			return Message{}, err
		}
		v.Events = append(v.Events, ev)
	}
	return c.render("digest", d.To, d.Key, d.Unsubscribe, v)
}

func (c *Composer) event(e Event, loc *time.Location) (eventView, error) {
	switch e.Kind {
	case NewFollower, NewComment, PostLiked, NewMessage:
	default:
		return eventView{}, fmt.Errorf("mail: unknown notification kind %q", e.Kind)
	}
	if strings.TrimSpace(e.Actor) == "" {
		return eventView{}, errors.New("mail: an event needs its actor")
	}
	if (e.Kind == NewComment || e.Kind == PostLiked) && strings.TrimSpace(e.Title) == "" {
		return eventView{}, fmt.Errorf("mail: a %s event needs the post's title", e.Kind)
	}
	link, err := c.link(e.Path, nil)
	if err != nil {
		return eventView{}, err
	}
	ev := eventView{Kind: e.Kind, Actor: oneLine(e.Actor, 80), Title: oneLine(e.Title, 120), Excerpt: oneLine(e.Excerpt, 280), Link: link}
	if !e.At.IsZero() {
		ev.At = e.At.In(loc).Format("15:04")
	}
	return ev, nil
}

// link resolves path (with its own query or fragment, if any) under the base URL and adds query.
// Only paths are accepted, never another site's address.
func (c *Composer) link(path string, query url.Values) (string, error) {
	p, err := url.Parse(path)
	if err != nil || p.Scheme != "" || p.Host != "" || p.User != nil || !strings.HasPrefix(p.Path, "/") || strings.HasPrefix(path, "//") {
		return "", fmt.Errorf("mail: link path %q: want a path under the base URL, like /posts/42", path)
	}
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + p.Path
	u.RawPath = ""
	q := p.Query()
	for k, vs := range query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	u.Fragment = p.Fragment
	return u.String(), nil
}

func (c *Composer) render(name, to, key, unsubscribeToken string, v view) (Message, error) {
	v.AppURL = c.base.String()
	if name == "notification" || name == "digest" {
		if unsubscribeToken == "" {
			return Message{}, errors.New("mail: notification mail needs an unsubscribe token")
		}
		link, err := c.link(PathUnsubscribe, url.Values{"token": {unsubscribeToken}})
		if err != nil {
			return Message{}, err
		}
		v.Unsubscribe = link
	}
	var subject, text, html bytes.Buffer
	if err := c.texts[name].ExecuteTemplate(&subject, "subject", v); err != nil {
		return Message{}, fmt.Errorf("mail template %s: %w", name, err)
	}
	if err := c.texts[name].ExecuteTemplate(&text, "layout.text", v); err != nil {
		return Message{}, fmt.Errorf("mail template %s: %w", name, err)
	}
	if err := c.htmls[name].ExecuteTemplate(&html, "layout.html", v); err != nil {
		return Message{}, fmt.Errorf("mail template %s: %w", name, err)
	}
	m := Message{
		To:          to,
		Subject:     strings.Join(strings.Fields(subject.String()), " "),
		Text:        strings.TrimSpace(text.String()) + "\n",
		HTML:        html.String(),
		Unsubscribe: v.Unsubscribe,
		Key:         key,
	}
	return m, m.validate()
}

// oneLine collapses s's white space (names and titles are one line in a mail) and shortens it
// to max characters, ending with an ellipsis when cut.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max-1]
	return strings.TrimRight(string(r), " ") + "…"
}

// words says a validity in words: "30 minutes", "24 hours", "7 days".
func words(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(int((d+time.Minute-1)/time.Minute), "minute")
	}
}

// plural: 1 day, 2 days.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
