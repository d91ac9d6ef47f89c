package server_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
)

// A client_credentials JWT has no row: its signature is its proof, and
// revoked_tokens carries its revocation. These tests hold it to every
// promise a token with a row keeps.

// reloadYAML applies yaml to f's server as a SIGHUP would.
func (f *fixture) reloadYAML(yaml string) {
	f.t.Helper()
	snap, err := config.Parse("test.yaml", []byte(yaml), f.t.TempDir(), func(string) (string, bool) { return "", false })
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.srv.Reload(snap); err != nil {
		f.t.Fatal(err)
	}
}

// revoke posts an RFC 7009 revocation as client svc.
func (f *fixture) revoke(token, user, pass string) {
	f.t.Helper()
	if resp, m := f.post("/oauth2/revoke", url.Values{"token": {token}}, user, pass); resp.StatusCode != http.StatusOK {
		f.t.Fatalf("revoke: %d %v", resp.StatusCode, m)
	}
}

func TestRowlessClientTokens(t *testing.T) { onEachDB(t, testRowlessClientTokens) }

func testRowlessClientTokens(t *testing.T, o fixtureOpts) {
	f := newFixture(t, o)
	token := f.ccToken("read")
	if _, err := f.store.GetAccessTokenSession(f.ctx(), core.Signature(token), nil); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("a client_credentials JWT has a row (lookup: %v)", err)
	}
	_, claims := f.verifyJWT(token)
	if jti, _ := claims["jti"].(string); !strings.HasPrefix(jti, "c.") {
		t.Fatalf("jti %q lacks the rowless mark", jti)
	}
	info := f.introspect(token, "svc", f.secret)
	want := map[string]any{
		"active": true, "client_id": "svc", "sub": "svc", "scope": "read", "token_kind": "client",
		"realm": "rl_test", "token_use": "access_token", "token_type": "Bearer", "iss": f.snap.Issuer,
		"exp": claims["exp"], "iat": claims["iat"],
	}
	for k, v := range want {
		if fmt.Sprint(info[k]) != fmt.Sprint(v) {
			t.Errorf("introspection %s = %v, want %v (all: %v)", k, info[k], v, info)
		}
	}
	if aud := fmt.Sprint(info["aud"]); aud != "[https://api.test]" {
		t.Errorf("aud = %s, want [https://api.test]", aud)
	}
	if other := f.introspect(token, "other", f.otherSecret); len(other) != 1 || other["active"] != false {
		t.Errorf("another realm's client sees the token: %v", other)
	}

	// A user token still has its row.
	f.addUser("alice", alicePassword)
	user := f.login("alice", alicePassword)
	if _, err := f.store.GetAccessTokenSession(f.ctx(), core.Signature(user.AccessToken), nil); err != nil {
		t.Fatalf("a user token lost its row: %v", err)
	}
	if got := f.introspect(user.AccessToken, "svc", f.secret); got["active"] != true || got["token_kind"] != "user" {
		t.Fatalf("user token: %v", got)
	}

	// Revocation: another client's attempt leaves it active; its own
	// client's ends it, after it was verified and remembered.
	f.revoke(token, "other", f.otherSecret)
	if got := f.introspect(token, "svc", f.secret); got["active"] != true {
		t.Fatalf("revoked by another client: %v", got)
	}
	f.revoke(token, "svc", f.secret)
	if got := f.introspect(token, "svc", f.secret); len(got) != 1 || got["active"] != false {
		t.Fatalf("after revocation: %v, want exactly {active:false}", got)
	}
	f.revoke(token, "svc", f.secret) // twice is fine
}

// TestRowlessTokenForgeries: whatever is changed in a client_credentials
// JWT, or however it is re-signed without the server's key, it is inactive.
func TestRowlessTokenForgeries(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	token := f.ccToken()
	hdr, claims := f.verifyJWT(token)
	key := f.snap.SigningKeys[0].Key
	parts := strings.Split(token, ".")
	resign := func(mutate func(c map[string]any), header map[jose.HeaderKey]any) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		if mutate != nil {
			mutate(c)
		}
		h := map[jose.HeaderKey]any{"kid": hdr.KeyID, "typ": "at+jwt"}
		for k, v := range header {
			h[k] = v
		}
		return signJWT(t, key, jose.ES256, c, h)
	}
	otherKey, err := config.GenerateKey(config.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(key.Public())
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	widened := map[string]any{}
	for k, v := range claims {
		widened[k] = v
	}
	widened["scope"] = "read write admin"

	// The control: re-signed unchanged with the real key, it is active.
	if got := f.introspect(resign(nil, nil), "svc", f.secret); got["active"] != true {
		t.Fatalf("control token re-signed with the server key: %v", got)
	}
	cases := map[string]string{
		"payload changed, signature kept": parts[0] + "." + b64(widened) + "." + parts[2],
		"alg none":                        b64(map[string]any{"alg": "none", "kid": hdr.KeyID, "typ": "at+jwt"}) + "." + parts[1] + ".",
		"HS256 keyed by the public key":   signJWT(t, pub, jose.HS256, claims, map[jose.HeaderKey]any{"kid": hdr.KeyID, "typ": "at+jwt"}),
		"another key under the same kid":  signJWT(t, otherKey, jose.ES256, claims, map[jose.HeaderKey]any{"kid": hdr.KeyID, "typ": "at+jwt"}),
		"unknown kid":                     resign(nil, map[jose.HeaderKey]any{"kid": "k9"}),
		"typ JWT (an ID token's)":         resign(nil, map[jose.HeaderKey]any{"typ": "JWT"}),
		"another issuer":                  resign(func(c map[string]any) { c["iss"] = "https://elsewhere.test" }, nil),
		"sub is not the client":           resign(func(c map[string]any) { c["sub"] = "usr_someone" }, nil),
		"jti without the rowless mark":    resign(func(c map[string]any) { c["jti"] = "plain" + c["jti"].(string)[2:] }, nil),
		"expired":                         resign(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() }, nil),
		"unknown client":                  resign(func(c map[string]any) { c["client_id"], c["sub"] = "ghost", "ghost" }, nil),
		"signature of another token":      parts[0] + "." + strings.Split(resign(func(c map[string]any) { c["scope"] = "write" }, nil), ".")[1] + "." + parts[2],
	}
	for name, forged := range cases {
		t.Run(name, func(t *testing.T) {
			if got := f.introspect(forged, "svc", f.secret); len(got) != 1 || got["active"] != false {
				t.Fatalf("forged token introspects %v, want exactly {active:false}", got)
			}
		})
	}
}

