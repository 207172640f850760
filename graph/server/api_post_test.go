package server_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agora/agora/internal/testenv"
)

// IDs that parse but name nothing: one in the posts' ID range, one in the comments'.
const (
	unknownPostID    = "12885901887"
	unknownCommentID = "999999"
)

const postBySlugQuery = `query($slug: String!) {
  post(slug: $slug) {
    id slug title description body status publishedAt commentCount likeCount
    tags { name } author { username }
  }
}`

// postDetail is a post as post(slug) returns it.
type postDetail struct {
	post
	Description, Body       string
	CommentCount, LikeCount int
}

// getPost reads post(slug) as the client c; nil when the API answers null.
func (a *api) getPost(t *testing.T, c testenv.GraphQL, slug string) *postDetail {
	t.Helper()
	var out struct{ Post *postDetail }
	c.Do(t, postBySlugQuery, map[string]any{"slug": slug}, &out)
	return out.Post
}

// mustPost reads post(slug) as the client c and fails the test when it is null.
func (a *api) mustPost(t *testing.T, c testenv.GraphQL, slug string) *postDetail {
	t.Helper()
	p := a.getPost(t, c, slug)
	if p == nil {
		t.Fatalf("post(slug: %q) is null", slug)
	}
	return p
}

func tagNames(p post) []string {
	names := make([]string, len(p.Tags))
	for i, tg := range p.Tags {
		names[i] = tg.Name
	}
	return names
}

// sortedTags returns the post's tag names in name order, to compare them as a set.
func sortedTags(p post) []string { return slices.Sorted(slices.Values(tagNames(p))) }

const addCommentMutation = `mutation($in: AddCommentInput!) {
  addComment(input: $in) { comment { id body author { username } post { id commentCount } } }
}`

type comment struct {
	ID, Body string
	Author   struct{ Username string }
	Post     struct {
		ID           string
		CommentCount int
	}
}

// addComment comments as u on a post.
func (a *api) addComment(t *testing.T, u user, postID, body string) comment {
	t.Helper()
	var out struct{ AddComment struct{ Comment comment } }
	a.as(u).Do(t, addCommentMutation, map[string]any{"in": map[string]any{"postID": postID, "body": body}}, &out)
	return out.AddComment.Comment
}

