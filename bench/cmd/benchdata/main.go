// Command benchdata loads the benchmark's data set into an empty Agora database on PostgreSQL
// (migrations applied): users, tags, published posts with tags, comments, likes and follows.
//
// It writes with COPY straight into the tables of ent/migrate/migrations/postgres: going through the
// API or ent would take minutes for 100,000 comments. The data is the same on every run (a fixed
// PCG seed); only the password hash differs, because its salt is random.
//
//	benchdata -db postgres://… -manifest data.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agora/agora/internal/auth"
)

// Manifest tells the benchmark driver who to sign in as and what to ask for.
type Manifest struct {
	Viewer    string           `json:"viewer"`    // username of the user whose feed is measured
	Password  string           `json:"password"`  // every user's password
	Usernames []string         `json:"usernames"` // profiles the profile scenario rotates over
	Slugs     []string         `json:"slugs"`     // posts the post-page scenario rotates over
	NodeIDs   map[string]int64 `json:"nodeIDs"`   // one ID per type, to check node(id:)
	Counts    map[string]int   `json:"counts"`    // rows written per table

	// What the search scenarios rotate over: single words (the vocabulary's most common, each in
	// 80–99% of the posts, about 90% on average), rare words (each post's body ends with one of
	// 1,000, so each is in about 0.1% of the posts), phrases of two words adjacent in some post's
	// title, and the first letters of display names, as typed.
	SearchWords   []string `json:"searchWords"`
	RareWords     []string `json:"rareWords"`
	SearchPhrases []string `json:"searchPhrases"`
	NamePrefixes  []string `json:"namePrefixes"`
}

// Password of every generated user.
const Password = "bench-password"

