package billing

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/agora/agora/ent"
	"github.com/agora/agora/ent/membership"
	"github.com/agora/agora/ent/notification"
	"github.com/agora/agora/ent/stripeevent"
	"github.com/agora/agora/internal/database"
	"github.com/agora/agora/internal/jobs"
	"github.com/agora/agora/internal/notify"
)

// WebhookPath is where Stripe delivers events.
const WebhookPath = "/webhooks/stripe"

// maxEventBytes bounds a delivery: Stripe's events are a few kilobytes.
const maxEventBytes = 256 << 10

// Handler receives Stripe's webhook deliveries: a delivery whose signature (with the endpoint
// secret, within webhook.DefaultTolerance of its timestamp) does not verify is refused 400 and
// changes nothing; a verified one is stored by its event ID with a job to process it, in one
// transaction, and acknowledged. A duplicate delivery finds its event stored and is acknowledged
// without a second job.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Enabled() {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		payload, err := io.ReadAll(io.LimitReader(r.Body, maxEventBytes+1))
		if err != nil || len(payload) > maxEventBytes {
			http.Error(w, "unreadable or too large", http.StatusBadRequest)
			return
		}
		// The events' API version is the account's, not the library's: only the fields read
		// below matter, and the subscription's state is fetched with the library's version.
		ev, err := webhook.ConstructEventWithOptions(payload, r.Header.Get("Stripe-Signature"), s.secret,
			webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
		if err != nil {
			s.log.WarnContext(r.Context(), "stripe webhook refused", "reason", err.Error())
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		if err := s.receive(r.Context(), ev, payload); err != nil {
			s.log.ErrorContext(r.Context(), "stripe webhook not stored", "event", ev.ID, "error", err)
			http.Error(w, "not stored, retry", http.StatusInternalServerError) // Stripe retries
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// errDuplicate ends the transaction of a delivery whose event is stored already.
var errDuplicate = errors.New("duplicate event")

func (s *Service) receive(ctx context.Context, ev stripe.Event, payload []byte) error {
	err := database.InTx(ctx, s.client, func(ctx context.Context, tx *ent.Tx) error {
		ctx = system(ctx)
		// The event ID is unique: a duplicate delivery fails here, and its transaction rolls back.
		if err := tx.StripeEvent.Create().SetEventID(ev.ID).SetType(string(ev.Type)).SetPayload(payload).Exec(ctx); err != nil {
			if ent.IsConstraintError(err) {
				return errDuplicate
			}
			return err
		}
		return s.queue.Insert(ctx, eventArgs{EventID: ev.ID}, nil)
	})
	if errors.Is(err, errDuplicate) {
		return nil
	}
	return err
}

// eventArgs is a stored Stripe event to process.
type eventArgs struct {
	EventID string `json:"event_id"`
}

func (eventArgs) Kind() string { return "stripe_event" }

// eventWorker applies a stored event.
type eventWorker struct {
	river.WorkerDefaults[eventArgs]
	s *Service
}

// Work brings the event's membership to its subscription's current state at Stripe, whatever the
// event says: events arrive in any order, and the newest state wins. The event is marked processed
// in the transaction that completes the job, so a retried job or a duplicate never applies twice.
func (w *eventWorker) Work(ctx context.Context, job *river.Job[eventArgs]) error {
	s := w.s
	row, err := s.client.StripeEvent.Query().Where(stripeevent.EventID(job.Args.EventID)).Only(system(ctx))
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if row.ProcessedAt != nil {
		return nil
	}
	if !s.Enabled() { // a process without Stripe's key leaves it to one that has it
		return errors.New("billing: payments are not configured in this process")
	}
	subID, err := subscriptionOf(row.Type, row.Payload)
	if err != nil {
		s.log.WarnContext(ctx, "stripe event unreadable", "event", row.EventID, "type", row.Type, "error", err)
	}
	var sub *stripe.Subscription
	if subID != "" {
		params := &stripe.SubscriptionRetrieveParams{}
		params.Context = ctx
		if sub, err = s.stripe.V1Subscriptions.Retrieve(ctx, subID, params); err != nil {
			return stripeErr("retrieve subscription", err) // retried with backoff
		}
	}
	return jobs.Complete(ctx, s.client, job, func(ctx context.Context) error {
		tx := ent.TxFromContext(ctx)
		ctx = system(ctx)
		if sub != nil {
			if err := s.apply(ctx, tx, sub); err != nil {
				return err
			}
		}
		return tx.StripeEvent.UpdateOneID(row.ID).SetProcessedAt(time.Now().UTC()).Exec(ctx)
	})
}

// subscriptionOf is the subscription an event is about, "" for events that are about none.
func subscriptionOf(typ string, payload []byte) (string, error) {
	var ev stripe.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "", err
	}
	if ev.Data == nil {
		return "", nil
	}
	raw := ev.Data.Raw
	switch typ {
	case "checkout.session.completed":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(raw, &cs); err != nil {
			return "", err
		}
		if cs.Mode != stripe.CheckoutSessionModeSubscription || cs.Subscription == nil {
			return "", nil
		}
		return cs.Subscription.ID, nil
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
		var sub stripe.Subscription
		if err := json.Unmarshal(raw, &sub); err != nil {
			return "", err
		}
		return sub.ID, nil
	case "invoice.paid", "invoice.payment_failed":
		var inv stripe.Invoice
		if err := json.Unmarshal(raw, &inv); err != nil {
			return "", err
		}
		if inv.Parent != nil && inv.Parent.SubscriptionDetails != nil && inv.Parent.SubscriptionDetails.Subscription != nil {
			return inv.Parent.SubscriptionDetails.Subscription.ID, nil
		}
		return "", nil
	}
	return "", nil
}

// status maps Stripe's subscription status to the membership's.
func status(s stripe.SubscriptionStatus) membership.Status {
	switch s {
	case stripe.SubscriptionStatusActive, stripe.SubscriptionStatusTrialing:
		return membership.StatusACTIVE
	case stripe.SubscriptionStatusPastDue, stripe.SubscriptionStatusUnpaid:
		return membership.StatusPAST_DUE
	case stripe.SubscriptionStatusCanceled, stripe.SubscriptionStatusIncompleteExpired:
		return membership.StatusCANCELED
	default: // incomplete, paused
		return membership.StatusINCOMPLETE
	}
}

// apply writes sub's state to its membership, and notifies the author of a new member.
func (s *Service) apply(ctx context.Context, tx *ent.Tx, sub *stripe.Subscription) error {
	member, _ := strconv.Atoi(sub.Metadata["agora_member"])
	author, _ := strconv.Atoi(sub.Metadata["agora_author"])
	var periodEnd *time.Time
	if sub.Items != nil {
		for _, it := range sub.Items.Data {
			if it.CurrentPeriodEnd > 0 {
				t := time.Unix(it.CurrentPeriodEnd, 0).UTC()
				if periodEnd == nil || t.After(*periodEnd) {
					periodEnd = &t
				}
			}
		}
	}
	st := status(sub.Status)
	old, err := tx.Membership.Query().Where(membership.StripeSubscriptionID(sub.ID)).Only(ctx)
	if ent.IsNotFound(err) && member != 0 && author != 0 {
		old, err = tx.Membership.Query().Where(membership.MemberID(member), membership.AuthorID(author)).Only(ctx)
		if err == nil && st == membership.StatusCANCELED && old.Status != membership.StatusCANCELED {
			return nil // a late event of an older subscription the member replaced
		}
	}
	switch {
	case ent.IsNotFound(err):
		if member == 0 || author == 0 {
			s.log.WarnContext(ctx, "stripe subscription of no membership", "subscription", sub.ID)
			return nil
		}
		err = tx.Membership.Create().SetMemberID(member).SetAuthorID(author).SetStatus(st).
			SetNillableCurrentPeriodEnd(periodEnd).SetCancelAtPeriodEnd(sub.CancelAtPeriodEnd).
			SetStripeSubscriptionID(sub.ID).SetStripeUpdatedAt(time.Now().UTC()).Exec(ctx)
		if ent.IsConstraintError(err) {
			s.log.WarnContext(ctx, "stripe subscription names unknown users", "subscription", sub.ID)
			return nil
		}
		if err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if err := tx.Membership.UpdateOne(old).SetStatus(st).SetNillableCurrentPeriodEnd(periodEnd).
			SetCancelAtPeriodEnd(sub.CancelAtPeriodEnd).SetStripeSubscriptionID(sub.ID).
			SetStripeUpdatedAt(time.Now().UTC()).Exec(ctx); err != nil {
			return err
		}
		member, author = old.MemberID, old.AuthorID
	}
	joined := st == membership.StatusACTIVE && (old == nil || old.Status == membership.StatusINCOMPLETE || old.Status == membership.StatusCANCELED)
	if joined && s.notices != nil {
		return s.notices.Notify(ctx, notify.Notice{Kind: notification.KindNEW_MEMBER, Recipient: author, Actor: member})
	}
	return nil
}
