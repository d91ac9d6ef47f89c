package inbound

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// memOnce is an in-test OnceRecorder; the storage suite tests the real one.
type memOnce struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *memOnce) UseOnce(_ context.Context, kind, issuer, id string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := kind + "\x00" + issuer + "\x00" + id
	if m.seen[k] {
		return fmt.Errorf("wrapped: %w", storage.ErrAlreadyUsed)
	}
	m.seen[k] = true
	return nil
}

var now = time.Unix(1_800_000_000, 0).UTC()

func sign(t *testing.T, key crypto.Signer, alg jose.SignatureAlgorithm, hdr map[jose.HeaderKey]any, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range hdr {
		opts = opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var payload []byte
	switch c := claims.(type) {
	case string:
		payload = []byte(c)
	default:
		payload, _ = json.Marshal(c)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func raw(header string, payload string, sig string) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(header)) + "." + e([]byte(payload)) + "." + e([]byte(sig))
}

func TestVerifyRules(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	keys := []config.PublicKey{
		{KID: "ec", Alg: config.AlgES256, Key: &ecKey.PublicKey},
		{KID: "rsa", Alg: config.AlgRS256, Key: &rsaKey.PublicKey},
		{Alg: config.AlgEdDSA, Key: edKey.Public()},
	}
	rules := Rules{Kind: "test", Audiences: []string{"https://as.test"}, RequireJTI: true, RequireIssuedAt: true, MaxLifetime: 5 * time.Minute, Leeway: 30 * time.Second}
	claims := func(mut func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "c", "sub": "c", "aud": "https://as.test", "jti": "j", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if mut != nil {
			mut(c)
		}
		return c
	}
	kid := func(k string) map[jose.HeaderKey]any { return map[jose.HeaderKey]any{"kid": k} }
	good := claims(nil)
	goodJSON, _ := json.Marshal(good)
	// The HMAC attack: HS256 keyed with the DER of the RSA public key.
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: rsaDER}, nil)
	hsJWS, _ := hs.Sign(goodJSON)
	hsToken, _ := hsJWS.CompactSerialize()
	tests := []struct {
		name  string
		token string
		want  error // nil = accepted
	}{
		{"ES256 with kid", sign(t, ecKey, jose.ES256, kid("ec"), good), nil},
		{"RS256 without kid", sign(t, rsaKey, jose.RS256, nil, good), nil},
		{"EdDSA without kid", sign(t, edKey, jose.EdDSA, nil, good), nil},
		{"alg none", raw(`{"alg":"none"}`, string(goodJSON), ""), ErrInvalid},
		{"alg None", raw(`{"alg":"None"}`, string(goodJSON), ""), ErrInvalid},
		{"HS256 keyed by the RSA public key", hsToken, ErrInvalid},
		{"RS256 by another key", sign(t, otherEC, jose.ES256, kid("ec"), good), ErrInvalid},
		{"kid of another alg", sign(t, ecKey, jose.ES256, kid("rsa"), good), ErrInvalid},
		{"unknown kid", sign(t, ecKey, jose.ES256, kid("nope"), good), ErrInvalid},
		{"over-long kid", sign(t, ecKey, jose.ES256, kid(strings.Repeat("k", 200)), good), ErrInvalid},
		{"jku header", sign(t, ecKey, jose.ES256, map[jose.HeaderKey]any{"jku": "https://evil.test"}, good), ErrInvalid},
		{"x5u header", sign(t, ecKey, jose.ES256, map[jose.HeaderKey]any{"x5u": "https://evil.test"}, good), ErrInvalid},
		{"crit header", sign(t, ecKey, jose.ES256, map[jose.HeaderKey]any{"crit": []string{"exp"}}, good), ErrInvalid},
		{"expired", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) {
			c["iat"] = now.Add(-3 * time.Minute).Unix()
			c["exp"] = now.Add(-time.Minute).Unix()
		})), ErrInvalid},
		{"expired within leeway", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) {
			c["jti"] = "j2"
			c["iat"] = now.Add(-time.Minute).Unix()
			c["exp"] = now.Add(-10 * time.Second).Unix()
		})), nil},
		{"not yet valid", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() })), ErrInvalid},
		{"iat in the future", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) {
			c["iat"] = now.Add(2 * time.Minute).Unix()
			c["exp"] = now.Add(3 * time.Minute).Unix()
		})), ErrInvalid},
		{"lifetime over the maximum", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() })), ErrInvalid},
		{"missing exp", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) { delete(c, "exp") })), ErrInvalid},
		{"missing iat", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) { delete(c, "iat") })), ErrInvalid},
		{"missing jti", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) { delete(c, "jti") })), ErrInvalid},
		{"wrong audience", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) { c["aud"] = []string{"https://other.test"} })), ErrInvalid},
		{"duplicate claim", sign(t, ecKey, jose.ES256, nil, `{"iss":"c","iss":"d","exp":1800000060,"iat":1800000000,"jti":"x"}`), ErrInvalid},
		{"payload altered after signing", alter(sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) { c["jti"] = "alt" }))), ErrInvalid},
		{"oversized token", sign(t, ecKey, jose.ES256, nil, claims(func(c map[string]any) { c["pad"] = strings.Repeat("x", DefaultMaxSize) })), ErrInvalid},
		{"not a JWS", "abc.def", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Parse(tc.token, 0)
			if err == nil {
				err = verifyAndConsume(tok, keys, "c", rules, &memOnce{seen: map[string]bool{}})
			}
			if tc.want == nil && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v; want %v", err, tc.want)
			}
		})
	}
}

