// Package scalar marshals Agora's custom scalars. Unmarshalling errors are bad input from the
// client, so they carry the apperr Invalid kind rather than surfacing as internal errors.
package scalar

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/agora/agora/ent/relay"
	"github.com/agora/agora/internal/apperr"
)

// MarshalIntID writes an ID.
func MarshalIntID(id int) graphql.Marshaler { return graphql.MarshalIntID(id) }

// UnmarshalIntID reads an ID: a decimal string or number.
func UnmarshalIntID(v any) (int, error) {
	id, err := graphql.UnmarshalIntID(v)
	if err != nil || id <= 0 {
		return 0, &apperr.Error{Kind: apperr.Invalid, Message: "not a valid ID"}
	}
	return id, nil
}

// MarshalCursor writes a pagination cursor.
func MarshalCursor(c relay.Cursor[int]) graphql.Marshaler { return c }

// UnmarshalCursor reads a pagination cursor received from a connection's pageInfo or edges.
func UnmarshalCursor(v any) (relay.Cursor[int], error) {
	var c relay.Cursor[int]
	if err := c.UnmarshalGQL(v); err != nil {
		return c, &apperr.Error{Kind: apperr.Invalid, Message: "not a valid cursor"}
	}
	return c, nil
}

// MarshalTime writes a time in RFC 3339 format.
func MarshalTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }

// UnmarshalTime reads a time in RFC 3339 format.
func UnmarshalTime(v any) (time.Time, error) {
	t, err := graphql.UnmarshalTime(v)
	if err != nil {
		return t, &apperr.Error{Kind: apperr.Invalid, Message: "not an RFC 3339 time"}
	}
	return t, nil
}
