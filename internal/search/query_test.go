package search

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/agora/agora/internal/apperr"
)

func TestParseQuery(t *testing.T) {
	for _, c := range []struct{ in, web, fts string }{
		{"running", `"running"`, `("running")`},
		{"  Quick  brown ", `"Quick" "brown"`, `("Quick" AND "brown")`},
		{`"quick brown fox" -lazy`, `"quick brown fox" -"lazy"`, `("quick brown fox" NOT "lazy")`},
		{`fox -"lazy dog"`, `"fox" -"lazy dog"`, `("fox" NOT "lazy dog")`},
		{"marathon or pasta OR soup", `"marathon" or "pasta" or "soup"`, `("marathon") OR ("pasta") OR ("soup")`},
		{"e-mail", `"e mail"`, `("e mail")`},                                                                                   // punctuation inside a word: a phrase
		{`"unclosed phrase`, `"unclosed phrase"`, `("unclosed phrase")`},                                                       // runs to the end
		{`or cats`, `"or" "cats"`, `("or" AND "cats")`},                                                                        // OR needs something before it
		{`cats or`, `"cats"`, `("cats")`},                                                                                      // a dangling OR is dropped
		{`say "NEAR(a b)" AND title:x*`, `"say" "NEAR a b" "AND" "title x"`, `("say" AND "NEAR a b" AND "AND" AND "title x")`}, // no FTS5 syntax gets through
		{`Ærø café 東京`, `"Ærø" "café" "東京"`, `("Ærø" AND "café" AND "東京")`},
	} {
		q, err := ParseQuery("query", c.in)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", c.in, err)
			continue
		}
		if got := q.WebSearch(); got != c.web {
			t.Errorf("ParseQuery(%q).WebSearch() = %s, want %s", c.in, got, c.web)
		}
		if got := q.FTS5(); got != c.fts {
			t.Errorf("ParseQuery(%q).FTS5() = %s, want %s", c.in, got, c.fts)
		}
	}
	for in, want := range map[string]bool{"quick brown": false, `"quick brown"`: true, `fox -"lazy dog"`: false, "e-mail": true, `"fox"`: false} {
		if q, _ := ParseQuery("query", in); q.HasPhrase() != want {
			t.Errorf("ParseQuery(%q).HasPhrase() = %v, want %v", in, !want, want)
		}
	}
	for _, in := range []string{"", "   ", `"" --`, "-spam", "cats or -dogs", strings.Repeat("a", MaxQueryLen+1), "\xff"} {
		_, err := ParseQuery("query", in)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Kind != apperr.Invalid || e.Field != "query" {
			t.Errorf("ParseQuery(%q) = %v, want bad input on field query", in, err)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	p, err := ParsePrefix("query", "  Ada_Lo ")
	if err != nil {
		t.Fatal(err)
	}
	if p.TSQuery() != "ada:* & lo:*" || p.FTS5() != `"ada"* AND "lo"*` || p.text != "ada_lo" {
		t.Fatalf("ParsePrefix: %q, %q, %q", p.TSQuery(), p.FTS5(), p.text)
	}
	for _, in := range []string{"", "__", strings.Repeat("a", MaxQueryLen+1)} {
		if _, err := ParsePrefix("query", in); err == nil {
			t.Errorf("ParsePrefix(%q) accepted", in)
		}
	}
}

func TestParseHighlight(t *testing.T) {
	h := parseHighlight("I went for a \x02run\x03 in the \x02park\x03\x02s\x03.")
	want := []HighlightPart{{"I went for a ", false}, {"run", true}, {" in the ", false}, {"parks", true}, {".", false}}
	if h.Text != "I went for a run in the parks." || len(h.Parts) != len(want) {
		t.Fatalf("parseHighlight = %+v", h)
	}
	for i := range want {
		if h.Parts[i] != want[i] {
			t.Fatalf("part %d = %+v, want %+v", i, h.Parts[i], want[i])
		}
	}
	if h := parseHighlight(""); h.Text != "" || len(h.Parts) != 0 || h.Matched() {
		t.Fatalf("empty text: %+v", h)
	}
}

func TestPlainMarkdown(t *testing.T) {
	for in, want := range map[string]string{
		"## A \x02run\x03\n\nI went for a **long** \x02run\x03, see [the `map`](https://x.example/m).": "A \x02run\x03 I went for a long \x02run\x03, see the map.",
		"> quoted\n- item one\n1. first\n![a \x02fox\x03](f.png) ~~old~~":                              "quoted item one first a \x02fox\x03 old",
		"snake_case stays, 3 - 2 too": "snake_case stays, 3 - 2 too",
	} {
		if got := plainMarkdown(in); got != want {
			t.Errorf("plainMarkdown(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseQuery: whatever is typed, the parse is bad input or an FTS5 query SQLite accepts.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"running", `"a b" -c or d`, `NEAR(a b)`, `a:b*`, `"`, `-`, `- -x`, `x OR OR y`, "(a) AND {b c}", "^a", `a"b"c`} {
		f.Add(s)
	}
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one in-memory database
	if _, err := db.Exec(`CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize = 'porter unicode61 remove_diacritics 2');
		INSERT INTO t VALUES ('running a marathon', 'the quick brown fox')`); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, err := ParseQuery("query", in)
		if err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) || e.Kind != apperr.Invalid {
				t.Fatalf("ParseQuery(%q): %v is not bad input", in, err)
			}
			return
		}
		if w := q.WebSearch(); strings.ContainsAny(w, `'\`) { // written into PostgreSQL statements
			t.Fatalf("ParseQuery(%q).WebSearch() = %s holds a quote or backslash", in, w)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM t WHERE t MATCH ?`, q.FTS5()).Scan(&n); err != nil {
			t.Fatalf("ParseQuery(%q).FTS5() = %s: SQLite refuses it: %v", in, q.FTS5(), err)
		}
	})
}

func TestLiteral(t *testing.T) {
	for in, want := range map[string]string{
		`"gardening" -"weeds"`: `'"gardening" -"weeds"'`,
		`it's`:                 `'it''s'`,
		`a\'b`:                 `E'a\\''b'`,
	} {
		if got := literal(in); got != want {
			t.Errorf("literal(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestStripMarkup(t *testing.T) {
	for in, want := range map[string]string{
		`Some <script>alert(1)</script> \x02garden\x03 <a href="x">notes</a>`: `Some alert(1) \x02garden\x03 notes`,
		"<\x02script\x03>x</\x02script\x03> y":                                "\x02\x03x\x02\x03 y",
		"a < b and c<d, 3 <= 4":                                               "a < b and cd, 3 <= 4",
		"before <!-- a <b>comment</b> --> after":                              "before  after",
		"cut at the end <img src=x onerror=alert(1)":                          "cut at the end img src=x onerror=alert(1)",
		"<?xml version=1?><!DOCTYPE html>plain":                               "plain",
		"no markup at all":                                                    "no markup at all",
	} {
		in = strings.ReplaceAll(strings.ReplaceAll(in, `\x02`, "\x02"), `\x03`, "\x03")
		want = strings.ReplaceAll(strings.ReplaceAll(want, `\x02`, "\x02"), `\x03`, "\x03")
		if got := stripMarkup(in); got != want {
			t.Errorf("stripMarkup(%q) = %q, want %q", in, got, want)
		}
	}
	h := parseHighlight("<b>\x02Gardening\x03</b> <i>tips</i>")
	if h.Text != "Gardening tips" || len(h.Parts) != 2 || !h.Parts[0].Matched || h.Parts[0].Text != "Gardening" {
		t.Errorf("parseHighlight of markup = %+v", h)
	}
}
