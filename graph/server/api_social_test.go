package server_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/agora/agora/internal/testenv"
)

const (
	likeMutation = `mutation($id: ID!) {
  likePost(input: {postID: $id}) { post { id likeCount viewerHasLiked } }
}`
	unlikeMutation = `mutation($id: ID!) {
  unlikePost(input: {postID: $id}) { post { id likeCount viewerHasLiked } }
}`
	followMutation = `mutation($id: ID!) {
  followUser(input: {userID: $id}) { user { id username followerCount viewerIsFollowing } }
}`
	unfollowMutation = `mutation($id: ID!) {
  unfollowUser(input: {userID: $id}) { user { id username followerCount viewerIsFollowing } }
}`
)

// unusedID returns an ID of the same type as id (IDs of a type share a range) that was never used.
func unusedID(t *testing.T, id string, by int) string {
	t.Helper()
	n, err := strconv.Atoi(id)
	if err != nil {
		t.Fatalf("ID %q is not numeric: %v", id, err)
	}
	return strconv.Itoa(n + by)
}

// likeState is what a client sees of a post's likes.
type likeState struct {
	LikeCount      int
	ViewerHasLiked bool
}

func (a *api) seeLikes(t *testing.T, c testenv.GraphQL, slug string) likeState {
	t.Helper()
	var out struct{ Post *likeState }
	c.Do(t, `query($slug: String!) { post(slug: $slug) { likeCount viewerHasLiked } }`, map[string]any{"slug": slug}, &out)
	if out.Post == nil {
		t.Fatalf("post %q not visible", slug)
	}
	return *out.Post
}

func TestLikePost(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		cyd := a.register(t, "cyd")
		pub := a.createPost(t, bob, map[string]any{"title": "Liked", "publish": true})
		other := a.createPost(t, bob, map[string]any{"title": "Other", "publish": true})
		draft := a.createPost(t, bob, map[string]any{"title": "Bob's draft"})

		// Each step runs after the previous ones: like and unlike are idempotent and per user.
		steps := []struct {
			name      string
			by        user
			mutation  string
			wantCount int  // likeCount in the payload
			wantLiked bool // viewerHasLiked in the payload, for the one who acted
			wantRows  int  // rows in likes
		}{
			{"ada likes", ada, likeMutation, 1, true, 1},
			{"ada likes again", ada, likeMutation, 1, true, 1},
			{"cyd likes", cyd, likeMutation, 2, true, 2},
			{"bob unlikes a post he never liked", bob, unlikeMutation, 2, false, 2},
			{"ada unlikes", ada, unlikeMutation, 1, false, 1},
			{"ada unlikes again", ada, unlikeMutation, 1, false, 1},
			{"ada likes once more", ada, likeMutation, 2, true, 2},
		}
		for _, s := range steps {
			var out struct {
				LikePost, UnlikePost *struct {
					Post struct {
						ID string
						likeState
					}
				}
			}
			if !doStep(t, a.as(s.by), s.name, s.mutation, pub.ID, &out) {
				continue
			}
			p := out.LikePost
			if p == nil {
				p = out.UnlikePost
			}
			if p == nil || p.Post.ID != pub.ID {
				t.Fatalf("%s: payload is not post %s: %+v", s.name, pub.ID, out)
			}
			if p.Post.LikeCount != s.wantCount || p.Post.ViewerHasLiked != s.wantLiked {
				t.Fatalf("%s: want likeCount %d viewerHasLiked %v, got %+v", s.name, s.wantCount, s.wantLiked, p.Post.likeState)
			}
			if n := a.count(t, "likes"); n != s.wantRows {
				t.Fatalf("%s: want %d rows in likes, got %d", s.name, s.wantRows, n)
			}
		}

		// ada and cyd like the post now; everyone sees the same count, only they see it as liked.
		for _, v := range []struct {
			name   string
			client testenv.GraphQL
			want   likeState
		}{
			{"ada", a.as(ada), likeState{2, true}},
			{"cyd", a.as(cyd), likeState{2, true}},
			{"bob", a.as(bob), likeState{2, false}},
			{"anonymous", a.GraphQL, likeState{2, false}},
		} {
			if got := a.seeLikes(t, v.client, pub.Slug); got != v.want {
				t.Errorf("%s sees %+v, want %+v", v.name, got, v.want)
			}
		}
		// Likes belong to one post.
		if got := a.seeLikes(t, a.as(ada), other.Slug); got != (likeState{0, false}) {
			t.Errorf("the other post: want no likes, got %+v", got)
		}

		// Failures write nothing.
		for _, tc := range []struct {
			name, mutation string
			client         testenv.GraphQL
			id             string
			code, field    string
		}{
			{"like an unknown post", likeMutation, a.as(ada), unusedID(t, draft.ID, 1000), "NOT_FOUND", "postID"},
			{"unlike an unknown post", unlikeMutation, a.as(ada), unusedID(t, draft.ID, 1000), "NOT_FOUND", "postID"},
			{"like a user's ID", likeMutation, a.as(ada), bob.ID, "NOT_FOUND", "postID"},
			{"like another user's draft", likeMutation, a.as(ada), draft.ID, "NOT_FOUND", "postID"},
			{"unlike another user's draft", unlikeMutation, a.as(ada), draft.ID, "NOT_FOUND", "postID"},
			{"like signed out", likeMutation, a.GraphQL, pub.ID, "UNAUTHENTICATED", ""},
			{"unlike signed out", unlikeMutation, a.GraphQL, pub.ID, "UNAUTHENTICATED", ""},
			{"like a malformed ID", likeMutation, a.as(ada), "abc", "BAD_USER_INPUT", "postID"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := a.count(t, "likes")
				e := tc.client.Fail(t, tc.code, "", tc.mutation, map[string]any{"id": tc.id})
				if e.Field() != tc.field {
					t.Errorf("want extensions.field %q, got %q (%s %q)", tc.field, e.Field(), e.Code(), e.Message)
				}
				if tc.code == "UNAUTHENTICATED" && e.Message != "sign in required" {
					t.Errorf("message: got %q", e.Message)
				}
				if after := a.count(t, "likes"); after != before {
					t.Errorf("likes went from %d to %d rows", before, after)
				}
			})
		}

		// The author sees their draft, so may like it.
		var out struct{ LikePost struct{ Post likeState } }
		a.as(bob).Do(t, likeMutation, map[string]any{"id": draft.ID}, &out)
		if out.LikePost.Post != (likeState{1, true}) {
			t.Fatalf("bob likes his draft: got %+v", out.LikePost.Post)
		}
	})
}

