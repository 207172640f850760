package authz_test

// These tests call the ent client directly (no GraphQL, services or directives) on PostgreSQL and
// SQLite, to prove that the privacy rules of internal/authz hold on their own.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/comment"
	"github.com/agora/agora/ent/follow"
	"github.com/agora/agora/ent/like"
	"github.com/agora/agora/ent/post"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// eachDialect runs fn with a client on a fresh, migrated database of each dialect.
func eachDialect(t *testing.T, fn func(t *testing.T, c *ent.Client)) {
	t.Helper()
	for _, d := range []string{dialect.Postgres, dialect.SQLite} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "authz.db")}
			if d == dialect.Postgres {
				o = database.Options{PostgresURL: testenv.PostgresURL(t)}
			}
			ctx := context.Background()
			db, err := database.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(db.Close)
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			fn(t, db.Client)
		})
	}
}

// allow bypasses the rules, for fixtures and for re-reading what a write really did.
var allow = privacy.DecisionContext(context.Background(), privacy.Allow)

// fixture is a small world: A writes a published post, a draft and a hidden post; B writes a
// published post; comments, tags, likes and follows around them.
type fixture struct {
	c                        *ent.Client
	prefix                   string
	a, b, mod, admin, banned *ent.User
	aPub, aDraft, aHidden    *ent.Post
	bPub                     *ent.Post
	cPub, cDraft, cHidden    *ent.Comment // by B on aPub; by A on aDraft; by A on aPub, hidden
	cOnHidden, cBHidden      *ent.Comment // by B on aHidden; by B on aPub, hidden
	tPub, tDraft, tHidden    *ent.Tag     // on aPub (and aDraft); only on aDraft; only on aHidden
	aLikesBPub, bLikesAPub   *ent.Like
	bFollowsMod              *ent.Follow
	names                    map[string]string // "post:12" -> "aPub", for readable failures
	anon, asA, asB, asMod    context.Context
	asAdmin, asBanned        context.Context
	asBannedAdmin            context.Context
}

func seed(t *testing.T, c *ent.Client, prefix string) *fixture {
	t.Helper()
	f := &fixture{c: c, prefix: prefix, names: map[string]string{}}
	now := time.Now().UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	newUser := func(name string, role user.Role, banned bool) *ent.User {
		t.Helper()
		cr := c.User.Create().
			SetUsername(prefix + "_" + name).
			SetEmail(prefix + "_" + name + "@example.com").
			SetPasswordHash("x").
			SetRole(role)
		if banned {
			cr.SetBannedAt(now)
		}
		u, err := cr.Save(allow)
		must(err)
		f.names[fmt.Sprint("user:", u.ID)] = name
		return u
	}
	f.a = newUser("alice", user.RoleUSER, false)
	f.b = newUser("bob", user.RoleUSER, false)
	f.mod = newUser("mod", user.RoleMODERATOR, false)
	f.admin = newUser("admin", user.RoleADMIN, false)
	f.banned = newUser("banned", user.RoleUSER, true)

	newTag := func(name string) *ent.Tag {
		t.Helper()
		tg, err := c.Tag.Create().SetName(prefix + "-" + name).Save(allow)
		must(err)
		f.names[fmt.Sprint("tag:", tg.ID)] = name
		return tg
	}
	f.tPub, f.tDraft, f.tHidden = newTag("tPub"), newTag("tDraft"), newTag("tHidden")

	newPost := func(name string, author *ent.User, published, hidden bool, tags ...*ent.Tag) *ent.Post {
		t.Helper()
		cr := c.Post.Create().
			SetAuthorID(author.ID).
			SetSlug(prefix + "-" + strings.ToLower(name)).
			SetTitle(name + " title").
			AddTags(tags...)
		if published {
			cr.SetStatus(post.StatusPUBLISHED).SetPublishedAt(now)
		}
		if hidden {
			cr.SetHiddenAt(now)
		}
		p, err := cr.Save(allow)
		must(err)
		f.names[fmt.Sprint("post:", p.ID)] = name
		return p
	}
	f.aPub = newPost("aPub", f.a, true, false, f.tPub)
	f.aDraft = newPost("aDraft", f.a, false, false, f.tPub, f.tDraft)
	f.aHidden = newPost("aHidden", f.a, true, true, f.tHidden)
	f.bPub = newPost("bPub", f.b, true, false)

	newComment := func(name string, author *ent.User, on *ent.Post, hidden bool) *ent.Comment {
		t.Helper()
		cr := c.Comment.Create().SetAuthorID(author.ID).SetPostID(on.ID).SetBody(name + " body")
		if hidden {
			cr.SetHiddenAt(now)
		}
		cm, err := cr.Save(allow)
		must(err)
		f.names[fmt.Sprint("comment:", cm.ID)] = name
		return cm
	}
	f.cPub = newComment("cPub", f.b, f.aPub, false)
	f.cDraft = newComment("cDraft", f.a, f.aDraft, false)
	f.cHidden = newComment("cHidden", f.a, f.aPub, true)
	f.cOnHidden = newComment("cOnHidden", f.b, f.aHidden, false)
	f.cBHidden = newComment("cBHidden", f.b, f.aPub, true)

	var err error
	f.aLikesBPub, err = c.Like.Create().SetUserID(f.a.ID).SetPostID(f.bPub.ID).Save(allow)
	must(err)
	f.bLikesAPub, err = c.Like.Create().SetUserID(f.b.ID).SetPostID(f.aPub.ID).Save(allow)
	must(err)
	// user_id is followed by following_id.
	f.bFollowsMod, err = c.Follow.Create().SetUserID(f.mod.ID).SetFollowingID(f.b.ID).Save(allow)
	must(err)

	as := func(u *ent.User, role string, banned bool) context.Context {
		return auth.WithViewer(context.Background(), auth.Viewer{UserID: u.ID, Role: role, Banned: banned})
	}
	f.anon = context.Background()
	f.asA = as(f.a, auth.RoleUser, false)
	f.asB = as(f.b, auth.RoleUser, false)
	f.asMod = as(f.mod, auth.RoleModerator, false)
	f.asAdmin = as(f.admin, auth.RoleAdmin, false)
	f.asBanned = as(f.banned, auth.RoleUser, true)
	f.asBannedAdmin = as(f.admin, auth.RoleAdmin, true)
	return f
}

