// Package billing holds memberships through Stripe: the plans authors offer (a Stripe Product and
// Price), checkout and the customer portal, the /webhooks/stripe endpoint whose events are
// processed once each in a job, and who may read a members-only post.
package billing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/membership"
	"github.com/agora/agora/ent/membershipplan"
	"github.com/agora/agora/ent/privacy"
	"github.com/agora/agora/ent/user"
	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/auth"
	"github.com/agora/agora/internal/authz"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/loader"
	"github.com/agora/agora/internal/notify"
)

// Options configure the Service; without SecretKey and WebhookSecret payments are disabled.
type Options struct {
	SecretKey     string
	WebhookSecret string
	APIBase       string       // Stripe's API URL; stripe-mock in tests
	HTTPClient    *http.Client // for the Stripe calls (default: 20s timeout)
	// ReturnURLAllowed says whether Stripe may send the browser back to a page: the client's own
	// sites only, so that Agora's checkout cannot be a hop to anyone else's page.
	ReturnURLAllowed func(*url.URL) bool
}

// Service offers plans, starts checkouts and applies Stripe's events.
type Service struct {
	client  *ent.Client
	queue   *jobs.Queue
	notices *notify.Service
	stripe  *stripe.Client // nil when disabled
	secret  string
	log     *slog.Logger
	returns func(*url.URL) bool
}

// New returns a Service whose webhook events are jobs of queue: New registers their worker.
func New(client *ent.Client, queue *jobs.Queue, notices *notify.Service, log *slog.Logger, o Options) *Service {
	s := &Service{client: client, queue: queue, notices: notices, log: log, secret: o.WebhookSecret, returns: o.ReturnURLAllowed}
	if o.SecretKey != "" && o.WebhookSecret != "" {
		hc := o.HTTPClient
		if hc == nil {
			hc = &http.Client{Timeout: 20 * time.Second}
		}
		cfg := &stripe.BackendConfig{HTTPClient: hc, LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
		if o.APIBase != "" {
			cfg.URL = stripe.String(o.APIBase)
		}
		s.stripe = stripe.NewClient(o.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(cfg)))
	}
	jobs.AddWorker(queue, &eventWorker{s: s})
	return s
}

// Enabled reports whether payments are configured.
func (s *Service) Enabled() bool { return s.stripe != nil }

// system reads and writes the rows only billing touches (plans, memberships, events, customer IDs).
func system(ctx context.Context) context.Context { return privacy.DecisionContext(ctx, privacy.Allow) }

// CanRead reports whether the viewer reads p's body (loader.ViewerReadsBody).
func CanRead(ctx context.Context, p *ent.Post) (bool, error) { return loader.ViewerReadsBody(ctx, p) }

// Body is p's body, or nil when the viewer may not read it.
func Body(ctx context.Context, p *ent.Post) (*string, error) {
	ok, err := CanRead(ctx, p)
	if err != nil || !ok {
		return nil, err
	}
	return &p.Body, nil
}

// PlanOf is the plan an author offers (User.membershipPlan), nil when none or when payments are
// disabled: in a request through its loader, one query for a whole list of authors.
func (s *Service) PlanOf(ctx context.Context, authorID int) (*ent.MembershipPlan, error) {
	if l := loader.For(ctx); l != nil && s.Enabled() {
		return l.PlanByAuthor().Load(ctx, authorID)
	}
	return s.Plan(ctx, authorID)
}