// parseTime parses an API time, failing the test when it is missing or malformed.
func parseTime(t *testing.T, s *string) time.Time {
	t.Helper()
	if s == nil {
		t.Fatal("time is null")
	}
	tm, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestPostCreate(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		long := strings.Repeat("x", 200)
		tenTags := make([]any, 10)
		for i := range tenTags {
			tenTags[i] = fmt.Sprintf("t%d", i)
		}
		cases := []struct {
			name       string
			in         map[string]any
			wantTitle  string
			wantStatus string
			wantSlug   string // regexp
			wantTags   []string
		}{
			{"draft by default", map[string]any{"title": "Just a draft"},
				"Just a draft", "DRAFT", `^just-a-draft-[0-9a-z]{6}$`, []string{}},
			{"publish false", map[string]any{"title": "Explicit draft", "publish": false},
				"Explicit draft", "DRAFT", `^explicit-draft-[0-9a-z]{6}$`, []string{}},
			{"publish true", map[string]any{"title": "Out now", "publish": true},
				"Out now", "PUBLISHED", `^out-now-[0-9a-z]{6}$`, []string{}},
			{"accents and punctuation in slug", map[string]any{"title": "Héllo, World!"},
				"Héllo, World!", "DRAFT", `^hello-world-[0-9a-z]{6}$`, []string{}},
			{"title trimmed", map[string]any{"title": "  Padded  "},
				"Padded", "DRAFT", `^padded-[0-9a-z]{6}$`, []string{}},
			{"no letters in title", map[string]any{"title": "!!!"},
				"!!!", "DRAFT", `^post-[0-9a-z]{6}$`, []string{}},
			{"tags normalized and de-duplicated", map[string]any{"title": "Tagged", "publish": true,
				"tags": []any{" Go Lang ", "go-lang", "GO LANG", "Databases", "databases"}},
				"Tagged", "PUBLISHED", `^tagged-[0-9a-z]{6}$`, []string{"databases", "go-lang"}},
			{"long tag cut to 32 characters", map[string]any{"title": "Long tag", "tags": []any{strings.Repeat("a", 40)}},
				"Long tag", "DRAFT", `^long-tag-[0-9a-z]{6}$`, []string{strings.Repeat("a", 32)}},
			{"200-char title and 10 tags", map[string]any{"title": long, "tags": tenTags},
				long, "DRAFT", `^x{80}-[0-9a-z]{6}$`, []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := time.Now().Add(-time.Minute)
				p := a.createPost(t, ada, tc.in)
				if p.ID == "" || p.Title != tc.wantTitle || p.Status != tc.wantStatus || p.Author.Username != "ada" {
					t.Fatalf("want %q %s by ada, got %+v", tc.wantTitle, tc.wantStatus, p)
				}
				if !regexp.MustCompile(tc.wantSlug).MatchString(p.Slug) {
					t.Fatalf("slug %q does not match %s", p.Slug, tc.wantSlug)
				}
				if got := sortedTags(p); !slices.Equal(got, tc.wantTags) {
					t.Fatalf("tags: want %v, got %v", tc.wantTags, got)
				}
				if tc.wantStatus == "DRAFT" && p.PublishedAt != nil {
					t.Fatalf("draft has publishedAt %s", *p.PublishedAt)
				}
				if tc.wantStatus == "PUBLISHED" {
					if at := parseTime(t, p.PublishedAt); at.Before(before) || at.After(time.Now().Add(time.Minute)) {
						t.Fatalf("publishedAt %s is not now", at)
					}
				}
				// What was stored reads back the same.
				got := a.mustPost(t, a.as(ada), p.Slug)
				if got.ID != p.ID || got.Title != tc.wantTitle || got.Status != tc.wantStatus ||
					!slices.Equal(sortedTags(got.post), tc.wantTags) {
					t.Fatalf("read back %+v, created %+v", got, p)
				}
			})
		}

		t.Run("equal titles get distinct slugs", func(t *testing.T) {
			p1 := a.createPost(t, ada, map[string]any{"title": "Same"})
			p2 := a.createPost(t, ada, map[string]any{"title": "Same"})
			if p1.Slug == p2.Slug {
				t.Fatalf("both posts got slug %q", p1.Slug)
			}
		})

		t.Run("description and body stored", func(t *testing.T) {
			p := a.createPost(t, ada, map[string]any{"title": "Full", "description": " Short ", "body": "# Body\n\ntext"})
			got := a.mustPost(t, a.as(ada), p.Slug)
			if got.Description != "Short" || got.Body != "# Body\n\ntext" {
				t.Fatalf("want description %q body %q, got %q %q", "Short", "# Body\n\ntext", got.Description, got.Body)
			}
		})

		t.Run("tags in name order", func(t *testing.T) {
			// The schema documents Post.tags as "Topics of the post, in name order".
			p := a.createPost(t, ada, map[string]any{"title": "Ordered", "tags": []any{"zeta", "mu", "alpha"}})
			want := []string{"alpha", "mu", "zeta"}
			if got := tagNames(p); !slices.Equal(got, want) {
				t.Errorf("createPost tags: want %v (name order), got %v", want, got)
			}
			if got := tagNames(a.mustPost(t, a.as(ada), p.Slug).post); !slices.Equal(got, want) {
				t.Errorf("post(slug) tags: want %v (name order), got %v", want, got)
			}
		})
	})
}

func TestPostCreateInvalid(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		a.createPost(t, ada, map[string]any{"title": "Existing", "tags": []any{"go"}, "publish": true})
		elevenTags := make([]any, 11)
		for i := range elevenTags {
			elevenTags[i] = fmt.Sprintf("t%d", i)
		}
		cases := []struct {
			name        string
			client      testenv.GraphQL
			in          map[string]any
			code, field string
		}{
			{"empty title", a.as(ada), map[string]any{"title": ""}, "BAD_USER_INPUT", "title"},
			{"blank title", a.as(ada), map[string]any{"title": "   "}, "BAD_USER_INPUT", "title"},
			{"201-char title", a.as(ada), map[string]any{"title": strings.Repeat("é", 201)}, "BAD_USER_INPUT", "title"},
			{"11 tags", a.as(ada), map[string]any{"title": "T", "tags": elevenTags}, "BAD_USER_INPUT", "tags"},
			{"tag without letters or digits", a.as(ada), map[string]any{"title": "T", "tags": []any{"fine", "--!--"}}, "BAD_USER_INPUT", "tags"},
			{"501-char description", a.as(ada), map[string]any{"title": "T", "description": strings.Repeat("d", 501)}, "BAD_USER_INPUT", "description"},
			{"body over 100000 characters", a.as(ada), map[string]any{"title": "T", "body": strings.Repeat("b", 100_001)}, "BAD_USER_INPUT", "body"},
			{"signed out", a.GraphQL, map[string]any{"title": "Anonymous", "tags": []any{"new"}}, "UNAUTHENTICATED", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				posts, tags := a.count(t, "posts"), a.count(t, "tags")
				tc.client.Fail(t, tc.code, tc.field, createPostMutation, map[string]any{"in": tc.in})
				if p, tg := a.count(t, "posts"), a.count(t, "tags"); p != posts || tg != tags {
					t.Fatalf("failed createPost wrote: posts %d -> %d, tags %d -> %d", posts, p, tags, tg)
				}
			})
		}
		if n := a.count(t, "posts"); n != 1 {
			t.Fatalf("want only the one valid post, got %d", n)
		}
	})
}