// followState is what a client sees of a user's follow graph.
type followState struct {
	FollowerCount     int
	FollowingCount    int
	ViewerIsFollowing bool
	Followers         []string
	Following         []string
}

func (a *api) seeFollows(t *testing.T, c testenv.GraphQL, username string) followState {
	t.Helper()
	type conn struct {
		TotalCount int
		Edges      []struct{ Node struct{ Username string } }
	}
	var out struct {
		User *struct {
			FollowerCount, FollowingCount int
			ViewerIsFollowing             bool
			Followers, Following          conn
		}
	}
	c.Do(t, `query($u: String!) { user(username: $u) {
  followerCount followingCount viewerIsFollowing
  followers(first: 10) { totalCount edges { node { username } } }
  following(first: 10) { totalCount edges { node { username } } }
} }`, map[string]any{"u": username}, &out)
	if out.User == nil {
		t.Fatalf("user %q not found", username)
	}
	names := func(c conn) []string {
		s := []string{}
		for _, e := range c.Edges {
			s = append(s, e.Node.Username)
		}
		if c.TotalCount != len(s) {
			t.Errorf("%s: totalCount %d but %d edges", username, c.TotalCount, len(s))
		}
		slices.Sort(s)
		return s
	}
	u := out.User
	return followState{u.FollowerCount, u.FollowingCount, u.ViewerIsFollowing, names(u.Followers), names(u.Following)}
}