// label turns IDs of a kind into the sorted fixture names, for comparisons that read well.
func (f *fixture) label(kind string, ids []int) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		n, ok := f.names[fmt.Sprint(kind, ":", id)]
		if !ok {
			n = fmt.Sprint(kind, "#", id)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func postIDs(ps []*ent.Post) []int {
	ids := make([]int, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// ---------------------------------------------------------------------------------------------
// Reads

func TestReadRules(t *testing.T) {
	eachDialect(t, func(t *testing.T, c *ent.Client) {
		f := seed(t, c, "r")
		allPosts := []*ent.Post{f.aPub, f.aDraft, f.aHidden, f.bPub}
		allComments := []*ent.Comment{f.cPub, f.cDraft, f.cHidden, f.cOnHidden, f.cBHidden}
		allTags := []*ent.Tag{f.tPub, f.tDraft, f.tHidden}

		for _, tc := range []struct {
			name          string
			ctx           context.Context
			posts         []string // Post.Query, Post.Get, eager Tag/User edges
			alicesPosts   []string // User.QueryPosts(A), User.WithPosts for A
			comments      []string // Comment.Query, Comment.Get, eager Post.WithComments
			aPubComments  []string // Post.QueryComments(aPub)
			tags          []string // Tag.Query, Tag.Get
			draftTagPosts []string // Tag.QueryPosts(tDraft)
		}{
			{
				name:          "anonymous",
				ctx:           f.anon,
				posts:         sorted("aPub", "bPub"),
				alicesPosts:   sorted("aPub"),
				comments:      sorted("cPub"),
				aPubComments:  sorted("cPub"),
				tags:          sorted("tPub"),
				draftTagPosts: sorted(),
			},
			{
				name:          "another user",
				ctx:           f.asB,
				posts:         sorted("aPub", "bPub"),
				alicesPosts:   sorted("aPub"),
				comments:      sorted("cPub", "cBHidden"), // B's own hidden comment; not B's comment on aHidden
				aPubComments:  sorted("cPub", "cBHidden"),
				tags:          sorted("tPub"),
				draftTagPosts: sorted(),
			},
			{
				name:          "banned user",
				ctx:           f.asBanned,
				posts:         sorted("aPub", "bPub"),
				alicesPosts:   sorted("aPub"),
				comments:      sorted("cPub"),
				aPubComments:  sorted("cPub"),
				tags:          sorted("tPub"),
				draftTagPosts: sorted(),
			},
			{
				name:          "author",
				ctx:           f.asA,
				posts:         sorted("aPub", "aDraft", "aHidden", "bPub"),
				alicesPosts:   sorted("aPub", "aDraft", "aHidden"),
				comments:      sorted("cPub", "cDraft", "cHidden", "cOnHidden"), // not B's hidden one
				aPubComments:  sorted("cPub", "cHidden"),
				tags:          sorted("tPub", "tDraft", "tHidden"),
				draftTagPosts: sorted("aDraft"),
			},
			{
				name:          "moderator",
				ctx:           f.asMod,
				posts:         sorted("aPub", "aHidden", "bPub"), // hidden yes, other people's drafts no
				alicesPosts:   sorted("aPub", "aHidden"),
				comments:      sorted("cPub", "cHidden", "cOnHidden", "cBHidden"),
				aPubComments:  sorted("cPub", "cHidden", "cBHidden"),
				tags:          sorted("tPub", "tHidden"),
				draftTagPosts: sorted(),
			},
			{
				name:          "admin",
				ctx:           f.asAdmin,
				posts:         sorted("aPub", "aHidden", "bPub"),
				alicesPosts:   sorted("aPub", "aHidden"),
				comments:      sorted("cPub", "cHidden", "cOnHidden", "cBHidden"),
				aPubComments:  sorted("cPub", "cHidden", "cBHidden"),
				tags:          sorted("tPub", "tHidden"),
				draftTagPosts: sorted(),
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := tc.ctx
				check := func(what string, got, want []string) {
					t.Helper()
					if !slices.Equal(got, want) {
						t.Errorf("%s: got %v, want %v", what, got, want)
					}
				}

				// Posts.
				ids, err := c.Post.Query().IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("Post.Query().IDs", f.label("post", ids), tc.posts)
				ps, err := c.Post.Query().All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("Post.Query().All", f.label("post", postIDs(ps)), tc.posts)
				n, err := c.Post.Query().Count(ctx)
				if err != nil || n != len(tc.posts) {
					t.Errorf("Post.Query().Count = %d, %v; want %d", n, err, len(tc.posts))
				}
				var got []int
				for _, p := range allPosts {
					gp, err := c.Post.Get(ctx, p.ID)
					switch {
					case err == nil:
						got = append(got, gp.ID)
					case !ent.IsNotFound(err):
						t.Errorf("Post.Get(%s): want a NotFound error when invisible, got %v", f.names[fmt.Sprint("post:", p.ID)], err)
					}
				}
				check("Post.Get", f.label("post", got), tc.posts)
				ids, err = c.User.QueryPosts(f.a).IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("User.QueryPosts(A)", f.label("post", ids), tc.alicesPosts)
				u, err := c.User.Query().Where(user.ID(f.a.ID)).WithPosts().Only(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("User.WithPosts(A)", f.label("post", postIDs(u.Edges.Posts)), tc.alicesPosts)
				us, err := c.User.Query().WithPosts().All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got = nil
				for _, u := range us {
					got = append(got, postIDs(u.Edges.Posts)...)
				}
				check("User.Query().WithPosts() (all users)", f.label("post", got), tc.posts)
				// Eager-loading a comment's post goes through the post rule too.
				cms, err := c.Comment.Query().WithPost().All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, cm := range cms {
					if cm.Edges.Post == nil || !slices.Contains(tc.posts, f.names[fmt.Sprint("post:", cm.Edges.Post.ID)]) {
						t.Errorf("Comment.WithPost: comment %s loaded post %v", f.names[fmt.Sprint("comment:", cm.ID)], cm.Edges.Post)
					}
				}

				// Comments.
				ids, err = c.Comment.Query().IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("Comment.Query().IDs", f.label("comment", ids), tc.comments)
				got = nil
				for _, cm := range allComments {
					gc, err := c.Comment.Get(ctx, cm.ID)
					switch {
					case err == nil:
						got = append(got, gc.ID)
					case !ent.IsNotFound(err):
						t.Errorf("Comment.Get(%s): want a NotFound error when invisible, got %v", f.names[fmt.Sprint("comment:", cm.ID)], err)
					}
				}
				check("Comment.Get", f.label("comment", got), tc.comments)
				ids, err = c.Post.QueryComments(f.aPub).IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("Post.QueryComments(aPub)", f.label("comment", ids), tc.aPubComments)
				ids, err = c.Post.QueryComments(f.aDraft).IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				wantDraftComments := []string{}
				if slices.Contains(tc.posts, "aDraft") {
					wantDraftComments = []string{"cDraft"}
				}
				check("Post.QueryComments(aDraft)", f.label("comment", ids), wantDraftComments)
				ps, err = c.Post.Query().WithComments().All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got = nil
				for _, p := range ps {
					for _, cm := range p.Edges.Comments {
						got = append(got, cm.ID)
					}
				}
				check("Post.Query().WithComments()", f.label("comment", got), tc.comments)
				ids, err = c.User.QueryComments(f.b).IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var wantB []string
				for _, n := range tc.comments {
					if n == "cPub" || n == "cOnHidden" || n == "cBHidden" {
						wantB = append(wantB, n)
					}
				}
				check("User.QueryComments(B)", f.label("comment", ids), sorted(wantB...))

				// Tags.
				ids, err = c.Tag.Query().IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("Tag.Query().IDs", f.label("tag", ids), tc.tags)
				got = nil
				for _, tg := range allTags {
					gt, err := c.Tag.Get(ctx, tg.ID)
					switch {
					case err == nil:
						got = append(got, gt.ID)
					case !ent.IsNotFound(err):
						t.Errorf("Tag.Get(%s): want a NotFound error when invisible, got %v", f.names[fmt.Sprint("tag:", tg.ID)], err)
					}
				}
				check("Tag.Get", f.label("tag", got), tc.tags)
				ok, err := c.Tag.Query().Where(tag.Name(f.tDraft.Name)).Exist(ctx)
				if err != nil || ok != slices.Contains(tc.tags, "tDraft") {
					t.Errorf("Tag.Query(name=tDraft).Exist = %v, %v; want %v", ok, err, slices.Contains(tc.tags, "tDraft"))
				}
				ids, err = c.Tag.QueryPosts(f.tDraft).IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("Tag.QueryPosts(tDraft)", f.label("post", ids), tc.draftTagPosts)
				// tPub is on aPub and aDraft: through the tag, only the visible ones show.
				var wantTPub []string
				for _, n := range tc.posts {
					if n == "aPub" || n == "aDraft" {
						wantTPub = append(wantTPub, n)
					}
				}
				ids, err = c.Tag.QueryPosts(f.tPub).IDs(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("Tag.QueryPosts(tPub)", f.label("post", ids), wantTPub)
				tg, err := c.Tag.Query().Where(tag.ID(f.tPub.ID)).WithPosts().Only(ctx)
				if err != nil {
					t.Fatal(err)
				}
				check("Tag.WithPosts(tPub)", f.label("post", postIDs(tg.Edges.Posts)), wantTPub)
				ps, err = c.Post.Query().WithTags().All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got = nil
				for _, p := range ps {
					for _, tg := range p.Edges.Tags {
						if !slices.Contains(got, tg.ID) {
							got = append(got, tg.ID)
						}
					}
				}
				check("Post.Query().WithTags()", f.label("tag", got), tc.tags)
			})
		}
	})
}

// ---------------------------------------------------------------------------------------------
// Writes

// errNotFound stands for "an ent NotFound error" in the write tables, errAny for any error.
var (
	errNotFound = errors.New("ent NotFound")
	errAny      = errors.New("any error")
)

type writeCase struct {
	name string
	as   func(f *fixture) context.Context
	do   func(ctx context.Context, f *fixture) error
	want error // privacy.Deny, errNotFound, errAny or nil
	// check re-reads the rows (bypassing the rules) to prove what really happened.
	check func(t *testing.T, f *fixture)
}

func runWrites(t *testing.T, cases []writeCase) {
	t.Helper()
	eachDialect(t, func(t *testing.T, c *ent.Client) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := seed(t, c, fmt.Sprintf("w%d", i)) // fresh rows per case, in a shared database
				err := tc.do(tc.as(f), f)
				switch {
				case tc.want == nil && err != nil:
					t.Errorf("want success, got %v", err)
				case tc.want == errNotFound && !ent.IsNotFound(err):
					t.Errorf("want an ent NotFound error, got %v", err)
				case tc.want == privacy.Deny && !errors.Is(err, privacy.Deny):
					t.Errorf("want a privacy.Deny error, got %v", err)
				case tc.want == errAny && err == nil:
					t.Error("want an error, got success")
				}
				tc.check(t, f)
			})
		}
	})
}

