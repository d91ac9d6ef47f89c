package inbound_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/inbound"
	"github.com/latchkey/latchkey/sdk/servicetoken"
	"github.com/latchkey/latchkey/storage/storagetest"
)

var stNow = time.Unix(1_800_000_000, 0).UTC()

// credSnapshot declares one API credential, cred_a, with its ES256 key and
// a few scopes.
func credSnapshot(t testing.TB) (*config.Snapshot, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sk, _ := config.GenerateKey(config.AlgES256)
	skPEM, _ := config.EncodePrivateKeyPEM(sk)
	pub, _ := config.EncodePublicKeyPEM(&key.PublicKey)
	one := func(b []byte) string { return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", `\n`) }
	yaml := fmt.Sprintf(`
issuer: https://as.test
signing_keys: [{kid: k1, alg: ES256, pem: "%s"}]
tokens: {leeway: 30s}
realms: [{id: rl_a, name: A}]
clients: [{id: backend, realm: rl_a, auth_method: none, grant_types: [password], scopes: [x]}]
api_credentials:
  - {id: cred_a, realm: rl_a, public_keys: [{alg: ES256, pem: "%s"}], client: backend,
     scopes: [users.create, users.retrieve, credentials.force]}
`, one(skPEM), one(pub))
	snap, err := config.Parse("cred.yaml", []byte(yaml), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return snap, key
}

// signClaims signs arbitrary claims with an arbitrary algorithm and header.
func signClaims(t *testing.T, key any, alg jose.SignatureAlgorithm, typ string, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func stClaims(mutate func(map[string]any)) map[string]any {
	c := map[string]any{"client_id": "cred_a", "type": "users.create", "nonce": "n0nce0000000000a", "iat": stNow.Unix()}
	if mutate != nil {
		mutate(c)
	}
	return c
}

// Each rule broken by exactly one token.
func TestServiceTokenRules(t *testing.T) {
	snap, key := credSnapshot(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := json.Marshal(key.PublicKey.X.Bytes()) // any bytes as an HMAC secret
	good := func(mutate func(map[string]any)) string {
		return signClaims(t, key, jose.ES256, "JWT", stClaims(mutate))
	}
	cases := []struct {
		name   string
		token  string
		header string // X-Client-ID
		want   error  // nil: accepted
	}{
		{"the SDK's token", mustSign(t, key, []string{"users.create"}, servicetoken.Options{Username: "alice", Now: func() time.Time { return stNow }}), "", nil},
		{"good, X-Client-ID repeats the credential", good(nil), "cred_a", nil},
		{"scope instead of type", good(func(c map[string]any) { delete(c, "type"); c["scope"] = "users.create users.retrieve" }), "", nil},
		{"force_add alias", good(func(c map[string]any) { c["type"] = "credentials.force_add" }), "", nil},
		{"iat just inside the leeway in the future", good(func(c map[string]any) { c["iat"] = stNow.Add(20 * time.Second).Unix() }), "", nil},
		{"RS256", signClaims(t, rsaKey, jose.RS256, "JWT", stClaims(nil)), "", inbound.ErrInvalid},
		{"HS256 with a public key as secret", signClaims(t, pubDER, jose.HS256, "JWT", stClaims(nil)), "", inbound.ErrInvalid},
		{"unknown credential", good(func(c map[string]any) { c["client_id"] = "cred_x" }), "", inbound.ErrInvalid},
		{"no client_id", good(func(c map[string]any) { delete(c, "client_id") }), "", inbound.ErrInvalid},
		{"signed by another key", signClaims(t, other, jose.ES256, "JWT", stClaims(nil)), "", inbound.ErrInvalid},
		{"iat 6 minutes old", good(func(c map[string]any) { c["iat"] = stNow.Add(-6 * time.Minute).Unix() }), "", inbound.ErrInvalid},
		{"iat in the future", good(func(c map[string]any) { c["iat"] = stNow.Add(2 * time.Minute).Unix() }), "", inbound.ErrInvalid},
		{"no iat", good(func(c map[string]any) { delete(c, "iat") }), "", inbound.ErrInvalid},
		{"exp past", good(func(c map[string]any) { c["exp"] = stNow.Add(-time.Minute).Unix() }), "", inbound.ErrInvalid},
		{"exp beyond 5 minutes", good(func(c map[string]any) { c["exp"] = stNow.Add(10 * time.Minute).Unix() }), "", inbound.ErrInvalid},
		{"no nonce", good(func(c map[string]any) { delete(c, "nonce") }), "", inbound.ErrInvalid},
		{"nonce not a string", good(func(c map[string]any) { c["nonce"] = 42 }), "", inbound.ErrInvalid},
		{"scope beyond the credential's", good(func(c map[string]any) { c["type"] = "users.delete" }), "", inbound.ErrScopeNotAllowed},
		{"scope and type disagree", good(func(c map[string]any) { c["scope"] = "users.retrieve" }), "", inbound.ErrInvalid},
		{"X-Client-ID mismatch", good(nil), "cred_b", inbound.ErrInvalid},
		{"typ not JWT", signClaims(t, key, jose.ES256, "at+jwt", stClaims(nil)), "", inbound.ErrInvalid},
		{"username with a control character", good(func(c map[string]any) { c["username"] = "al\nice" }), "", inbound.ErrInvalid},
		{"payload_hash of the SDK's form", good(func(c map[string]any) { c["payload_hash"] = servicetoken.PayloadHash("Pay 10 EUR") }), "", nil},
		{"payload_hash not a string", good(func(c map[string]any) { c["payload_hash"] = 42 }), "", inbound.ErrInvalid},
		{"payload_hash empty", good(func(c map[string]any) { c["payload_hash"] = "" }), "", inbound.ErrInvalid},
		{"payload_hash hex, not base64url", good(func(c map[string]any) { c["payload_hash"] = strings.Repeat("ab", 32) }), "", inbound.ErrInvalid},
		{"payload_hash padded", good(func(c map[string]any) { c["payload_hash"] = servicetoken.PayloadHash("x") + "=" }), "", inbound.ErrInvalid},
		{"payload_hash of standard base64", good(func(c map[string]any) { c["payload_hash"] = "+/" + servicetoken.PayloadHash("x")[2:] }), "", inbound.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := inbound.VerifyServiceToken(tc.token, snap, tc.header, stNow)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if st.Credential.ID != "cred_a" || len(st.Scopes) == 0 {
					t.Errorf("verified %+v", st)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if r := inbound.Reason(err); strings.Contains(r, "go-jose") || r == "" {
				t.Errorf("reason %q", r)
			}
		})
	}
}

func mustSign(t *testing.T, key crypto.Signer, scopes []string, opts servicetoken.Options) string {
	t.Helper()
	tok, err := servicetoken.Sign("cred_a", key, scopes, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The SDK's claims reach the surface: scopes, the user, the alias.
func TestServiceTokenClaims(t *testing.T) {
	snap, key := credSnapshot(t)
	tok := mustSign(t, key, []string{"users.retrieve", "credentials.force_add"}, servicetoken.Options{UserID: "usr_1", Now: func() time.Time { return stNow }})
	st, err := inbound.VerifyServiceToken(tok, snap, "", stNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasScope("users.retrieve") || !st.HasScope(inbound.ForceAddScope) || st.HasScope("users.create") || st.UserID != "usr_1" || st.Username != "" || st.PayloadHash != "" {
		t.Errorf("service token %+v", st)
	}
	// payload_hash, as LoginID's SDKs put it in a tx.create token.
	tok = mustSign(t, key, []string{"users.retrieve"}, servicetoken.Options{PayloadHash: servicetoken.PayloadHash("Pay 10 EUR to Bob"), Now: func() time.Time { return stNow }})
	if st, err = inbound.VerifyServiceToken(tok, snap, "", stNow); err != nil {
		t.Fatal(err)
	}
	// b64url(SHA-256("Pay 10 EUR to Bob")), as Node's createHash("sha256").digest("base64") made URL-safe.
	if want := "Qn5Uch33ZQqXM5udyPjspZDHzLTF1Ut9nfvJkVJypzU"; st.PayloadHash != want || servicetoken.PayloadHash("Pay 10 EUR to Bob") != want {
		t.Errorf("payload_hash %q, want %q", st.PayloadHash, want)
	}
}

// A nonce is accepted once per credential, also under concurrency, on the
// real store: of ten requests with one token exactly one gets through.
func TestServiceTokenNonceOnce(t *testing.T) {
	snap, key := credSnapshot(t)
	store := storagetest.OpenSQLite(t)
	tok := mustSign(t, key, []string{"users.create"}, servicetoken.Options{Now: func() time.Time { return stNow }})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, replayed := 0, 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := inbound.VerifyServiceToken(tok, snap, "", stNow)
			if err == nil {
				err = st.Consume(t.Context(), store)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, inbound.ErrReplayed):
				replayed++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || replayed != 9 {
		t.Errorf("%d accepted, %d replayed; want 1 and 9", ok, replayed)
	}
}