func alter(token string) string {
	parts := strings.Split(token, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), `"sub":"c"`, `"sub":"d"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func TestVerifyReplay(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []config.PublicKey{{Alg: config.AlgES256, Key: &key.PublicKey}}
	tok := sign(t, key, jose.ES256, nil, map[string]any{"jti": "once", "exp": now.Add(time.Minute).Unix()})
	once := &memOnce{seen: map[string]bool{}}
	verify := func(issuer string) error {
		p, err := Parse(tok, 0)
		if err != nil {
			t.Fatal(err)
		}
		return verifyAndConsume(p, keys, issuer, Rules{Kind: "k"}, once)
	}
	if err := verify("a"); err != nil {
		t.Fatal(err)
	}
	if err := verify("a"); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v; want ErrReplayed", err)
	}
	if err := verify("b"); err != nil {
		t.Fatalf("same jti for another issuer: %v", err)
	}
}

// FuzzParse feeds arbitrary input to the parser that runs before any
// signature check: it must never panic, must respect the size cap, and
// every refusal's Reason is one of our sentences without library text.
func FuzzParse(f *testing.F) {
	f.Add(raw(`{"alg":"ES256"}`, `{"iss":"a","exp":1}`, "sig"))
	f.Add(raw(`{"alg":"none"}`, `{}`, ""))
	f.Add(raw(`{"alg":"ES256","alg":"HS256"}`, `{}`, ""))
	f.Add(raw(`{"alg":"RS256","kid":1}`, `{"aud":[1,2]}`, ""))
	f.Add(raw(`{"alg":"EdDSA"}`, `{"exp":1e300,"iat":-1}`, ""))
	f.Add("a.b.c")
	f.Add("")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []config.PublicKey{{KID: "ec", Alg: config.AlgES256, Key: &key.PublicKey}}
	f.Add(raw(`{"alg":"ES256","kid":"ec"}`, `{"exp":1800000030}`, "sig"))
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := Parse(token, 4096)
		if err == nil {
			// The signature and claim checks' refusals must be as clean.
			if err := tok.Verify(keys, Rules{Kind: "k", Audiences: []string{"https://as.test"}, MaxLifetime: time.Minute}, now); err != nil {
				checkReason(t, err)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not wrapping ErrInvalid: %v", err)
			}
			checkReason(t, err)
			return
		}
		if len(token) > 4096 {
			t.Fatal("accepted a token over the size cap")
		}
		if tok.Header.Alg != "ES256" && tok.Header.Alg != "RS256" && tok.Header.Alg != "EdDSA" {
			t.Fatalf("accepted alg %q", tok.Header.Alg)
		}
	})
}

func verifyAndConsume(tok *Token, keys []config.PublicKey, issuer string, rules Rules, once OnceRecorder) error {
	if err := tok.Verify(keys, rules, now); err != nil {
		return err
	}
	return tok.Consume(context.Background(), issuer, rules, once)
}