// Re-read helpers, all bypassing the rules.

func (f *fixture) post(t *testing.T, id int) *ent.Post {
	t.Helper()
	p, err := f.c.Post.Get(allow, id)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) user(t *testing.T, id int) *ent.User {
	t.Helper()
	u, err := f.c.User.Get(allow, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) exists(t *testing.T, what string, ok bool, err error, want bool) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if ok != want {
		t.Errorf("%s exists = %v, want %v", what, ok, want)
	}
}

func (f *fixture) postTitle(t *testing.T, p *ent.Post, want string) {
	t.Helper()
	got := f.post(t, p.ID)
	if got == nil {
		t.Errorf("post %s is gone", f.names[fmt.Sprint("post:", p.ID)])
		return
	}
	if got.Title != want {
		t.Errorf("post %s title = %q, want %q", f.names[fmt.Sprint("post:", p.ID)], got.Title, want)
	}
}

func (f *fixture) slugExists(t *testing.T, slug string, want bool) {
	t.Helper()
	ok, err := f.c.Post.Query().Where(post.Slug(slug)).Exist(allow)
	f.exists(t, "post "+slug, ok, err, want)
}

func (f *fixture) commentExists(t *testing.T, where []*ent.Comment, want bool) {
	t.Helper()
	for _, cm := range where {
		ok, err := f.c.Comment.Query().Where(comment.ID(cm.ID)).Exist(allow)
		f.exists(t, "comment "+f.names[fmt.Sprint("comment:", cm.ID)], ok, err, want)
	}
}

