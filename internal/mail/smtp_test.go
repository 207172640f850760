package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testServer is a real SMTP server (go-smtp) on a loopback port that records what it accepts.
type testServer struct {
	addr string // host:port

	mu       sync.Mutex
	received []received
	sessions int

	// Behaviour, set before use.
	user, pass string                     // AUTH PLAIN required when set
	rcptErr    map[string]*smtp.SMTPError // reply to RCPT TO per recipient
	dataErr    *smtp.SMTPError            // reply after DATA (under mu: a test may change it while serving)
	stall      chan struct{}              // when set, DATA waits until it is closed
	dropAfter  bool                       // close the connection once a message is accepted
}

type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // the session was encrypted
	User string // the authenticated user
}

type serverMode int

const (
	plainServer    serverMode = iota // no TLS at all
	startTLSServer                   // offers STARTTLS
	implicitServer                   // TLS from the first byte (smtps)
)

// startServer starts a server; cert is its certificate for the TLS modes.
func startServer(t *testing.T, mode serverMode, cert *tls.Certificate, configure func(*testServer)) *testServer {
	t.Helper()
	ts := &testServer{}
	if configure != nil {
		configure(ts)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ts.mu.Lock()
		ts.sessions++
		ts.mu.Unlock()
		return &session{ts: ts, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = mode == plainServer
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if mode != plainServer {
		cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
		if mode == startTLSServer {
			srv.TLSConfig = cfg
		} else {
			l = tls.NewListener(l, cfg)
		}
	}
	ts.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() {
		if ts.stall != nil {
			select {
			case <-ts.stall:
			default:
				close(ts.stall)
			}
		}
		srv.Close()
		l.Close() // Close misses a listener that Serve has not registered yet
		<-done
	})
	return ts
}

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.received...)
}

type session struct {
	ts       *testServer
	conn     *smtp.Conn
	from     string
	to       []string
	user     string
	accepted bool
}

func (s *session) AuthMechanisms() []string {
	if s.ts.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ts.user || pass != s.ts.pass {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.user != "" && s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.ts.rcptErr[to]; err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.ts.stall != nil {
		<-s.ts.stall
		return errors.New("stalled")
	}
	s.ts.mu.Lock()
	dataErr := s.ts.dataErr
	s.ts.mu.Unlock()
	if dataErr != nil {
		return dataErr
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.ts.mu.Lock()
	s.ts.received = append(s.ts.received, received{From: s.from, To: s.to, Data: data, TLS: isTLS, User: s.user})
	s.ts.mu.Unlock()
	s.accepted = true
	return nil
}

// Reset runs after each DATA reply (and on RSET).
func (s *session) Reset() {
	s.from, s.to = "", nil
	if s.ts.dropAfter && s.accepted {
		s.conn.Conn().Close()
	}
}

func (s *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost that signs itself, and a pool that
// trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "agora test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func testMessage(key string) Message {
	return Message{
		To:          "alice@example.com",
		Subject:     "Grüße & <welcome> to Agora",
		Text:        "Hello Alice,\nplain text part.\n",
		HTML:        "<p>Hello <b>Alice</b>, HTML part.</p>",
		Unsubscribe: "https://agora.example.com/unsubscribe?token=t0k",
		Key:         key,
	}
}

// parsed is a received message taken apart.
type parsed struct {
	header netmail.Header
	parts  map[string]string // content type → decoded body
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("unreadable message: %v\n%s", err, data)
	}
	p := parsed{header: msg.Header, parts: map[string]string{}}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("want multipart/alternative, got %q (%v)", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		p.parts[ct] = string(body)
	}
	return p
}

func (p parsed) subject(t *testing.T) string {
	s, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSMTPDelivers: over every transport the message arrives whole, with its headers, both
// parts and a Message-ID that the key fixes.
func TestSMTPDelivers(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, tc := range []struct {
		name    string
		mode    serverMode
		url     string // %s: the server's host:port
		auth    bool
		wantTLS bool
	}{
		{name: "plain, tls=none", mode: plainServer, url: "smtp://%s?tls=none"},
		{name: "opportunistic without STARTTLS", mode: plainServer, url: "smtp://%s?tls=opportunistic"},
		{name: "opportunistic with STARTTLS", mode: startTLSServer, url: "smtp://%s?tls=opportunistic", wantTLS: true},
		{name: "STARTTLS and AUTH", mode: startTLSServer, url: "smtp://agora:s3cret@%s", auth: true, wantTLS: true},
		{name: "implicit TLS and AUTH", mode: implicitServer, url: "smtps://agora:s3cret@%s", auth: true, wantTLS: true},
		{name: "AUTH to localhost without TLS", mode: plainServer, url: "smtp://agora:s3cret@%s?tls=none", auth: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.mode, cert, func(ts *testServer) {
				if tc.auth {
					ts.user, ts.pass = "agora", "s3cret"
				}
			})
			s, err := NewSMTP(fmt.Sprintf(tc.url, ts.addr), "Agora Team <no-reply@Agora.Example.com>", WithRootCAs(pool), WithHELO("app.test"))
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if err := s.Send(ctx, testMessage("verify:1")); err != nil {
				t.Fatalf("send: %v", err)
			}
			if err := s.Send(ctx, testMessage("verify:1")); err != nil { // a retry
				t.Fatalf("send again: %v", err)
			}
			if err := s.Send(ctx, testMessage("verify:2")); err != nil {
				t.Fatalf("send another: %v", err)
			}
			got := ts.messages()
			if len(got) != 3 {
				t.Fatalf("want 3 messages, server has %d", len(got))
			}
			r := got[0]
			if r.From != "no-reply@Agora.Example.com" || len(r.To) != 1 || r.To[0] != "alice@example.com" {
				t.Errorf("envelope: from %q to %q", r.From, r.To)
			}
			if r.TLS != tc.wantTLS {
				t.Errorf("encrypted session: %t, want %t", r.TLS, tc.wantTLS)
			}
			if tc.auth && r.User != "agora" {
				t.Errorf("want the session authenticated as agora, got %q", r.User)
			}
			p := parse(t, r.Data)
			for header, want := range map[string]string{
				"From":                  `"Agora Team" <no-reply@Agora.Example.com>`,
				"To":                    "<alice@example.com>",
				"Message-ID":            "<" + MessageID("verify:1", "agora.example.com") + ">",
				"List-Unsubscribe":      "<https://agora.example.com/unsubscribe?token=t0k>",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
				"Auto-Submitted":        "auto-generated",
			} {
				if got := p.header.Get(header); got != want {
					t.Errorf("%s: %q, want %q", header, got, want)
				}
			}
			if subject := p.subject(t); subject != "Grüße & <welcome> to Agora" {
				t.Errorf("Subject: %q", subject)
			}
			if d, err := p.header.Date(); err != nil || time.Since(d) > time.Minute {
				t.Errorf("Date: %v %v", d, err)
			}
			if text := p.parts["text/plain"]; text != "Hello Alice,\r\nplain text part.\r\n" && text != "Hello Alice,\nplain text part.\n" {
				t.Errorf("text part: %q", text)
			}
			if html := p.parts["text/html"]; html != "<p>Hello <b>Alice</b>, HTML part.</p>" {
				t.Errorf("html part: %q", html)
			}
			retry, other := parse(t, got[1].Data), parse(t, got[2].Data)
			if retry.header.Get("Message-ID") != p.header.Get("Message-ID") {
				t.Errorf("a retry changed the Message-ID: %s, then %s", p.header.Get("Message-ID"), retry.header.Get("Message-ID"))
			}
			if other.header.Get("Message-ID") == p.header.Get("Message-ID") {
				t.Errorf("two keys, one Message-ID: %s", p.header.Get("Message-ID"))
			}
		})
	}
}