// TestRowlessTokensDieWithTheirClientOrKey: removing the client, or the
// signing key, from the config ends the token at once.
func TestRowlessTokensDieWithTheirClientOrKey(t *testing.T) {
	onEachDB(t, testRowlessTokensDieWithTheirClientOrKey)
}

func testRowlessTokensDieWithTheirClientOrKey(t *testing.T, o fixtureOpts) {
	f := newFixture(t, o)
	byPost, bySvc := f.postToken(), f.ccToken()
	for _, tok := range []string{byPost, bySvc} {
		if got := f.introspect(tok, "svc", f.secret); got["active"] != true {
			t.Fatalf("before the reload: %v", got)
		}
	}
	withoutPost := regexp.MustCompile(`(?s)  - id: svc-post\n.*?(\n  - id: jwt-client)`).ReplaceAllString(f.yaml, "$1")
	if withoutPost == f.yaml {
		t.Fatal("the test config has no svc-post client to remove")
	}
	f.reloadYAML(withoutPost)
	if got := f.introspect(byPost, "svc", f.secret); got["active"] != false {
		t.Fatalf("a removed client's token: %v", got)
	}
	if got := f.introspect(bySvc, "svc", f.secret); got["active"] != true {
		t.Fatalf("a kept client's token after the reload: %v", got)
	}

	k2, err := config.GenerateKey(config.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := config.EncodePrivateKeyPEM(k2)
	rotated := regexp.MustCompile(`  - \{kid: k1, [^\n]*`).ReplaceAllString(withoutPost, `  - {kid: k2, alg: ES256, pem: "`+onePEM(t, pem)+`"}`)
	f.reloadYAML(rotated)
	if got := f.introspect(bySvc, "svc", f.secret); got["active"] != false {
		t.Fatalf("a token signed by a removed key: %v", got)
	}
	if got := f.introspect(f.ccToken(), "svc", f.secret); got["active"] != true {
		t.Fatalf("a token of the new key: %v", got)
	}
}

// TestRowlessRevocationAcrossReplicas: a token verified (and remembered) by
// replica B, revoked on replica A, is inactive on B at once.
func TestRowlessRevocationAcrossReplicas(t *testing.T) {
	a := newFixture(t, fixtureOpts{mysql: true})
	b := newFixture(t, fixtureOpts{replicaOf: a})
	token := a.ccToken()
	if got := b.introspect(token, "svc", b.secret); got["active"] != true {
		t.Fatalf("on B before revocation: %v", got)
	}
	a.revoke(token, "svc", a.secret)
	if got := b.introspect(token, "svc", b.secret); got["active"] != false {
		t.Fatalf("on B after revocation on A: %v", got)
	}
}

// postToken is a client_credentials token of client svc-post.
func (f *fixture) postToken() string {
	f.t.Helper()
	resp, m := f.post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc-post"}, "client_secret": {f.postSecret}}, "", "")
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("svc-post token: %d %v", resp.StatusCode, m)
	}
	return m["access_token"].(string)
}

// TestRowlessRevocationSurvivesReencoding: a revoked token re-encoded so
// that it still verifies — its ECDSA signature (r, s) turned into (r, n−s),
// or the unused low bits of its last base64url character changed — is the
// same token and stays revoked.
func TestRowlessRevocationSurvivesReencoding(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	token := f.ccToken()
	f.revoke(token, "svc", f.secret)
	parts := strings.Split(token, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("ES256 signature: %d bytes, %v", len(sig), err)
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	flipped := append(append([]byte{}, sig[:32]...), s.FillBytes(make([]byte, 32))...)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := parts[2][len(parts[2])-1]
	// 64 bytes are 86 characters, the last carrying 4 bits and 2 unused.
	sibling := alphabet[strings.IndexByte(alphabet, last)^1]
	for name, variant := range map[string]string{
		"signature (r, n-s)":           parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(flipped),
		"non-canonical last base64url": parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + string(sibling),
	} {
		t.Run(name, func(t *testing.T) {
			if variant == token {
				t.Fatal("the variant is the token itself")
			}
			if got := f.introspect(variant, "svc", f.secret); got["active"] != false {
				t.Fatalf("a re-encoded revoked token introspects %v", got)
			}
		})
	}
}