func TestFollowUser(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		cyd := a.register(t, "cyd")
		p := a.createPost(t, bob, map[string]any{"title": "A post", "publish": true})

		type step struct {
			name          string
			by            user
			mutation      string
			target        user
			wantFollowers int  // target's followerCount in the payload
			wantFollowing bool // viewerIsFollowing in the payload
			wantRows      int  // rows in follows
		}
		run := func(steps []step) {
			t.Helper()
			for _, s := range steps {
				var out struct {
					FollowUser, UnfollowUser *struct {
						User struct {
							ID, Username      string
							FollowerCount     int
							ViewerIsFollowing bool
						}
					}
				}
				if !doStep(t, a.as(s.by), s.name, s.mutation, s.target.ID, &out) {
					continue
				}
				pl := out.FollowUser
				if pl == nil {
					pl = out.UnfollowUser
				}
				if pl == nil || pl.User.ID != s.target.ID || pl.User.Username != s.target.Username {
					t.Fatalf("%s: payload is not user %s: %+v", s.name, s.target.Username, out)
				}
				if pl.User.FollowerCount != s.wantFollowers || pl.User.ViewerIsFollowing != s.wantFollowing {
					t.Fatalf("%s: want followerCount %d viewerIsFollowing %v, got %+v",
						s.name, s.wantFollowers, s.wantFollowing, pl.User)
				}
				if n := a.count(t, "follows"); n != s.wantRows {
					t.Fatalf("%s: want %d rows in follows, got %d", s.name, s.wantRows, n)
				}
			}
		}
		run([]step{
			{"ada follows bob", ada, followMutation, bob, 1, true, 1},
			{"ada follows bob again", ada, followMutation, bob, 1, true, 1},
			{"cyd follows bob", cyd, followMutation, bob, 2, true, 2},
			{"bob follows ada", bob, followMutation, ada, 1, true, 3},
		})

		none := []string{}
		for _, tc := range []struct {
			name     string
			client   testenv.GraphQL
			username string
			want     followState
		}{
			{"bob as ada", a.as(ada), "bob", followState{2, 1, true, []string{"ada", "cyd"}, []string{"ada"}}},
			{"bob as cyd", a.as(cyd), "bob", followState{2, 1, true, []string{"ada", "cyd"}, []string{"ada"}}},
			{"bob as himself", a.as(bob), "bob", followState{2, 1, false, []string{"ada", "cyd"}, []string{"ada"}}},
			{"bob anonymously", a.GraphQL, "bob", followState{2, 1, false, []string{"ada", "cyd"}, []string{"ada"}}},
			{"ada as bob", a.as(bob), "ada", followState{1, 1, true, []string{"bob"}, []string{"bob"}}},
			{"ada as cyd", a.as(cyd), "ada", followState{1, 1, false, []string{"bob"}, []string{"bob"}}},
			{"cyd as ada", a.as(ada), "cyd", followState{0, 1, false, none, []string{"bob"}}},
		} {
			if got := a.seeFollows(t, tc.client, tc.username); !followStateEqual(got, tc.want) {
				t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
			}
		}

		// Failures write nothing.
		for _, tc := range []struct {
			name, mutation string
			client         testenv.GraphQL
			id             string
			code, field    string
		}{
			{"follow yourself", followMutation, a.as(ada), ada.ID, "BAD_USER_INPUT", "userID"},
			{"follow an unknown user", followMutation, a.as(ada), unusedID(t, cyd.ID, 1000), "NOT_FOUND", "userID"},
			{"follow a post's ID", followMutation, a.as(ada), p.ID, "NOT_FOUND", "userID"},
			{"follow signed out", followMutation, a.GraphQL, cyd.ID, "UNAUTHENTICATED", ""},
			{"follow a malformed ID", followMutation, a.as(ada), "abc", "BAD_USER_INPUT", "userID"},
			{"unfollow an unknown user", unfollowMutation, a.as(ada), unusedID(t, cyd.ID, 1000), "NOT_FOUND", "userID"},
			{"unfollow signed out", unfollowMutation, a.GraphQL, bob.ID, "UNAUTHENTICATED", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := a.count(t, "follows")
				e := tc.client.Fail(t, tc.code, "", tc.mutation, map[string]any{"id": tc.id})
				if e.Field() != tc.field {
					t.Errorf("want extensions.field %q, got %q (%s %q)", tc.field, e.Field(), e.Code(), e.Message)
				}
				if after := a.count(t, "follows"); after != before {
					t.Errorf("follows went from %d to %d rows", before, after)
				}
			})
		}
		if got := a.seeFollows(t, a.as(ada), "ada"); got.FollowerCount != 1 || got.FollowingCount != 1 || got.ViewerIsFollowing {
			t.Errorf("ada after following herself failed: %+v", got)
		}

		run([]step{
			{"ada unfollows bob", ada, unfollowMutation, bob, 1, false, 2},
			{"ada unfollows bob again", ada, unfollowMutation, bob, 1, false, 2},
			{"ada unfollows cyd, never followed", ada, unfollowMutation, cyd, 0, false, 2},
		})
		if got, want := a.seeFollows(t, a.as(ada), "bob"), (followState{1, 1, false, []string{"cyd"}, []string{"ada"}}); !followStateEqual(got, want) {
			t.Errorf("bob after ada unfollowed: got %+v, want %+v", got, want)
		}
		if got, want := a.seeFollows(t, a.as(cyd), "ada"), (followState{1, 0, false, []string{"bob"}, none}); !followStateEqual(got, want) {
			t.Errorf("ada after unfollowing bob: got %+v, want %+v", got, want)
		}
	})
}

// doStep sends a like/follow mutation that must succeed. An error fails the test but lets the next
// steps run (a failed idempotent repeat leaves the state as the previous step did), so one bug does
// not hide the others.
func doStep(t *testing.T, c testenv.GraphQL, name, mutation, id string, out any) bool {
	t.Helper()
	r := c.Post(t, mutation, map[string]any{"id": id})
	if len(r.Errors) > 0 {
		t.Errorf("%s: unexpected errors: %+v", name, r.Errors)
		return false
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatalf("%s: decode %s: %v", name, r.Data, err)
	}
	return true
}

func followStateEqual(a, b followState) bool {
	return a.FollowerCount == b.FollowerCount && a.FollowingCount == b.FollowingCount &&
		a.ViewerIsFollowing == b.ViewerIsFollowing && slices.Equal(a.Followers, b.Followers) &&
		slices.Equal(a.Following, b.Following)
}
