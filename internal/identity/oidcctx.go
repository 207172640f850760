package identity

import (
	"context"
	"net/http"

	"github.com/coreos/go-oidc/v3/oidc"
)

// oidcClientContext makes go-oidc's discovery and key fetches use c.
func oidcClientContext(ctx context.Context, c *http.Client) context.Context {
	return oidc.ClientContext(ctx, c)
}
