package search

import (
	"regexp"
	"strings"
)

// The databases mark matches with these control characters, which parseHighlight turns into
// parts, so that clients render highlights without parsing markup (and without the XSS risk of
// it). A stray marker in the indexed text only moves a highlight.
const (
	markStart = "\x02"
	markStop  = "\x03"
)

// Highlight is text with the words that matched a search marked.
type Highlight struct {
	Text  string          `json:"text"`
	Parts []HighlightPart `json:"parts"`
}

// HighlightPart is a run of a Highlight's text, matched or not.
type HighlightPart struct {
	Text    string `json:"text"`
	Matched bool   `json:"matched"`
}

// Matched reports whether any part of the text matched.
func (h Highlight) Matched() bool {
	for _, p := range h.Parts {
		if p.Matched {
			return true
		}
	}
	return false
}

// parseHighlight reads text marked with markStart and markStop, without the markup the text may
// hold (see stripMarkup).
func parseHighlight(marked string) Highlight {
	marked = stripMarkup(marked)
	h := Highlight{Parts: []HighlightPart{}}
	var text strings.Builder
	matched := false
	for marked != "" {
		i := strings.IndexAny(marked, markStart+markStop)
		run := marked
		if i >= 0 {
			run = marked[:i]
		}
		if run != "" {
			if n := len(h.Parts); n > 0 && h.Parts[n-1].Matched == matched {
				h.Parts[n-1].Text += run // runs of the same kind side by side read as one
			} else {
				h.Parts = append(h.Parts, HighlightPart{Text: run, Matched: matched})
			}
			text.WriteString(run)
		}
		if i < 0 {
			break
		}
		matched = marked[i:i+1] == markStart
		marked = marked[i+1:]
	}
	h.Text = text.String()
	return h
}

// stripMarkup removes the HTML tags and comments of a post's text from a marked passage, keeping
// the marks (a match may be inside a tag): highlights are plain text, and a client that renders
// them as HTML must not run a post's markup. A tag that does not end (cut short by the end of a
// snippet, or "x<y") loses its "<", so it cannot open one either. A "<" that opens no tag
// ("a < b") stays.
func stripMarkup(marked string) string {
	if !strings.Contains(marked, "<") {
		return marked
	}
	var b strings.Builder
	for {
		i := tagStart(marked)
		if i < 0 {
			b.WriteString(marked)
			return b.String()
		}
		b.WriteString(marked[:i])
		tag := marked[i:]
		closing := ">"
		if strings.HasPrefix(strings.NewReplacer(markStart, "", markStop, "").Replace(tag[:min(len(tag), 8)]), "<!--") {
			closing = "-->"
		}
		end := 1 // a tag that does not end (cut short, or "x<y"): its "<" goes, the text stays
		if j := strings.Index(tag[1:], closing); j >= 0 {
			end = 1 + j + len(closing)
		}
		for k := range end { // the marks stay, so that every match still ends
			if c := tag[k]; c == markStart[0] || c == markStop[0] {
				b.WriteByte(c)
			}
		}
		marked = tag[end:]
	}
}

// tagStart is the index of the first "<" in s that opens a tag, comment or declaration (a
// letter, "/", "!" or "?" follows it, marks aside), or -1.
func tagStart(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] != '<' {
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == markStart[0] || s[j] == markStop[0]) {
			j++
		}
		if j < len(s) {
			if c := s[j]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '!' || c == '?' {
				return i
			}
		}
	}
	return -1
}

// Markdown syntax that a snippet of a body shows as noise: links and images (their text stays),
// emphasis and code markers, and the markers of headings, quotes and list items.
var (
	mdLink   = regexp.MustCompile(`!?\[([^\]\n]*)\]\([^)\n]*\)`)
	mdMarker = regexp.MustCompile("\\*+|`+|~~")
	mdLine   = regexp.MustCompile(`(?m)^[ \t]*(#{1,6}|>|[-+]|\d+[.)])[ \t]+`)
	spaces   = regexp.MustCompile(`\s+`)
)

// plainMarkdown turns a marked passage of Markdown into one line of text, keeping the marks.
// Underscores stay: they are as likely a part of a word (snake_case) as emphasis.
func plainMarkdown(s string) string {
	s = mdLine.ReplaceAllString(s, "")
	s = mdLink.ReplaceAllString(s, "$1")
	s = mdMarker.ReplaceAllString(s, "")
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}