func main() {
	var (
		dbURL     = flag.String("db", os.Getenv("DATABASE_URL"), "PostgreSQL URL of a migrated, empty Agora database")
		manifest  = flag.String("manifest", "bench-data.json", "where to write the manifest (JSON)")
		nUsers    = flag.Int("users", 2000, "users")
		nPosts    = flag.Int("posts", 20000, "published posts")
		nComments = flag.Int("comments", 100000, "comments")
		nTags     = flag.Int("tags", 200, "tags in the pool posts draw 1-3 from")
		nFollows  = flag.Int("follows", 20, "users each user follows")
		nLikes    = flag.Int("likes", 50, "posts each user likes")
		seed      = flag.Uint64("seed", 4, "random seed")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("benchdata: ")
	if *nFollows >= *nUsers || *nLikes > *nPosts {
		log.Fatal("need more users than follows per user and at least as many posts as likes per user")
	}

	ctx := context.Background()
	start := time.Now()
	conn, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)

	var existing int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&existing); err != nil {
		log.Fatalf("%v (run `agora migrate` first)", err)
	}
	if existing > 0 {
		log.Fatal("the database already has users: load into a freshly migrated database")
	}

	hash, err := auth.HashPassword(Password) // Agora's own argon2id, so login works
	if err != nil {
		log.Fatal(err)
	}
	g := generator{rng: rand.New(rand.NewPCG(*seed, 0x5eed)), base: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		rare: rand.New(rand.NewPCG(*seed, 0x7a7e))}
	d := g.generate(*nUsers, *nPosts, *nComments, *nTags, *nFollows, *nLikes)

	// IDs come from each table's own identity sequence, so they fall in the table's 2^32 range that
	// ent's global IDs (node(id:)) rely on, and Agora's later inserts continue after them.
	userIDs, err := reserveIDs(ctx, conn, "users", len(d.users))
	if err != nil {
		log.Fatal(err)
	}
	tagIDs, err := reserveIDs(ctx, conn, "tags", len(d.tags))
	if err != nil {
		log.Fatal(err)
	}
	postIDs, err := reserveIDs(ctx, conn, "posts", len(d.posts))
	if err != nil {
		log.Fatal(err)
	}

	counts := map[string]int{}
	load := func(table string, cols []string, rows [][]any) {
		n, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		if err != nil {
			log.Fatalf("copy %s: %v", table, err)
		}
		counts[table] = int(n)
	}

	rows := make([][]any, len(d.users))
	for i, u := range d.users {
		rows[i] = []any{userIDs[i], u.created, u.created, u.username, u.username + "@bench.example", hash, u.displayName, u.bio}
	}
	load("users", []string{"id", "created_at", "updated_at", "username", "email", "password_hash", "display_name", "bio"}, rows)

	rows = make([][]any, len(d.tags))
	for i, name := range d.tags {
		rows[i] = []any{tagIDs[i], name, g.base}
	}
	load("tags", []string{"id", "name", "created_at"}, rows)

	rows = make([][]any, len(d.posts))
	var postTags [][]any
	for i, p := range d.posts {
		rows[i] = []any{postIDs[i], p.published, p.published, p.slug, p.title, p.body, "PUBLISHED", p.published, userIDs[p.author]}
		for _, t := range p.tags {
			postTags = append(postTags, []any{postIDs[i], tagIDs[t]})
		}
	}
	load("posts", []string{"id", "created_at", "updated_at", "slug", "title", "body", "status", "published_at", "author_id"}, rows)
	load("post_tags", []string{"post_id", "tag_id"}, postTags)

	// Comments, likes and follows take their IDs from the column default: nothing refers to them.
	rows = make([][]any, len(d.comments))
	for i, c := range d.comments {
		rows[i] = []any{c.created, c.created, c.body, postIDs[c.post], userIDs[c.author]}
	}
	load("comments", []string{"created_at", "updated_at", "body", "post_id", "author_id"}, rows)

	rows = make([][]any, len(d.likes))
	for i, l := range d.likes {
		rows[i] = []any{g.base, userIDs[l.user], postIDs[l.post]}
	}
	load("likes", []string{"created_at", "user_id", "post_id"}, rows)

	// follows.user_id is the user followed and following_id the follower (ent's column naming).
	rows = make([][]any, len(d.follows))
	for i, f := range d.follows {
		rows[i] = []any{g.base, userIDs[f.followee], userIDs[f.follower]}
	}
	load("follows", []string{"created_at", "user_id", "following_id"}, rows)

	// Fresh statistics and visibility maps, so the planner and index-only scans behave as on a
	// database that has been running for a while (autovacuum's state). Twice: after the first,
	// PostgreSQL 15 leaves comments and likes without a page marked all-visible (pg_class
	// relallvisible 0), so counting a post's likes read the heap; the second marks them all.
	for _, stmt := range []string{"VACUUM ANALYZE", "VACUUM"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			log.Fatal(err)
		}
	}

	var commentID int64
	if err := conn.QueryRow(ctx, "SELECT min(id) FROM comments").Scan(&commentID); err != nil {
		log.Fatal(err)
	}
	m := Manifest{
		Viewer:   d.users[0].username,
		Password: Password,
		NodeIDs:  map[string]int64{"User": userIDs[1], "Post": postIDs[0], "Tag": tagIDs[0], "Comment": commentID},
		Counts:   counts,
	}
	for _, i := range d.profiles {
		m.Usernames = append(m.Usernames, d.users[i].username)
	}
	for _, i := range d.postPages {
		m.Slugs = append(m.Slugs, d.posts[i].slug)
		title := strings.Fields(strings.ToLower(d.posts[i].title))
		at := len(m.Slugs) % (len(title) - 1) // titles have 3 words or more
		m.SearchPhrases = append(m.SearchPhrases, `"`+title[at]+" "+title[at+1]+`"`)
	}
	m.SearchWords = commonWords(d.posts, 0.8)
	for i := range 20 {
		m.RareWords = append(m.RareWords, d.posts[d.postPages[i]].rare)
	}
	for _, i := range d.profiles[:min(50, len(d.profiles))] {
		name := strings.ToLower(d.users[i].displayName)
		m.NamePrefixes = append(m.NamePrefixes, name[:2+i%4])
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*manifest, b, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("loaded %v in %s", counts, time.Since(start).Round(time.Millisecond))
}