func (f *fixture) likeExists(t *testing.T, u *ent.User, p *ent.Post, want bool) {
	t.Helper()
	ok, err := f.c.Like.Query().Where(like.UserID(u.ID), like.PostID(p.ID)).Exist(allow)
	f.exists(t, fmt.Sprintf("like by %s of %s", f.names[fmt.Sprint("user:", u.ID)], f.names[fmt.Sprint("post:", p.ID)]), ok, err, want)
}

// followExists reports whether follower follows followed.
func (f *fixture) followExists(t *testing.T, follower, followed *ent.User, want bool) {
	t.Helper()
	ok, err := f.c.Follow.Query().Where(follow.FollowingID(follower.ID), follow.UserID(followed.ID)).Exist(allow)
	f.exists(t, fmt.Sprintf("%s follows %s", f.names[fmt.Sprint("user:", follower.ID)], f.names[fmt.Sprint("user:", followed.ID)]), ok, err, want)
}

func (f *fixture) unchangedUser(t *testing.T, u *ent.User) {
	t.Helper()
	got := f.user(t, u.ID)
	if got.Role != u.Role || (got.BannedAt == nil) != (u.BannedAt == nil) || got.DisplayName != u.DisplayName {
		t.Errorf("user %s changed: role %s banned %v display %q; was role %s banned %v display %q",
			u.Username, got.Role, got.BannedAt, got.DisplayName, u.Role, u.BannedAt, u.DisplayName)
	}
}

func (f *fixture) unchangedPosts(t *testing.T, ps ...*ent.Post) {
	t.Helper()
	for _, p := range ps {
		f.postTitle(t, p, p.Title)
	}
}

// Viewers of the write tables.
var (
	anon     = func(f *fixture) context.Context { return f.anon }
	asA      = func(f *fixture) context.Context { return f.asA }
	asB      = func(f *fixture) context.Context { return f.asB }
	asMod    = func(f *fixture) context.Context { return f.asMod }
	asAdmin  = func(f *fixture) context.Context { return f.asAdmin }
	asBanned = func(f *fixture) context.Context { return f.asBanned }
)

