package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Identity is sign-in through identity providers: any number of OpenID Connect providers, and
// GitHub. A provider is enabled by its client ID.
type Identity struct {
	PublicURL    string         // AGORA_PUBLIC_URL: Agora's own address as browsers reach it; providers send the browser back to PUBLIC_URL/auth/callback/NAME (default http://localhost:8080; no trailing slash)
	RedirectURLs []string       // AGORA_SIGNIN_REDIRECT_URLS: comma-separated client pages a sign-in may return to, compared exactly (default none: nobody can sign in through a provider)
	OIDC         []OIDCProvider // AGORA_OIDC_PROVIDERS: comma-separated names; each NAME reads AGORA_OIDC_NAME_ISSUER, _CLIENT_ID, _CLIENT_SECRET and _DISPLAY_NAME (default none)
	GitHub       GitHub
}

// OIDCProvider is one OpenID Connect provider, found by discovery from its issuer.
type OIDCProvider struct {
	Name         string // in AGORA_OIDC_PROVIDERS, lower case: the callback's path and the API's provider name
	DisplayName  string // AGORA_OIDC_<NAME>_DISPLAY_NAME (default the name)
	Issuer       string // AGORA_OIDC_<NAME>_ISSUER: e.g. https://accounts.google.com
	ClientID     string // AGORA_OIDC_<NAME>_CLIENT_ID
	ClientSecret string // AGORA_OIDC_<NAME>_CLIENT_SECRET
}

// GitHub is sign-in with GitHub (OAuth 2 and its REST API; the base URLs change only for GitHub
// Enterprise Server, or a test).
type GitHub struct {
	ClientID     string // AGORA_GITHUB_CLIENT_ID: enables GitHub (default none)
	ClientSecret string // AGORA_GITHUB_CLIENT_SECRET
	WebURL       string // AGORA_GITHUB_URL (default https://github.com)
	APIURL       string // AGORA_GITHUB_API_URL (default https://api.github.com)
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func loadIdentity(d Identity) (Identity, []error) {
	var errs []error
	c := Identity{
		PublicURL:    strings.TrimRight(get("AGORA_PUBLIC_URL", d.PublicURL), "/"),
		RedirectURLs: list(os.Getenv("AGORA_SIGNIN_REDIRECT_URLS")),
		GitHub: GitHub{
			ClientID:     os.Getenv("AGORA_GITHUB_CLIENT_ID"),
			ClientSecret: os.Getenv("AGORA_GITHUB_CLIENT_SECRET"),
			WebURL:       strings.TrimRight(get("AGORA_GITHUB_URL", d.GitHub.WebURL), "/"),
			APIURL:       strings.TrimRight(get("AGORA_GITHUB_API_URL", d.GitHub.APIURL), "/"),
		},
	}
	for _, name := range list(os.Getenv("AGORA_OIDC_PROVIDERS")) {
		name = strings.ToLower(name)
		if !providerName.MatchString(name) || name == "github" {
			errs = append(errs, fmt.Errorf("AGORA_OIDC_PROVIDERS: %q: want names of 1-32 a-z, 0-9 and -, other than github", name))
			continue
		}
		prefix := "AGORA_OIDC_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_"
		p := OIDCProvider{Name: name, DisplayName: get(prefix+"DISPLAY_NAME", name), Issuer: os.Getenv(prefix + "ISSUER"),
			ClientID: os.Getenv(prefix + "CLIENT_ID"), ClientSecret: os.Getenv(prefix + "CLIENT_SECRET")}
		if p.Issuer == "" || p.ClientID == "" || p.ClientSecret == "" {
			errs = append(errs, fmt.Errorf("%sISSUER, %sCLIENT_ID and %sCLIENT_SECRET: provider %s needs all three", prefix, prefix, prefix, name))
		}
		c.OIDC = append(c.OIDC, p)
	}
	return c, errs
}

// validate checks the identity settings; production wants https everywhere a browser or a token goes.
func (c Identity) validate(production bool) []error {
	var errs []error
	check := func(key, s string) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%s: want an absolute http(s) URL, got %q", key, s))
		} else if production && u.Scheme != "https" {
			errs = append(errs, fmt.Errorf("%s: want https in production, got %q", key, s))
		}
	}
	if !c.Enabled() {
		return nil
	}
	check("AGORA_PUBLIC_URL", c.PublicURL)
	for _, r := range c.RedirectURLs {
		check("AGORA_SIGNIN_REDIRECT_URLS", r)
	}
	for _, p := range c.OIDC {
		check("AGORA_OIDC_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))+"_ISSUER", p.Issuer)
	}
	if g := c.GitHub; g.ClientID != "" {
		if g.ClientSecret == "" {
			errs = append(errs, errors.New("AGORA_GITHUB_CLIENT_SECRET: needed with AGORA_GITHUB_CLIENT_ID"))
		}
		check("AGORA_GITHUB_URL", g.WebURL)
		check("AGORA_GITHUB_API_URL", g.APIURL)
	}
	if len(c.RedirectURLs) == 0 {
		errs = append(errs, errors.New("AGORA_SIGNIN_REDIRECT_URLS: sign-in providers are configured but no client page to return to"))
	}
	return errs
}

// Enabled reports whether any provider is configured.
func (c Identity) Enabled() bool { return len(c.OIDC) > 0 || c.GitHub.ClientID != "" }

// String names the providers and addresses, never the secrets.
func (c Identity) String() string {
	names := make([]string, 0, len(c.OIDC)+1)
	for _, p := range c.OIDC {
		names = append(names, p.Name+"="+p.Issuer)
	}
	if c.GitHub.ClientID != "" {
		names = append(names, "github="+c.GitHub.WebURL)
	}
	return fmt.Sprintf("public_url=%s signin_providers=%q signin_redirect_urls=%q", c.PublicURL, strings.Join(names, ","), strings.Join(c.RedirectURLs, ","))
}
