package server_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/tag"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/testenv"
)

const searchQuery = `query($q: String!, $n: Int, $after: Cursor) {
  search(query: $q, first: $n, after: $after) {
    totalCount hasMoreMatches
    edges {
      cursor score
      node { id title }
      titleHighlight { text parts { text matched } }
      snippet { text parts { text matched } }
    }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}`

type highlight struct {
	Text  string
	Parts []struct {
		Text    string
		Matched bool
	}
}

// matched is the text of the highlight's matched parts.
func (h highlight) matched() []string {
	var out []string
	for _, p := range h.Parts {
		if p.Matched {
			out = append(out, p.Text)
		}
	}
	return out
}

type searchPage struct {
	TotalCount     int
	HasMoreMatches bool
	Edges          []struct {
		Cursor         string
		Score          float64
		Node           struct{ ID, Title string }
		TitleHighlight highlight
		Snippet        highlight
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		EndCursor                    *string
	}
}

func (p searchPage) titles() []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node.Title
	}
	return out
}

// searchPosts runs search(query) as c, one page of n.
func searchPosts(t *testing.T, c testenv.GraphQL, q string, n int, after *string) searchPage {
	t.Helper()
	vars := map[string]any{"q": q, "n": n}
	if after != nil {
		vars["after"] = *after
	}
	var out struct{ Search searchPage }
	c.Do(t, searchQuery, vars, &out)
	for _, e := range out.Search.Edges { // the parts always spell the text
		for _, h := range []highlight{e.TitleHighlight, e.Snippet} {
			var b strings.Builder
			for _, p := range h.Parts {
				b.WriteString(p.Text)
			}
			if b.String() != h.Text {
				t.Fatalf("highlight parts %+v do not spell its text %q", h.Parts, h.Text)
			}
		}
	}
	return out.Search
}

// TestSearchRelevance: matches rank title and tags over description over body, words match in
// any form, phrases and exclusions hold, and the matched words are marked.
func TestSearchRelevance(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ann := a.register(t, "ann")
		// Oldest first: relevance outweighs the few seconds between them.
		for _, p := range []map[string]any{
			{"title": "Running a marathon", "body": "Notes from the start line.", "tags": []string{"sport"}},
			{"title": "Weekend notes", "body": "On Saturday I went for a run in the park, then read.", "tags": []string{"diary"}},
			{"title": "Pasta for two", "description": "What I cook after running", "body": "Boil water.", "tags": []string{"food"}},
			{"title": "Cluster upgrades", "body": "We moved every service.", "tags": []string{"kubernetes"}},
			{"title": "On orchestration", "body": "Why kubernetes won: a long story.", "tags": []string{"ops"}},
			{"title": "Foxes", "body": "The quick brown fox jumps over the lazy dog."},
			{"title": "Dogs", "body": "A brown dog, quick to bark, saw the fox."},
			{"title": "A draft about running", "publish": false},
		} {
			if _, ok := p["publish"]; !ok {
				p["publish"] = true
			}
			a.createPost(t, ann, p)
		}

		got := searchPosts(t, a.GraphQL, "running", 10, nil)
		if want := []string{"Running a marathon", "Pasta for two", "Weekend notes"}; !slices.Equal(got.titles(), want) {
			t.Fatalf(`search "running" = %q, want title > description > body match %q`, got.titles(), want)
		}
		if got.TotalCount != 3 || got.HasMoreMatches {
			t.Fatalf("totalCount = %d, hasMoreMatches %v, want 3 and false", got.TotalCount, got.HasMoreMatches)
		}
		for i := 1; i < len(got.Edges); i++ {
			if got.Edges[i].Score > got.Edges[i-1].Score {
				t.Fatalf("scores are not in order: %v then %v", got.Edges[i-1].Score, got.Edges[i].Score)
			}
		}
		if m := got.Edges[0].TitleHighlight.matched(); !slices.Equal(m, []string{"Running"}) {
			t.Fatalf("title highlight marks %q, want [Running]: %+v", m, got.Edges[0].TitleHighlight)
		}
		if m := got.Edges[2].Snippet.matched(); !slices.Equal(m, []string{"run"}) {
			t.Fatalf(`body snippet marks %q, want [run] ("running" finds "run"): %+v`, m, got.Edges[2].Snippet)
		}
		if m := got.Edges[1].Snippet.matched(); !slices.Equal(m, []string{"running"}) || !strings.Contains(got.Edges[1].Snippet.Text, "What I cook") {
			t.Fatalf("a description match's snippet is the description, marked: %+v", got.Edges[1].Snippet)
		}

		// A tag weighs like the title: it outranks the same word in a body.
		if got := searchPosts(t, a.GraphQL, "Kubernetes", 10, nil).titles(); !slices.Equal(got, []string{"Cluster upgrades", "On orchestration"}) {
			t.Fatalf(`search "Kubernetes" = %q, want the tagged post first`, got)
		}
		for q, want := range map[string][]string{
			`"quick brown fox"`:  {"Foxes"},         // a phrase: its words together, in order
			`quick brown fox`:    {"Dogs", "Foxes"}, // words: anywhere
			`fox -"lazy dog"`:    {"Dogs"},          // an exclusion
			`marathon or pasta`:  {"Pasta for two", "Running a marathon"},
			`"running"`:          {"Pasta for two", "Running a marathon", "Weekend notes"},
			`unrelated-nonsense`: nil,
			`draft`:              nil, // drafts are not searched, not even by their author
		} {
			got := searchPosts(t, a.as(ann), q, 10, nil).titles()
			slices.Sort(got)
			if !slices.Equal(got, want) && !(len(got) == 0 && want == nil) {
				t.Errorf("search %s = %q, want %q", q, got, want)
			}
		}
	})
}

