package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func (f *fixture) assertionForm(token string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {token},
	}
}

func (f *fixture) claims(jti string, mutate func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": "jwt-client", "sub": "jwt-client", "aud": f.url("/oauth2/token"),
		"jti": jti, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
	if mutate != nil {
		mutate(c)
	}
	return c
}

// unsigned builds a token with the given header and claims and a fake signature.
func unsigned(header string, claims map[string]any, sig []byte) string {
	b, _ := jsonMarshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestPrivateKeyJWT(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ok := assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-ok", nil))
	resp, m := f.post("/oauth2/token", f.assertionForm(ok), "", "")
	if resp.StatusCode != http.StatusOK || m["access_token"] == nil {
		t.Fatalf("a valid assertion: %d %v", resp.StatusCode, m)
	}
	// The issuer is accepted as aud too (openid-client sends it), and kid is optional.
	issAud := assertion(t, f.clientKey, jose.ES256, "", f.claims("jti-iss", func(c map[string]any) { c["aud"] = []string{f.snap.Issuer} }))
	if resp, m := f.post("/oauth2/token", f.assertionForm(issAud), "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("aud = issuer: %d %v", resp.StatusCode, m)
	}

	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(f.clientKey.Public())
	bad := map[string]string{
		"replayed assertion":              ok,
		"assertion for another audience":  assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-aud", func(c map[string]any) { c["aud"] = "https://elsewhere.test/token" })),
		"no audience":                     assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-noaud", func(c map[string]any) { delete(c, "aud") })),
		"alg none":                        unsigned(`{"alg":"none","typ":"JWT"}`, f.claims("jti-none", nil), nil),
		"alg None":                        unsigned(`{"alg":"None"}`, f.claims("jti-None", nil), nil),
		"HS256 keyed with the public key": hs256(t, pubDER, f.claims("jti-hs", nil)),
		"signed by another key":           assertion(t, otherKey, jose.ES256, "c1", f.claims("jti-other", nil)),
		"unknown kid":                     assertion(t, f.clientKey, jose.ES256, "c9", f.claims("jti-kid", nil)),
		"expired": assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-exp", func(c map[string]any) {
			c["iat"] = time.Now().Add(-10 * time.Minute).Unix()
			c["exp"] = time.Now().Add(-5 * time.Minute).Unix()
		})),
		"lifetime over 5 minutes": assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-long", func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() })),
		"iat in the future": assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-future", func(c map[string]any) {
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
			c["exp"] = time.Now().Add(11 * time.Minute).Unix()
		})),
		"no jti":                    assertion(t, f.clientKey, jose.ES256, "c1", f.claims("", func(c map[string]any) { delete(c, "jti") })),
		"sub is not the client":     assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-sub", func(c map[string]any) { c["sub"] = "svc" })),
		"issuer of a secret client": assertion(t, f.clientKey, jose.ES256, "c1", f.claims("jti-svc", func(c map[string]any) { c["iss"], c["sub"] = "svc", "svc" })),
		"jku header":                unsigned(`{"alg":"ES256","jku":"https://evil.test/jwks"}`, f.claims("jti-jku", nil), make([]byte, 64)),
		"not a JWT":                 "not-a-jwt",
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			resp, m := f.post("/oauth2/token", f.assertionForm(tok), "", "")
			if resp.StatusCode != http.StatusUnauthorized || m["error"] != "invalid_client" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("got %d %v; want 401 invalid_client with WWW-Authenticate", resp.StatusCode, m)
			}
		})
	}
}

// A rejected assertion (wrong audience) must not burn its jti: fosite's own
// strategy records the jti before checking aud.
func TestRejectedAssertionDoesNotBurnJTI(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	wrong := assertion(t, f.clientKey, jose.ES256, "c1", f.claims("same-jti", func(c map[string]any) { c["aud"] = "https://elsewhere.test" }))
	if resp, _ := f.post("/oauth2/token", f.assertionForm(wrong), "", ""); resp.StatusCode != 401 {
		t.Fatalf("wrong aud: %d", resp.StatusCode)
	}
	right := assertion(t, f.clientKey, jose.ES256, "c1", f.claims("same-jti", nil))
	if resp, m := f.post("/oauth2/token", f.assertionForm(right), "", ""); resp.StatusCode != 200 {
		t.Fatalf("the same jti with the right aud: %d %v", resp.StatusCode, m)
	}
}

func TestConcurrentAssertionReplay(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := assertion(t, f.clientKey, jose.ES256, "c1", f.claims("race", nil))
	const n = 10
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := f.post("/oauth2/token", f.assertionForm(tok), "", "")
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	won := 0
	for c := range codes {
		switch c {
		case 200:
			won++
		case 401:
		default:
			t.Errorf("status %d; want 200 or 401", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent uses of one assertion succeeded; want exactly 1", won, n)
	}
}