// Plan is the plan an author offers, nil when none or when payments are disabled.
func (s *Service) Plan(ctx context.Context, authorID int) (*ent.MembershipPlan, error) {
	if !s.Enabled() {
		return nil, nil
	}
	p, err := s.client.MembershipPlan.Query().Where(membershipplan.AuthorID(authorID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return p, err
}

// MemberCount counts an author's current members.
func (s *Service) MemberCount(ctx context.Context, authorID int) (int, error) {
	return s.client.Membership.Query().
		Where(membership.AuthorID(authorID), authz.CurrentMembership(time.Now())).Count(system(ctx))
}

// Memberships are the memberships a user pays for or paid for, newest first (without the checkouts
// never paid).
func (s *Service) Memberships(ctx context.Context, memberID int) ([]*ent.Membership, error) {
	return s.client.Membership.Query().
		Where(membership.MemberID(memberID), membership.StatusNEQ(membership.StatusINCOMPLETE)).
		Order(ent.Desc(membership.FieldCreatedAt), ent.Desc(membership.FieldID)).
		Limit(100).All(system(ctx))
}

// PlanInput is the plan an author offers (bound to SetMembershipPlanInput).
type PlanInput struct {
	MonthlyPrice int
	Currency     string
	Description  *string
	Active       *bool
}

// SetPlan offers the viewer's plan or changes it. A new price or currency makes a new Stripe
// Price (Stripe's prices never change); members keep the price they joined at.
func (s *Service) SetPlan(ctx context.Context, in PlanInput) (*ent.MembershipPlan, error) {
	if !s.Enabled() {
		return nil, apperr.ErrPaymentsDisabled
	}
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return nil, apperr.ErrUnauthenticated
	}
	if in.MonthlyPrice < 100 || in.MonthlyPrice > 100_000_000 {
		return nil, apperr.InvalidField("monthlyPrice", "want 100 to 100,000,000 (the currency's smallest unit)")
	}
	cur := strings.ToLower(strings.TrimSpace(in.Currency))
	if len(cur) != 3 || strings.Trim(cur, "abcdefghijklmnopqrstuvwxyz") != "" {
		return nil, apperr.InvalidField("currency", "want an ISO 4217 code of three letters, such as usd")
	}
	desc := ""
	if in.Description != nil {
		desc = strings.TrimSpace(*in.Description)
		if len([]rune(desc)) > 500 {
			return nil, apperr.InvalidField("description", "at most 500 characters")
		}
	}
	old, err := s.Plan(ctx, v.UserID)
	if err != nil {
		return nil, err
	}
	productID, priceID, active := "", "", true
	if old != nil {
		productID, priceID, active = old.StripeProductID, old.StripePriceID, old.Active
		if in.Description == nil {
			desc = old.Description
		}
	}
	if in.Active != nil {
		active = *in.Active
	}
	if productID == "" {
		params := &stripe.ProductCreateParams{
			Name:     stripe.String(fmt.Sprintf("Membership of user %d", v.UserID)),
			Metadata: map[string]string{"agora_author": strconv.Itoa(v.UserID)},
		}
		params.SetIdempotencyKey(fmt.Sprintf("agora-product-%d", v.UserID))
		prod, err := s.stripe.V1Products.Create(ctx, params)
		if err != nil {
			return nil, stripeErr("create product", err)
		}
		productID = prod.ID
	}
	if old == nil || old.MonthlyPrice != int64(in.MonthlyPrice) || old.Currency != cur {
		params := &stripe.PriceCreateParams{
			Product:    stripe.String(productID),
			UnitAmount: stripe.Int64(int64(in.MonthlyPrice)),
			Currency:   stripe.String(cur),
			Recurring:  &stripe.PriceCreateRecurringParams{Interval: stripe.String(string(stripe.PriceRecurringIntervalMonth))},
			Metadata:   map[string]string{"agora_author": strconv.Itoa(v.UserID)},
		}
		// The same price asked twice (a retried request) is the same Price.
		params.SetIdempotencyKey(fmt.Sprintf("agora-price-%s-%d-%s", productID, in.MonthlyPrice, cur))
		price, err := s.stripe.V1Prices.Create(ctx, params)
		if err != nil {
			return nil, stripeErr("create price", err)
		}
		priceID = price.ID
	}
	var saved *ent.MembershipPlan
	err = database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		ctx = system(ctx)
		if old == nil {
			saved, err = tx.MembershipPlan.Create().SetAuthorID(v.UserID).SetMonthlyPrice(int64(in.MonthlyPrice)).
				SetCurrency(cur).SetDescription(desc).SetActive(active).
				SetStripeProductID(productID).SetStripePriceID(priceID).Save(ctx)
			if ent.IsConstraintError(err) {
				return apperr.ConflictField("monthlyPrice", "the plan was changed at the same time: try again")
			}
			return err
		}
		saved, err = tx.MembershipPlan.UpdateOne(old).SetMonthlyPrice(int64(in.MonthlyPrice)).
			SetCurrency(cur).SetDescription(desc).SetActive(active).SetStripePriceID(priceID).Save(ctx)
		return err
	})
	return saved, err
}