// TestPostBodyCharacters: a post's body holds up to 100,000 characters, as the schema says, not
// bytes: a body of 100,000 two-byte characters is written, on creation and on update; one more
// character is refused.
func TestPostBodyCharacters(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		long := strings.Repeat("é", 100_000) // 200,000 bytes
		var out struct {
			CreatePost struct{ Post struct{ ID, Body string } }
		}
		a.as(ada).Do(t, `mutation($in: CreatePostInput!) { createPost(input: $in) { post { id body } } }`,
			map[string]any{"in": map[string]any{"title": "Long", "body": long}}, &out)
		if out.CreatePost.Post.Body != long {
			t.Fatalf("the body came back with %d characters", len([]rune(out.CreatePost.Post.Body)))
		}
		id := out.CreatePost.Post.ID
		a.as(ada).Do(t, updatePostMutation, map[string]any{"in": map[string]any{"id": id, "body": "ü" + long[2:]}}, nil)
		for _, mutation := range []string{createPostMutation, updatePostMutation} {
			in := map[string]any{"title": "Longer", "body": long + "é"}
			if mutation == updatePostMutation {
				in = map[string]any{"id": id, "body": long + "é"}
			}
			a.as(ada).Fail(t, "BAD_USER_INPUT", "body", mutation, map[string]any{"in": in})
		}
	})
}

func TestPostDraftVisibility(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		draft := a.createPost(t, ada, map[string]any{"title": "Secret draft"})
		pub := a.createPost(t, ada, map[string]any{"title": "Public post", "publish": true})

		viewers := []struct {
			name      string
			client    testenv.GraphQL
			seesDraft bool
		}{
			{"author", a.as(ada), true},
			{"other user", a.as(bob), false},
			{"anonymous", a.GraphQL, false},
		}
		for _, v := range viewers {
			t.Run(v.name, func(t *testing.T) {
				want := []string{pub.ID}
				if v.seesDraft {
					want = []string{draft.ID, pub.ID}
				}
				slices.Sort(want)

				var list struct {
					Posts struct {
						TotalCount int
						Edges      []struct{ Node struct{ ID string } }
					}
				}
				v.client.Do(t, `{ posts(first: 10) { totalCount edges { node { id } } } }`, nil, &list)
				var got []string
				for _, e := range list.Posts.Edges {
					got = append(got, e.Node.ID)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) || list.Posts.TotalCount != len(want) {
					t.Errorf("posts: want %v, got %v (totalCount %d)", want, got, list.Posts.TotalCount)
				}

				if p := a.getPost(t, v.client, draft.Slug); (p != nil) != v.seesDraft {
					t.Errorf("post(draft slug): want visible=%v, got %+v", v.seesDraft, p)
				}
				if p := a.getPost(t, v.client, pub.Slug); p == nil || p.ID != pub.ID {
					t.Errorf("post(published slug): want %s, got %+v", pub.ID, p)
				}

				for _, id := range []string{draft.ID, pub.ID} {
					var node struct {
						Node *struct {
							ID, Title string
						}
					}
					v.client.Do(t, `query($id: ID!) { node(id: $id) { id ... on Post { title } } }`, map[string]any{"id": id}, &node)
					wantNode := id == pub.ID || v.seesDraft
					if (node.Node != nil) != wantNode || (node.Node != nil && node.Node.ID != id) {
						t.Errorf("node(%s): want visible=%v, got %+v", id, wantNode, node.Node)
					}
				}

				var u struct {
					User struct {
						Posts struct {
							TotalCount int
							Edges      []struct{ Node struct{ ID string } }
						}
					}
				}
				v.client.Do(t, `query($u: String!) { user(username: $u) { posts(first: 10) { totalCount edges { node { id } } } } }`,
					map[string]any{"u": "ada"}, &u)
				got = nil
				for _, e := range u.User.Posts.Edges {
					got = append(got, e.Node.ID)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) || u.User.Posts.TotalCount != len(want) {
					t.Errorf("user.posts: want %v, got %v (totalCount %d)", want, got, u.User.Posts.TotalCount)
				}

				// A where filter cannot reach around the rule.
				var drafts struct{ Posts struct{ TotalCount int } }
				v.client.Do(t, `{ posts(where: {status: DRAFT}) { totalCount } }`, nil, &drafts)
				if wantN := map[bool]int{true: 1, false: 0}[v.seesDraft]; drafts.Posts.TotalCount != wantN {
					t.Errorf("posts(where: {status: DRAFT}): want %d, got %d", wantN, drafts.Posts.TotalCount)
				}
			})
		}
	})
}

