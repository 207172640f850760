package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Folder is the development sender: each message becomes NAME.eml (the complete MIME message, as
// SMTP would carry it) and, when it has an HTML part, NAME.html beside it to open in a browser,
// and a log line names the files. NAME comes from the Message-ID, so a retried send rewrites the
// same files instead of adding a copy.
type Folder struct {
	sender
	dir string
	log *slog.Logger
}

// NewFolder returns a sender writing into dir (created, readable by this user only: mail holds
// sign-in links) with from as MAIL_FROM.
func NewFolder(dir, from string, log *slog.Logger) (*Folder, error) {
	if dir == "" {
		return nil, errors.New("mail: the folder sender needs a directory (AGORA_MAIL_DIR)")
	}
	if log == nil {
		return nil, errors.New("mail: the folder sender needs a logger")
	}
	snd, err := newSender(from)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("mail: AGORA_MAIL_DIR: %w", err)
	}
	return &Folder{sender: snd, dir: abs, log: log}, nil
}

// Dir is the absolute path of the folder.
func (f *Folder) Dir() string { return f.dir }

// Send writes m into the folder.
func (f *Folder) Send(ctx context.Context, m Message) error {
	msg, err := f.build(m)
	if err != nil {
		return permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return temporary(context.Cause(ctx))
	}
	name := strings.SplitN(MessageID(m.Key, f.domain), "@", 2)[0]
	eml := filepath.Join(f.dir, name+".eml")
	if err := writeFile(eml, func(w io.Writer) error { _, err := msg.WriteTo(w); return err }); err != nil {
		return temporary(fmt.Errorf("write %s: %w", eml, err))
	}
	attrs := []any{"to", m.To, "subject", m.Subject, "eml", eml}
	if m.HTML != "" {
		html := filepath.Join(f.dir, name+".html")
		if err := writeFile(html, func(w io.Writer) error { _, err := io.WriteString(w, m.HTML); return err }); err != nil {
			return temporary(fmt.Errorf("write %s: %w", html, err))
		}
		attrs = append(attrs, "open", (&url.URL{Scheme: "file", Path: filepath.ToSlash(html)}).String())
	}
	f.log.InfoContext(ctx, "mail written to folder", attrs...)
	return nil
}

// writeFile writes a file whole or not at all: into a temporary file renamed over path.
func writeFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
