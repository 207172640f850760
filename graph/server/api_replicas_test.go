package server_test

import (
	"testing"

	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

// TestReadYourWritesAcrossReplicas: two replicas share one PostgreSQL and one Redis. Counts and
// entities that replica B has cached are invalidated by a write on replica A, so B answers with the
// write at once.
func TestReadYourWritesAcrossReplicas(t *testing.T) {
	rdb := newRedis(t)
	pg := testenv.PostgresURL(t)
	first := openDB(t, database.Options{PostgresURL: pg})
	if _, err := first.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := startAPI(t, first, rdb)
	b := startAPI(t, openDB(t, database.Options{PostgresURL: pg}), rdb)

	ada, bob := a.register(t, "ada"), a.register(t, "bob")
	p := a.createPost(t, ada, map[string]any{"title": "Shared", "tags": []any{"go"}, "publish": true})
	draft := a.createPost(t, ada, map[string]any{"title": "Later", "tags": []any{"go"}})

	const counts = `query($slug: String!) {
  post(slug: $slug) { likeCount author { followerCount } }
  user(username: "bob") { followingCount }
  tags(first: 5) { edges { node { name postCount } } }
}`
	type result struct {
		Post struct {
			LikeCount int
			Author    struct{ FollowerCount int }
		}
		User struct{ FollowingCount int }
		Tags struct {
			Edges []struct{ Node struct{ PostCount int } }
		}
	}
	read := func(on *api) result {
		t.Helper()
		var r result
		on.Do(t, counts, map[string]any{"slug": p.Slug}, &r)
		return r
	}
	if r := read(b); r.Post.LikeCount != 0 || r.Post.Author.FollowerCount != 0 || r.User.FollowingCount != 0 || r.Tags.Edges[0].Node.PostCount != 1 {
		t.Fatalf("before the writes, replica B reads %+v", r) // and caches these counts
	}

	a.as(bob).Do(t, `mutation($id: ID!) { likePost(input: {postID: $id}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
	a.as(bob).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": ada.ID}, nil)
	a.as(ada).Do(t, `mutation($id: ID!) { publishPost(input: {id: $id}) { post { id } } }`, map[string]any{"id": draft.ID}, nil)

	if r := read(b); r.Post.LikeCount != 1 || r.Post.Author.FollowerCount != 1 || r.User.FollowingCount != 1 || r.Tags.Edges[0].Node.PostCount != 2 {
		t.Fatalf("after the writes on replica A, replica B reads %+v", r)
	}

	a.as(bob).Do(t, `mutation($id: ID!) { unlikePost(input: {postID: $id}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
	a.as(ada).Do(t, `mutation($id: ID!) { deletePost(input: {id: $id}) { deletedPostID } }`, map[string]any{"id": draft.ID}, nil)
	if r := read(b); r.Post.LikeCount != 0 || r.Tags.Edges[0].Node.PostCount != 1 {
		t.Fatalf("after unlike and delete on replica A, replica B reads %+v", r)
	}

	// Entities by ID: B caches the post and its author, A changes both and hides the post.
	mod := a.register(t, "mod")
	a.setRole(t, mod, "MODERATOR")
	const node = `query($post: ID!, $user: ID!) {
  post: node(id: $post) { ... on Post { title author { displayName } } }
  user: node(id: $user) { ... on User { displayName } }
}`
	ids := map[string]any{"post": p.ID, "user": ada.ID}
	if got := string(b.Post(t, node, ids).Data); got != `{"post":{"title":"Shared","author":{"displayName":"ada"}},"user":{"displayName":"ada"}}` {
		t.Fatalf("before the changes, replica B reads %s", got)
	}
	a.as(ada).Do(t, `mutation($id: ID!) { updatePost(input: {id: $id, title: "Renamed"}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
	a.as(ada).Do(t, `mutation { updateProfile(input: {displayName: "Ada"}) { user { id } } }`, nil, nil)
	if got := string(b.Post(t, node, ids).Data); got != `{"post":{"title":"Renamed","author":{"displayName":"Ada"}},"user":{"displayName":"Ada"}}` {
		t.Fatalf("after the changes on replica A, replica B reads %s", got)
	}
	a.as(mod).Do(t, `mutation($id: ID!) { hidePost(input: {id: $id}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
	if got := string(b.Post(t, node, ids).Data); got != `{"post":null,"user":{"displayName":"Ada"}}` {
		t.Fatalf("after hiding the post on replica A, replica B reads %s", got)
	}
}
