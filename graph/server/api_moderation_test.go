package server_test

import (
	"testing"
)

func TestModeration(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada, bob, mod := a.register(t, "ada"), a.register(t, "bob"), a.register(t, "mona")
		a.setRole(t, mod, "MODERATOR")
		p := a.createPost(t, ada, map[string]any{"title": "Spam?", "publish": true})
		var c struct {
			AddComment struct{ Comment struct{ ID string } }
		}
		a.as(bob).Do(t, `mutation($id: ID!) { addComment(input: {postID: $id, body: "buy now"}) { comment { id } } }`,
			map[string]any{"id": p.ID}, &c)
		commentID := c.AddComment.Comment.ID

		const hide = `mutation($id: ID!) { hidePost(input: {id: $id}) { post { id hiddenAt } } }`
		vars := map[string]any{"id": p.ID}
		a.Fail(t, "UNAUTHENTICATED", "", hide, vars)
		a.as(bob).Fail(t, "FORBIDDEN", "", hide, vars)
		a.as(ada).Fail(t, "FORBIDDEN", "", hide, vars) // authors cannot hide their own posts either
		var hidden struct {
			HidePost struct{ Post struct{ HiddenAt *string } }
		}
		a.as(mod).Do(t, hide, vars, &hidden)
		if hidden.HidePost.Post.HiddenAt == nil {
			t.Fatal("hidePost: hiddenAt is null")
		}

		// Hidden: gone for everyone but the author and moderators.
		const read = `query($slug: String!) { post(slug: $slug) { id } }`
		for _, c := range []struct {
			name    string
			as      string
			visible bool
		}{{"anonymous", "", false}, {"other user", bob.Token, false}, {"author", ada.Token, true}, {"moderator", mod.Token, true}} {
			var out struct{ Post *struct{ ID string } }
			a.As(c.as).Do(t, read, map[string]any{"slug": p.Slug}, &out)
			if (out.Post != nil) != c.visible {
				t.Errorf("%s sees the hidden post: %t, want %t", c.name, out.Post != nil, c.visible)
			}
		}

		a.as(mod).Do(t, `mutation($id: ID!) { unhidePost(input: {id: $id}) { post { hiddenAt } } }`, vars, nil)
		var out struct{ Post *struct{ CommentCount int } }
		a.Do(t, `query($slug: String!) { post(slug: $slug) { commentCount } }`, map[string]any{"slug": p.Slug}, &out)
		if out.Post == nil || out.Post.CommentCount != 1 {
			t.Fatalf("unhidden post: %+v", out.Post)
		}

		// Comments: hidden from others, then deleted by the moderator.
		cvars := map[string]any{"id": commentID}
		a.as(ada).Fail(t, "FORBIDDEN", "", `mutation($id: ID!) { hideComment(input: {id: $id}) { comment { id } } }`, cvars)
		a.as(mod).Do(t, `mutation($id: ID!) { hideComment(input: {id: $id}) { comment { hiddenAt } } }`, cvars, nil)
		a.Do(t, `query($slug: String!) { post(slug: $slug) { commentCount } }`, map[string]any{"slug": p.Slug}, &out)
		if out.Post.CommentCount != 0 {
			t.Fatalf("hidden comment still counted for anonymous: %d", out.Post.CommentCount)
		}
		a.as(bob).Do(t, `query($slug: String!) { post(slug: $slug) { commentCount } }`, map[string]any{"slug": p.Slug}, &out)
		if out.Post.CommentCount != 1 {
			t.Fatalf("the comment's author no longer sees it: %d", out.Post.CommentCount)
		}
		// In a list, commentCount comes from the count field collection makes for the comments'
		// totalCount when both are selected (loader.Prefetch): the same comments, as each viewer sees them.
		for _, c := range []struct {
			name string
			as   string
			want int
		}{{"anonymous", "", 0}, {"the comment's author", bob.Token, 1}, {"the post's author", ada.Token, 0}, {"moderator", mod.Token, 1}} {
			var list struct {
				Posts struct {
					Edges []struct {
						Node struct {
							CommentCount int
							Comments     struct{ TotalCount int }
							None         struct{ TotalCount int }
						}
					}
				}
			}
			a.As(c.as).Do(t, `{ posts(first: 5) { edges { node { commentCount comments(first: 2) { totalCount }
			  none: comments(first: 0) { totalCount } } } } }`, nil, &list)
			if len(list.Posts.Edges) != 1 {
				t.Fatalf("%s: %d posts, want 1", c.name, len(list.Posts.Edges))
			}
			n := list.Posts.Edges[0].Node
			if n.CommentCount != c.want || n.Comments.TotalCount != c.want || n.None.TotalCount != c.want {
				t.Errorf("%s: commentCount %d, comments' totalCount %d and %d, want %d", c.name, n.CommentCount, n.Comments.TotalCount, n.None.TotalCount, c.want)
			}
		}
		a.as(mod).Do(t, `mutation($id: ID!) { deleteComment(input: {id: $id}) { deletedCommentID } }`, cvars, nil)
		a.as(mod).Do(t, `mutation($id: ID!) { deletePost(input: {id: $id}) { deletedPostID } }`, vars, nil)
		if n := a.count(t, "posts") + a.count(t, "comments"); n != 0 {
			t.Fatalf("moderator deletes left %d rows", n)
		}
	})
}

