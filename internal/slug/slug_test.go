package slug

import (
	"strings"
	"testing"
)

func TestMake(t *testing.T) {
	for _, tc := range []struct {
		text string
		max  int
		want string
	}{
		{"Café au lait!", 80, "cafe-au-lait"},
		{"  --Hello,   World--  ", 80, "hello-world"},
		{"Ünïcödé 日本語 text", 80, "unicode-text"},
		{"", 80, ""},
		{"!!!", 80, ""},
		{"abc def ghi", 5, "abc-d"},
		{"abcd efg", 5, "abcd-e"}, // a dash and a character may pass max by one
	} {
		if got := Make(tc.text, tc.max); got != tc.want {
			t.Errorf("Make(%q, %d) = %q, want %q", tc.text, tc.max, got, tc.want)
		}
	}
}

func TestTag(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Go", "go"},
		{"Go L", "go-l"},
		{"  Machine Learning ", "machine-learning"},
		{"C++", "c"},
		{"日本語", ""},
		{strings.Repeat("a", 31) + " b", strings.Repeat("a", 31)}, // no dash left at the end
		{strings.Repeat("ab", 40), strings.Repeat("ab", 16)},
	} {
		if got := Tag(tc.name); got != tc.want {
			t.Errorf("Tag(%q) = %q, want %q", tc.name, got, tc.want)
		}
		if got := Tag(tc.name); len(got) > TagMaxLen || Tag(got) != got {
			t.Errorf("Tag(%q) = %q: too long, or not canonical", tc.name, got)
		}
	}
}