// TestSearchVisibility: search shows each viewer only what they may see, and follows every write.
func TestSearchVisibility(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ann, bob, mod, admin := a.register(t, "ann"), a.register(t, "bob"), a.register(t, "mod"), a.register(t, "root")
		a.setRole(t, mod, "MODERATOR")
		a.setRole(t, admin, "ADMIN")
		hidden := a.createPost(t, ann, map[string]any{"title": "Volcano facts", "publish": true})
		a.createPost(t, bob, map[string]any{"title": "Volcano photos", "publish": true})
		kept := a.createPost(t, ann, map[string]any{"title": "Glacier walk", "body": "Ice.", "publish": true})
		a.as(mod).Do(t, `mutation($id: ID!) { hidePost(input: {id: $id}) { post { id } } }`, map[string]any{"id": hidden.ID}, nil)

		titles := func(c testenv.GraphQL, q string) []string {
			got := searchPosts(t, c, q, 10, nil).titles()
			slices.Sort(got)
			return got
		}
		if got := titles(a.GraphQL, "volcano"); !slices.Equal(got, []string{"Volcano photos"}) {
			t.Fatalf("anonymous search shows %q: a hidden post leaked", got)
		}
		if got := titles(a.as(mod), "volcano"); !slices.Equal(got, []string{"Volcano facts", "Volcano photos"}) {
			t.Fatalf("a moderator's search shows %q, want hidden posts too", got)
		}
		a.as(admin).Do(t, `mutation($id: ID!) { banUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": bob.ID}, nil)
		if got := titles(a.GraphQL, "volcano"); len(got) != 0 {
			t.Fatalf("search shows %q: posts by a banned user are left out", got)
		}

		// Writes keep the index current: a new title, new tags, a deletion.
		a.as(ann).Do(t, `mutation($id: ID!) { updatePost(input: {id: $id, title: "Desert walk", tags: ["sand-dunes"]}) { post { id } } }`,
			map[string]any{"id": kept.ID}, nil)
		if got := titles(a.GraphQL, "glacier"); len(got) != 0 {
			t.Fatalf(`after the title changed, "glacier" still finds %q`, got)
		}
		for _, q := range []string{"desert", "dunes", "ice"} {
			if got := titles(a.GraphQL, q); !slices.Equal(got, []string{"Desert walk"}) {
				t.Fatalf("after the update, %q finds %q", q, got)
			}
		}
		// A tag renamed in the database (no mutation renames tags) renames it in the index too.
		ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
		if err := a.db.Client.Tag.Update().Where(tag.Name("sand-dunes")).SetName("ergs").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got := titles(a.GraphQL, "dunes"); len(got) != 0 {
			t.Fatalf("the old tag name still finds %q", got)
		}
		if got := titles(a.GraphQL, "ergs"); !slices.Equal(got, []string{"Desert walk"}) {
			t.Fatalf("the new tag name finds %q", got)
		}
		a.as(ann).Do(t, `mutation($id: ID!) { deletePost(input: {id: $id}) { deletedPostID } }`, map[string]any{"id": kept.ID}, nil)
		if got := titles(a.GraphQL, "desert"); len(got) != 0 {
			t.Fatalf("a deleted post is still found: %q", got)
		}
	})
}

// TestSearchPagination: paging through results returns each match once, in the order of one long
// page, and a post published meanwhile does not shift the pages.
func TestSearchPagination(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ann := a.register(t, "ann")
		bodies := []string{"gardening", "gardening in spring", "notes on gardening and gardening tools", "a garden"}
		for i := range 14 {
			in := map[string]any{"title": "Post " + string(rune('A'+i)), "body": bodies[i%len(bodies)], "publish": true}
			if i%5 == 0 {
				in["title"] = "Gardening " + string(rune('A'+i))
			}
			a.createPost(t, ann, in)
		}
		all := searchPosts(t, a.GraphQL, "gardening", 100, nil)
		if len(all.Edges) != 14 || all.TotalCount != 14 || all.PageInfo.HasNextPage {
			t.Fatalf("one page of 100 holds %d results (totalCount %d, hasNextPage %v), want all 14",
				len(all.Edges), all.TotalCount, all.PageInfo.HasNextPage)
		}
		want := make([]string, len(all.Edges))
		for i, e := range all.Edges {
			want[i] = e.Node.ID
		}
		var paged []string
		var after *string
		for page := 0; ; page++ {
			p := searchPosts(t, a.GraphQL, "gardening", 4, after)
			if p.PageInfo.HasPreviousPage != (after != nil) {
				t.Fatalf("page %d: hasPreviousPage = %v", page, p.PageInfo.HasPreviousPage)
			}
			for _, e := range p.Edges {
				paged = append(paged, e.Node.ID)
			}
			if page == 1 {
				// Likes given after the first page was read do not count in this search's pages.
				a.as(ann).Do(t, `mutation($id: ID!) { likePost(input: {postID: $id}) { post { id } } }`,
					map[string]any{"id": want[len(want)-1]}, nil)
				// Nor do posts published since. On SQLite, any new post changes the corpus figures
				// bm25 ranks by, so there the post comes once paging is done.
				if a.db.Dialect == dialect.Postgres {
					a.createPost(t, ann, map[string]any{"title": "Gardening news", "body": "gardening gardening", "publish": true})
				}
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			after = p.PageInfo.EndCursor
		}
		if !slices.Equal(paged, want) {
			t.Fatalf("pages of 4 gave %v,\nwant the order of one page: %v", paged, want)
		}
		if a.db.Dialect != dialect.Postgres {
			a.createPost(t, ann, map[string]any{"title": "Gardening news", "body": "gardening gardening", "publish": true})
		}
		if got := searchPosts(t, a.GraphQL, "gardening", 100, nil); got.TotalCount != 15 || !slices.Contains(got.titles(), "Gardening news") {
			t.Fatalf("a new search finds %d posts (%q): want the new post too, 15 in all", got.TotalCount, got.titles())
		}
	})
}

// TestSearchRanksNewestMatches: a search ranks only the newest AGORA_SEARCH_MAX_RANKED posts that
// match, among those the viewer may see; totalCount stops there, and hasMoreMatches says that
// older posts match too. Pages keep to the same posts.
func TestSearchRanksNewestMatches(t *testing.T) {
	for _, name := range []string{"postgres", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := newAPI(t, name).db
			a := startAPIWith(t, db, nil, func(cfg *config.Config) { cfg.Limits.SearchRanked = 4 })
			ann := a.register(t, "ann")
			// Oldest first. The oldest is the best match (the word in its title), but five newer
			// posts match too.
			a.createPost(t, ann, map[string]any{"title": "Gardening guide", "body": "Everything.", "publish": true})
			var newest []string
			for i := range 5 {
				body := "Notes on gardening."
				if i > 0 {
					body = "Notes on gardening in spring."
				}
				p := a.createPost(t, ann, map[string]any{"title": fmt.Sprintf("Diary %d", i), "body": body, "publish": true})
				newest = append([]string{p.ID}, newest...)
			}
			a.createPost(t, ann, map[string]any{"title": "Gardening plans", "publish": false}) // drafts are never found

			ids := func(p searchPage) []string {
				out := make([]string, len(p.Edges))
				for i, e := range p.Edges {
					out[i] = e.Node.ID
				}
				slices.Sort(out)
				return out
			}
			sorted := func(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

			all := searchPosts(t, a.GraphQL, "gardening", 100, nil)
			if got, want := ids(all), sorted(newest[:4]...); !slices.Equal(got, want) {
				t.Fatalf("search ranks %v (%q), want the 4 newest matches %v", got, all.titles(), want)
			}
			if all.TotalCount != 4 || !all.HasMoreMatches || all.PageInfo.HasNextPage {
				t.Fatalf("totalCount %d, hasMoreMatches %v, hasNextPage %v: want 4, true (2 older posts match), false",
					all.TotalCount, all.HasMoreMatches, all.PageInfo.HasNextPage)
			}
			// Pages of 3 give the one page's posts in its order, and end with them.
			var paged []string
			p := searchPosts(t, a.GraphQL, "gardening", 3, nil)
			for _, e := range p.Edges {
				paged = append(paged, e.Node.ID)
			}
			if !p.PageInfo.HasNextPage || p.TotalCount != 4 || !p.HasMoreMatches {
				t.Fatalf("first page: hasNextPage %v, totalCount %d, hasMoreMatches %v", p.PageInfo.HasNextPage, p.TotalCount, p.HasMoreMatches)
			}
			p = searchPosts(t, a.GraphQL, "gardening", 3, p.PageInfo.EndCursor)
			for _, e := range p.Edges {
				paged = append(paged, e.Node.ID)
			}
			if p.PageInfo.HasNextPage || p.TotalCount != 4 {
				t.Fatalf("second page: hasNextPage %v, totalCount %d, want false and 4", p.PageInfo.HasNextPage, p.TotalCount)
			}
			want := make([]string, len(all.Edges))
			for i, e := range all.Edges {
				want[i] = e.Node.ID
			}
			if !slices.Equal(paged, want) {
				t.Fatalf("pages of 3 gave %v, want the order of one page %v", paged, want)
			}

			// A hidden post takes no place among the newest for those who may not see it.
			mod := a.register(t, "mod")
			a.setRole(t, mod, "MODERATOR")
			a.as(mod).Do(t, `mutation($id: ID!) { hidePost(input: {id: $id}) { post { id } } }`, map[string]any{"id": newest[0]}, nil)
			if got, want := ids(searchPosts(t, a.GraphQL, "gardening", 100, nil)), sorted(newest[1:5]...); !slices.Equal(got, want) {
				t.Fatalf("with the newest hidden, search ranks %v, want the 4 newest visible %v", got, want)
			}
			if got, want := ids(searchPosts(t, a.as(mod), "gardening", 100, nil)), sorted(newest[:4]...); !slices.Equal(got, want) {
				t.Fatalf("a moderator's search ranks %v, want the 4 newest, hidden included %v", got, want)
			}

			// Exactly as many matches as are ranked (for a moderator): all of them, and no more to find.
			if got := searchPosts(t, a.as(mod), "spring", 100, nil); got.TotalCount != 4 || got.HasMoreMatches || len(got.Edges) != 4 {
				t.Fatalf(`"spring": %d results, totalCount %d, hasMoreMatches %v: want 4, 4, false`, len(got.Edges), got.TotalCount, got.HasMoreMatches)
			}
			// Narrower words reach the older post.
			if got := searchPosts(t, a.GraphQL, "gardening guide", 100, nil); got.TotalCount != 1 || got.HasMoreMatches || !slices.Equal(got.titles(), []string{"Gardening guide"}) {
				t.Fatalf(`"gardening guide" finds %q (totalCount %d, hasMoreMatches %v)`, got.titles(), got.TotalCount, got.HasMoreMatches)
			}
			// Quotes and backslashes are not words: they reach no statement.
			if got := searchPosts(t, a.GraphQL, `'gardening' \'guide\`, 10, nil); !slices.Equal(got.titles(), []string{"Gardening guide"}) {
				t.Fatalf("a search with quotes and a backslash finds %q", got.titles())
			}
			if got := searchPosts(t, a.GraphQL, "nothing-like-it", 10, nil); got.TotalCount != 0 || got.HasMoreMatches || len(got.Edges) != 0 || got.PageInfo.HasNextPage {
				t.Fatalf("no match: %+v", got)
			}
		})
	}
}