// commonWords are the words of the vocabulary in at least share of the posts' titles and bodies,
// most common first.
func commonWords(posts []postRow, share float64) []string {
	in := map[string]int{}
	for _, p := range posts {
		seen := map[string]bool{}
		for _, w := range strings.FieldsFunc(strings.ToLower(p.title+" "+p.body), func(r rune) bool { return r < 'a' || r > 'z' }) {
			if !seen[w] {
				seen[w] = true
				in[w]++
			}
		}
	}
	var out []string
	for _, w := range vocabulary {
		if float64(in[w]) >= share*float64(len(posts)) {
			out = append(out, w)
		}
	}
	return out
}

// reserveIDs takes n values from the identity sequence of table's id column.
func reserveIDs(ctx context.Context, conn *pgx.Conn, table string, n int) ([]int64, error) {
	rows, err := conn.Query(ctx, "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)", table, n)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reserve %s IDs: %w", table, err)
	}
	return ids, nil
}

// The data set, with rows referring to each other by index.
type (
	dataSet struct {
		users     []userRow
		tags      []string
		posts     []postRow
		comments  []commentRow
		likes     []likeRow
		follows   []followRow
		profiles  []int // user indexes for the profile scenario
		postPages []int // post indexes for the post-page scenario
	}
	userRow struct {
		username, displayName, bio string
		created                    time.Time
	}
	postRow struct {
		slug, title, body string
		rare              string // the rare word its body ends with
		published         time.Time
		author            int
		tags              []int
	}
	commentRow struct {
		body         string
		created      time.Time
		post, author int
	}
	likeRow   struct{ user, post int }
	followRow struct{ follower, followee int }
)

type generator struct {
	rng  *rand.Rand
	base time.Time
	// rare picks each post's rare word. A generator of its own leaves the rest of the data set as
	// it was before search was benchmarked.
	rare *rand.Rand
}

// rareWord is the i-th of the rare words: three syllables, "badefi".
func rareWord(i int) string {
	const syllables = "ba de fi go ku la me ni po ru"
	s := strings.Fields(syllables)
	return s[i/100%10] + s[i/10%10] + s[i%10]
}

func (g *generator) generate(nUsers, nPosts, nComments, nTags, nFollows, nLikes int) dataSet {
	var d dataSet
	for i := range nUsers {
		d.users = append(d.users, userRow{
			username:    fmt.Sprintf("user%04d", i),
			displayName: fmt.Sprintf("%s %s", capitalize(g.name()), capitalize(g.name())),
			bio:         g.sentence(),
			created:     g.base.Add(time.Duration(i) * time.Minute),
		})
	}
	for i := range nTags {
		d.tags = append(d.tags, fmt.Sprintf("%s-%d", g.name(), i))
	}

	// Posts every 20 minutes (plus up to a minute), so publishedAt is unique and the feed order
	// does not hinge on ID tie-breaks.
	for i := range nPosts {
		title := capitalize(g.words(3 + g.rng.IntN(5)))
		var body strings.Builder
		for p := range 2 + g.rng.IntN(4) { // paragraphs
			if p > 0 {
				body.WriteString("\n\n")
			}
			for s := range 2 + g.rng.IntN(4) {
				if s > 0 {
					body.WriteString(" ")
				}
				body.WriteString(g.sentence())
			}
		}
		rare := rareWord(g.rare.IntN(1000))
		body.WriteString(" See " + rare + ".")
		published := g.base.Add(30*24*time.Hour + time.Duration(i)*20*time.Minute + time.Duration(g.rng.IntN(60))*time.Second)
		d.posts = append(d.posts, postRow{
			slug:      fmt.Sprintf("%s-%d", strings.ReplaceAll(strings.ToLower(title), " ", "-"), i),
			title:     title,
			body:      body.String(),
			rare:      rare,
			published: published,
			author:    g.rng.IntN(nUsers),
			tags:      g.distinct(1+g.rng.IntN(3), nTags, -1, g.popular),
		})
	}

	for range nComments {
		p := g.rng.IntN(nPosts)
		d.comments = append(d.comments, commentRow{
			body:    g.sentence(),
			created: d.posts[p].published.Add(time.Duration(1+g.rng.IntN(10000)) * time.Minute),
			post:    p,
			author:  g.rng.IntN(nUsers),
		})
	}

	// Each user follows nFollows others; popular users (low indexes) gather more followers.
	followees := make([][]int, nUsers)
	for u := range nUsers {
		followees[u] = g.distinct(nFollows, nUsers, u, g.popular)
		for _, f := range followees[u] {
			d.follows = append(d.follows, followRow{follower: u, followee: f})
		}
	}

	// Each user likes nLikes posts; the viewer (user 0) also likes every third post of the people
	// they follow, so viewerHasLiked is true for part of the feed.
	for u := range nUsers {
		liked := map[int]bool{}
		for _, p := range g.distinct(nLikes, nPosts, -1, g.uniform) {
			liked[p] = true
		}
		if u == 0 {
			follows := map[int]bool{}
			for _, f := range followees[0] {
				follows[f] = true
			}
			seen := 0
			for p, post := range d.posts {
				if follows[post.author] {
					if seen%3 == 0 {
						liked[p] = true
					}
					seen++
				}
			}
		}
		for p := range nPosts { // index order keeps the output deterministic
			if liked[p] {
				d.likes = append(d.likes, likeRow{user: u, post: p})
			}
		}
	}

	// Profiles: the viewer's followees and as many others; post pages: 50 posts anywhere.
	d.profiles = append(d.profiles, followees[0]...)
	d.profiles = append(d.profiles, g.distinct(len(followees[0]), nUsers, 0, g.uniform)...)
	d.postPages = g.distinct(50, nPosts, -1, g.uniform)
	return d
}