const updatePostMutation = `mutation($in: UpdatePostInput!) {
  updatePost(input: $in) { post { id slug title description body status tags { name } } }
}`

func TestPostUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")

		t.Run("author changes title, body and tags", func(t *testing.T) {
			p := a.createPost(t, ada, map[string]any{"title": "Old title", "description": "Keep me",
				"body": "old body", "tags": []any{"old", "shared"}, "publish": true})
			var out struct {
				UpdatePost struct{ Post postDetail }
			}
			a.as(ada).Do(t, updatePostMutation, map[string]any{"in": map[string]any{
				"id": p.ID, "title": "New title", "body": "new body", "tags": []any{"Shared", "Fresh Tag"},
			}}, &out)
			u := out.UpdatePost.Post
			if u.ID != p.ID || u.Title != "New title" || u.Body != "new body" || u.Description != "Keep me" || u.Status != "PUBLISHED" {
				t.Fatalf("updatePost payload: %+v", u)
			}
			if u.Slug != p.Slug {
				t.Fatalf("slug changed from %q to %q", p.Slug, u.Slug)
			}
			want := []string{"fresh-tag", "shared"}
			if got := sortedTags(u.post); !slices.Equal(got, want) {
				t.Fatalf("tags: want %v (replaced), got %v", want, got)
			}
			got := a.mustPost(t, a.GraphQL, p.Slug)
			if got.Title != "New title" || got.Body != "new body" || got.Description != "Keep me" ||
				!slices.Equal(sortedTags(got.post), want) {
				t.Fatalf("read back %+v", got)
			}
		})

		t.Run("empty tag list removes all tags", func(t *testing.T) {
			p := a.createPost(t, ada, map[string]any{"title": "Tagged", "tags": []any{"a1", "b2"}})
			a.as(ada).Do(t, updatePostMutation, map[string]any{"in": map[string]any{"id": p.ID, "tags": []any{}}}, nil)
			if got := a.mustPost(t, a.as(ada), p.Slug); len(got.Tags) != 0 || got.Title != "Tagged" {
				t.Fatalf("want no tags and title kept, got %+v", got)
			}
		})

		t.Run("errors", func(t *testing.T) {
			pub := a.createPost(t, ada, map[string]any{"title": "Ada published", "tags": []any{"keep"}, "publish": true})
			draft := a.createPost(t, ada, map[string]any{"title": "Ada draft"})
			cases := []struct {
				name        string
				client      testenv.GraphQL
				in          map[string]any
				code, field string
			}{
				{"other user, published post", a.as(bob), map[string]any{"id": pub.ID, "title": "Hijacked"}, "FORBIDDEN", ""},
				{"other user, draft", a.as(bob), map[string]any{"id": draft.ID, "title": "Hijacked"}, "NOT_FOUND", ""},
				{"unknown ID", a.as(ada), map[string]any{"id": unknownPostID, "title": "Nothing"}, "NOT_FOUND", ""},
				{"ID of a user", a.as(ada), map[string]any{"id": ada.ID, "title": "Nothing"}, "NOT_FOUND", ""},
				{"bad ID", a.as(ada), map[string]any{"id": "abc", "title": "Nothing"}, "BAD_USER_INPUT", "id"},
				{"empty title", a.as(ada), map[string]any{"id": pub.ID, "title": "", "tags": []any{"other"}}, "BAD_USER_INPUT", "title"},
				{"201-char title", a.as(ada), map[string]any{"id": pub.ID, "title": strings.Repeat("t", 201)}, "BAD_USER_INPUT", "title"},
				{"11 tags", a.as(ada), map[string]any{"id": pub.ID, "tags": []any{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}}, "BAD_USER_INPUT", "tags"},
				{"signed out", a.GraphQL, map[string]any{"id": pub.ID, "title": "Anonymous"}, "UNAUTHENTICATED", ""},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					tc.client.Fail(t, tc.code, tc.field, updatePostMutation, map[string]any{"in": tc.in})
					for _, want := range []post{pub, draft} {
						got := a.mustPost(t, a.as(ada), want.Slug)
						if got.Title != want.Title || !slices.Equal(sortedTags(got.post), sortedTags(want)) {
							t.Fatalf("failed update changed the post: was %+v, now %+v", want, got)
						}
					}
				})
			}
		})
	})
}

const publishPostMutation = `mutation($id: ID!) { publishPost(input: {id: $id}) { post { id status publishedAt } } }`

