package relay_test

import (
	"bytes"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"

	"github.com/agora/agora/ent/relay"
)

// Clients keep cursors across deploys: relay's cursors are entgql's, byte for byte, both ways.
func TestCursorsAreEntgqls(t *testing.T) {
	for _, value := range []ent.Value{nil, "hello", int64(42), 3.5, time.Date(2026, 12, 5, 10, 30, 0, 123456789, time.UTC)} {
		var ours, theirs bytes.Buffer
		relay.Cursor[int]{ID: 1234, Value: value}.MarshalGQL(&ours)
		entgql.Cursor[int]{ID: 1234, Value: value}.MarshalGQL(&theirs)
		if ours.String() != theirs.String() {
			t.Fatalf("value %v: relay wrote %s, entgql %s", value, ours.String(), theirs.String())
		}
		s := theirs.String()
		var back relay.Cursor[int]
		if err := back.UnmarshalGQL(s[1 : len(s)-1]); err != nil {
			t.Fatalf("value %v: reading entgql's cursor %s: %v", value, s, err)
		}
		if back.ID != 1234 {
			t.Fatalf("value %v: read ID %d, want 1234", value, back.ID)
		}
		if got, want := back.Value, value; (got == nil) != (want == nil) {
			t.Fatalf("read value %v, want %v", got, want)
		}
	}
}

func TestCursorRefusesGarbage(t *testing.T) {
	for _, v := range []any{"not a cursor!", "", 12} {
		var c relay.Cursor[int]
		if err := c.UnmarshalGQL(v); err == nil {
			t.Errorf("%v: read as %+v, want an error", v, c)
		}
	}
}

func TestOrderDirection(t *testing.T) {
	var d relay.OrderDirection
	if err := d.UnmarshalGQL("DESC"); err != nil || d != relay.OrderDirectionDesc || d.Reverse() != relay.OrderDirectionAsc {
		t.Fatalf("DESC: %v %v", d, err)
	}
	if err := d.UnmarshalGQL("SIDEWAYS"); err == nil {
		t.Fatal("SIDEWAYS accepted")
	}
}
