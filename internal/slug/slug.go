// Package slug makes the names Agora puts in URLs and matches by: lower-case ASCII words joined by
// single dashes. Post slugs are made from titles, and tag names are normalized, the same way.
package slug

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// TagMaxLen is the longest tag name (the Tag schema's name field holds as much).
const TagMaxLen = 32

// Make turns text into lower-case ASCII words joined by dashes, accents stripped ("Café au
// lait!" → "cafe-au-lait"), stopping once it is max bytes long: a dash and the character after it
// may take it to max+1.
func Make(text string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(strings.ToLower(text)) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r): // combining accent: drop, keep the word going
		default:
			dash = true
		}
		if b.Len() >= max {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// Tag returns the canonical form of a tag name: lower case, a-z 0-9 and single dashes, at most
// TagMaxLen long ("" when the name has no letter or digit). Tags are stored and searched in this form.
func Tag(name string) string {
	s := Make(name, TagMaxLen)
	if len(s) > TagMaxLen {
		s = strings.TrimRight(s[:TagMaxLen], "-")
	}
	return s
}
