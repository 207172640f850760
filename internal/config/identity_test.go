package config

import (
	"strings"
	"testing"
)

// TestIdentityConfig: providers are read from their variables, and each mistake is refused naming
// its variable.
func TestIdentityConfig(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	t.Setenv("AGORA_OIDC_PROVIDERS", "keycloak, Corp-SSO")
	t.Setenv("AGORA_OIDC_KEYCLOAK_ISSUER", "https://sso.example.com/realms/main")
	t.Setenv("AGORA_OIDC_KEYCLOAK_CLIENT_ID", "agora")
	t.Setenv("AGORA_OIDC_KEYCLOAK_CLIENT_SECRET", "kc-secret")
	t.Setenv("AGORA_OIDC_CORP_SSO_ISSUER", "https://corp.example.com")
	t.Setenv("AGORA_OIDC_CORP_SSO_CLIENT_ID", "agora")
	t.Setenv("AGORA_OIDC_CORP_SSO_CLIENT_SECRET", "corp-secret")
	t.Setenv("AGORA_OIDC_CORP_SSO_DISPLAY_NAME", "Corp")
	t.Setenv("AGORA_GITHUB_CLIENT_ID", "gh")
	t.Setenv("AGORA_GITHUB_CLIENT_SECRET", "gh-secret")
	t.Setenv("AGORA_SIGNIN_REDIRECT_URLS", "http://localhost:5173/signed-in")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	id := c.Identity
	if len(id.OIDC) != 2 || id.OIDC[0] != (OIDCProvider{Name: "keycloak", DisplayName: "keycloak", Issuer: "https://sso.example.com/realms/main", ClientID: "agora", ClientSecret: "kc-secret"}) ||
		id.OIDC[1].Name != "corp-sso" || id.OIDC[1].DisplayName != "Corp" || id.GitHub.WebURL != "https://github.com" || !id.Enabled() {
		t.Fatalf("read %+v", id)
	}
	if s := c.String(); strings.Contains(s, "kc-secret") || strings.Contains(s, "gh-secret") || !strings.Contains(s, "keycloak=https://sso.example.com") {
		t.Fatalf("the printed configuration shows a client secret: %s", s)
	}

	for _, c := range []struct{ key, value, want string }{
		{"AGORA_OIDC_KEYCLOAK_CLIENT_SECRET", "", "AGORA_OIDC_KEYCLOAK_CLIENT_SECRET"},
		{"AGORA_OIDC_PROVIDERS", "github", "AGORA_OIDC_PROVIDERS"},
		{"AGORA_OIDC_KEYCLOAK_ISSUER", "sso.example.com", "AGORA_OIDC_KEYCLOAK_ISSUER"},
		{"AGORA_SIGNIN_REDIRECT_URLS", "", "AGORA_SIGNIN_REDIRECT_URLS"},
		{"AGORA_GITHUB_CLIENT_SECRET", "", "AGORA_GITHUB_CLIENT_SECRET"},
		{"AGORA_PUBLIC_URL", "not a url", "AGORA_PUBLIC_URL"},
	} {
		t.Run(c.key, func(t *testing.T) {
			t.Setenv(c.key, c.value)
			if _, err := Load(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s=%q: %v", c.key, c.value, err)
			}
		})
	}
	// Production wants https for the callback and the client pages.
	t.Setenv("AGORA_ENV", "production")
	t.Setenv("AGORA_JWT_SECRET", strings.Repeat("k", 32))
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "AGORA_PUBLIC_URL: want https") || !strings.Contains(err.Error(), "AGORA_SIGNIN_REDIRECT_URLS: want https") {
		t.Fatalf("production over http: %v", err)
	}
}