func TestWritesDenied(t *testing.T) {
	now := time.Now().UTC()
	runWrites(t, []writeCase{
		{
			name: "anonymous creates a post",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.Create().SetAuthorID(f.a.ID).SetSlug(f.prefix + "-anon").SetTitle("anon").Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.slugExists(t, f.prefix+"-anon", false) },
		},
		{
			name: "anonymous creates a post with no author",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.Create().SetSlug(f.prefix + "-anon0").SetTitle("anon").Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.slugExists(t, f.prefix+"-anon0", false) },
		},
		{
			name: "banned user creates a post as themselves",
			as:   asBanned,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.Create().SetAuthorID(f.banned.ID).SetSlug(f.prefix + "-banned").SetTitle("banned").Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.slugExists(t, f.prefix+"-banned", false) },
		},
		{
			name: "banned user creates a comment as themselves",
			as:   asBanned,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Comment.Create().SetAuthorID(f.banned.ID).SetPostID(f.aPub.ID).SetBody("banned").Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.Comment.Query().Where(comment.AuthorID(f.banned.ID)).Exist(allow)
				f.exists(t, "comment by the banned user", ok, err, false)
			},
		},
		{
			name: "banned user likes a post as themselves",
			as:   asBanned,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Like.Create().SetUserID(f.banned.ID).SetPostID(f.aPub.ID).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.likeExists(t, f.banned, f.aPub, false) },
		},
		{
			name: "banned user follows as themselves",
			as:   asBanned,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Follow.Create().SetUserID(f.a.ID).SetFollowingID(f.banned.ID).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.followExists(t, f.banned, f.a, false) },
		},
		{
			name: "banned user updates their own post",
			as:   asBanned,
			do: func(ctx context.Context, f *fixture) error {
				// Give the banned user a post first, behind the rules' back.
				p, err := f.c.Post.Create().SetAuthorID(f.banned.ID).SetSlug(f.prefix + "-bannedown").SetTitle("before").Save(allow)
				if err != nil {
					return err
				}
				return f.c.Post.UpdateOneID(p.ID).SetTitle("after").Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.Post.Query().Where(post.Slug(f.prefix+"-bannedown"), post.Title("before")).Exist(allow)
				f.exists(t, "the banned user's unchanged post", ok, err, true)
			},
		},
		{
			name: "banned user updates their own profile",
			as:   asBanned,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.banned.ID).SetDisplayName("changed").Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.banned) },
		},
		{
			name: "banned user lifts their own ban",
			as:   asBanned,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.banned.ID).ClearBannedAt().Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.banned) },
		},
		{
			name: "banned admin sets a role",
			as:   func(f *fixture) context.Context { return f.asBannedAdmin },
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.b.ID).SetRole(user.RoleADMIN).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.b) },
		},
		{
			name: "user B creates a post with author A",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.Create().SetAuthorID(f.a.ID).SetSlug(f.prefix + "-forged").SetTitle("forged").Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.slugExists(t, f.prefix+"-forged", false) },
		},
		{
			name: "user B creates a comment with author A",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Comment.Create().SetAuthorID(f.a.ID).SetPostID(f.bPub.ID).SetBody("forged").Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.Comment.Query().Where(comment.Body("forged")).Exist(allow)
				f.exists(t, "forged comment", ok, err, false)
			},
		},
		{
			name: "user B updates A's post by ID",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.UpdateOneID(f.aPub.ID).SetTitle("defaced").Exec(ctx)
			},
			want:  errNotFound,
			check: func(t *testing.T, f *fixture) { f.unchangedPosts(t, f.aPub) },
		},
		{
			name: "user B updates A's draft by ID",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.UpdateOneID(f.aDraft.ID).SetStatus(post.StatusPUBLISHED).SetPublishedAt(now).Exec(ctx)
			},
			want: errNotFound,
			check: func(t *testing.T, f *fixture) {
				if p := f.post(t, f.aDraft.ID); p == nil || p.Status != post.StatusDRAFT {
					t.Errorf("A's draft changed: %v", p)
				}
			},
		},
		{
			name: "user B deletes A's post by ID",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.DeleteOneID(f.aPub.ID).Exec(ctx)
			},
			want:  errNotFound,
			check: func(t *testing.T, f *fixture) { f.unchangedPosts(t, f.aPub) },
		},
		{
			name: "user B bulk-deletes A's posts",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				n, err := f.c.Post.Delete().Where(post.AuthorID(f.a.ID)).Exec(ctx)
				if err == nil && n != 0 {
					return fmt.Errorf("deleted %d posts, want 0", n)
				}
				return err
			},
			check: func(t *testing.T, f *fixture) { f.unchangedPosts(t, f.aPub, f.aDraft, f.aHidden) },
		},
		{
			name: "user B updates A's comment by ID",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Comment.UpdateOneID(f.cHidden.ID).SetBody("changed by B").Exec(ctx)
			},
			want: errNotFound,
			check: func(t *testing.T, f *fixture) {
				cm, err := f.c.Comment.Get(allow, f.cHidden.ID)
				if err != nil || cm.Body == "changed by B" {
					t.Errorf("A's comment changed: %v, %v", cm, err)
				}
			},
		},
		{
			name: "user B deletes A's comment by ID",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Comment.DeleteOneID(f.cDraft.ID).Exec(ctx)
			},
			want:  errNotFound,
			check: func(t *testing.T, f *fixture) { f.commentExists(t, []*ent.Comment{f.cDraft}, true) },
		},
		{
			name: "user B bulk-deletes all comments",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				_, err := f.c.Comment.Delete().Where(comment.PostID(f.aPub.ID)).Exec(ctx)
				return err
			},
			check: func(t *testing.T, f *fixture) {
				f.commentExists(t, []*ent.Comment{f.cHidden}, true)           // A's: kept
				f.commentExists(t, []*ent.Comment{f.cPub, f.cBHidden}, false) // B's own: gone
			},
		},
		{
			name: "user B likes in A's name",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Like.Create().SetUserID(f.a.ID).SetPostID(f.aPub.ID).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.likeExists(t, f.a, f.aPub, false) },
		},
		{
			name: "user B deletes A's like",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Like.DeleteOneID(f.aLikesBPub.ID).Exec(ctx)
			},
			want:  errNotFound,
			check: func(t *testing.T, f *fixture) { f.likeExists(t, f.a, f.bPub, true) },
		},
		{
			name: "user B follows in A's name",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Follow.Create().SetUserID(f.mod.ID).SetFollowingID(f.a.ID).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.followExists(t, f.a, f.mod, false) },
		},
		{
			name: "user A deletes B's follow",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Follow.DeleteOneID(f.bFollowsMod.ID).Exec(ctx)
			},
			want:  errNotFound,
			check: func(t *testing.T, f *fixture) { f.followExists(t, f.b, f.mod, true) },
		},
		{
			name: "user sets their own role to ADMIN",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.a.ID).SetRole(user.RoleADMIN).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.a) },
		},
		{
			name: "user sets their own role to ADMIN in a bulk update",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.Update().Where(user.ID(f.a.ID)).SetRole(user.RoleADMIN).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.a) },
		},
		{
			name: "user bans another user",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.b.ID).SetBannedAt(now).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.b) },
		},
		{
			name: "user changes another user's profile",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.b.ID).SetDisplayName("pwned").Exec(ctx)
			},
			want:  errNotFound,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.b) },
		},
		{
			name: "user deletes another user",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.DeleteOneID(f.b.ID).Exec(ctx)
			},
			want:  errNotFound,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.b) },
		},
		{
			name: "moderator sets a role",
			as:   asMod,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.b.ID).SetRole(user.RoleMODERATOR).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.b) },
		},
		{
			name: "moderator unbans a user",
			as:   asMod,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.banned.ID).ClearBannedAt().Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.banned) },
		},
		{
			name: "anonymous updates a user",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.a.ID).SetDisplayName("anon was here").Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.a) },
		},
		{
			name: "anonymous deletes a user",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.DeleteOneID(f.a.ID).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.unchangedUser(t, f.a) },
		},
		{
			name: "anonymous signs up as an admin",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.Create().SetUsername(f.prefix + "_root").SetEmail(f.prefix + "_root@example.com").
					SetPasswordHash("x").SetRole(user.RoleADMIN).Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.User.Query().Where(user.Username(f.prefix + "_root")).Exist(allow)
				f.exists(t, "user "+f.prefix+"_root", ok, err, false)
			},
		},
		{
			name: "anonymous signs up already banned",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.Create().SetUsername(f.prefix + "_pre").SetEmail(f.prefix + "_pre@example.com").
					SetPasswordHash("x").SetBannedAt(now).Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.User.Query().Where(user.Username(f.prefix + "_pre")).Exist(allow)
				f.exists(t, "user "+f.prefix+"_pre", ok, err, false)
			},
		},
		{
			name: "user changes a tag",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Tag.UpdateOneID(f.tPub.ID).SetName(f.prefix + "-renamed").Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				tg, err := f.c.Tag.Get(allow, f.tPub.ID)
				if err != nil || tg.Name != f.tPub.Name {
					t.Errorf("tag changed: %v, %v", tg, err)
				}
			},
		},
		{
			name: "anonymous creates a tag",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Tag.Create().SetName(f.prefix + "-anon").Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.Tag.Query().Where(tag.Name(f.prefix + "-anon")).Exist(allow)
				f.exists(t, "tag "+f.prefix+"-anon", ok, err, false)
			},
		},

		// Writes that reach another row through an edge or a foreign key the rules do not look at.
		{
			name: "user B adds another user to the likers of B's own post",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.UpdateOneID(f.bPub.ID).AddLikedByIDs(f.mod.ID).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.likeExists(t, f.mod, f.bPub, false) },
		},
		{
			name: "user B moves their like into another user's name",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Like.UpdateOneID(f.bLikesAPub.ID).SetUserID(f.mod.ID).Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				f.likeExists(t, f.mod, f.aPub, false)
				f.likeExists(t, f.b, f.aPub, true)
			},
		},
		{
			// The followers edge would insert into follows without the Follow policy: A following B in A's name.
			name: "user B adds A to B's followers",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.b.ID).AddFollowerIDs(f.a.ID).Exec(ctx)
			},
			want:  privacy.Deny,
			check: func(t *testing.T, f *fixture) { f.followExists(t, f.a, f.b, false) },
		},
		{
			name: "user B moves their follow into A's name",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Follow.UpdateOneID(f.bFollowsMod.ID).SetFollowingID(f.a.ID).Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				f.followExists(t, f.a, f.mod, false)
				f.followExists(t, f.b, f.mod, true)
			},
		},
		{
			// As above, at sign-up: an anonymous caller would make A follow a new account.
			name: "anonymous signs up with A as a follower",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.Create().SetUsername(f.prefix + "_bot").SetEmail(f.prefix + "_bot@example.com").
					SetPasswordHash("x").AddFollowerIDs(f.a.ID).Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.Follow.Query().Where(follow.FollowingID(f.a.ID), follow.HasUserWith(user.Username(f.prefix+"_bot"))).Exist(allow)
				f.exists(t, "A follows the new account", ok, err, false)
			},
		},
		{
			name: "user B creates a tag on A's post",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Tag.Create().SetName(f.prefix + "-spam").AddPostIDs(f.aPub.ID).Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.Post.Query().Where(post.ID(f.aPub.ID), post.HasTagsWith(tag.Name(f.prefix+"-spam"))).Exist(allow)
				f.exists(t, "spam tag on A's post", ok, err, false)
			},
		},
		{
			name: "author unhides their post hidden by a moderator",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.UpdateOneID(f.aHidden.ID).ClearHiddenAt().Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				if p := f.post(t, f.aHidden.ID); p == nil || p.HiddenAt == nil {
					t.Errorf("A's hidden post is no longer hidden: %v", p)
				}
			},
		},
		{
			name: "author unhides their comment hidden by a moderator",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Comment.UpdateOneID(f.cHidden.ID).ClearHiddenAt().Exec(ctx)
			},
			want: privacy.Deny,
			check: func(t *testing.T, f *fixture) {
				cm, err := f.c.Comment.Get(allow, f.cHidden.ID)
				if err != nil || cm.HiddenAt == nil {
					t.Errorf("A's hidden comment is no longer hidden: %v, %v", cm, err)
				}
			},
		},
	})
}

