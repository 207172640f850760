package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/selection"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// noIntrospection refuses operations that select __schema or __type, anywhere, with
// INTROSPECTION_DISABLED. gqlgen's own switch would refuse federation's _service { sdl } too,
// which a router needs and which stays available.
type noIntrospection struct{}

const codeIntrospectionDisabled = apperr.CodeIntrospectionDisabled

func (noIntrospection) ExtensionName() string                   { return "NoIntrospection" }
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

func (noIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	// A document too large to walk to the end is refused by the operation limits.
	if !selection.Selects(oc.Operation, "__schema", "__type") {
		return nil
	}
	return &gqlerror.Error{Message: "introspection is disabled on this server",
		Extensions: map[string]any{"code": codeIntrospectionDisabled}}
}

// withoutSuggestions makes validation errors stop guessing ("Did you mean …?"), which would
// reveal the schema piece by piece: gqlgen's switch covers fields and leaf selections, these
// rules the rest (arguments, types, enum values and input fields).
func withoutSuggestions(srv *handler.Server) {
	srv.SetDisableSuggestion(true)
	srv.SetValidationRulesFn(func() *rules.Rules {
		r := rules.NewDefaultRules()
		for _, swap := range []struct {
			name string
			rule core.Rule
		}{
			{rules.KnownArgumentNamesRule.Name, rules.KnownArgumentNamesRuleWithoutSuggestions},
			{rules.KnownTypeNamesRule.Name, rules.KnownTypeNamesRuleWithoutSuggestions},
			{rules.ValuesOfCorrectTypeRule.Name, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
		} {
			r.RemoveRule(swap.name)
			r.AddRule(swap.rule.Name, swap.rule.RuleFunc)
		}
		return r
	})
}
