// Package seed loads a small demo data set through the same services the API uses, so it obeys
// every validation rule.
package seed

import (
	"context"
	"fmt"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/account"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/publish"
	"github.com/agora/agora/internal/social"
)

// Password of every demo account.
const Password = "agora-demo-password"

var people = []struct{ username, name, bio string }{
	{"ada", "Ada Lovelace", "Writes about engines and the poetry of numbers."},
	{"grace", "Grace Hopper", "Compilers, nanoseconds and naval history."},
	{"alan", "Alan Turing", "Machines, morphogenesis and long-distance running."},
	{"edsger", "Edsger Dijkstra", "Short notes on structured programming."},
	{"barbara", "Barbara Liskov", "Abstraction, substitution and distributed systems."},
}

var posts = []struct {
	author, title, body string
	tags                []string
}{
	{"ada", "Notes on the Analytical Engine", "The engine weaves **algebraic patterns** just as the loom weaves flowers and leaves.", []string{"history", "computing"}},
	{"ada", "Poetical science", "Imagination is the discovering faculty, pre-eminently.", []string{"essays"}},
	{"grace", "A nanosecond is eleven inches", "Hand out pieces of wire so people can *see* what a nanosecond costs.", []string{"hardware", "teaching"}},
	{"grace", "It is easier to ask forgiveness", "...than it is to get permission.", []string{"essays"}},
	{"alan", "Can machines think?", "I propose to consider the question: *can machines think?*", []string{"ai", "computing"}},
	{"edsger", "Go to statement considered harmful", "The quality of programmers is a decreasing function of the density of go to statements.", []string{"programming", "essays"}},
	{"barbara", "Data abstraction and hierarchy", "What is wanted here is something like the following substitution property.", []string{"programming", "types"}},
}

var follows = [][2]string{
	{"ada", "grace"}, {"ada", "alan"}, {"grace", "ada"}, {"alan", "ada"}, {"alan", "edsger"},
	{"edsger", "barbara"}, {"barbara", "edsger"}, {"barbara", "ada"},
}

// Usernames of the demo users, in the order Load creates them.
func Usernames() []string {
	out := make([]string, len(people))
	for i, p := range people {
		out[i] = p.username
	}
	return out
}

// Present reports whether the demo data set is in the database already (Load then does nothing).
func Present(ctx context.Context, client *ent.Client) (bool, error) {
	return client.User.Query().Where(user.Username(people[0].username)).Exist(ctx)
}

// Load creates the demo users, posts, follows, comments and likes. It does nothing when the demo
// users exist already.
func Load(ctx context.Context, client *ent.Client, accounts *account.Service, pub *publish.Service, soc *social.Service) error {
	if present, err := Present(ctx, client); err != nil || present {
		return err
	}
	ids := map[string]int{}
	as := func(name string) context.Context {
		return auth.WithViewer(ctx, auth.Viewer{UserID: ids[name], Role: "USER"})
	}
	for _, p := range people {
		name := p.name
		s, err := accounts.Register(ctx, account.RegisterInput{Username: p.username, Email: p.username + "@example.com", Password: Password, DisplayName: &name})
		if err != nil {
			return fmt.Errorf("seed user %s: %w", p.username, err)
		}
		ids[p.username] = s.User.ID
		bio := p.bio
		if _, err := accounts.UpdateProfile(as(p.username), account.UpdateProfileInput{Bio: &bio}); err != nil {
			return err
		}
	}
	publishNow := true
	var postIDs []int
	for _, p := range posts {
		body := p.body
		created, err := pub.CreatePost(as(p.author), publish.CreatePostInput{Title: p.title, Body: &body, Tags: p.tags, Publish: &publishNow})
		if err != nil {
			return fmt.Errorf("seed post %q: %w", p.title, err)
		}
		postIDs = append(postIDs, created.ID)
	}
	draft := "Still thinking about this one."
	if _, err := pub.CreatePost(as("ada"), publish.CreatePostInput{Title: "A draft only Ada can see", Body: &draft}); err != nil {
		return err
	}
	for _, f := range follows {
		if _, err := soc.FollowUser(as(f[0]), ids[f[1]]); err != nil {
			return err
		}
	}
	for i, id := range postIDs {
		for j, p := range people {
			if (i+j)%3 == 0 {
				if _, err := soc.LikePost(as(p.username), id); err != nil {
					return err
				}
			}
			if (i+j)%4 == 1 {
				if _, err := pub.AddComment(as(p.username), publish.AddCommentInput{PostID: id, Body: fmt.Sprintf("Thoughtful piece, %s here.", p.name)}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