func TestPostPublish(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		draft := a.createPost(t, ada, map[string]any{"title": "To publish"})
		publish := func(t *testing.T) post {
			t.Helper()
			var out struct{ PublishPost struct{ Post post } }
			a.as(ada).Do(t, publishPostMutation, map[string]any{"id": draft.ID}, &out)
			return out.PublishPost.Post
		}

		// Before publishing, the draft is invisible to bob.
		a.as(bob).Fail(t, "NOT_FOUND", "", publishPostMutation, map[string]any{"id": draft.ID})
		if got := a.mustPost(t, a.as(ada), draft.Slug); got.Status != "DRAFT" || got.PublishedAt != nil {
			t.Fatalf("bob's attempt published the draft: %+v", got)
		}

		before := time.Now().Add(-time.Minute)
		first := publish(t)
		if first.ID != draft.ID || first.Status != "PUBLISHED" {
			t.Fatalf("publishPost: %+v", first)
		}
		if at := parseTime(t, first.PublishedAt); at.Before(before) || at.After(time.Now().Add(time.Minute)) {
			t.Fatalf("publishedAt %s is not now", at)
		}
		stored := a.mustPost(t, a.GraphQL, draft.Slug) // now visible to everyone
		if stored.Status != "PUBLISHED" {
			t.Fatalf("stored status %s", stored.Status)
		}
		if d := parseTime(t, stored.PublishedAt).Sub(parseTime(t, first.PublishedAt)).Abs(); d > time.Millisecond {
			t.Fatalf("stored publishedAt %s differs from payload %s", *stored.PublishedAt, *first.PublishedAt)
		}

		time.Sleep(20 * time.Millisecond) // so that a second publishedAt would differ
		second := publish(t)
		if second.Status != "PUBLISHED" || second.PublishedAt == nil || *second.PublishedAt != *stored.PublishedAt {
			t.Fatalf("publishing twice: want publishedAt kept at %s, got %+v", *stored.PublishedAt, second)
		}

		cases := []struct {
			name        string
			client      testenv.GraphQL
			id          string
			code, field string
		}{
			{"other user, published post", a.as(bob), draft.ID, "FORBIDDEN", ""},
			{"unknown ID", a.as(ada), unknownPostID, "NOT_FOUND", ""},
			{"bad ID", a.as(ada), "abc", "BAD_USER_INPUT", "id"},
			{"signed out", a.GraphQL, draft.ID, "UNAUTHENTICATED", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tc.client.Fail(t, tc.code, tc.field, publishPostMutation, map[string]any{"id": tc.id})
			})
		}
		if got := a.mustPost(t, a.GraphQL, draft.Slug); *got.PublishedAt != *stored.PublishedAt {
			t.Fatalf("publishedAt changed from %s to %s", *stored.PublishedAt, *got.PublishedAt)
		}
	})
}

const deletePostMutation = `mutation($id: ID!) { deletePost(input: {id: $id}) { deletedPostID } }`

func TestPostDelete(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		like := func(u user, postID string) {
			a.as(u).Do(t, `mutation($id: ID!) { likePost(input: {postID: $id}) { post { likeCount } } }`,
				map[string]any{"id": postID}, nil)
		}
		doomed := a.createPost(t, ada, map[string]any{"title": "Doomed", "tags": []any{"go", "gone"}, "publish": true})
		kept := a.createPost(t, ada, map[string]any{"title": "Kept", "tags": []any{"go"}, "publish": true})
		draft := a.createPost(t, ada, map[string]any{"title": "Ada draft"})
		a.addComment(t, bob, doomed.ID, "first")
		a.addComment(t, ada, doomed.ID, "second")
		a.addComment(t, bob, kept.ID, "stays")
		like(bob, doomed.ID)
		like(ada, doomed.ID)
		like(bob, kept.ID)
		counts := func() [4]int {
			return [4]int{a.count(t, "posts"), a.count(t, "comments"), a.count(t, "likes"), a.count(t, "post_tags")}
		}
		if got, want := counts(), [4]int{3, 3, 3, 3}; got != want {
			t.Fatalf("setup: posts, comments, likes, post_tags = %v, want %v", got, want)
		}

		cases := []struct {
			name        string
			client      testenv.GraphQL
			id          string
			code, field string
		}{
			{"other user, published post", a.as(bob), doomed.ID, "FORBIDDEN", ""},
			{"other user, draft", a.as(bob), draft.ID, "NOT_FOUND", ""},
			{"unknown ID", a.as(ada), unknownPostID, "NOT_FOUND", ""},
			{"bad ID", a.as(ada), "abc", "BAD_USER_INPUT", "id"},
			{"signed out", a.GraphQL, doomed.ID, "UNAUTHENTICATED", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tc.client.Fail(t, tc.code, tc.field, deletePostMutation, map[string]any{"id": tc.id})
				if got, want := counts(), [4]int{3, 3, 3, 3}; got != want {
					t.Fatalf("failed delete changed posts, comments, likes, post_tags: %v, want %v", got, want)
				}
			})
		}

		var out struct {
			DeletePost struct{ DeletedPostID string }
		}
		a.as(ada).Do(t, deletePostMutation, map[string]any{"id": doomed.ID}, &out)
		if out.DeletePost.DeletedPostID != doomed.ID {
			t.Fatalf("deletedPostID: want %s, got %q", doomed.ID, out.DeletePost.DeletedPostID)
		}
		if p := a.getPost(t, a.as(ada), doomed.Slug); p != nil {
			t.Fatalf("post(slug) after delete: %+v", p)
		}
		// Its 2 comments, 2 likes and 2 tag links went with it; the other post's stayed.
		if got, want := counts(), [4]int{2, 1, 1, 1}; got != want {
			t.Fatalf("after delete: posts, comments, likes, post_tags = %v, want %v", got, want)
		}
		if k := a.mustPost(t, a.GraphQL, kept.Slug); k.CommentCount != 1 || k.LikeCount != 1 {
			t.Fatalf("other post lost comments or likes: %+v", k)
		}
		a.as(ada).Fail(t, "NOT_FOUND", "", deletePostMutation, map[string]any{"id": doomed.ID})

		// The author may delete their draft too.
		a.as(ada).Do(t, deletePostMutation, map[string]any{"id": draft.ID}, nil)
		if n := a.count(t, "posts"); n != 1 {
			t.Fatalf("after deleting the draft: %d posts, want 1", n)
		}
	})
}