// TestSearchInput: bad search arguments are refused with BAD_USER_INPUT and the argument's name.
func TestSearchInput(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		var feedCursor struct {
			Posts struct{ Edges []struct{ Cursor string } }
		}
		u := a.register(t, "ann")
		a.createPost(t, u, map[string]any{"title": "Hello", "publish": true})
		a.Do(t, `{ posts(first: 1) { edges { cursor } } }`, nil, &feedCursor)

		for _, c := range []struct {
			name, field, query string
			vars               map[string]any
		}{
			{"empty", "query", searchQuery, map[string]any{"q": "", "n": 5}},
			{"blank", "query", searchQuery, map[string]any{"q": "   ", "n": 5}},
			{"oversized", "query", searchQuery, map[string]any{"q": strings.Repeat("word ", 41), "n": 5}},
			{"punctuation only", "query", searchQuery, map[string]any{"q": `!!! "" --`, "n": 5}},
			{"only exclusions", "query", searchQuery, map[string]any{"q": "-spam", "n": 5}},
			{"page too large", "first", searchQuery, map[string]any{"q": "hello", "n": 101}},
			{"no page size", "first", searchQuery, map[string]any{"q": "hello"}},
			{"another list's cursor", "after", searchQuery, map[string]any{"q": "hello", "n": 5, "after": feedCursor.Posts.Edges[0].Cursor}},
			{"people: empty", "query", `{ searchUsers(query: "", first: 5) { edges { node { id } } } }`, nil},
			{"people: oversized", "query", `query($q: String!) { searchUsers(query: $q, first: 5) { edges { node { id } } } }`, map[string]any{"q": strings.Repeat("a", 201)}},
			{"tags: no letters", "query", `{ searchTags(query: "--", first: 5) { edges { node { id } } } }`, nil},
		} {
			t.Run(c.name, func(t *testing.T) { a.Fail(t, "BAD_USER_INPUT", c.field, c.query, c.vars) })
		}
	})
}

