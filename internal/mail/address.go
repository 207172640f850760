package mail

import (
	"net/mail"
	"strings"

	"github.com/agora/agora/internal/apperr"
)

// Address checks that s is one plain e-mail address, name@example.com, and returns it trimmed
// with its domain in lower case (the local part keeps its case: only the receiving server may
// fold it). Refused, as apperr Invalid on field: display names and angle brackets, lists,
// comments, quoted local parts, non-ASCII text, and domains that are not a public DNS name
// (no dot, bad labels, an all-numeric top-level label, IP literals).
func Address(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := func(msg string) (string, error) { return "", apperr.InvalidField(field, "%s", msg) }
	switch {
	case s == "":
		return bad("must not be empty")
	case len(s) > 254:
		return bad("must be at most 254 characters")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return bad("must be one plain address like name@example.com, in ASCII (without a name, spaces or several addresses)")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		// a.Address differs from s when s had angle brackets, a comment, or a quoted local part.
		return bad("must be one plain address like name@example.com (without a name or several addresses)")
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if !dotAtom(local) || len(local) > 64 {
		return bad("has an invalid part before the @")
	}
	if !hostname(domain) {
		return bad("has an invalid domain after the @")
	}
	return local + "@" + domain, nil
}

// dotAtom reports whether s is an RFC 5322 dot-atom: atext runs joined by single dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	return true
}

// hostname reports whether s (lower case) is a DNS name mail can be delivered to: at least two
// labels of letters, digits and inner hyphens, each 1-63 long, and a top-level label that is not
// all digits.
func hostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