// TestBulkUpdateFiltered: a bulk update by a non-moderator touches their own rows only.
func TestBulkUpdateFiltered(t *testing.T) {
	eachDialect(t, func(t *testing.T, c *ent.Client) {
		f := seed(t, c, "bulk")
		n, err := c.Post.Update().SetTitle("bulk by B").Save(f.asB)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("B's bulk update affected %d posts, want 1 (bPub)", n)
		}
		f.unchangedPosts(t, f.aPub, f.aDraft, f.aHidden)
		f.postTitle(t, f.bPub, "bulk by B")

		n, err = c.Post.Update().Where(post.AuthorID(f.a.ID)).SetTitle("bulk by B").Save(f.asB)
		if err != nil || n != 0 {
			t.Errorf("B's bulk update of A's posts: %d, %v; want 0, nil", n, err)
		}
		f.unchangedPosts(t, f.aPub, f.aDraft, f.aHidden)

		n, err = c.Comment.Update().SetBody("bulk by B").Save(f.asB)
		if err != nil || n != 3 { // cPub, cOnHidden, cBHidden
			t.Errorf("B's bulk comment update: %d, %v; want 3, nil", n, err)
		}
		for _, cm := range []*ent.Comment{f.cDraft, f.cHidden} {
			got, err := c.Comment.Get(allow, cm.ID)
			if err != nil || got.Body != cm.Body {
				t.Errorf("A's comment %s changed: %v, %v", f.names[fmt.Sprint("comment:", cm.ID)], got, err)
			}
		}

		n, err = c.User.Update().SetDisplayName("bulk by B").Save(f.asB)
		if err != nil || n != 1 {
			t.Errorf("B's bulk user update: %d, %v; want 1, nil", n, err)
		}
		if u := f.user(t, f.a.ID); u.DisplayName != "" {
			t.Errorf("A's display name changed to %q", u.DisplayName)
		}

		// A moderator's bulk update reaches everyone's posts.
		n, err = c.Post.Update().Where(post.AuthorID(f.a.ID)).SetTitle("bulk by mod").Save(f.asMod)
		if err != nil || n != 3 {
			t.Errorf("moderator's bulk update of A's posts: %d, %v; want 3, nil", n, err)
		}
		f.postTitle(t, f.aDraft, "bulk by mod")
	})
}

