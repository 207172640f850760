package publish

import (
	"crypto/rand"
	"math/big"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/agora/agora/internal/apperr"
)

const (
	maxTags    = 10
	maxTagLen  = 32
	maxSlugLen = 80
	maxBodyLen = 100_000 // characters of a post's body
)

// slugify turns a title into lower-case ASCII words joined by dashes, accents stripped ("Café au
// lait!" → "cafe-au-lait"), at most maxSlugLen long.
func slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(strings.ToLower(title)) {
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
		if b.Len() >= maxSlugLen {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// newSlug derives a unique slug from a title: the slugified title plus a random suffix, so equal
// titles never collide and the slug can be chosen without a lookup.
func newSlug(title string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	suffix := make([]byte, 6)
	for i := range suffix {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		suffix[i] = alphabet[n.Int64()]
	}
	base := slugify(title)
	if base == "" {
		base = "post"
	}
	return base + "-" + string(suffix)
}

// NormalizeTag returns the canonical form of a tag name: lower case, a-z 0-9 and single dashes.
func NormalizeTag(name string) string {
	s := slugify(name)
	if len(s) > maxTagLen {
		s = strings.TrimRight(s[:maxTagLen], "-")
	}
	return s
}

// normalizeTags normalizes and de-duplicates tag names, keeping their order.
func normalizeTags(names []string) ([]string, error) {
	if len(names) > maxTags {
		return nil, apperr.InvalidField("tags", "at most %d tags", maxTags)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(names))
	for _, n := range names {
		t := NormalizeTag(n)
		if t == "" {
			return nil, apperr.InvalidField("tags", "tag %q has no letters or digits", n)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}
