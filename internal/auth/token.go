package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens issues and verifies signed access tokens (JWT, HS256).
type Tokens struct {
	key    []byte
	keyID  string
	issuer string
	ttl    time.Duration
	now    func() time.Time
}

// Audience of Agora's access tokens: a token minted for another service is refused.
const Audience = "agora-api"

// clockSkew tolerated when checking exp and nbf.
const clockSkew = 30 * time.Second

// NewTokens returns a Tokens signing with secret; tokens live for ttl.
func NewTokens(secret []byte, issuer string, ttl time.Duration) *Tokens {
	sum := sha256.Sum256(secret)
	return &Tokens{key: secret, keyID: hex.EncodeToString(sum[:4]), issuer: issuer, ttl: ttl, now: time.Now}
}

// claims are the registered claims only: the viewer's role and ban state are read live (see
// Middleware), so a changed role or a ban applies within seconds, not at token expiry.
type claims struct {
	jwt.RegisteredClaims
}

// Issue returns an access token for the user and when it expires.
func (t *Tokens) Issue(userID int) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   strconv.Itoa(userID),
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	tok.Header["kid"] = t.keyID
	s, err := tok.SignedString(t.key)
	return s, exp, err
}

// ErrInvalidToken is returned for any token that does not verify: the reason is not the client's business.
var ErrInvalidToken = errors.New("invalid or expired access token")

// Verify checks the token's signature (HS256 only), issuer, audience and lifetime, and returns its user ID.
func (t *Tokens) Verify(token string) (int, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return 0, ErrInvalidToken
	}
	id, err := strconv.Atoi(c.Subject)
	if err != nil || id <= 0 {
		return 0, ErrInvalidToken
	}
	return id, nil
}