// TestCommentsFollowTheirPost: comments are filtered by the visibility of their post that the
// database copies onto them (comments.post_visibility), so it must follow the post when the post is
// published, hidden and shown again, whoever writes it, and a writer cannot set it.
func TestCommentsFollowTheirPost(t *testing.T) {
	eachDialect(t, func(t *testing.T, c *ent.Client) {
		f := seed(t, c, "follow")
		visible := func(ctx context.Context, cm *ent.Comment) bool {
			t.Helper()
			n, err := c.Comment.Query().Where(comment.ID(cm.ID)).Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n == 1
		}
		expect := func(step string, cm *ent.Comment, anon, b, mod bool) {
			t.Helper()
			for _, v := range []struct {
				who  string
				ctx  context.Context
				want bool
			}{{"anonymous", f.anon, anon}, {"B", f.asB, b}, {"moderator", f.asMod, mod}} {
				if got := visible(v.ctx, cm); got != v.want {
					t.Errorf("%s: %s sees %s: %v, want %v", step, v.who, f.names[fmt.Sprint("comment:", cm.ID)], got, v.want)
				}
			}
		}
		expect("draft", f.cDraft, false, false, false)
		if err := c.Post.UpdateOne(f.aDraft).SetStatus(post.StatusPUBLISHED).SetPublishedAt(time.Now().UTC()).Exec(f.asA); err != nil {
			t.Fatal(err)
		}
		expect("published", f.cDraft, true, true, true)
		if err := c.Post.UpdateOne(f.aPub).SetHiddenAt(time.Now().UTC()).Exec(f.asMod); err != nil {
			t.Fatal(err)
		}
		expect("hidden", f.cPub, false, false, true)
		// A comment written on the hidden post by its (moderating) writer, who asks for PUBLIC.
		late, err := c.Comment.Create().SetAuthorID(f.mod.ID).SetPostID(f.aPub.ID).SetBody("late").
			SetPostVisibility(comment.PostVisibilityPUBLIC).Save(f.asMod)
		if err != nil {
			t.Fatal(err)
		}
		f.names[fmt.Sprint("comment:", late.ID)] = "late"
		expect("written on the hidden post", late, false, false, true)
		if err := c.Post.Update().Where(post.ID(f.aPub.ID)).ClearHiddenAt().Exec(f.asMod); err != nil {
			t.Fatal(err)
		}
		expect("shown again", f.cPub, true, true, true)
		expect("shown again", late, true, true, true)
	})
}