// TestSMTPFailures: each failure is reported, nothing is delivered, and the error says whether a
// retry can help.
func TestSMTPFailures(t *testing.T) {
	cert, pool := selfSigned(t)
	refused := func(t *testing.T) string { // a port nobody listens on
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	for _, tc := range []struct {
		name      string
		mode      serverMode
		configure func(*testServer)
		url       string // %s: the server's host:port
		opts      []Option
		msg       func(Message) Message
		permanent bool
		code      int
		want      string // in the error
		noSession bool   // the message never reached a server
	}{
		{name: "server down", url: "smtp://%s?tls=none", want: "connection refused", noSession: true},
		{name: "recipient unknown (550)", mode: plainServer, url: "smtp://%s?tls=none", permanent: true, code: 550,
			configure: func(ts *testServer) {
				ts.rcptErr = map[string]*smtp.SMTPError{"alice@example.com": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}}
			}},
		{name: "greylisted (451)", mode: plainServer, url: "smtp://%s?tls=none", code: 451,
			configure: func(ts *testServer) {
				ts.rcptErr = map[string]*smtp.SMTPError{"alice@example.com": {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Try again later"}}
			}},
		{name: "mailbox full at RCPT (552)", mode: plainServer, url: "smtp://%s?tls=none", code: 552,
			configure: func(ts *testServer) {
				ts.rcptErr = map[string]*smtp.SMTPError{"alice@example.com": {Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox full"}}
			}},
		{name: "content rejected (554)", mode: plainServer, url: "smtp://%s?tls=none", permanent: true, code: 554,
			configure: func(ts *testServer) {
				ts.dataErr = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Content rejected"}
			}},
		{name: "queue full after DATA (452)", mode: plainServer, url: "smtp://%s?tls=none", code: 452,
			configure: func(ts *testServer) {
				ts.dataErr = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient storage"}
			}},
		{name: "STARTTLS required, not offered", mode: plainServer, url: "smtp://%s", want: "does not support STARTTLS"},
		{name: "STARTTLS to an untrusted certificate", mode: startTLSServer, url: "smtp://%s", want: "certificate"},
		{name: "implicit TLS to an untrusted certificate", mode: implicitServer, url: "smtps://%s", want: "certificate", noSession: true},
		{name: "wrong password", mode: startTLSServer, url: "smtp://agora:wrong@%s", opts: []Option{WithRootCAs(pool)}, code: 535,
			configure: func(ts *testServer) { ts.user, ts.pass = "agora", "s3cret" }},
		{name: "no credentials for a server that wants them", mode: startTLSServer, url: "smtp://%s", opts: []Option{WithRootCAs(pool)}, code: 530,
			configure: func(ts *testServer) { ts.user, ts.pass = "agora", "s3cret" }},
		{name: "invalid recipient", mode: plainServer, url: "smtp://%s?tls=none", permanent: true, want: "to: must be one plain address", noSession: true,
			msg: func(m Message) Message { m.To = "Alice <alice@example.com>"; return m }},
		{name: "no key", mode: plainServer, url: "smtp://%s?tls=none", permanent: true, want: "key: must not be empty", noSession: true,
			msg: func(m Message) Message { m.Key = ""; return m }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ts *testServer
			addr := ""
			if tc.name == "server down" {
				addr = refused(t)
			} else {
				ts = startServer(t, tc.mode, cert, tc.configure)
				addr = ts.addr
			}
			s, err := NewSMTP(fmt.Sprintf(tc.url, addr), "Agora <no-reply@agora.example.com>", append(tc.opts, WithTimeout(5*time.Second))...)
			if err != nil {
				t.Fatal(err)
			}
			m := testMessage("k1")
			if tc.msg != nil {
				m = tc.msg(m)
			}
			err = s.Send(t.Context(), m)
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("want a *SendError, got %T %v", err, err)
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %t, want %t: %v", IsPermanent(err), tc.permanent, err)
			}
			if tc.code != 0 && se.Code != tc.code {
				t.Errorf("code %d, want %d: %v", se.Code, tc.code, err)
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want %q in %v", tc.want, err)
			}
			if ts != nil {
				if n := len(ts.messages()); n != 0 {
					t.Errorf("%d messages delivered", n)
				}
				ts.mu.Lock()
				sessions := ts.sessions
				ts.mu.Unlock()
				if tc.noSession && sessions != 0 {
					t.Errorf("want no SMTP session, the server saw %d", sessions)
				}
			}
		})
	}
}

// TestSMTPDroppedAfterAccepting: once the server accepted the message it is delivered, even if the
// connection breaks before the session ends; a retry would send it twice.
func TestSMTPDroppedAfterAccepting(t *testing.T) {
	ts := startServer(t, plainServer, nil, func(ts *testServer) { ts.dropAfter = true })
	s, err := NewSMTP("smtp://"+ts.addr+"?tls=none", "no-reply@agora.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), testMessage("k")); err != nil {
		t.Errorf("want the accepted message reported delivered, got %v", err)
	}
	if n := len(ts.messages()); n != 1 {
		t.Errorf("server has %d messages", n)
	}
}

// TestSMTPContext: a cancelled context ends a send that hangs on the server, long before the
// timeout, and a context already done dials nothing.
func TestSMTPContext(t *testing.T) {
	ts := startServer(t, plainServer, nil, func(ts *testServer) { ts.stall = make(chan struct{}) })
	s, err := NewSMTP("smtp://"+ts.addr+"?tls=none&timeout=1m", "no-reply@agora.example.com")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err = s.Send(ctx, testMessage("k"))
	if err == nil || IsPermanent(err) {
		t.Fatalf("want a temporary error, got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Send returned %s after the context ended", d-300*time.Millisecond)
	}

	done, stop := context.WithCancel(t.Context())
	stop()
	ts.mu.Lock()
	before := ts.sessions
	ts.mu.Unlock()
	if err := s.Send(done, testMessage("k")); err == nil || IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("a done context: want a temporary context.Canceled, got %v", err)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.sessions != before {
		t.Errorf("a done context dialed the server")
	}
}

func TestNewSMTPRefuses(t *testing.T) {
	for _, tc := range []struct{ url, from, want string }{
		{"http://smtp.example.com", "no-reply@example.com", "SMTP_URL: want an smtp://"},
		{"smtp://smtp.example.com", "Agora", "MAIL_FROM: want one address"},
		{"smtp://smtp.example.com", "a@example.com, b@example.com", "MAIL_FROM: want one address"},
	} {
		if _, err := NewSMTP(tc.url, tc.from); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSMTP(%q, %q): want %q, got %v", tc.url, tc.from, tc.want, err)
		}
	}
	s, err := NewSMTP("smtps://agora:pw-hidden@smtp.example.com", "no-reply@example.com")
	if err != nil || strings.Contains(s.String(), "pw-hidden") || !strings.Contains(s.String(), "smtps://agora@smtp.example.com:465") {
		t.Errorf("String: %v %v", s, err)
	}
}
