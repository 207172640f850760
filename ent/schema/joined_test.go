package schema

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"entgo.io/ent"
	"github.com/agora/agora/ent/privacy"
)

// A schema.Joined type is read in its parents' statements, past its own query rules: it must have
// none.
func TestJoinedTypesHaveNoQueryRules(t *testing.T) {
	types := map[string]ent.Interface{
		"AccountToken": AccountToken{}, "Comment": Comment{}, "Conversation": Conversation{}, "Follow": Follow{},
		"Identity": Identity{}, "SignInFlow": SignInFlow{}, "Image": Image{}, "Like": Like{},
		"MembershipPlan": MembershipPlan{}, "Membership": Membership{}, "StripeEvent": StripeEvent{},
		"Message": Message{}, "Notification": Notification{}, "Participant": Participant{}, "Post": Post{},
		"PostTag": PostTag{}, "Session": Session{}, "RefreshToken": RefreshToken{}, "Tag": Tag{}, "User": User{},
	}
	for _, name := range schemaTypes(t) {
		if _, ok := types[name]; !ok {
			t.Errorf("%s is not in this test's list of types", name)
		}
	}
	joined := 0
	for name, s := range types {
		if !isJoined(s) {
			continue
		}
		joined++
		if p, ok := s.Policy().(privacy.Policy); s.Policy() != nil && (!ok || len(p.Query) > 0) {
			t.Errorf("%s is schema.Joined but has query rules", name)
		}
		if len(s.Interceptors()) > 0 {
			t.Errorf("%s is schema.Joined but has interceptors", name)
		}
	}
	if joined == 0 {
		t.Error("no schema.Joined type found")
	}
}

func isJoined(s ent.Interface) bool {
	for _, a := range s.Annotations() {
		if _, ok := a.(Joined); ok {
			return true
		}
	}
	return false
}

// schemaTypes are the entity types the package declares: those with Fields, but for mixins.
func schemaTypes(t *testing.T) []string {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Name.Name != "Fields" || fn.Recv == nil {
					continue
				}
				if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok && id.Name != "TimeMixin" {
					names = append(names, id.Name)
				}
			}
		}
	}
	return names
}
