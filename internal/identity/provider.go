package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ProviderConfig is one OpenID Connect provider (bound from the configuration).
type ProviderConfig struct {
	Name, DisplayName, Issuer, ClientID, ClientSecret string
}

// GitHubConfig is sign-in with GitHub; WebURL and APIURL change for GitHub Enterprise Server.
type GitHubConfig struct {
	ClientID, ClientSecret, WebURL, APIURL string
}

// claims is who the provider says signed in.
type claims struct {
	Subject       string // stable at that provider
	Email         string // lower case; empty when the provider vouches for none
	EmailVerified bool
	Username      string // a suggestion for a new account's username
	Name          string
}

// provider is one configured identity provider.
type provider struct {
	name, display string
	oauth         oauth2.Config // Endpoint filled by discovery for OIDC
	github        *GitHubConfig // nil for OIDC

	issuer   string
	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier // nil until discovery succeeded
}

// ready discovers an OIDC provider's endpoints and keys on first use, and again after a failure,
// so that a provider that is down at start-up does not keep Agora from starting.
func (p *provider) ready(ctx context.Context) error {
	if p.github != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.verifier != nil {
		return nil
	}
	d, err := oidc.NewProvider(ctx, p.issuer)
	if err != nil {
		return fmt.Errorf("discovery of %s: %w", p.issuer, err)
	}
	p.oauth.Endpoint = d.Endpoint()
	// The verifier checks the signature against the provider's JWKS (fetched, and re-fetched for an
	// unknown key, with the client discovery used), the issuer, the audience (our client ID) and expiry.
	p.verifier = d.Verifier(&oidc.Config{ClientID: p.oauth.ClientID})
	return nil
}

func (p *provider) authCodeURL(state, nonce, verifier string) string {
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if p.github == nil {
		opts = append(opts, oidc.Nonce(nonce))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.oauth.AuthCodeURL(state, opts...)
}

// Refusals of a provider's answer, each with its reason.
var (
	errTokenInvalid = errors.New("the provider's ID token failed verification")
	errNoEmail      = errors.New("no verified email address")
)

// identify trades code for tokens and returns who signed in: from the verified ID token (OIDC), or
// from GitHub's API.
func (p *provider) identify(ctx context.Context, code, verifier, nonce string) (claims, error) {
	p.mu.Lock()
	// The Config itself, not a copy: it remembers which way the token endpoint takes the
	// client's secret once it has found out.
	conf, idv := &p.oauth, p.verifier
	p.mu.Unlock()
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return claims{}, err
	}
	if p.github != nil {
		return p.githubUser(ctx, conf.Client(ctx, tok))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return claims{}, fmt.Errorf("%w: no id_token in the token response", errTokenInvalid)
	}
	idt, err := idv.Verify(ctx, raw)
	if err != nil {
		return claims{}, fmt.Errorf("%w: %v", errTokenInvalid, err)
	}
	if idt.Nonce != nonce {
		return claims{}, fmt.Errorf("%w: nonce does not match this sign-in", errTokenInvalid)
	}
	var c struct {
		Email             string `json:"email"`
		EmailVerified     *bool  `json:"email_verified"`
		PreferredUsername string `json:"preferred_username"`
		Nickname          string `json:"nickname"`
		Name              string `json:"name"`
	}
	if err := idt.Claims(&c); err != nil {
		return claims{}, fmt.Errorf("%w: %v", errTokenInvalid, err)
	}
	out := claims{Subject: idt.Subject, Email: strings.ToLower(strings.TrimSpace(c.Email)), Username: c.PreferredUsername, Name: c.Name}
	// Only an explicit email_verified=true is taken as the provider vouching for the address.
	out.EmailVerified = c.EmailVerified != nil && *c.EmailVerified && out.Email != ""
	if out.Username == "" {
		out.Username = c.Nickname
	}
	if out.Subject == "" {
		return claims{}, fmt.Errorf("%w: no subject", errTokenInvalid)
	}
	return out, nil
}

// githubUser reads the account behind a GitHub token: GET /user, and GET /user/emails for its
// primary address, taken only when GitHub has verified it.
func (p *provider) githubUser(ctx context.Context, c *http.Client) (claims, error) {
	var u struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if err := githubGet(ctx, c, p.github.APIURL+"/user", &u); err != nil {
		return claims{}, err
	}
	if u.ID == 0 {
		return claims{}, fmt.Errorf("%w: GitHub's /user has no id", errTokenInvalid)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := githubGet(ctx, c, p.github.APIURL+"/user/emails", &emails); err != nil {
		return claims{}, err
	}
	out := claims{Subject: strconv.FormatInt(u.ID, 10), Username: u.Login, Name: u.Name}
	for _, e := range emails {
		if e.Primary && e.Verified {
			out.Email, out.EmailVerified = strings.ToLower(strings.TrimSpace(e.Email)), true
		}
	}
	return out, nil
}

// errUpstream is a provider's API answering with an error status: it is down or refuses us.
type errUpstream struct{ status int }

func (e errUpstream) Error() string { return "provider answered HTTP " + strconv.Itoa(e.status) }

func githubGet(ctx context.Context, c *http.Client, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return errUpstream{res.StatusCode}
	}
	return json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(out)
}
