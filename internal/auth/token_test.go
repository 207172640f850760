package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The tests' key and clock.
var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
)

// tokensAt signs with testSecret, for tokens of 15 minutes, at now.
func tokensAt(now time.Time) *Tokens {
	t := NewTokens(testSecret, nil, "agora", 15*time.Minute)
	t.now = func() time.Time { return now }
	return t
}

func TestTokens(t *testing.T) {
	secret, now := testSecret, testNow
	issuer := tokensAt(now)
	tok, exp, err := issuer.Issue(42, 7)
	if err != nil || !exp.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("Issue: exp %v err %v", exp, err)
	}

	at := func(d time.Duration) *Tokens {
		v := NewTokens(secret, nil, "agora", time.Minute)
		v.now = func() time.Time { return now.Add(d) }
		return v
	}
	if id, sid, err := at(0).Verify(tok); err != nil || id != 42 || sid != 7 {
		t.Fatalf("Verify: %d %d %v", id, sid, err)
	}
	if _, _, err := at(15*time.Minute + 20*time.Second).Verify(tok); err != nil {
		t.Fatalf("within the clock skew after expiry: %v", err)
	}
	if _, _, err := at(16 * time.Minute).Verify(tok); err == nil {
		t.Fatal("expired token verified")
	}
	if _, _, err := at(-time.Minute).Verify(tok); err == nil {
		t.Fatal("token verified before its nbf")
	}
	other := NewTokens([]byte("another-secret-another-secret-!!"), nil, "agora", time.Minute)
	other.now = issuer.now
	if _, _, err := other.Verify(tok); err == nil {
		t.Fatal("token verified with another key")
	}
	wrongIssuer := NewTokens(secret, nil, "someone-else", time.Minute)
	wrongIssuer.now = issuer.now
	if _, _, err := wrongIssuer.Verify(tok); err == nil {
		t.Fatal("token verified for another issuer")
	}

	// Same key, other algorithm or audience: refused.
	forge := func(method jwt.SigningMethod, key any, aud string) string {
		tok := jwt.NewWithClaims(method, claims{SessionID: 7, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "agora", Subject: "42", Audience: jwt.ClaimStrings{aud}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}})
		tok.Header["kid"] = keyID(secret)
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for name, s := range map[string]string{
		"HS512":          forge(jwt.SigningMethodHS512, secret, Audience),
		"none":           forge(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, Audience),
		"other audience": forge(jwt.SigningMethodHS256, secret, "another-api"),
	} {
		if _, _, err := at(0).Verify(s); err == nil {
			t.Errorf("%s token verified", name)
		}
	}
}

// TestTokenIssuedAt: a token issued in the future (beyond the clock skew), or that does not say
// when it was issued, is refused, however valid otherwise.
func TestTokenIssuedAt(t *testing.T) {
	secret, now := testSecret, testNow
	tokens := tokensAt(now)
	sign := func(iat *jwt.NumericDate) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{SessionID: 7, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "agora", Subject: "42", Audience: jwt.ClaimStrings{Audience}, IssuedAt: iat,
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}})
		tok.Header["kid"] = keyID(secret)
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		iat  *jwt.NumericDate
		ok   bool
	}{
		{"issued a minute ago", jwt.NewNumericDate(now.Add(-time.Minute)), true},
		{"issued within the clock skew ahead", jwt.NewNumericDate(now.Add(20 * time.Second)), true},
		{"issued an hour ahead", jwt.NewNumericDate(now.Add(time.Hour)), false},
		{"issued a year ahead", jwt.NewNumericDate(now.AddDate(1, 0, 0)), false},
		{"without iat", nil, false},
	} {
		if _, _, err := tokens.Verify(sign(tc.iat)); (err == nil) != tc.ok {
			t.Errorf("%s: verified %v, want %v", tc.name, err == nil, tc.ok)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	old := []byte("the-old-key-the-old-key-the-old-key")
	cur := []byte("the-new-key-the-new-key-the-new-key")
	oldTok, _, _ := NewTokens(old, nil, "agora", time.Minute).Issue(1, 1)
	rotated := NewTokens(cur, [][]byte{old}, "agora", time.Minute)
	newTok, _, _ := rotated.Issue(2, 2)
	if id, _, err := rotated.Verify(oldTok); err != nil || id != 1 {
		t.Fatalf("a token of the previous key no longer verifies during rotation: %d %v", id, err)
	}
	if id, _, err := rotated.Verify(newTok); err != nil || id != 2 {
		t.Fatalf("a token of the current key: %d %v", id, err)
	}
	if _, _, err := NewTokens(cur, nil, "agora", time.Minute).Verify(oldTok); err == nil {
		t.Fatal("a token of a retired key still verifies")
	}
}

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	if ok, err := CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "correct horsE"); ok {
		t.Fatal("wrong password accepted")
	}
	if _, err := CheckPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Fatal("malformed hash accepted")
	}
}

// TestVerifiedTokens: a token Verify accepted once is remembered only for as long as it verifies,
// and only under its exact text.
func TestVerifiedTokens(t *testing.T) {
	now := testNow
	tokens := tokensAt(now)
	tok, _, err := tokens.Issue(42, 7)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) error {
		tokens.now = func() time.Time { return now.Add(d) }
		id, sid, err := tokens.Verify(tok)
		if err == nil && (id != 42 || sid != 7) {
			t.Errorf("at %v: user %d, session %d", d, id, sid)
		}
		return err
	}
	if err := at(0); err != nil {
		t.Fatal(err)
	}
	if _, ok := tokens.verified.Peek(tok); !ok {
		t.Fatal("a verified token is not remembered")
	}
	for _, tc := range []struct {
		at time.Duration
		ok bool
	}{
		{time.Minute, true},
		{15*time.Minute + 20*time.Second, true}, // within the clock skew after expiry
		{16 * time.Minute, false},
		{-time.Minute, false}, // before its nbf
		{0, true},
	} {
		if err := at(tc.at); (err == nil) != tc.ok {
			t.Errorf("remembered token at %v: verified %v, want %v", tc.at, err == nil, tc.ok)
		}
	}

	// The same claims under another signature are not the remembered token.
	parts := strings.Split(tok, ".")
	sig := []byte(parts[2])
	sig[0] ^= 1
	if _, _, err := tokens.Verify(parts[0] + "." + parts[1] + "." + string(sig)); err == nil {
		t.Error("a token with an altered signature verified")
	}
	if n := tokens.verified.Len(); n != 1 {
		t.Errorf("%d tokens remembered, want 1", n)
	}
}
