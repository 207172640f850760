package mail

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agora/agora/internal/apperr"
)

func TestAddress(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" = refused
	}{
		{"alice@example.com", "alice@example.com"},
		{"  Alice.Smith+agora@Mail.Example.COM ", "Alice.Smith+agora@mail.example.com"},
		{"o'hara@sub.example.co.uk", "o'hara@sub.example.co.uk"},
		{"x@xn--bcher-kva.example", "x@xn--bcher-kva.example"},
		{"", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.com", ""},
		{"Alice <alice@example.com>", ""},
		{"<alice@example.com>", ""},
		{"alice@example.com (Alice)", ""},
		{"alice@example.com, bob@example.com", ""},
		{"alice@example.com bob@example.com", ""},
		{`"alice smith"@example.com`, ""},
		{"alice..smith@example.com", ""},
		{".alice@example.com", ""},
		{"alice@localhost", ""},
		{"alice@example", ""},
		{"alice@[127.0.0.1]", ""},
		{"alice@127.0.0.1", ""},
		{"alice@-example.com", ""},
		{"alice@example-.com", ""},
		{"alice@exa_mple.com", ""},
		{"alice@example..com", ""},
		{"alice@example.com.", ""},
		{"alice@bücher.example", ""},
		{"älice@example.com", ""},
		{"alice@example.com\r\nBcc: eve@example.com", ""},
		{strings.Repeat("a", 65) + "@example.com", ""},
		{"a@" + strings.Repeat("b", 64) + ".com", ""},
		{"a@" + strings.Repeat(strings.Repeat("b", 60)+".", 5) + "com", ""},
	} {
		got, err := Address("email", tc.in)
		if tc.want != "" {
			if err != nil || got != tc.want {
				t.Errorf("Address(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid || e.Field != "email" || got != "" {
			t.Errorf("Address(%q) = %q, %v; want an Invalid error on field email", tc.in, got, err)
		}
	}
}

func TestMessageID(t *testing.T) {
	a := MessageID("verify:1", "agora.example.com")
	if a != MessageID("verify:1", "agora.example.com") {
		t.Fatal("not deterministic")
	}
	if !strings.HasSuffix(a, "@agora.example.com") || len(a) != 32+len("@agora.example.com") {
		t.Errorf("shape: %s", a)
	}
	for _, other := range []string{MessageID("verify:2", "agora.example.com"), MessageID("verify:1", "example.org"), MessageID("", "agora.example.com")} {
		if other == a {
			t.Errorf("%s for another key or domain", other)
		}
	}
}

// TestHeaders: one-click unsubscribe (List-Unsubscribe-Post) only with an https URL, as RFC 8058
// requires; transactional mail has neither header.
func TestHeaders(t *testing.T) {
	id := [2]string{"Message-ID", "<" + MessageID("k", "example.com") + ">"}
	auto := [2]string{"Auto-Submitted", "auto-generated"}
	for _, tc := range []struct {
		unsubscribe string
		want        [][2]string
	}{
		{"", [][2]string{id, auto}},
		{"https://agora.example.com/unsubscribe?token=x", [][2]string{id, auto,
			{"List-Unsubscribe", "<https://agora.example.com/unsubscribe?token=x>"}, {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}}},
		{"http://localhost:8080/unsubscribe?token=x", [][2]string{id, auto, {"List-Unsubscribe", "<http://localhost:8080/unsubscribe?token=x>"}}},
	} {
		m := Message{Unsubscribe: tc.unsubscribe, Key: "k"}
		if got := m.Headers("example.com"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.unsubscribe, got, tc.want)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	for _, tc := range []struct {
		change func(*Message)
		field  string // "" = valid
	}{
		{func(*Message) {}, ""},
		{func(m *Message) { m.HTML = "" }, ""},
		{func(m *Message) { m.Unsubscribe = "" }, ""},
		{func(m *Message) { m.To = "Alice <alice@example.com>" }, "to"},
		{func(m *Message) { m.Subject = " " }, "subject"},
		{func(m *Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }, "subject"},
		{func(m *Message) { m.Text = "" }, "text"},
		{func(m *Message) { m.Key = "" }, "key"},
		{func(m *Message) { m.Unsubscribe = "/unsubscribe?token=x" }, "unsubscribe"},
		{func(m *Message) { m.Unsubscribe = "mailto:unsubscribe@example.com" }, "unsubscribe"},
		{func(m *Message) { m.Unsubscribe = "https://example.com/u?t=a>b" }, "unsubscribe"},
	} {
		m := testMessage("k")
		tc.change(&m)
		err := m.validate()
		e, ok := apperr.As(err)
		if tc.field == "" && err != nil || tc.field != "" && (!ok || e.Kind != apperr.Invalid || e.Field != tc.field) {
			t.Errorf("%+v: want field %q, got %v", m, tc.field, err)
		}
	}
}