const postCommentsQuery = `query($slug: String!, $first: Int, $after: Cursor) {
  post(slug: $slug) {
    commentCount
    comments(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id body author { username } } }
    }
  }
}`

type commentPage struct {
	Post *struct {
		CommentCount int
		Comments     struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
			Edges []struct{ Node comment }
		}
	}
}

func (p commentPage) bodies() []string {
	var out []string
	for _, e := range p.Post.Comments.Edges {
		out = append(out, e.Node.Body)
	}
	return out
}

func TestCommentAdd(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		pub := a.createPost(t, ada, map[string]any{"title": "Discuss", "publish": true})
		draft := a.createPost(t, ada, map[string]any{"title": "Ada draft"})

		c := a.addComment(t, bob, pub.ID, "  Nice post  ")
		if c.ID == "" || c.Body != "Nice post" || c.Author.Username != "bob" || c.Post.ID != pub.ID || c.Post.CommentCount != 1 {
			t.Fatalf("addComment: %+v", c)
		}
		a.addComment(t, ada, pub.ID, "Thanks")
		a.addComment(t, bob, pub.ID, "You're welcome")
		// The author may comment on their own draft.
		if d := a.addComment(t, ada, draft.ID, "note to self"); d.Post.ID != draft.ID {
			t.Fatalf("comment on own draft: %+v", d)
		}

		cases := []struct {
			name        string
			client      testenv.GraphQL
			in          map[string]any
			code, field string
		}{
			{"other user's draft", a.as(bob), map[string]any{"postID": draft.ID, "body": "peek"}, "NOT_FOUND", ""},
			{"unknown post", a.as(bob), map[string]any{"postID": unknownPostID, "body": "hello"}, "NOT_FOUND", ""},
			{"bad post ID", a.as(bob), map[string]any{"postID": "abc", "body": "hello"}, "BAD_USER_INPUT", "postID"},
			{"empty body", a.as(bob), map[string]any{"postID": pub.ID, "body": ""}, "BAD_USER_INPUT", "body"},
			{"blank body", a.as(bob), map[string]any{"postID": pub.ID, "body": " \n\t "}, "BAD_USER_INPUT", "body"},
			{"body over 10000 characters", a.as(bob), map[string]any{"postID": pub.ID, "body": strings.Repeat("ü", 10_001)}, "BAD_USER_INPUT", "body"},
			{"signed out", a.GraphQL, map[string]any{"postID": pub.ID, "body": "anonymous"}, "UNAUTHENTICATED", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tc.client.Fail(t, tc.code, tc.field, addCommentMutation, map[string]any{"in": tc.in})
				if n := a.count(t, "comments"); n != 4 {
					t.Fatalf("failed addComment wrote: %d comments, want 4", n)
				}
			})
		}

		t.Run("comments connection pages oldest first", func(t *testing.T) {
			var p1 commentPage
			a.GraphQL.Do(t, postCommentsQuery, map[string]any{"slug": pub.Slug, "first": 2}, &p1)
			if p1.Post == nil || p1.Post.CommentCount != 3 || p1.Post.Comments.TotalCount != 3 {
				t.Fatalf("first page: want commentCount and totalCount 3, got %+v", p1.Post)
			}
			if got, want := p1.bodies(), []string{"Nice post", "Thanks"}; !slices.Equal(got, want) ||
				!p1.Post.Comments.PageInfo.HasNextPage || p1.Post.Comments.PageInfo.EndCursor == nil {
				t.Fatalf("first page: want %v with a next page, got %v %+v", want, got, p1.Post.Comments.PageInfo)
			}
			if who := p1.Post.Comments.Edges[0].Node.Author.Username; who != "bob" {
				t.Fatalf("first comment author %q, want bob", who)
			}
			var p2 commentPage
			a.GraphQL.Do(t, postCommentsQuery, map[string]any{"slug": pub.Slug, "first": 2,
				"after": *p1.Post.Comments.PageInfo.EndCursor}, &p2)
			if got, want := p2.bodies(), []string{"You're welcome"}; !slices.Equal(got, want) || p2.Post.Comments.PageInfo.HasNextPage {
				t.Fatalf("second page: want %v and no next page, got %v %+v", want, got, p2.Post.Comments.PageInfo)
			}
		})

		t.Run("comments on a draft are the author's only", func(t *testing.T) {
			var own commentPage
			a.as(ada).Do(t, postCommentsQuery, map[string]any{"slug": draft.Slug, "first": 10}, &own)
			if own.Post == nil || own.Post.CommentCount != 1 || !slices.Equal(own.bodies(), []string{"note to self"}) {
				t.Fatalf("author's view of draft comments: %+v", own.Post)
			}
			// The comment itself is not reachable by node(id) for others either.
			var node struct {
				Node *struct{ ID string }
			}
			var cid struct {
				Post struct {
					Comments struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
			}
			a.as(ada).Do(t, `query($s: String!) { post(slug: $s) { comments(first: 1) { edges { node { id } } } } }`,
				map[string]any{"s": draft.Slug}, &cid)
			id := cid.Post.Comments.Edges[0].Node.ID
			a.as(bob).Do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}, &node)
			if node.Node != nil {
				t.Fatalf("bob sees a comment on ada's draft via node: %+v", node.Node)
			}
			a.as(ada).Do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}, &node)
			if node.Node == nil || node.Node.ID != id {
				t.Fatalf("ada cannot see her own comment via node: %+v", node.Node)
			}
		})
	})
}

