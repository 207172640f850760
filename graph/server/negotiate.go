package server

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// The media types an answer of /graphql comes in.
const (
	mediaJSON        = "application/json"                  // GraphQL over HTTP's legacy type
	mediaGraphQLJSON = "application/graphql-response+json" // GraphQL over HTTP's own
	mediaEventStream = "text/event-stream"                 // GraphQL over SSE (graphql-sse's protocol)
	mediaMultipart   = "multipart/mixed"                   // Apollo's multipart HTTP subscriptions
)

// mediaRange is one entry of an Accept header.
type mediaRange struct {
	typ, sub string
	q        float64
}

// accepted is a request's Accept header, read once. An absent header accepts everything.
type accepted struct {
	ranges []mediaRange
	empty  bool
}

func parseAccept(r *http.Request) accepted {
	header := strings.Join(r.Header.Values("Accept"), ",")
	a := accepted{empty: strings.TrimSpace(header) == ""}
	for part := range strings.SplitSeq(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		a.ranges = append(a.ranges, mediaRange{typ: typ, sub: sub, q: q})
	}
	return a
}

// quality is the q the client gives media type mt (type/subtype): that of the most specific range
// matching it (RFC 9110 §12.5.1), 0 when none does. explicit leaves wildcards out: only a range
// naming mt counts.
func (a accepted) quality(mt string, explicit bool) float64 {
	if a.empty {
		if explicit {
			return 0
		}
		return 1
	}
	typ, sub, _ := strings.Cut(mt, "/")
	best, specificity := 0.0, -1
	for _, r := range a.ranges {
		s := -1
		switch {
		case r.typ == typ && r.sub == sub:
			s = 2
		case explicit:
		case r.typ == typ && r.sub == "*":
			s = 1
		case r.typ == "*" && r.sub == "*":
			s = 0
		}
		if s > specificity || (s == specificity && s >= 0 && r.q > best) {
			best, specificity = r.q, s
		}
	}
	return best
}

// position is where mt is first named in the header (len when it is not): the tie-breaker between
// two types of equal quality.
func (a accepted) position(mt string) int {
	typ, sub, _ := strings.Cut(mt, "/")
	for i, r := range a.ranges {
		if r.typ == typ && r.sub == sub {
			return i
		}
	}
	return len(a.ranges)
}

// jsonType is the JSON media type of a single answer: application/graphql-response+json when the
// client prefers it, application/json when it prefers that, asks for any type (*/*) or sends no
// Accept (GraphQL over HTTP's legacy rule), and application/graphql-response+json when it names
// neither (what gqlgen answers).
func (a accepted) jsonType() string {
	gql, plain := a.quality(mediaGraphQLJSON, true), a.quality(mediaJSON, false)
	switch {
	case gql > 0 && gql >= plain:
		return mediaGraphQLJSON
	case plain > 0:
		return mediaJSON
	}
	return mediaGraphQLJSON
}

// jsonQuality is the best quality the client gives a JSON answer.
func (a accepted) jsonQuality() float64 {
	return max(a.quality(mediaGraphQLJSON, false), a.quality(mediaJSON, false))
}

// A response format, chosen by negotiate.
type format int

const (
	formatJSON      format = iota // one response, application/json or application/graphql-response+json
	formatSSE                     // text/event-stream: next events, then complete
	formatMultipart               // multipart/mixed;subscriptionSpec=1.0: {"payload": …} parts and {} heartbeats
	formatNone                    // a subscription without a streaming type it accepts
)

// streamFormat is how a subscription's events go out: the streaming type the client names
// explicitly (a wildcard does not ask for a stream), the one of higher quality, the one named first
// at equal quality; formatNone when it names neither.
func (a accepted) streamFormat() format {
	sse, mp := a.quality(mediaEventStream, true), a.quality(mediaMultipart, true)
	switch {
	case sse == 0 && mp == 0:
		return formatNone
	case sse > mp, sse == mp && a.position(mediaEventStream) < a.position(mediaMultipart):
		return formatSSE
	}
	return formatMultipart
}

// singleFormat is how a query's or mutation's one response goes out: JSON, whatever else the client
// also accepts and in whatever order, unless it prefers an event stream strictly (graphql-sse and
// EventSource clients ask for text/event-stream alone).
func (a accepted) singleFormat() format {
	if a.quality(mediaEventStream, true) > a.jsonQuality() {
		return formatSSE
	}
	return formatJSON
}
