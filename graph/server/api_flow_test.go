package server_test

import (
	"testing"
)

// TestFeedFlow is the first thing a new user does: sign up, write, follow, read the feed.
func TestFeedFlow(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		cy := a.register(t, "cyd")
		first := a.createPost(t, bob, map[string]any{"title": "First", "publish": true})
		a.createPost(t, bob, map[string]any{"title": "Bob's draft"})
		a.createPost(t, cy, map[string]any{"title": "Not followed", "publish": true})
		second := a.createPost(t, bob, map[string]any{"title": "Second", "publish": true})

		a.as(ada).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`,
			map[string]any{"id": bob.ID}, nil)

		var out struct {
			Feed struct {
				TotalCount int
				Edges      []struct{ Node post }
			}
		}
		a.as(ada).Do(t, `{ feed(first: 10) { totalCount edges { node { id title author { username } } } } }`, nil, &out)
		if out.Feed.TotalCount != 2 || len(out.Feed.Edges) != 2 {
			t.Fatalf("feed: want bob's 2 published posts, got %+v", out.Feed)
		}
		if out.Feed.Edges[0].Node.ID != second.ID || out.Feed.Edges[1].Node.ID != first.ID {
			t.Fatalf("feed: want newest first (%s, %s), got %+v", second.ID, first.ID, out.Feed.Edges)
		}
		// The feed's authors are followed, by the feed's own condition (no query asks); a
		// commenter the viewer does not follow is not.
		a.addComment(t, cy, second.ID, "from cy")
		var flags struct {
			Feed struct {
				Edges []struct {
					Node struct {
						Author   struct{ ViewerIsFollowing bool }
						Comments struct {
							Edges []struct {
								Node struct {
									Author struct{ ViewerIsFollowing bool }
								}
							}
						}
					}
				}
			}
		}
		a.as(ada).Do(t, `{ feed(first: 1) { edges { node { author { viewerIsFollowing }
		  comments(first: 1) { edges { node { author { viewerIsFollowing } } } } } } } }`, nil, &flags)
		if e := flags.Feed.Edges; len(e) != 1 || !e[0].Node.Author.ViewerIsFollowing ||
			len(e[0].Node.Comments.Edges) != 1 || e[0].Node.Comments.Edges[0].Node.Author.ViewerIsFollowing {
			t.Fatalf("feed: want bob followed and cy not, got %+v", flags.Feed)
		}

		// A page smaller than the feed still has the feed's total: on a first page its statement
		// counts it (CountInPage), after a cursor a COUNT of its own does.
		var page struct {
			Feed struct {
				TotalCount int
				Edges      []struct {
					Cursor string
					Node   post
				}
				PageInfo struct{ HasNextPage bool }
			}
		}
		for _, c := range []struct {
			query string
			vars  map[string]any
			want  string
		}{
			{`{ feed(first: 1) { totalCount edges { cursor node { id } } pageInfo { hasNextPage } } }`, nil, second.ID},
			{`query($after: Cursor) { feed(first: 1, after: $after) { totalCount edges { cursor node { id } } } }`, map[string]any{"after": "next"}, first.ID},
			{`{ feed(last: 1) { totalCount edges { cursor node { id } } } }`, nil, first.ID},
		} {
			if c.vars != nil {
				c.vars["after"] = page.Feed.Edges[0].Cursor
			}
			a.as(ada).Do(t, c.query, c.vars, &page)
			if page.Feed.TotalCount != 2 || len(page.Feed.Edges) != 1 || page.Feed.Edges[0].Node.ID != c.want {
				t.Fatalf("%s: want 1 of 2 posts (%s), got %+v", c.query, c.want, page.Feed)
			}
		}
		// Nobody followed: an empty feed, not an error. Signed out: UNAUTHENTICATED.
		a.as(cy).Do(t, `{ feed(first: 10) { totalCount } }`, nil, &out)
		if out.Feed.TotalCount != 0 {
			t.Fatalf("cy follows nobody, feed has %d posts", out.Feed.TotalCount)
		}
		a.Fail(t, "UNAUTHENTICATED", "", `{ feed(first: 10) { totalCount } }`, nil)
	})
}
