package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agora/agora/internal/config"
)

// TestFolder: the development sender writes a readable .eml and the HTML beside it, logs where,
// and a retry rewrites the same files.
func TestFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail") // created by NewFolder
	var logs bytes.Buffer
	f, err := NewFolder(dir, "Agora <no-reply@agora.example.com>", slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		msg   Message
		files int // in the folder afterwards
	}{
		{"text and HTML", testMessage("verify:7"), 2},
		{"the same key again", testMessage("verify:7"), 2},
		{"text only", func() Message { m := testMessage("reset:1"); m.HTML = ""; return m }(), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			if err := f.Send(t.Context(), tc.msg); err != nil {
				t.Fatal(err)
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("want one JSON log line, got %q", logs.String())
			}
			eml, _ := line["eml"].(string)
			if line["msg"] != "mail written to folder" || filepath.Dir(eml) != f.Dir() || !strings.HasSuffix(eml, ".eml") ||
				line["to"] != tc.msg.To || line["subject"] != tc.msg.Subject {
				t.Errorf("log line: %v", line)
			}
			data, err := os.ReadFile(eml)
			if err != nil {
				t.Fatalf("the logged file: %v", err)
			}
			if fi, err := os.Stat(eml); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("mode of %s: %v %v, want 0600", eml, fi.Mode(), err)
			}
			if tc.msg.HTML == "" {
				if !strings.Contains(string(data), "Content-Type: text/plain") || strings.Contains(string(data), "text/html") {
					t.Errorf("text-only message:\n%s", data)
				}
				if _, ok := line["open"]; ok {
					t.Errorf("a link to an HTML file that does not exist: %v", line)
				}
			} else {
				p := parse(t, data)
				if p.header.Get("Message-ID") != "<"+MessageID(tc.msg.Key, "agora.example.com")+">" ||
					p.header.Get("List-Unsubscribe") != "<"+tc.msg.Unsubscribe+">" || p.subject(t) != tc.msg.Subject {
					t.Errorf("headers: %v", p.header)
				}
				if !strings.Contains(p.parts["text/plain"], "plain text part.") || p.parts["text/html"] != tc.msg.HTML {
					t.Errorf("parts: %q", p.parts)
				}
				open, _ := line["open"].(string)
				u, err := url.Parse(open)
				if err != nil || u.Scheme != "file" {
					t.Fatalf("want a file:// link to the HTML, got %q", open)
				}
				html, err := os.ReadFile(u.Path)
				if err != nil || string(html) != tc.msg.HTML || strings.TrimSuffix(u.Path, ".html") != strings.TrimSuffix(eml, ".eml") {
					t.Errorf("HTML beside %s at %s: %q %v", eml, u.Path, html, err)
				}
			}
			entries, err := os.ReadDir(f.Dir())
			if err != nil || len(entries) != tc.files {
				t.Errorf("want %d files, got %d (%v)", tc.files, len(entries), err)
			}
		})
	}

	logs.Reset()
	bad := testMessage("bad")
	bad.To = "alice@example.com, bob@example.com"
	if err := f.Send(t.Context(), bad); !IsPermanent(err) || !strings.Contains(err.Error(), "to: must be one plain address") {
		t.Errorf("invalid message: want a permanent error on to, got %v", err)
	}
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.Send(done, testMessage("late")); err == nil || IsPermanent(err) {
		t.Errorf("a done context: want a temporary error, got %v", err)
	}
	if entries, _ := os.ReadDir(f.Dir()); len(entries) != 3 || logs.Len() != 0 {
		t.Errorf("refused sends wrote %d files or logged %q", len(entries)-3, logs.String())
	}
}

// TestNew: SMTP_URL picks the sender.
func TestNew(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cfg := config.Config{Mail: config.Mail{From: "Agora <no-reply@localhost>", Dir: filepath.Join(t.TempDir(), "m")}}
	s, err := New(cfg, log)
	if f, ok := s.(*Folder); err != nil || !ok || f.Dir() != cfg.Mail.Dir {
		t.Errorf("without SMTP_URL: want the folder sender in %s, got %T %v", cfg.Mail.Dir, s, err)
	}
	cfg.Mail.SMTPURL = "smtp://agora:pw@smtp.example.com"
	if s, err = New(cfg, log); reflect.TypeOf(s) != reflect.TypeFor[*SMTP]() || err != nil {
		t.Errorf("with SMTP_URL: want the SMTP sender, got %T %v", s, err)
	}
	cfg.Mail.SMTPURL = "smtp://smtp.example.com?tls=sometimes"
	if _, err = New(cfg, log); err == nil || !strings.Contains(err.Error(), "SMTP_URL") {
		t.Errorf("a bad SMTP_URL: %v", err)
	}
	cfg.Mail.SMTPURL, cfg.Mail.From = "", "nobody"
	if _, err = New(cfg, log); err == nil || !strings.Contains(err.Error(), "MAIL_FROM") {
		t.Errorf("a bad MAIL_FROM: %v", err)
	}
}