func TestAdmin(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		adam, bob, mod := a.register(t, "adam"), a.register(t, "bob"), a.register(t, "mona")
		a.setRole(t, adam, "ADMIN")
		a.setRole(t, mod, "MODERATOR")

		const ban = `mutation($id: ID!) { banUser(input: {userID: $id}) { user { id bannedAt } } }`
		a.as(mod).Fail(t, "FORBIDDEN", "", ban, map[string]any{"id": bob.ID})
		a.as(bob).Fail(t, "FORBIDDEN", "", ban, map[string]any{"id": bob.ID})
		a.as(adam).Fail(t, "BAD_USER_INPUT", "userID", ban, map[string]any{"id": adam.ID})
		a.as(adam).Fail(t, "NOT_FOUND", "userID", ban, map[string]any{"id": "21474836999"})
		a.as(adam).Do(t, ban, map[string]any{"id": bob.ID}, nil)

		// Banned: the same access token still reads, but every write is refused and changes nothing.
		var me struct{ Viewer struct{ Username string } }
		a.as(bob).Do(t, `{ viewer { username } }`, nil, &me)
		if me.Viewer.Username != "bob" {
			t.Fatalf("banned user cannot read: %+v", me)
		}
		a.as(bob).Fail(t, "FORBIDDEN", "", createPostMutation, map[string]any{"in": map[string]any{"title": "after the ban"}})
		a.as(bob).Fail(t, "FORBIDDEN", "", `mutation { updateProfile(input: {bio: "x"}) { user { bio } } }`, nil)
		if n := a.count(t, "posts"); n != 0 {
			t.Fatalf("banned user wrote %d posts", n)
		}

		// bannedAt is for moderators; email for the user and admins.
		const who = `query($n: String!) { user(username: $n) { bannedAt email } }`
		for _, c := range []struct {
			name              string
			as                string
			seesBan, seesMail bool
		}{{"anonymous", "", false, false}, {"self", bob.Token, false, true}, {"moderator", mod.Token, true, false}, {"admin", adam.Token, true, true}} {
			var out struct {
				User struct{ BannedAt, Email *string }
			}
			a.As(c.as).Do(t, who, map[string]any{"n": "bob"}, &out)
			if (out.User.BannedAt != nil) != c.seesBan || (out.User.Email != nil) != c.seesMail {
				t.Errorf("%s: bannedAt %v email %v, want visible %t %t", c.name, out.User.BannedAt, out.User.Email, c.seesBan, c.seesMail)
			}
		}

		a.as(adam).Do(t, `mutation($id: ID!) { unbanUser(input: {userID: $id}) { user { bannedAt } } }`, map[string]any{"id": bob.ID}, nil)
		a.createPost(t, bob, map[string]any{"title": "back again"})

		const setRole = `mutation($id: ID!, $r: UserRole!) { setUserRole(input: {userID: $id, role: $r}) { user { role } } }`
		a.as(mod).Fail(t, "FORBIDDEN", "", setRole, map[string]any{"id": bob.ID, "r": "ADMIN"})
		a.as(adam).Fail(t, "BAD_USER_INPUT", "userID", setRole, map[string]any{"id": adam.ID, "r": "USER"})
		var out struct {
			SetUserRole struct{ User struct{ Role string } }
		}
		a.as(adam).Do(t, setRole, map[string]any{"id": bob.ID, "r": "MODERATOR"}, &out)
		if out.SetUserRole.User.Role != "MODERATOR" {
			t.Fatalf("setUserRole: %+v", out)
		}
		// The new role applies to bob's existing token at once.
		p := a.createPost(t, adam, map[string]any{"title": "needs moderation", "publish": true})
		a.as(bob).Do(t, `mutation($id: ID!) { hidePost(input: {id: $id}) { post { id } } }`, map[string]any{"id": p.ID}, nil)
	})
}