// distinct returns k different values in [0, n), none equal to except, drawn with pick.
func (g *generator) distinct(k, n, except int, pick func(n int) int) []int {
	seen := map[int]bool{except: true}
	out := make([]int, 0, k)
	for len(out) < k {
		if v := pick(n); !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func (g *generator) uniform(n int) int { return g.rng.IntN(n) }

// popular favours low values (density ~ 1/sqrt(x)): some tags and users are much more common.
func (g *generator) popular(n int) int {
	f := g.rng.Float64()
	return int(f * f * float64(n))
}

// names are the words display names and tags are made of, drawn uniformly. They are also the
// most common words of the text's vocabulary.
var names = strings.Fields(`agora api async batch cache cluster commit compile concurrency cursor
	data debug deploy edge error feed field follow garden graph index join kernel latency layer loader
	markdown merge metric network node query queue replica request resolver river schema server signal
	socket stream table thread token trace tree update vector window worker yield zone`)

// vocabularySize is how many words the text draws from.
const vocabularySize = 5000

// vocabulary is the words of the text, most common first: the names, then made-up words of three
// syllables (none of the rare words' syllables, so the two never meet).
var vocabulary = func() []string {
	s := strings.Fields("ka lo ri sen tu vo zel mar pi nor da fen gi hal jo ket mu ras sol tri")
	v := slices.Clone(names)
	for i := 0; len(v) < vocabularySize; i++ {
		v = append(v, s[i/400%20]+s[i/20%20]+s[i%20])
	}
	return v
}()

// zipf is the cumulative weight of each word of the vocabulary: the k-th most common word is drawn
// with probability proportional to 1/k (Zipf's law, as in natural text). In the benchmark's posts
// (about 140 words each) the most common few words are each in 80–99% of the posts, the 10th in
// about 70%, the 100th in 13%, the 1,000th in 1%, and most of the vocabulary in under 1%.
var zipf = func() []float64 {
	c := make([]float64, len(vocabulary))
	sum := 0.0
	for k := range c {
		sum += 1 / float64(k+1)
		c[k] = sum
	}
	return c
}()

// word is a word of the text, drawn from the Zipfian vocabulary.
func (g *generator) word() string {
	return vocabulary[sort.SearchFloat64s(zipf, g.rng.Float64()*zipf[len(zipf)-1])]
}

// name is a word of a display name or tag, drawn uniformly from names.
func (g *generator) name() string { return names[g.rng.IntN(len(names))] }

func (g *generator) words(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = g.word()
	}
	return strings.Join(w, " ")
}

func (g *generator) sentence() string { return capitalize(g.words(6+g.rng.IntN(10))) + "." }

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
