package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/agora/agora/ent/membership"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/privacy"
	entuser "github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/config"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/testenv"
)

const testWebhookSecret = "whsec_test_agora"

// newPaymentsAPI starts Agora on a fresh database with payments enabled, its Stripe API at apiBase.
func newPaymentsAPI(t *testing.T, dialect, apiBase string) *api {
	t.Helper()
	o := database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")}
	if dialect == "postgres" {
		o = database.Options{PostgresURL: testenv.PostgresURL(t), MaxConns: 10}
	}
	db := openDB(t, o)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return startAPIWith(t, db, nil, func(cfg *config.Config) {
		cfg.Payments = config.Payments{SecretKey: "sk_test_agora", WebhookSecret: testWebhookSecret, APIBase: apiBase}
	})
}

func uid(t *testing.T, u user) int {
	t.Helper()
	id, err := strconv.Atoi(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func sys() context.Context { return privacy.DecisionContext(context.Background(), privacy.Allow) }

// TestMembershipStripeCalls: plans, checkout and the portal against stripe-mock, Stripe's own
// server of its API (fixed fixtures: only the shape of what it returns is checked).
func TestMembershipStripeCalls(t *testing.T) {
	a := newPaymentsAPI(t, "postgres", testenv.StripeMock(t))
	ana, bob := a.register(t, "ana"), a.register(t, "bob")

	// Without a plan there is nothing to join.
	r := a.as(bob).Post(t, `mutation($a: ID!) { startMembershipCheckout(input: {authorID: $a, returnURL: "http://localhost:3000/x"}) { url } }`, map[string]any{"a": ana.ID})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("checkout without a plan: %+v", r.Errors)
	}
	// Bad input changes nothing.
	for _, in := range []string{`{monthlyPrice: 5, currency: "usd"}`, `{monthlyPrice: 500, currency: "dollars"}`} {
		r := a.as(ana).Post(t, `mutation { setMembershipPlan(input: `+in+`) { plan { monthlyPrice } } }`, nil)
		if len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" {
			t.Fatalf("setMembershipPlan(%s): %+v", in, r.Errors)
		}
	}
	if n := a.count(t, "membership_plans"); n != 0 {
		t.Fatalf("%d plans after refused input", n)
	}

	var plan struct {
		SetMembershipPlan struct {
			Plan struct {
				MonthlyPrice          int
				Currency, Description string
				Active                bool
			}
		}
	}
	a.as(ana).Do(t, `mutation { setMembershipPlan(input: {monthlyPrice: 500, currency: "USD", description: "Early drafts"}) { plan { monthlyPrice currency description active } } }`, nil, &plan)
	if p := plan.SetMembershipPlan.Plan; p.MonthlyPrice != 500 || p.Currency != "usd" || p.Description != "Early drafts" || !p.Active {
		t.Fatalf("plan: %+v", p)
	}
	var shown struct {
		User struct{ MembershipPlan *struct{ MonthlyPrice int } }
	}
	a.as(bob).Do(t, `query($n: String!) { user(username: $n) { membershipPlan { monthlyPrice } } }`, map[string]any{"n": "ana"}, &shown)
	if shown.User.MembershipPlan == nil || shown.User.MembershipPlan.MonthlyPrice != 500 {
		t.Fatalf("User.membershipPlan: %+v", shown.User.MembershipPlan)
	}

	// A list's plans are one query, however many users it holds.
	for _, n := range []string{"carl", "dora", "emil"} {
		a.register(t, n)
	}
	plans := func(n int) float64 {
		r := a.as(bob).Post(t, `query($n: Int!) { users(first: $n) { edges { node { membershipPlan { monthlyPrice } } } } }`, map[string]any{"n": n})
		if len(r.Errors) > 0 {
			t.Fatalf("users' plans: %+v", r.Errors)
		}
		got, _ := r.Extensions["dbStatements"].(float64)
		return got
	}
	if one, five := plans(1), plans(5); one == 0 || five != one {
		t.Fatalf("users' plans: %v statements for 1 user, %v for 5", one, five)
	}

	// Joining one's own membership is refused; bob's checkout makes his customer once.
	r = a.as(ana).Post(t, `mutation($a: ID!) { startMembershipCheckout(input: {authorID: $a, returnURL: "http://localhost:3000/x"}) { url } }`, map[string]any{"a": ana.ID})
	if len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" {
		t.Fatalf("own checkout: %+v", r.Errors)
	}
	customer := func() string {
		u, err := a.db.Client.User.Query().Where(entuser.ID(uid(t, bob))).Only(sys())
		if err != nil {
			t.Fatal(err)
		}
		if u.StripeCustomerID == nil {
			return ""
		}
		return *u.StripeCustomerID
	}
	// Stripe sends the browser back to the client's own pages only (here localhost:*, the
	// development default), never to another site; nothing is made for a refused one.
	for _, bad := range []string{"https://evil.example/x", "http://localhost.evil.example/x", "javascript:alert(1)", "/relative"} {
		for _, op := range []string{
			`mutation($a: ID!, $u: String!) { startMembershipCheckout(input: {authorID: $a, returnURL: $u}) { url } }`,
			`mutation($u: String!) { openBillingPortal(input: {returnURL: $u}) { url } }`,
		} {
			r = a.as(bob).Post(t, op, map[string]any{"a": ana.ID, "u": bad})
			if len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" || r.Errors[0].Field() != "returnURL" {
				t.Fatalf("returnURL %q: %+v", bad, r.Errors)
			}
		}
	}
	if customer() != "" {
		t.Fatal("a refused checkout made a Stripe customer")
	}
	url := regexp.MustCompile(`^https?://\S+$`)
	for i := range 2 {
		var out struct{ StartMembershipCheckout struct{ URL string } }
		a.as(bob).Do(t, `mutation($a: ID!) { startMembershipCheckout(input: {authorID: $a, returnURL: "http://localhost:3000/x"}) { url } }`, map[string]any{"a": ana.ID}, &out)
		if !url.MatchString(out.StartMembershipCheckout.URL) {
			t.Fatalf("checkout %d: url %q", i, out.StartMembershipCheckout.URL)
		}
	}
	first := customer()
	if !strings.HasPrefix(first, "cus_") {
		t.Fatalf("customer ID %q", first)
	}
	var portal struct{ OpenBillingPortal struct{ URL string } }
	a.as(bob).Do(t, `mutation { openBillingPortal(input: {returnURL: "http://localhost:3000/account"}) { url } }`, nil, &portal)
	if !url.MatchString(portal.OpenBillingPortal.URL) || customer() != first {
		t.Fatalf("portal url %q, customer %q then %q", portal.OpenBillingPortal.URL, first, customer())
	}
	// Someone who never checked out has no portal.
	r = a.as(ana).Post(t, `mutation { openBillingPortal(input: {returnURL: "http://localhost:3000/account"}) { url } }`, nil)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" {
		t.Fatalf("portal without a customer: %+v", r.Errors)
	}
	// A price change makes a new Price; the plan keeps its product.
	a.as(ana).Do(t, `mutation { setMembershipPlan(input: {monthlyPrice: 900, currency: "eur"}) { plan { monthlyPrice currency description active } } }`, nil, &plan)
	if p := plan.SetMembershipPlan.Plan; p.MonthlyPrice != 900 || p.Currency != "eur" || p.Description != "Early drafts" {
		t.Fatalf("changed plan: %+v", p)
	}
	// A paused plan stays paused through a price change that does not mention it.
	a.as(ana).Do(t, `mutation { setMembershipPlan(input: {monthlyPrice: 900, currency: "eur", active: false}) { plan { active } } }`, nil, &plan)
	a.as(ana).Do(t, `mutation { setMembershipPlan(input: {monthlyPrice: 1000, currency: "eur"}) { plan { monthlyPrice active } } }`, nil, &plan)
	if p := plan.SetMembershipPlan.Plan; p.MonthlyPrice != 1000 || p.Active {
		t.Fatalf("paused plan after a price change: %+v", p)
	}
}