func TestWritesAllowed(t *testing.T) {
	now := time.Now().UTC()
	runWrites(t, []writeCase{
		{
			name: "author updates their own post",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.UpdateOneID(f.aDraft.ID).SetTitle("new title").SetStatus(post.StatusPUBLISHED).SetPublishedAt(now).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				p := f.post(t, f.aDraft.ID)
				if p == nil || p.Title != "new title" || p.Status != post.StatusPUBLISHED {
					t.Errorf("A's draft after update: %v", p)
				}
			},
		},
		{
			name: "author creates a post as themselves",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.Create().SetAuthorID(f.a.ID).SetSlug(f.prefix + "-new").SetTitle("new").AddTagIDs(f.tPub.ID).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) { f.slugExists(t, f.prefix+"-new", true) },
		},
		{
			name: "author deletes their own post",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.DeleteOneID(f.aDraft.ID).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				if p := f.post(t, f.aDraft.ID); p != nil {
					t.Errorf("A's draft still there: %v", p)
				}
				f.commentExists(t, []*ent.Comment{f.cDraft}, false) // cascaded
			},
		},
		{
			name: "moderator updates A's post",
			as:   asMod,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.UpdateOneID(f.aPub.ID).SetTitle("moderated").SetHiddenAt(now).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				p := f.post(t, f.aPub.ID)
				if p == nil || p.Title != "moderated" || p.HiddenAt == nil {
					t.Errorf("A's post after moderation: %v", p)
				}
			},
		},
		{
			name: "moderator deletes A's post",
			as:   asMod,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Post.DeleteOneID(f.aPub.ID).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				if p := f.post(t, f.aPub.ID); p != nil {
					t.Errorf("A's post still there: %v", p)
				}
				f.commentExists(t, []*ent.Comment{f.cPub, f.cHidden, f.cBHidden}, false)
				f.unchangedPosts(t, f.aDraft, f.aHidden, f.bPub)
			},
		},
		{
			name: "moderator deletes B's comment",
			as:   asMod,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.Comment.DeleteOneID(f.cPub.ID).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				f.commentExists(t, []*ent.Comment{f.cPub}, false)
				f.commentExists(t, []*ent.Comment{f.cHidden, f.cBHidden, f.cDraft}, true)
			},
		},
		{
			name: "user comments as themselves and deletes their own comment",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				cm, err := f.c.Comment.Create().SetAuthorID(f.b.ID).SetPostID(f.aPub.ID).SetBody("mine").Save(f.asB)
				if err != nil {
					return err
				}
				if err := f.c.Comment.DeleteOneID(f.cPub.ID).Exec(f.asB); err != nil {
					return err
				}
				f.cDraft = cm // reused to hand the new comment to check
				return nil
			},
			check: func(t *testing.T, f *fixture) {
				if f.cDraft.Body != "mine" {
					t.Fatal("the comment was not created")
				}
				f.commentExists(t, []*ent.Comment{f.cDraft}, true)
				f.commentExists(t, []*ent.Comment{f.cPub}, false)
			},
		},
		{
			name: "user likes and follows as themselves",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				if err := f.c.Like.Create().SetUserID(f.b.ID).SetPostID(f.bPub.ID).Exec(ctx); err != nil {
					return err
				}
				return f.c.Follow.Create().SetUserID(f.a.ID).SetFollowingID(f.b.ID).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				f.likeExists(t, f.b, f.bPub, true)
				f.followExists(t, f.b, f.a, true)
			},
		},
		{
			name: "user unlikes and unfollows as themselves",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				if err := f.c.Like.DeleteOneID(f.bLikesAPub.ID).Exec(ctx); err != nil {
					return err
				}
				n, err := f.c.Follow.Delete().Exec(ctx)
				if err == nil && n != 1 {
					err = fmt.Errorf("unfollowed %d, want 1", n)
				}
				return err
			},
			check: func(t *testing.T, f *fixture) {
				f.likeExists(t, f.b, f.aPub, false)
				f.likeExists(t, f.a, f.bPub, true)
				f.followExists(t, f.b, f.mod, false)
			},
		},
		{
			name: "user updates their own profile",
			as:   asA,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.a.ID).SetDisplayName("Alice").SetBio("hi").Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				if u := f.user(t, f.a.ID); u.DisplayName != "Alice" || u.Bio != "hi" || u.Role != user.RoleUSER {
					t.Errorf("A after profile update: %v", u)
				}
			},
		},
		{
			name: "admin sets a role",
			as:   asAdmin,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.UpdateOneID(f.b.ID).SetRole(user.RoleMODERATOR).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				if u := f.user(t, f.b.ID); u.Role != user.RoleMODERATOR {
					t.Errorf("B's role = %s, want MODERATOR", u.Role)
				}
			},
		},
		{
			name: "admin bans and unbans",
			as:   asAdmin,
			do: func(ctx context.Context, f *fixture) error {
				if err := f.c.User.UpdateOneID(f.b.ID).SetBannedAt(now).Exec(ctx); err != nil {
					return err
				}
				return f.c.User.UpdateOneID(f.banned.ID).ClearBannedAt().Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				if u := f.user(t, f.b.ID); u.BannedAt == nil {
					t.Error("B is not banned")
				}
				if u := f.user(t, f.banned.ID); u.BannedAt != nil {
					t.Error("the banned user is still banned")
				}
			},
		},
		{
			name: "anonymous signs up as a USER",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.Create().SetUsername(f.prefix + "_new").SetEmail(f.prefix + "_new@example.com").
					SetPasswordHash("x").Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				u, err := f.c.User.Query().Where(user.Username(f.prefix + "_new")).Only(allow)
				if err != nil {
					t.Fatal(err)
				}
				if u.Role != user.RoleUSER || u.BannedAt != nil {
					t.Errorf("signed-up user: role %s banned %v", u.Role, u.BannedAt)
				}
			},
		},
		{
			name: "anonymous signs up with an explicit USER role",
			as:   anon,
			do: func(ctx context.Context, f *fixture) error {
				return f.c.User.Create().SetUsername(f.prefix + "_new2").SetEmail(f.prefix + "_new2@example.com").
					SetPasswordHash("x").SetRole(user.RoleUSER).Exec(ctx)
			},
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.User.Query().Where(user.Username(f.prefix+"_new2"), user.RoleEQ(user.RoleUSER)).Exist(allow)
				f.exists(t, "signed-up user", ok, err, true)
			},
		},
		{
			name: "writer creates a tag, moderator renames it",
			as:   asB,
			do: func(ctx context.Context, f *fixture) error {
				tg, err := f.c.Tag.Create().SetName(f.prefix + "-fresh").Save(ctx)
				if err != nil {
					return err
				}
				return f.c.Tag.UpdateOneID(tg.ID).SetName(f.prefix + "-renamed").Exec(f.asMod)
			},
			check: func(t *testing.T, f *fixture) {
				ok, err := f.c.Tag.Query().Where(tag.Name(f.prefix + "-renamed")).Exist(allow)
				f.exists(t, "renamed tag", ok, err, true)
			},
		},
	})
}
