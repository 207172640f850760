package server

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestEncodeResponse: encodeResponse says what json.Marshal says of every shape of response.
func TestEncodeResponse(t *testing.T) {
	yes := true
	for _, resp := range []*graphql.Response{
		{Data: json.RawMessage(`{"posts":{"edges":[{"node":{"title":"<b> & \"q\" \u00e9"}}]}}`)},
		{},
		{Data: json.RawMessage(`null`), Errors: gqlerror.List{{Message: "no", Path: ast.Path{ast.PathName("a"), ast.PathIndex(1)}, Extensions: map[string]any{"code": "X"}}}},
		{Errors: gqlerror.List{{Message: "refused"}}, Extensions: map[string]any{"cost": map[string]any{"requested": 4}}},
		{Data: json.RawMessage(`{"x":1}`), Label: "more", Path: ast.Path{ast.PathName("posts")}, HasNext: &yes, Extensions: map[string]any{"k": "v"}},
	} {
		got, err := encodeResponse(nil, resp)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(resp)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("encodeResponse %s\njson.Marshal    %s", got, want)
		}
	}
}