// fakeStripe serves what the webhook jobs read from Stripe, GET /v1/subscriptions/{id}, from
// subscriptions the test sets: Stripe's current state, whatever the events said.
type fakeStripe struct {
	mu   sync.Mutex
	subs map[string]map[string]any
	gets int
}

func (f *fakeStripe) set(id, status string, member, author user, periodEnd time.Time, cancelAtEnd bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[id] = map[string]any{
		"id": id, "object": "subscription", "status": status, "cancel_at_period_end": cancelAtEnd,
		"metadata": map[string]string{"agora_member": member.ID, "agora_author": author.ID},
		"items": map[string]any{"object": "list", "data": []any{map[string]any{
			"id": "si_" + id, "object": "subscription_item", "current_period_end": periodEnd.Unix()}}},
	}
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/subscriptions/")
	sub := f.subs[id]
	if r.Method != http.MethodGet || !ok || sub == nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"No such subscription"}}`))
		return
	}
	f.gets++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sub)
}

// deliver posts a Stripe event to /webhooks/stripe, signed with secret at ts, and returns the status.
func deliver(t *testing.T, a *api, id, typ string, object map[string]any, secret string, ts time.Time) int {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "created": ts.Unix(),
		"api_version": "2025-04-30.basil", "data": map[string]any{"object": object}})
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: ts})
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/webhooks/stripe", bytes.NewReader(signed.Payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signed.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStripeWebhooks: the membership state machine through signed deliveries over HTTP.
func TestStripeWebhooks(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			stripeWebhooks(t, dialect)
		})
	}
}

func stripeWebhooks(t *testing.T, dialect string) {
	{
		fake := &fakeStripe{subs: map[string]map[string]any{}}
		stripeSrv := httptest.NewServer(fake)
		t.Cleanup(stripeSrv.Close)
		a := newPaymentsAPI(t, dialect, stripeSrv.URL)
		ana, bob := a.register(t, "ana"), a.register(t, "bob")
		secret := a.createPost(t, ana, map[string]any{"title": "For members", "description": "teaser", "body": "the members' body", "publish": true, "visibility": "MEMBERS"})

		state := func() (status string, periodEnd *string, reads bool) {
			t.Helper()
			var out struct {
				Viewer struct {
					Memberships []struct {
						Status           string
						CurrentPeriodEnd *string
						Author           struct{ Username string }
					}
				}
				Post struct {
					Body          *string
					ViewerCanRead bool
				}
			}
			a.as(bob).Do(t, `query($s: String!) { viewer { memberships { status currentPeriodEnd author { username } } } post(slug: $s) { body viewerCanRead } }`,
				map[string]any{"s": secret.Slug}, &out)
			if out.Post.ViewerCanRead != (out.Post.Body != nil) {
				t.Fatalf("viewerCanRead %t with body %v", out.Post.ViewerCanRead, out.Post.Body)
			}
			if len(out.Viewer.Memberships) == 0 {
				return "", nil, out.Post.ViewerCanRead
			}
			m := out.Viewer.Memberships[0]
			if m.Author.Username != "ana" {
				t.Fatalf("membership of %q", m.Author.Username)
			}
			return m.Status, m.CurrentPeriodEnd, out.Post.ViewerCanRead
		}
		newMembers := func() int {
			n, err := a.db.Client.Notification.Query().Where(notification.KindEQ(notification.KindNEW_MEMBER)).Count(sys())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		now := time.Now()
		month := now.Add(30 * 24 * time.Hour)

		// Refused deliveries change nothing: unsigned, forged, stale.
		sub := map[string]any{"id": "sub_1", "object": "subscription"}
		fake.set("sub_1", "active", bob, ana, month, false)
		if code := deliver(t, a, "evt_forged", "customer.subscription.created", sub, "whsec_someone_else", now); code != http.StatusBadRequest {
			t.Fatalf("forged signature: %d", code)
		}
		if code := deliver(t, a, "evt_stale", "customer.subscription.created", sub, testWebhookSecret, now.Add(-time.Hour)); code != http.StatusBadRequest {
			t.Fatalf("stale signature: %d", code)
		}
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/webhooks/stripe", strings.NewReader(`{"id":"evt_unsigned","type":"invoice.paid"}`))
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("unsigned: %v %v", resp, err)
		}
		a.settle(t)
		fake.mu.Lock()
		gets := fake.gets
		fake.mu.Unlock()
		if n := a.count(t, "stripe_events"); n != 0 || gets != 0 {
			t.Fatalf("refused deliveries stored %d events, read %d subscriptions", n, gets)
		}
		if s, _, reads := state(); s != "" || reads {
			t.Fatalf("before paying: status %q, reads %t", s, reads)
		}

		// Activation: checkout completed. The author is told once.
		session := map[string]any{"id": "cs_1", "object": "checkout.session", "mode": "subscription", "subscription": "sub_1"}
		if code := deliver(t, a, "evt_1", "checkout.session.completed", session, testWebhookSecret, now); code != http.StatusOK {
			t.Fatalf("checkout.session.completed: %d", code)
		}
		a.settle(t)
		status, end1, reads := state()
		if status != "ACTIVE" || end1 == nil || !reads || newMembers() != 1 {
			t.Fatalf("after checkout: %q %v reads %t, %d notices", status, end1, reads, newMembers())
		}
		var count struct{ Viewer struct{ MemberCount *int } }
		a.as(ana).Do(t, `{ viewer { memberCount } }`, nil, &count)
		if count.Viewer.MemberCount == nil || *count.Viewer.MemberCount != 1 {
			t.Fatalf("memberCount %v", count.Viewer.MemberCount)
		}

		// Duplicates: the same event again, and subscription.created for the same state.
		if code := deliver(t, a, "evt_1", "checkout.session.completed", session, testWebhookSecret, now); code != http.StatusOK {
			t.Fatalf("duplicate: %d", code)
		}
		deliver(t, a, "evt_2", "customer.subscription.created", sub, testWebhookSecret, now)
		a.settle(t)
		if n := a.count(t, "stripe_events"); n != 2 || newMembers() != 1 {
			t.Fatalf("after duplicates: %d events, %d notices", n, newMembers())
		}

		// Renewal: invoice paid, the period moves on.
		next := month.Add(30 * 24 * time.Hour)
		fake.set("sub_1", "active", bob, ana, next, false)
		invoice := map[string]any{"id": "in_1", "object": "invoice", "parent": map[string]any{"type": "subscription_details",
			"subscription_details": map[string]any{"subscription": "sub_1"}}}
		deliver(t, a, "evt_3", "invoice.paid", invoice, testWebhookSecret, now)
		a.settle(t)
		status, end2, reads := state()
		if status != "ACTIVE" || end2 == nil || *end2 == *end1 || !reads || newMembers() != 1 {
			t.Fatalf("after renewal: %q %v (was %v) reads %t, %d notices", status, end2, *end1, reads, newMembers())
		}

		// Failure: past due, still paid until the period ends.
		fake.set("sub_1", "past_due", bob, ana, next, false)
		deliver(t, a, "evt_4", "invoice.payment_failed", invoice, testWebhookSecret, now)
		a.settle(t)
		if status, _, reads := state(); status != "PAST_DUE" || !reads {
			t.Fatalf("after a failed payment: %q reads %t", status, reads)
		}

		// Cancellation at period end: still a member until then.
		fake.set("sub_1", "active", bob, ana, next, true)
		deliver(t, a, "evt_5", "customer.subscription.updated", sub, testWebhookSecret, now)
		a.settle(t)
		if status, _, reads := state(); status != "ACTIVE" || !reads {
			t.Fatalf("cancelling at period end: %q reads %t", status, reads)
		}
		// The period ended: Stripe deletes the subscription. Lapsed members read no more.
		fake.set("sub_1", "canceled", bob, ana, now.Add(-time.Minute), false)
		deliver(t, a, "evt_6", "customer.subscription.deleted", sub, testWebhookSecret, now)
		a.settle(t)
		if status, _, reads := state(); status != "CANCELED" || reads {
			t.Fatalf("after the period ended: %q reads %t", status, reads)
		}

		// Out of order: a late "updated" from when it was active is resolved by Stripe's current
		// state (canceled), not by what the old event says.
		deliver(t, a, "evt_late", "customer.subscription.updated", map[string]any{"id": "sub_1", "object": "subscription", "status": "active"}, testWebhookSecret, now)
		a.settle(t)
		if status, _, reads := state(); status != "CANCELED" || reads {
			t.Fatalf("after a late event: %q reads %t", status, reads)
		}
		a.as(ana).Do(t, `{ viewer { memberCount } }`, nil, &count)
		if *count.Viewer.MemberCount != 0 {
			t.Fatalf("memberCount after lapse %d", *count.Viewer.MemberCount)
		}
		m, err := a.db.Client.Membership.Query().Only(sys())
		if err != nil || m.Status != membership.StatusCANCELED || m.StripeSubscriptionID != "sub_1" {
			t.Fatalf("membership row: %+v %v", m, err)
		}
	}
}

// TestMembersOnlyPosts: a MEMBERS post's body on every path that returns a post, for each kind
// of viewer: the author, a member, a moderator read it; a non-member, a lapsed member and an
// anonymous viewer see the post without its body, and search shows them no passage of it.
func TestMembersOnlyPosts(t *testing.T) {
	eachDB(t, func(t *testing.T, a *api) {
		ana := a.register(t, "ana")
		mem, lap, non, mod := a.register(t, "mem"), a.register(t, "lap"), a.register(t, "non"), a.register(t, "mod")
		a.setRole(t, mod, "MODERATOR")
		for _, u := range []user{mem, lap, non, mod} {
			a.as(u).Do(t, `mutation($id: ID!) { followUser(input: {userID: $id}) { user { id } } }`, map[string]any{"id": ana.ID}, nil)
		}
		inline := a.upload(t, ana, "POST_INLINE", testPNG(t, 60, 40))
		src := strings.SplitN(inline.URL, "?", 2)[0]
		p := a.createPost(t, ana, map[string]any{"title": "Gold", "description": "teaser words", "body": "zanzibar secret body\n\n![chart](" + src + ")",
			"tags": []string{"gold"}, "publish": true, "visibility": "MEMBERS"})
		month := time.Now().Add(30 * 24 * time.Hour)
		for i, m := range []struct {
			u      user
			status membership.Status
			end    time.Time
		}{{mem, membership.StatusACTIVE, month}, {lap, membership.StatusCANCELED, time.Now().Add(-time.Hour)}} {
			if err := a.db.Client.Membership.Create().SetMemberID(uid(t, m.u)).SetAuthorID(uid(t, ana)).SetStatus(m.status).
				SetCurrentPeriodEnd(m.end).SetStripeSubscriptionID(fmt.Sprintf("sub_%d", i)).Exec(sys()); err != nil {
				t.Fatal(err)
			}
		}
		a.settle(t)

		viewers := []struct {
			name  string
			u     user
			reads bool
		}{{"anonymous", user{}, false}, {"non-member", non, false}, {"lapsed member", lap, false}, {"member", mem, true}, {"author", ana, true}, {"moderator", mod, true}}
		// Selected with the post's visibility, and without it: field collection then reads only the
		// columns the selection names and those body and viewerCanRead declare (schema.Computed).
		for _, fields := range []string{`id body viewerCanRead visibility`, `id body viewerCanRead`} {
			paths := map[string]struct {
				query string
				vars  map[string]any
				node  func(data json.RawMessage) (json.RawMessage, bool)
			}{
				"post":       {query: `query($s: String!) { x: post(slug: $s) { ` + fields + ` } }`, vars: map[string]any{"s": p.Slug}},
				"posts":      {query: `{ x: posts(first: 5) { edges { node { ` + fields + ` } } } }`},
				"feed":       {query: `{ x: feed(first: 5) { edges { node { ` + fields + ` } } } }`},
				"search":     {query: `{ x: search(query: "teaser", first: 5) { edges { snippet { text } node { ` + fields + ` } } } }`},
				"user.posts": {query: `{ x: user(username: "ana") { posts(first: 5) { edges { node { ` + fields + ` } } } } }`},
				"tag.posts":  {query: `{ x: tags(first: 5, where: {names: ["gold"]}) { edges { node { posts(first: 5) { edges { node { ` + fields + ` } } } } } } }`},
				"_entities":  {query: `query($r: [_Any!]!) { x: _entities(representations: $r) { ... on Post { ` + fields + ` } } }`, vars: map[string]any{"r": []any{map[string]any{"__typename": "Post", "id": p.ID}}}},
			}
			for name, path := range paths {
				for _, v := range viewers {
					if name == "feed" && v.u.Token == "" || name == "feed" && v.u == ana {
						continue // the feed is of the people one follows, signed in
					}
					r := a.as(v.u).Post(t, path.query, path.vars)
					if len(r.Errors) > 0 {
						t.Fatalf("%s as %s: %+v", name, v.name, r.Errors)
					}
					text := string(r.Data)
					if !strings.Contains(text, `"id":"`+p.ID+`"`) {
						t.Fatalf("%s as %s: the post is missing: %s", name, v.name, text)
					}
					hasBody := strings.Contains(text, "zanzibar secret body")
					canRead := strings.Contains(text, `"viewerCanRead":true`)
					if hasBody != v.reads || canRead != v.reads {
						t.Fatalf("%s as %s: body shown %t, viewerCanRead %t; want %t: %s", name, v.name, hasBody, canRead, v.reads, text)
					}
					if name == "search" && !v.reads && strings.Contains(text, "zanzibar") {
						t.Fatalf("search snippet shows the locked body to %s: %s", v.name, text)
					}
				}
			}
		}
		for _, v := range viewers {
			// A locked body is not searched at all (not even for its readers): no probing its words.
			var found struct{ Search struct{ Edges []any } }
			a.as(v.u).Do(t, `{ search(query: "zanzibar", first: 5) { edges { node { id } } } }`, nil, &found)
			if len(found.Search.Edges) != 0 {
				t.Fatalf("a search by a word of the locked body finds the post as %s", v.name)
			}
			// The body's images are its readers', by signed URL only.
			var seen struct{ Image *struct{ URL string } }
			a.as(v.u).Do(t, `query($id: ID!) { image(id: $id) { url } }`, map[string]any{"id": inline.ID}, &seen)
			if (seen.Image != nil) != v.reads {
				t.Fatalf("the locked body's image shown to %s: %t, want %t", v.name, seen.Image != nil, v.reads)
			}
			if seen.Image != nil {
				if res, _ := a.fetch(t, seen.Image.URL, nil); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Cache-Control"), "private") {
					t.Fatalf("the locked body's image by its URL as %s: %d %q", v.name, res.StatusCode, res.Header.Get("Cache-Control"))
				}
			}
		}
		if res, _ := a.fetch(t, src, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("the locked body's image without a signature: %d, want 404", res.StatusCode)
		}

		// A list of members-only posts by several authors decides every body in one query.
		for _, u := range []user{mem, non, mod} {
			a.createPost(t, u, map[string]any{"title": "More gold", "body": "locked", "publish": true, "visibility": "MEMBERS"})
		}
		a.settle(t)
		bodies := func(n int) float64 {
			r := a.as(lap).Post(t, `query($n: Int!) { posts(first: $n) { edges { node { body viewerCanRead } } } }`, map[string]any{"n": n})
			if len(r.Errors) > 0 {
				t.Fatalf("bodies: %+v", r.Errors)
			}
			got, _ := r.Extensions["dbStatements"].(float64)
			return got
		}
		if one, four := bodies(1), bodies(4); four != one {
			t.Fatalf("members-only bodies: %v statements for 1 post, %v for 4", one, four)
		}

		// commentAdded: a comment event carries the post without its body to a non-member.
		for _, v := range []struct {
			u     user
			reads bool
		}{{non, false}, {mem, true}} {
			stream := a.subscribe(t, a.as(v.u), testenv.TransportWS, `subscription($id: ID!) { commentAdded(postID: $id) { post { body viewerCanRead } } }`, map[string]any{"id": p.ID})
			a.comment(t, ana, p, "a comment")
			r, ok := stream.Next(t, wait)
			if !ok || len(r.Errors) > 0 {
				t.Fatalf("commentAdded as %s: %+v", v.u.Username, r.Errors)
			}
			if got := strings.Contains(string(r.Data), "zanzibar"); got != v.reads {
				t.Fatalf("commentAdded as %s: body shown %t: %s", v.u.Username, got, r.Data)
			}
		}
	})
}

// TestPaymentSecretsStayOutOfLogs: the Stripe secret key and the webhook signing secret never
// reach the log, at its most verbose, whatever the payment calls and deliveries do: successful
// calls, a forged delivery, and calls that fail because Stripe does not answer.
func TestPaymentSecretsStayOutOfLogs(t *testing.T) {
	key, secret := "sk_test_"+strings.Repeat("k3y", 12), "whsec_"+strings.Repeat("s3cr3t", 6)
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	serve := func(apiBase string) *api {
		db := openDB(t, database.Options{SQLitePath: filepath.Join(t.TempDir(), "agora.db")})
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.Payments = config.Payments{SecretKey: key, WebhookSecret: secret, APIBase: apiBase}
		return serveApp(t, cfg, log, db, nil, nil)
	}

	a := serve(testenv.StripeMock(t))
	ana, bob := a.register(t, "ana"), a.register(t, "bob")
	a.as(ana).Do(t, `mutation { setMembershipPlan(input: {monthlyPrice: 500, currency: "usd"}) { plan { monthlyPrice } } }`, nil, nil)
	a.as(bob).Do(t, `mutation($a: ID!) { startMembershipCheckout(input: {authorID: $a, returnURL: "http://localhost:3000/x"}) { url } }`, map[string]any{"a": ana.ID}, nil)
	if got := deliver(t, a, "evt_forged", "customer.subscription.updated", map[string]any{"id": "sub_x", "object": "subscription"}, "whsec_wrong", time.Now()); got != http.StatusBadRequest {
		t.Fatalf("forged delivery: %d, want 400", got)
	}

	// Stripe unreachable: the calls fail SERVICE_UNAVAILABLE and the operator's log says why.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	b := serve(down.URL)
	cleo := b.register(t, "cleo")
	r := b.as(cleo).Post(t, `mutation { setMembershipPlan(input: {monthlyPrice: 500, currency: "usd"}) { plan { monthlyPrice } } }`, nil)
	if len(r.Errors) != 1 || r.Errors[0].Code() != "SERVICE_UNAVAILABLE" {
		t.Fatalf("plan with Stripe down: %+v", r.Errors)
	}

	out := logs.String()
	if !strings.Contains(out, "stripe") {
		t.Fatalf("the log does not record the failed Stripe call:\n%s", out)
	}
	for name, s := range map[string]string{"secret key": key, "webhook secret": secret} {
		if strings.Contains(out, s) || strings.Contains(out, s[len(s)-12:]) {
			t.Errorf("the %s is in the log", name)
		}
	}
}
