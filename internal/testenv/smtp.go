package testenv

import (
	"bytes"
	"encoding/base64"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// MailServer is an SMTP server on 127.0.0.1 (no TLS, no AUTH) that keeps what it receives.
type MailServer struct {
	// URL is its SMTP_URL.
	URL      string
	mu       sync.Mutex
	received []Mail
}

// Mail is a message the server received.
type Mail struct {
	To     []string
	Header mail.Header
	Raw    []byte
}

// Text is the mail's text/plain part, decoded.
func (m Mail) Text(t testing.TB) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := parts.NextPart()
		if err != nil {
			t.Fatalf("no text part: %v\n%s", err, m.Raw)
		}
		var body io.Reader = p // multipart decodes quoted-printable itself
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			text, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			return string(text)
		}
	}
}

// SMTP starts a MailServer, stopped when t ends.
func SMTP(t testing.TB) *MailServer {
	t.Helper()
	ms := &MailServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{ms: ms}, nil }))
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms.URL = "smtp://" + l.Addr().String() + "?tls=none"
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = l.Close() // Close misses a listener that Serve has not registered yet
		<-done
	})
	return ms
}

// Received returns the messages received so far, in order.
func (ms *MailServer) Received() []Mail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]Mail(nil), ms.received...)
}

type smtpSession struct {
	ms *MailServer
	to []string
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	s.ms.mu.Lock()
	s.ms.received = append(s.ms.received, Mail{To: s.to, Header: m.Header, Raw: raw})
	s.ms.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.to = nil }
func (s *smtpSession) Logout() error { return nil }