const deleteCommentMutation = `mutation($id: ID!) {
  deleteComment(input: {id: $id}) { deletedCommentID post { id commentCount } }
}`

func TestCommentDelete(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		p := a.createPost(t, ada, map[string]any{"title": "Discuss", "publish": true})
		bobs := a.addComment(t, bob, p.ID, "from bob")
		adas := a.addComment(t, ada, p.ID, "from ada")

		cases := []struct {
			name        string
			client      testenv.GraphQL
			id          string
			code, field string
		}{
			{"other user", a.as(bob), adas.ID, "FORBIDDEN", ""},
			{"post author, someone else's comment", a.as(ada), bobs.ID, "FORBIDDEN", ""},
			{"unknown", a.as(bob), unknownCommentID, "NOT_FOUND", ""},
			{"bad ID", a.as(bob), "abc", "BAD_USER_INPUT", "id"},
			{"signed out", a.GraphQL, bobs.ID, "UNAUTHENTICATED", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tc.client.Fail(t, tc.code, tc.field, deleteCommentMutation, map[string]any{"id": tc.id})
				if n := a.count(t, "comments"); n != 2 {
					t.Fatalf("failed deleteComment: %d comments left, want 2", n)
				}
			})
		}

		var out struct {
			DeleteComment struct {
				DeletedCommentID string
				Post             *struct {
					ID           string
					CommentCount int
				}
			}
		}
		a.as(bob).Do(t, deleteCommentMutation, map[string]any{"id": bobs.ID}, &out)
		d := out.DeleteComment
		if d.DeletedCommentID != bobs.ID || d.Post == nil || d.Post.ID != p.ID || d.Post.CommentCount != 1 {
			t.Fatalf("deleteComment: want deleted %s and post %s with 1 comment, got %+v (post %+v)", bobs.ID, p.ID, d, d.Post)
		}
		if got := a.mustPost(t, a.GraphQL, p.Slug); got.CommentCount != 1 {
			t.Fatalf("commentCount after delete: %d, want 1", got.CommentCount)
		}
		if n := a.count(t, "comments"); n != 1 {
			t.Fatalf("%d comments left, want 1", n)
		}
		a.as(bob).Fail(t, "NOT_FOUND", "", deleteCommentMutation, map[string]any{"id": bobs.ID})
	})
}