// TestSearchPeopleAndTags: as-you-type suggestions for people and tags.
func TestSearchPeopleAndTags(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		const profile = `mutation($name: String!) { updateProfile(input: {displayName: $name}) { user { id } } }`
		named := func(username, display string) user {
			u := a.register(t, username)
			a.as(u).Do(t, profile, map[string]any{"name": display}, nil)
			return u
		}
		named("ada", "Ada")
		lovelace := named("ada_lovelace", "Augusta Ada King")
		named("adam", "Adam Smith")
		named("bob", "Bob Adams")
		named("carol", "Carol")
		banned, admin := named("adalbert", "Adalbert"), a.register(t, "root")
		a.setRole(t, admin, "ADMIN")
		a.as(admin).Do(t, `mutation($id: ID!) { banUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": banned.ID}, nil)

		const people = `query($q: String!, $n: Int, $after: Cursor) {
		  searchUsers(query: $q, first: $n, after: $after) {
		    totalCount edges { node { username } } pageInfo { hasNextPage endCursor }
		  }
		}`
		type page struct {
			SearchUsers struct {
				TotalCount int
				Edges      []struct{ Node struct{ Username string } }
				PageInfo   struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
		names := func(p page) []string {
			var out []string
			for _, e := range p.SearchUsers.Edges {
				out = append(out, e.Node.Username)
			}
			return out
		}
		for q, want := range map[string][]string{
			"Ada":      {"ada", "ada_lovelace", "adam", "bob"}, // the exact handle, handles starting so, then names
			"ada_lo":   {"ada_lovelace"},
			"lovel":    {"ada_lovelace"},
			"king aug": {"ada_lovelace"}, // words in any order
			"smi":      {"adam"},
			"zed":      nil,
		} {
			var p page
			a.Do(t, people, map[string]any{"q": q, "n": 10}, &p)
			if got := names(p); !slices.Equal(got, want) || p.SearchUsers.TotalCount != len(want) {
				t.Errorf("searchUsers(%q) = %q (totalCount %d), want %q", q, got, p.SearchUsers.TotalCount, want)
			}
		}
		var paged []string
		var after *string
		for {
			var p page
			vars := map[string]any{"q": "ada", "n": 1}
			if after != nil {
				vars["after"] = *after
			}
			a.Do(t, people, vars, &p)
			paged = append(paged, names(p)...)
			if !p.SearchUsers.PageInfo.HasNextPage {
				break
			}
			after = p.SearchUsers.PageInfo.EndCursor
		}
		if want := []string{"ada", "ada_lovelace", "adam", "bob"}; !slices.Equal(paged, want) {
			t.Fatalf("searchUsers pages of 1 gave %q, want %q", paged, want)
		}
		// A renamed user is found by the new name only.
		a.as(lovelace).Do(t, profile, map[string]any{"name": "Countess of Lovelace"}, nil)
		var p page
		if a.Do(t, people, map[string]any{"q": "king", "n": 10}, &p); len(names(p)) != 0 {
			t.Fatalf("the old name still finds %q", names(p))
		}
		if a.Do(t, people, map[string]any{"q": "countess", "n": 10}, &p); !slices.Equal(names(p), []string{"ada_lovelace"}) {
			t.Fatalf("the new name finds %q", names(p))
		}

		for _, tags := range [][]string{{"go", "databases"}, {"golang"}, {"google-cloud", "rust"}} {
			a.createPost(t, lovelace, map[string]any{"title": "Tagged", "tags": tags, "publish": true})
		}
		a.createPost(t, lovelace, map[string]any{"title": "Secret", "tags": []string{"gopher"}}) // a draft's tags stay private
		for q, want := range map[string][]string{
			"Go":       {"go", "golang", "google-cloud"},
			"google c": {"google-cloud"},
			"r":        {"rust"},
			"gop":      nil,
		} {
			var out struct {
				SearchTags struct {
					Edges []struct{ Node struct{ Name string } }
				}
			}
			a.Do(t, `query($q: String!) { searchTags(query: $q, first: 10) { edges { node { name } } } }`, map[string]any{"q": q}, &out)
			var got []string
			for _, e := range out.SearchTags.Edges {
				got = append(got, e.Node.Name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("searchTags(%q) = %q, want %q", q, got, want)
			}
		}
	})
}

// TestSearchIndexesLargePosts: the index takes whatever a post may hold — a body at the 100,000
// byte limit, a word too long for PostgreSQL to index — without refusing the write.
func TestSearchIndexesLargePosts(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ann := a.register(t, "ann")
		var body strings.Builder
		body.WriteString(strings.Repeat("x", 3000) + " ") // PostgreSQL skips words over 2,047 bytes
		for i := 0; body.Len() < 99_980; i++ {
			fmt.Fprintf(&body, "w%d ", i)
		}
		body.WriteString("needle")
		a.createPost(t, ann, map[string]any{"title": "Haystack", "body": body.String(), "publish": true})
		got := searchPosts(t, a.GraphQL, "needle", 5, nil)
		if len(got.Edges) != 1 || got.Edges[0].Node.Title != "Haystack" {
			t.Fatalf("the last word of a 100,000-byte body is not found: %q", got.titles())
		}
		if m := got.Edges[0].Snippet.matched(); !slices.Equal(m, []string{"needle"}) {
			t.Fatalf("snippet marks %q, want [needle]", m)
		}
	})
}

// TestSearchHighlightsWithoutMarkup: highlights and snippets are plain text: the HTML a post's
// title or body holds does not reach them (a client rendering them as HTML would run it), and
// the words that matched are still marked, inside a tag's text or not.
func TestSearchHighlightsWithoutMarkup(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ann := a.register(t, "ann")
		a.createPost(t, ann, map[string]any{"publish": true,
			"title": `<b>Gardening</b> tips <script>alert("title")</script>`,
			"body": `Planting <script>alert(1)</script> in spring. <img src=x onerror=alert(2)> Gardening notes, ` +
				`<a href="https://x.example/gardening">more gardening</a> <!-- a <i>comment</i> --> and a < b.`})
		got := searchPosts(t, a.GraphQL, "gardening", 10, nil)
		if len(got.Edges) != 1 {
			t.Fatalf("want the post, got %+v", got)
		}
		e := got.Edges[0]
		markup := regexp.MustCompile(`<[a-zA-Z/!?]`)
		for name, h := range map[string]highlight{"title highlight": e.TitleHighlight, "snippet": e.Snippet} {
			if markup.MatchString(h.Text) {
				t.Errorf("%s text holds markup: %q", name, h.Text)
			}
			for _, p := range h.Parts {
				if markup.MatchString(p.Text) {
					t.Errorf("%s part holds markup: %q", name, p.Text)
				}
			}
			if m := h.matched(); len(m) == 0 || !strings.EqualFold(m[0], "gardening") {
				t.Errorf("%s marks %q, want Gardening: %+v", name, m, h)
			}
		}
		if !strings.HasPrefix(e.TitleHighlight.Text, "Gardening tips") {
			t.Errorf("title highlight %q, want the title's text", e.TitleHighlight.Text)
		}
	})
}
