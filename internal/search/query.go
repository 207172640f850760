package search

import (
	"strings"
	"unicode"

	"github.com/agora/agora/internal/apperr"
)

// MaxQueryLen is the longest search text accepted, in characters.
const MaxQueryLen = 200

// Query is parsed search text in web-search syntax: words that must all appear, "quoted phrases"
// whose words must appear together, -word or -"phrase" for what must not appear, and OR between
// alternatives. Both databases are handed the same parse, so they agree on what matches.
type Query struct {
	alternatives [][]clause // OR of ANDs
}

type clause struct {
	text    string // a word, or the words of a phrase separated by spaces
	negated bool
}

// ParseQuery parses search text. Empty text, text over MaxQueryLen characters, and text without a
// word to look for in every alternative are bad input, reported against field.
func ParseQuery(field, text string) (Query, error) {
	text, err := apperr.Text(field, text, 1, MaxQueryLen)
	if err != nil {
		return Query{}, err
	}
	var q Query
	group := []clause{}
	negated := false
	add := func(text string) {
		if text = strings.Join(words(text), " "); text != "" {
			group = append(group, clause{text: text, negated: negated})
		}
		negated = false
	}
	for text != "" {
		switch {
		case text[0] == '"':
			end := strings.IndexByte(text[1:], '"')
			if end < 0 { // an unclosed quote runs to the end, as in web search
				end = len(text) - 1
			}
			add(text[1 : 1+end])
			text = text[min(len(text), end+2):]
		case text[0] == '-' && !negated:
			negated = true
			text = text[1:]
		case unicode.IsSpace(rune(text[0])):
			negated = false
			text = text[1:]
		default:
			end := strings.IndexFunc(text, func(r rune) bool { return unicode.IsSpace(r) || r == '"' })
			if end < 0 {
				end = len(text)
			}
			word := text[:end]
			text = text[end:]
			if strings.EqualFold(word, "or") && !negated && len(group) > 0 {
				q.alternatives = append(q.alternatives, group)
				group = []clause{}
				continue
			}
			add(word)
		}
	}
	if len(group) > 0 {
		q.alternatives = append(q.alternatives, group)
	}
	if len(q.alternatives) == 0 {
		return Query{}, apperr.InvalidField(field, "has no words to search for")
	}
	for _, alt := range q.alternatives {
		if !hasPositive(alt) {
			return Query{}, apperr.InvalidField(field, "needs a word to look for, not only words to leave out")
		}
	}
	return q, nil
}

func hasPositive(alt []clause) bool {
	for _, c := range alt {
		if !c.negated {
			return true
		}
	}
	return false
}

// words splits text into runs of letters and digits, the only characters either database indexes.
func words(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// HasPhrase reports whether the query asks for words next to each other ("a b").
func (q Query) HasPhrase() bool {
	for _, alt := range q.alternatives {
		for _, c := range alt {
			if !c.negated && strings.Contains(c.text, " ") {
				return true
			}
		}
	}
	return false
}

// WebSearch is the query in PostgreSQL's websearch_to_tsquery syntax.
func (q Query) WebSearch() string {
	var b strings.Builder
	for i, alt := range q.alternatives {
		if i > 0 {
			b.WriteString(" or ")
		}
		for j, c := range alt {
			if j > 0 {
				b.WriteByte(' ')
			}
			if c.negated {
				b.WriteByte('-')
			}
			b.WriteString(`"` + c.text + `"`) // a word with punctuation inside ("e-mail") is a phrase
		}
	}
	return b.String()
}

// FTS5 is the query in SQLite FTS5 syntax: each word or phrase a quoted string, ANDed, with its
// exclusions as NOT, and the alternatives ORed. FTS5's NOT is binary, which is why every
// alternative needs a word to look for.
func (q Query) FTS5() string {
	var b strings.Builder
	for i, alt := range q.alternatives {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteByte('(')
		n := 0
		for _, c := range alt {
			if !c.negated {
				if n > 0 {
					b.WriteString(" AND ")
				}
				b.WriteString(`"` + c.text + `"`)
				n++
			}
		}
		for _, c := range alt {
			if c.negated {
				b.WriteString(` NOT "` + c.text + `"`)
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Prefix is as-you-type text: the words typed so far, the last one perhaps unfinished, each
// matched as the start of a word.
type Prefix struct {
	words []string // lower case letters and digits
	text  string   // the trimmed text, lower case
}

// ParsePrefix parses as-you-type text, with the limits of ParseQuery.
func ParsePrefix(field, text string) (Prefix, error) {
	text, err := apperr.Text(field, text, 1, MaxQueryLen)
	if err != nil {
		return Prefix{}, err
	}
	text = strings.ToLower(text)
	w := words(text)
	if len(w) == 0 {
		return Prefix{}, apperr.InvalidField(field, "has no letters or digits")
	}
	return Prefix{words: w, text: text}, nil
}

// TSQuery is the prefix in PostgreSQL to_tsquery syntax: 'ada':* & 'lo':*. The words hold only
// letters and digits, so they need no escaping.
func (p Prefix) TSQuery() string {
	parts := make([]string, len(p.words))
	for i, w := range p.words {
		parts[i] = w + ":*"
	}
	return strings.Join(parts, " & ")
}

// FTS5 is the prefix in SQLite FTS5 syntax: "ada"* AND "lo"*.
func (p Prefix) FTS5() string {
	parts := make([]string, len(p.words))
	for i, w := range p.words {
		parts[i] = `"` + w + `"*`
	}
	return strings.Join(parts, " AND ")
}
