package publish

import (
	"crypto/rand"
	"math/big"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/slug"
)

const (
	maxTags    = 10
	maxSlugLen = 80
	maxBodyLen = 100_000 // characters of a post's body
)

// newSlug derives a unique slug from a title: the slugified title plus a random suffix, so equal
// titles never collide and the slug can be chosen without a lookup.
func newSlug(title string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	suffix := make([]byte, 6)
	for i := range suffix {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		suffix[i] = alphabet[n.Int64()]
	}
	base := slug.Make(title, maxSlugLen)
	if base == "" {
		base = "post"
	}
	return base + "-" + string(suffix)
}

// normalizeTags normalizes and de-duplicates tag names, keeping their order.
func normalizeTags(names []string) ([]string, error) {
	if len(names) > maxTags {
		return nil, apperr.InvalidField("tags", "at most %d tags", maxTags)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(names))
	for _, n := range names {
		t := slug.Tag(n)
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
