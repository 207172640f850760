package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Tokens issues and verifies signed access tokens (JWT, HS256). Tokens are signed with the current
// key; previous keys still verify, so a key can be rotated without signing everyone out.
type Tokens struct {
	keyID  string            // of the current key
	keys   map[string][]byte // key ID → key: the current one and the previous ones
	issuer string
	ttl    time.Duration
	now    func() time.Time

	verified *lru.Cache[string, verifiedToken] // see verifiedToken
}

// Audience of Agora's access tokens: a token minted for another service is refused.
const Audience = "agora-api"

// clockSkew tolerated when checking exp, nbf and iat.
const clockSkew = 30 * time.Second

// NewTokens returns a Tokens signing with secret and still accepting tokens signed with any of
// previous; tokens live for ttl.
func NewTokens(secret []byte, previous [][]byte, issuer string, ttl time.Duration) *Tokens {
	verified, _ := lru.New[string, verifiedToken](maxVerified) // the size is positive
	t := &Tokens{keyID: keyID(secret), keys: map[string][]byte{}, issuer: issuer, ttl: ttl, now: time.Now,
		verified: verified}
	for _, k := range append(previous, secret) {
		t.keys[keyID(k)] = k
	}
	return t
}

// keyID names a key without revealing it: the kid header of the tokens it signs.
func keyID(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:6])
}

// claims name the user and the session only: the viewer's role, ban and session state are read live
// (see Middleware), so a role change, a ban or a revoked session applies within seconds, not at
// token expiry.
type claims struct {
	SessionID int `json:"sid"`
	jwt.RegisteredClaims
}

// Issue returns an access token for the user's session and when it expires.
func (t *Tokens) Issue(userID, sessionID int) (string, time.Time, error) {
	return t.IssueAt(userID, sessionID, t.now())
}

// IssueAt returns the access token for the user's session issued at now (to the second) and when
// it expires: the same token every time for the same arguments and key.
func (t *Tokens) IssueAt(userID, sessionID int, now time.Time) (string, time.Time, error) {
	now = now.Truncate(time.Second)
	exp := now.Add(t.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		SessionID: sessionID,
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
	s, err := tok.SignedString(t.keys[t.keyID])
	return s, exp, err
}

// Derive returns HMAC-SHA256 of label and msg under each key, the current key's first: values only
// the holder of msg and the server can compute, which a key rotation keeps computable.
func (t *Tokens) Derive(label string, msg []byte) [][]byte {
	out := [][]byte{derive(t.keys[t.keyID], label, msg)}
	for id, k := range t.keys {
		if id != t.keyID {
			out = append(out, derive(k, label, msg))
		}
	}
	return out
}

func derive(key []byte, label string, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(msg)
	return m.Sum(nil)
}

// ErrInvalidToken is returned for any token that does not verify: the reason is not the client's business.
var ErrInvalidToken = errors.New("invalid or expired access token")

// Verify checks the token's signature (HS256 only, by the key its kid names), issuer, audience and
// lifetime (exp, nbf, and iat, which must be present and not in the future), and returns its user
// and session.
func (t *Tokens) Verify(token string) (userID, sessionID int, err error) {
	now := t.now()
	if v, ok := t.verified.Get(token); ok && !now.Before(v.from) && now.Before(v.until) {
		return v.userID, v.sessionID, nil
	}
	var c claims
	_, err = jwt.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if key, ok := t.keys[kid]; ok {
			return key, nil
		}
		return nil, ErrInvalidToken
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil || c.IssuedAt == nil {
		return 0, 0, ErrInvalidToken
	}
	id, err := strconv.Atoi(c.Subject)
	if err != nil || id <= 0 || c.SessionID <= 0 {
		return 0, 0, ErrInvalidToken
	}
	// It verifies from its nbf and iat (less the clock skew) until its exp (plus the skew), as
	// jwt checks them.
	from := c.IssuedAt.Time
	if c.NotBefore != nil && c.NotBefore.After(from) {
		from = c.NotBefore.Time
	}
	t.verified.Add(strings.Clone(token), verifiedToken{userID: id, sessionID: c.SessionID,
		from: from.Add(-clockSkew), until: c.ExpiresAt.Add(clockSkew)})
	return id, c.SessionID, nil
}

// verifiedToken is a token Verify accepted, remembered under its whole text (signature included)
// with when it verifies: a client sends the same token with each request until it expires, and
// parsing and checking it again was 3% of the CPU of a signed-in posts page. The keys cannot change
// under it: they are the Tokens' own. A token that did not verify is not remembered.
type verifiedToken struct {
	userID, sessionID int
	from, until       time.Time
}

// maxVerified bounds the tokens remembered (the least recently used go first), about 1.5 MB.
const maxVerified = 4096