func TestTagPostCount(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		a.createPost(t, ada, map[string]any{"title": "One", "tags": []any{"go", "db"}, "publish": true})
		a.createPost(t, bob, map[string]any{"title": "Two", "tags": []any{"Go"}, "publish": true}) // existing tag
		a.createPost(t, ada, map[string]any{"title": "Draft", "tags": []any{"go", "drafty"}})
		if n := a.count(t, "tags"); n != 3 {
			t.Fatalf("want 3 distinct tags stored, got %d", n)
		}

		for _, v := range []struct {
			name       string
			client     testenv.GraphQL
			seesDrafty bool // a tag only on a draft is visible to the draft's author only
		}{{"anonymous", a.GraphQL, false}, {"other user", a.as(bob), false}, {"draft author", a.as(ada), true}} {
			t.Run(v.name, func(t *testing.T) {
				var out struct {
					Tags struct {
						Edges []struct {
							Node struct {
								Name      string
								PostCount int
							}
						}
					}
				}
				v.client.Do(t, `{ tags(first: 10) { edges { node { name postCount } } } }`, nil, &out)
				got := map[string]int{}
				for _, e := range out.Tags.Edges {
					got[e.Node.Name] = e.Node.PostCount
				}
				if got["go"] != 2 || got["db"] != 1 {
					t.Fatalf("postCount: want go 2, db 1 (published posts only), got %v", got)
				}
				if n, ok := got["drafty"]; ok != v.seesDrafty || n != 0 {
					t.Fatalf("drafty (on a draft only): listed %t, want %t; postCount %d, want 0", ok, v.seesDrafty, n)
				}
			})
		}
	})
}

func TestPostsQuery(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ada := a.register(t, "ada")
		bob := a.register(t, "bob")
		for _, title := range []string{"Cherry tart", "Apple pie", "Banana bread"} {
			a.createPost(t, ada, map[string]any{"title": title, "publish": true})
		}
		a.createPost(t, bob, map[string]any{"title": "Banana split draft"})

		const q = `query($where: PostFilter, $orderBy: PostOrder) {
  posts(first: 10, where: $where, orderBy: $orderBy) { totalCount edges { node { title } } }
}`
		cases := []struct {
			name    string
			client  testenv.GraphQL
			where   map[string]any
			orderBy map[string]any
			want    []string
		}{
			{"default: newest first", a.GraphQL, nil, nil,
				[]string{"Banana bread", "Apple pie", "Cherry tart"}},
			{"title ascending", a.GraphQL, nil, map[string]any{"field": "TITLE", "direction": "ASC"},
				[]string{"Apple pie", "Banana bread", "Cherry tart"}},
			{"title descending", a.GraphQL, nil, map[string]any{"field": "TITLE", "direction": "DESC"},
				[]string{"Cherry tart", "Banana bread", "Apple pie"}},
			{"oldest first", a.GraphQL, nil, map[string]any{"field": "CREATED_AT", "direction": "ASC"},
				[]string{"Cherry tart", "Apple pie", "Banana bread"}},
			{"by author", a.GraphQL, map[string]any{"authorUsername": "ada"}, map[string]any{"field": "TITLE", "direction": "ASC"},
				[]string{"Apple pie", "Banana bread", "Cherry tart"}},
			{"by author: others' drafts stay hidden", a.GraphQL, map[string]any{"authorUsername": "bob"}, nil,
				[]string{}},
			{"by author, as the draft's author", a.as(bob), map[string]any{"authorUsername": "bob"}, nil,
				[]string{"Banana split draft"}},
			{"drafts as their author, with order", a.as(bob), map[string]any{"status": "DRAFT"},
				map[string]any{"field": "TITLE", "direction": "ASC"}, []string{"Banana split draft"}},
			{"no match", a.GraphQL, map[string]any{"authorUsername": "durian"}, nil, []string{}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				vars := map[string]any{}
				if tc.where != nil {
					vars["where"] = tc.where
				}
				if tc.orderBy != nil {
					vars["orderBy"] = tc.orderBy
				}
				var out struct {
					Posts struct {
						TotalCount int
						Edges      []struct{ Node struct{ Title string } }
					}
				}
				tc.client.Do(t, q, vars, &out)
				got := []string{}
				for _, e := range out.Posts.Edges {
					got = append(got, e.Node.Title)
				}
				if !slices.Equal(got, tc.want) || out.Posts.TotalCount != len(tc.want) {
					t.Fatalf("want %v, got %v (totalCount %d)", tc.want, got, out.Posts.TotalCount)
				}
			})
		}

		t.Run("bad input", func(t *testing.T) {
			a.GraphQL.Fail(t, "BAD_USER_INPUT", "first", `{ posts(first: 101) { edges { node { id } } } }`, nil)
			a.GraphQL.Fail(t, "BAD_USER_INPUT", "after", `{ posts(first: 1, after: "not-a-cursor") { edges { node { id } } } }`, nil)
		})
	})
}
