// Package mail composes Agora's mail from embedded templates and sends it: over SMTP in
// production, into a folder in development (SMTP_URL unset).
//
// A Message names itself with an idempotency key. Its Message-ID is derived from that key and the
// sender's domain, so a retried send of the same message carries the same Message-ID, and Send
// classifies its failures (IsPermanent) so that a job queue knows whether to retry or give up.
package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/config"
)

// Sender delivers one message. It is safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Message is one mail to one recipient.
type Message struct {
	To      string // one bare address (see Address)
	Subject string // one line
	Text    string // the text/plain body (required)
	HTML    string // the text/html alternative (optional)

	// Unsubscribe is the one-click unsubscribe URL of mail the recipient may turn off. It becomes
	// List-Unsubscribe, and with an https URL also List-Unsubscribe-Post: List-Unsubscribe=One-Click
	// (RFC 8058 requires HTTPS for one-click, so a development http:// base URL gets only the first).
	Unsubscribe string

	// Key names the message for idempotency: sending the same key again is a retry of the same
	// message and carries the same Message-ID. Different messages need different keys, e.g.
	// "verify:<token id>" or "digest:<user id>:2006-01-02". Required.
	Key string
}

// MessageID is the Message-ID (without angle brackets) of the message with this key sent from an
// address of domain: the same key and domain always give the same ID.
func MessageID(key, domain string) string {
	sum := sha256.Sum256([]byte("agora-mail\x00" + key))
	return hex.EncodeToString(sum[:16]) + "@" + domain
}

// Headers are the header fields Agora adds to m besides From, To, Subject, Date and the MIME ones,
// in the order they are written.
func (m Message) Headers(domain string) [][2]string {
	h := [][2]string{{"Message-ID", "<" + MessageID(m.Key, domain) + ">"}, {"Auto-Submitted", "auto-generated"}}
	if m.Unsubscribe != "" {
		h = append(h, [2]string{"List-Unsubscribe", "<" + m.Unsubscribe + ">"})
		if strings.HasPrefix(m.Unsubscribe, "https://") {
			h = append(h, [2]string{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
		}
	}
	return h
}

// validate checks what a sender relies on; its errors are apperr Invalid kinds naming the field.
func (m Message) validate() error {
	if _, err := Address("to", m.To); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(m.Subject) == "":
		return apperr.InvalidField("subject", "must not be empty")
	case strings.ContainsAny(m.Subject, "\r\n"):
		return apperr.InvalidField("subject", "must be one line")
	case strings.TrimSpace(m.Text) == "":
		return apperr.InvalidField("text", "must not be empty")
	case strings.TrimSpace(m.Key) == "":
		return apperr.InvalidField("key", "must not be empty: it makes the Message-ID of retries the same")
	}
	if m.Unsubscribe != "" {
		u, err := url.Parse(m.Unsubscribe)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !headerSafe(m.Unsubscribe) {
			return apperr.InvalidField("unsubscribe", "must be an absolute http(s) URL, percent-encoded")
		}
	}
	return nil
}

// headerSafe reports whether a URL can stand between < and > in a header: printable ASCII
// without space, angle brackets or quotes.
func headerSafe(u string) bool {
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c > '~' || c == '<' || c == '>' || c == '"' {
			return false
		}
	}
	return true
}

// sender is the parsed MAIL_FROM shared by both senders.
type sender struct {
	from   *mail.Address
	domain string // of the From address, for Message-IDs
}

func newSender(from string) (sender, error) {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return sender{}, fmt.Errorf("MAIL_FROM: want one address, e.g. Agora <no-reply@example.com>, got %q", from)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 1 || at == len(a.Address)-1 {
		return sender{}, fmt.Errorf("MAIL_FROM: %q has no domain", from)
	}
	return sender{from: a, domain: strings.ToLower(a.Address[at+1:])}, nil
}

// New returns the sender the configuration asks for: SMTP when SMTP_URL is set, else a folder
// sender writing into AGORA_MAIL_DIR and logging each mail on log.
func New(cfg config.Config, log *slog.Logger, opts ...Option) (Sender, error) {
	if cfg.Mail.SMTPURL == "" {
		f, err := NewFolder(cfg.Mail.Dir, cfg.Mail.From, log)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return f, nil
	}
	s, err := NewSMTP(cfg.Mail.SMTPURL, cfg.Mail.From, opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SendError is a failed send, classified for a job queue.
type SendError struct {
	// Permanent: sending this message again cannot succeed (the server refused the recipient or
	// the content with a 5xx reply, or the message is invalid). Otherwise the failure is temporary:
	// connection, TLS, authentication, timeouts, 4xx replies, a refused sender (server or account
	// configuration, fixed by an operator) — retry with backoff.
	Permanent bool
	Code      int // the SMTP reply code of the failure when the server gave one, else 0
	Err       error
}

func (e *SendError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return "mail: " + kind + " failure: " + e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether err says that retrying the send is pointless. Errors that are not
// from a Sender (and nil) are not permanent.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

func permanent(err error) error { return &SendError{Permanent: true, Err: err} }
func temporary(err error) error { return &SendError{Err: err} }
