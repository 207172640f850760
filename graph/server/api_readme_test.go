package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agora/agora/graph/server"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/seed"
	"github.com/agora/agora/internal/testenv"
)

// TestReadmeFirstHour runs README's "Using the API" walkthrough and its search example as written,
// on the demo data `agora seed` loads, on both databases: each GraphQL document answers without an
// error, the searches find seeded posts, and the subscription the README gives for wscat, graphql-ws
// and curl receives the comment the README's mutation adds.
func TestReadmeFirstHour(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	section := text[strings.Index(text, "## Using the API\n"):strings.Index(text, "Everything the schema offers")]
	search := text[strings.Index(text, "### Search\n"):strings.Index(text, "- **Syntax**")]
	blocks := func(s string) []string {
		var out []string
		for _, m := range regexp.MustCompile("(?s)```graphql\n(.*?)```").FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	walkthrough := blocks(section)
	if len(walkthrough) < 7 {
		t.Fatalf("found %d GraphQL examples in README's Using the API", len(walkthrough))
	}
	m := regexp.MustCompile(`-d '\{"query":"(subscription \{ commentAdded\(postID: \\"POST_ID\\"\).*?)"\}'`).FindStringSubmatch(section)
	if m == nil {
		t.Fatal("README's curl subscription example is gone")
	}
	subscription := strings.ReplaceAll(m[1], `\"`, `"`)

	eachDBWith(t, func(*config.Config) {}, func(t *testing.T, a *api) {
		// agora seed, on this database.
		app, err := server.New(testConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), a.db, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(app.Close)
		startJobs(t, app)
		if err := seed.Load(t.Context(), a.db.Client, app.Accounts, app.Publish, app.Social); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(app.Handler())
		t.Cleanup(srv.Close)
		c := testenv.GraphQL{URL: srv.URL + "/graphql"}

		vars := map[string]any{}
		var postID string
		for i, doc := range walkthrough {
			r := c.Post(t, doc, vars)
			if len(r.Errors) > 0 {
				t.Fatalf("README example %d:\n%s\nerrors: %+v", i+1, doc, r.Errors)
			}
			var data struct {
				Register struct{ AccessToken string }
				User     struct {
					ID    string
					Posts struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
				Search     struct{ TotalCount int }
				FollowUser struct {
					User struct{ ViewerIsFollowing bool }
				}
				Feed struct {
					Edges []struct {
						Node struct{ Author struct{ Username string } }
					}
				}
			}
			if err := json.Unmarshal(r.Data, &data); err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.Contains(doc, "register("):
				c = c.As(data.Register.AccessToken)
			case strings.Contains(doc, `user(username: "grace")`):
				vars = map[string]any{"id": data.User.ID}
			case strings.Contains(doc, "followUser"):
				if !data.FollowUser.User.ViewerIsFollowing {
					t.Errorf("followUser: %s", r.Data)
				}
				vars = map[string]any{}
			case strings.Contains(doc, "feed("):
				if len(data.Feed.Edges) == 0 || data.Feed.Edges[0].Node.Author.Username != "grace" {
					t.Errorf("the feed after following grace: %s", r.Data)
				}
			case strings.Contains(doc, "search("):
				if data.Search.TotalCount != 2 {
					t.Errorf("README's search finds %d demo posts, want 2: %s", data.Search.TotalCount, r.Data)
				}
			case strings.Contains(doc, `user(username: "ada")`):
				postID = data.User.Posts.Edges[0].Node.ID
				vars = map[string]any{"post": postID}
				// Subscribe as the README does, on each transport, before the comment.
				sub := strings.ReplaceAll(subscription, "POST_ID", postID)
				var streams []*testenv.Stream
				for _, tr := range []string{testenv.TransportWS, testenv.TransportSSE} {
					streams = append(streams, testenv.GraphQL{URL: srv.URL + "/graphql"}.Subscribe(t, tr, sub, nil))
				}
				for start := time.Now(); app.Live.Stats().Active < int64(len(streams)); time.Sleep(5 * time.Millisecond) {
					if time.Since(start) > 10*time.Second {
						t.Fatal("the README's subscriptions did not start")
					}
				}
				t.Cleanup(func() {
					for i, s := range streams {
						ev, ok := s.Next(t, 10*time.Second)
						if !ok || !strings.Contains(string(ev.Data), "Hello from the first hour") {
							t.Errorf("the README's subscription over %s got %s (%v)", []string{"WebSocket", "SSE"}[i], ev.Data, ok)
						}
						s.Close()
					}
				})
			}
		}
		if postID == "" {
			t.Fatal("README's walkthrough does not look up a post")
		}

		for _, doc := range blocks(search) {
			r := c.Post(t, doc, nil)
			var data struct {
				Search struct {
					TotalCount int
					Edges      []struct{ Node struct{ Title string } }
				}
				SearchUsers struct{ Edges []any }
				SearchTags  struct{ Edges []any }
			}
			if len(r.Errors) > 0 || json.Unmarshal(r.Data, &data) != nil {
				t.Fatalf("README's search example: %+v", r.Errors)
			}
			if data.Search.TotalCount != 1 || data.Search.Edges[0].Node.Title != "Data abstraction and hierarchy" ||
				len(data.SearchUsers.Edges) != 1 || len(data.SearchTags.Edges) != 1 {
				t.Errorf("README's search example on the demo data: %s", r.Data)
			}
		}
	})
}
