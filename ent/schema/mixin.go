package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"

	"github.com/agora/agora/ent/schema/gql"
)

// TimeMixin adds creation and modification times to an entity.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").
			Default(timeNow).
			Immutable().
			Comment("When it was created.").
			Annotations(gql.OrderField("CREATED_AT")),
		field.Time("updated_at").
			Default(timeNow).
			UpdateDefault(timeNow).
			Comment("When it was last changed.").
			Annotations(gql.OrderField("UPDATED_AT")),
	}
}