// StartCheckout opens a Stripe Checkout Session in subscription mode for the viewer to join
// authorID's plan, and returns its URL.
func (s *Service) StartCheckout(ctx context.Context, authorID int, returnURL string) (string, error) {
	if !s.Enabled() {
		return "", apperr.ErrPaymentsDisabled
	}
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return "", apperr.ErrUnauthenticated
	}
	if err := s.checkReturnURL(returnURL); err != nil {
		return "", err
	}
	if authorID == v.UserID {
		return "", apperr.InvalidField("authorID", "you cannot join your own membership")
	}
	plan, err := s.Plan(ctx, authorID)
	if err != nil {
		return "", err
	}
	if plan == nil || !plan.Active {
		return "", &apperr.Error{Kind: apperr.NotFound, Field: "authorID", Message: "this user offers no membership"}
	}
	current, err := s.client.Membership.Query().Where(membership.MemberID(v.UserID), membership.AuthorID(authorID),
		authz.CurrentMembership(time.Now())).Exist(system(ctx))
	if err != nil {
		return "", err
	}
	if current {
		return "", apperr.ConflictField("authorID", "you are a member already: manage it with openBillingPortal")
	}
	customer, err := s.customer(ctx, v.UserID)
	if err != nil {
		return "", err
	}
	meta := map[string]string{"agora_member": strconv.Itoa(v.UserID), "agora_author": strconv.Itoa(authorID)}
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:          stripe.String(customer),
		ClientReferenceID: stripe.String(strconv.Itoa(v.UserID)),
		LineItems:         []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String(plan.StripePriceID), Quantity: stripe.Int64(1)}},
		SuccessURL:        stripe.String(withQuery(returnURL, "checkout", "success")),
		CancelURL:         stripe.String(withQuery(returnURL, "checkout", "cancel")),
		Metadata:          meta,
		// The subscription carries who pays whom: every later event finds its membership by it.
		SubscriptionData: &stripe.CheckoutSessionCreateSubscriptionDataParams{Metadata: meta},
	}
	// A double click within the hour opens the same session.
	params.SetIdempotencyKey(key("agora-checkout", customer, plan.StripePriceID, returnURL, time.Now().UTC().Format("2006010215")))
	sess, err := s.stripe.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return "", stripeErr("create checkout session", err)
	}
	return sess.URL, nil
}

// OpenPortal opens a Stripe customer portal session for the viewer and returns its URL.
func (s *Service) OpenPortal(ctx context.Context, returnURL string) (string, error) {
	if !s.Enabled() {
		return "", apperr.ErrPaymentsDisabled
	}
	v := auth.FromContext(ctx)
	if !v.Authenticated() {
		return "", apperr.ErrUnauthenticated
	}
	if err := s.checkReturnURL(returnURL); err != nil {
		return "", err
	}
	u, err := s.client.User.Query().Where(user.ID(v.UserID)).Select(user.FieldStripeCustomerID).Only(system(ctx))
	if err != nil {
		return "", err
	}
	if u.StripeCustomerID == nil {
		return "", apperr.NotFoundf("you have no memberships to manage")
	}
	params := &stripe.BillingPortalSessionCreateParams{Customer: u.StripeCustomerID, ReturnURL: stripe.String(returnURL)}
	params.SetIdempotencyKey(key("agora-portal", *u.StripeCustomerID, returnURL, time.Now().UTC().Format("200601021504")))
	sess, err := s.stripe.V1BillingPortalSessions.Create(ctx, params)
	if err != nil {
		return "", stripeErr("create portal session", err)
	}
	return sess.URL, nil
}

// customer is the user's Stripe customer, created at their first checkout and stored.
func (s *Service) customer(ctx context.Context, userID int) (string, error) {
	u, err := s.client.User.Query().Where(user.ID(userID)).Select(user.FieldStripeCustomerID).Only(system(ctx))
	if err != nil {
		return "", err
	}
	if u.StripeCustomerID != nil {
		return *u.StripeCustomerID, nil
	}
	params := &stripe.CustomerCreateParams{Metadata: map[string]string{"agora_user": strconv.Itoa(userID)}}
	// Two first checkouts at once make one customer.
	params.SetIdempotencyKey(fmt.Sprintf("agora-customer-%d", userID))
	c, err := s.stripe.V1Customers.Create(ctx, params)
	if err != nil {
		return "", stripeErr("create customer", err)
	}
	if _, err := s.client.User.Update().Where(user.ID(userID), user.StripeCustomerIDIsNil()).
		SetStripeCustomerID(c.ID).Save(system(ctx)); err != nil {
		return "", err
	}
	u, err = s.client.User.Query().Where(user.ID(userID)).Select(user.FieldStripeCustomerID).Only(system(ctx))
	if err != nil {
		return "", err
	}
	return *u.StripeCustomerID, nil
}

func (s *Service) checkReturnURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(raw) > 2048 {
		return apperr.InvalidField("returnURL", "want an absolute http(s) URL")
	}
	if s.returns == nil || !s.returns(u) {
		return apperr.InvalidField("returnURL", "not a page of this site's clients: its origin must be Agora's public URL or one of AGORA_ALLOWED_ORIGINS")
	}
	return nil
}

func withQuery(raw, k, v string) string {
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func key(prefix string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + "-" + hex.EncodeToString(h[:16])
}

// stripeErr reports a failed Stripe call as unavailable; Stripe's message goes to the log only.
func stripeErr(what string, err error) error {
	return &apperr.Error{Kind: apperr.Unavailable, Message: "the payment provider did not answer: try again", Err: fmt.Errorf("stripe: %s: %w", what, err)}
}
