package apperr

import (
	"strings"
	"unicode/utf8"
)

// Text trims s and checks its length in characters, reporting errors against field.
func Text(field, s string, min, max int) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		return "", InvalidField(field, "must be valid UTF-8")
	case n < min && min == 1:
		return "", InvalidField(field, "must not be empty")
	case n < min:
		return "", InvalidField(field, "must be at least %d characters", min)
	case n > max:
		return "", InvalidField(field, "must be at most %d characters", max)
	}
	return s, nil
}
