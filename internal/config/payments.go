package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Payments are the Stripe settings of memberships (docs/payments.md). Without a secret key the
// payment fields answer FEATURE_DISABLED.
type Payments struct {
	SecretKey     string // STRIPE_SECRET_KEY: the platform account's secret (sk_…) or restricted (rk_…) key
	WebhookSecret string // STRIPE_WEBHOOK_SECRET: the /webhooks/stripe endpoint's signing secret (whsec_…)
	APIBase       string // STRIPE_API_BASE: Stripe's API URL (default https://api.stripe.com; stripe-mock in tests)
}

// Enabled reports whether payments are configured.
func (p Payments) Enabled() bool { return p.SecretKey != "" && p.WebhookSecret != "" }

func loadPayments(d Payments) (Payments, []error) {
	p := Payments{
		SecretKey:     os.Getenv("STRIPE_SECRET_KEY"),
		WebhookSecret: os.Getenv("STRIPE_WEBHOOK_SECRET"),
		APIBase:       strings.TrimRight(get("STRIPE_API_BASE", d.APIBase), "/"),
	}
	var errs []error
	if (p.SecretKey == "") != (p.WebhookSecret == "") {
		errs = append(errs, errors.New("STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET: set both to enable memberships, or neither"))
	}
	if u, err := url.Parse(p.APIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("STRIPE_API_BASE: want an absolute http(s) URL"))
	}
	return p, errs
}

// String prints the settings with the secrets only as set or not.
func (p Payments) String() string {
	set := func(s string) string {
		if s == "" {
			return "(unset)"
		}
		return "(set)"
	}
	return fmt.Sprintf("stripe_secret_key=%s stripe_webhook_secret=%s stripe_api_base=%s", set(p.SecretKey), set(p.WebhookSecret), p.APIBase)
}
