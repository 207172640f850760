package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/agora/agora/internal/config"
)

// Option adjusts an SMTP sender.
type Option func(*SMTP)

// WithRootCAs makes the sender trust the server certificates these authorities sign, instead of
// the system's (a private relay, or a test server).
func WithRootCAs(pool *x509.CertPool) Option { return func(s *SMTP) { s.rootCAs = pool } }

// WithTimeout bounds each connection and command, over SMTP_URL's timeout= (default 30s). A
// context deadline that comes sooner wins.
func WithTimeout(d time.Duration) Option { return func(s *SMTP) { s.server.Timeout = d } }

// WithHELO sets the name the sender greets the server with (default: this machine's host name).
func WithHELO(name string) Option { return func(s *SMTP) { s.helo = name } }

// SMTP sends each message over its own connection to one SMTP server (a submission relay).
type SMTP struct {
	sender
	server  config.SMTPServer
	rootCAs *x509.CertPool
	helo    string
}

// NewSMTP returns a sender for rawURL, an SMTP_URL (see config.ParseSMTPURL): smtp:// speaks
// STARTTLS and refuses a server without it unless ?tls=opportunistic or ?tls=none; smtps:// is TLS
// from the first byte; user information turns on AUTH. from is MAIL_FROM.
func NewSMTP(rawURL, from string, opts ...Option) (*SMTP, error) {
	server, err := config.ParseSMTPURL(rawURL)
	if err != nil {
		return nil, err
	}
	snd, err := newSender(from)
	if err != nil {
		return nil, err
	}
	s := &SMTP{sender: snd, server: server}
	for _, o := range opts {
		o(s)
	}
	if s.server.Timeout <= 0 {
		return nil, errors.New("mail: the SMTP timeout must be positive")
	}
	return s, nil
}

// String describes the server, without the password.
func (s *SMTP) String() string { return s.server.String() }

// Send delivers m. The connection is closed when ctx ends. A message the server accepted is
// delivered even if closing the session fails afterwards.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return permanent(err)
	}
	timeout := s.server.Timeout
	if deadline, ok := ctx.Deadline(); ok {
		if left := time.Until(deadline); left < timeout {
			timeout = left
		}
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return temporary(fmt.Errorf("send to %s: %w", s.addr(), context.Cause(ctx)))
	}

	// The one connection this send dials: closed on every path (go-mail leaves it open when the
	// greeting, STARTTLS or AUTH fails) and as soon as ctx ends (a cancelled job stops mid-conversation).
	var conn net.Conn
	stop := func() bool { return false }
	defer func() {
		stop()
		if conn != nil {
			conn.Close()
		}
	}()
	tlsConfig := &tls.Config{ServerName: s.server.Host, MinVersion: tls.VersionTLS12, RootCAs: s.rootCAs}
	dial := func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(dialCtx, network, addr)
		if err != nil {
			return nil, err
		}
		if s.server.Implicit {
			tc := tls.Client(c, tlsConfig)
			if err := tc.HandshakeContext(dialCtx); err != nil {
				c.Close()
				return nil, err
			}
			c = tc
		}
		conn = c
		stop = context.AfterFunc(ctx, func() { c.Close() }) // ctx, not dialCtx: that one ends with the dial
		return c, nil
	}
	policy := gomail.TLSMandatory
	switch {
	case s.server.Implicit:
		policy = gomail.NoTLS // the dialer already speaks TLS
	case s.server.TLS == config.TLSOpportunistic:
		policy = gomail.TLSOpportunistic
	case s.server.TLS == config.TLSNone:
		policy = gomail.NoTLS
	}
	opts := []gomail.Option{
		gomail.WithPort(s.server.Port), gomail.WithTimeout(timeout), gomail.WithDialContextFunc(dial),
		gomail.WithTLSPolicy(policy), gomail.WithTLSConfig(tlsConfig),
	}
	if s.helo != "" {
		opts = append(opts, gomail.WithHELO(s.helo))
	}
	if s.server.Username != "" {
		// The strongest mechanism the server offers. go-mail refuses PLAIN and LOGIN on a
		// connection that is not encrypted, except to localhost.
		opts = append(opts, gomail.WithUsername(s.server.Username), gomail.WithPassword(s.server.Password),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	client, err := gomail.NewClient(s.server.Host, opts...)
	if err != nil {
		return temporary(fmt.Errorf("send to %s: %w", s.addr(), err))
	}
	session, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// Connecting, greeting, STARTTLS or AUTH failed: the server or our account is not ready,
		// whatever the reply code; the message itself was not looked at.
		se := &SendError{Err: fmt.Errorf("connect to %s: %w", s.addr(), err)}
		if reply, ok := errors.AsType[*textproto.Error](err); ok {
			se.Code = reply.Code
		}
		return se
	}
	defer client.CloseWithSMTPClient(session) //nolint:errcheck // QUIT after the outcome is known changes nothing
	err = client.SendWithSMTPClient(session, msg)
	if err == nil || msg.IsDelivered() { // delivered; only the RSET after it failed
		return nil
	}
	return classify(err)
}

func (s *SMTP) addr() string { return net.JoinHostPort(s.server.Host, strconv.Itoa(s.server.Port)) }

// classify turns a go-mail send error into a SendError: permanent when the server refused the
// recipient or the content with a 5xx reply (552 to RCPT TO is temporary, RFC 5321 4.5.3.1.10),
// temporary otherwise.
func classify(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return temporary(err)
	}
	code := se.ErrorCode()
	perm := false
	switch se.Reason {
	case gomail.ErrSMTPRcptTo:
		perm = code >= 500 && code != 552
	case gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
		perm = code >= 500
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		perm = true
	}
	return &SendError{Permanent: perm, Code: code, Err: err}
}

// build makes the MIME message both senders write.
func (s sender) build(m Message) (*gomail.Msg, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	to, _ := Address("to", m.To)
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(to); err != nil {
		return nil, err
	}
	msg.Subject(m.Subject)
	msg.SetDateWithValue(time.Now())
	msg.SetMessageIDWithValue(MessageID(m.Key, s.domain)) // where go-mail looks before making a random one
	for _, h := range m.Headers(s.domain) {
		if h[0] != "Message-ID" {
			msg.SetGenHeaderPreformatted(gomail.Header(h[0]), h[1])
		}
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
