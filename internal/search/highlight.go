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

// parseHighlight reads text marked with markStart and markStop.
func parseHighlight(marked string) Highlight {
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
