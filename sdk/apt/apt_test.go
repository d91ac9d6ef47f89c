package apt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/sdk/apt"
)

const guid = "123456-1234-5678-12345679"

// must returns v, failing the test on err.
func must[V any](v V, err error) func(*testing.T) V {
	return func(t *testing.T) V {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func rsaKey(t *testing.T, bits int) *rsa.PrivateKey {
	return must(rsa.GenerateKey(rand.Reader, bits))(t)
}

func ecKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	return must(ecdsa.GenerateKey(curve, rand.Reader))(t)
}

func edKey(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return must(k, err)(t)
}

// hsm hides the concrete key type, as a KMS- or HSM-backed signer would.
type hsm struct{ crypto.Signer }

// parse verifies token with pub, accepting only alg, and returns its raw
// header JSON and its claims.
func parse(t *testing.T, token string, alg jose.SignatureAlgorithm, pub crypto.PublicKey) (string, map[string]any) {
	t.Helper()
	if strings.Count(token, ".") != 2 || strings.ContainsAny(token, " \n=") {
		t.Fatalf("not a compact JWS: %q", token)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(payload), `{"exp":`) {
		t.Errorf("payload %s does not start with exp, as the SDK's does", payload)
	}
	return string(header), claims
}

func TestGenerateRoundTrip(t *testing.T) {
	rsa2048 := rsaKey(t, 2048)
	p256 := ecKey(t, elliptic.P256())
	ed := edKey(t)
	now := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		key    crypto.Signer
		alg    jose.SignatureAlgorithm
		kid    string
		aud    string
		ttl    time.Duration
		header string
		life   float64
	}{
		{"RS256 as the SDK sends it", rsa2048, jose.RS256, "", "", 0, `{"alg":"RS256"}`, 60},
		{"ES256 with kid", p256, jose.ES256, "env-1", "", 10 * time.Second, `{"alg":"ES256","kid":"env-1"}`, 10},
		{"EdDSA with aud", ed, jose.EdDSA, "", "http://127.0.0.1:8080", 90 * time.Second, `{"alg":"EdDSA"}`, 90},
		{"RS256 through an opaque signer", hsm{rsa2048}, jose.RS256, "", "", 0, `{"alg":"RS256"}`, 60},
		{"ES256 through an opaque signer", hsm{p256}, jose.ES256, "", "", 0, `{"alg":"ES256"}`, 60},
		{"EdDSA through an opaque signer", hsm{ed}, jose.EdDSA, "k", "", 1500 * time.Millisecond, `{"alg":"EdDSA","kid":"k"}`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &apt.Generator{EnvironmentGUID: guid, Key: tc.key, KeyID: tc.kid, Audience: tc.aud, TTL: tc.ttl,
				Now: func() time.Time { return now.Add(400 * time.Millisecond) }}
			token, err := g.Generate("user_xyz123")
			if err != nil {
				t.Fatal(err)
			}
			header, claims := parse(t, token, tc.alg, tc.key.Public())
			if header != tc.header {
				t.Errorf("header %s; want %s", header, tc.header)
			}
			want := map[string]any{
				"iat":              float64(now.Unix()),
				"exp":              float64(now.Unix()) + tc.life,
				"environment_guid": guid,
				"arbitrary_id":     "user_xyz123",
				"jti":              claims["jti"],
			}
			if tc.aud != "" {
				want["aud"] = tc.aud
			}
			if !reflect.DeepEqual(claims, want) {
				t.Errorf("claims %v; want %v", claims, want)
			}
			if jti, _ := claims["jti"].(string); len(jti) != 22 {
				t.Errorf("jti %q; want 22 base64url characters", jti)
			}
		})
	}
}

func TestGenerateFunc(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	before := time.Now().Unix()
	first, err := apt.Generate(guid, key, "user_xyz123", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, claims := parse(t, first, jose.ES256, key.Public())
	if iat := int64(claims["iat"].(float64)); iat < before || iat > time.Now().Unix() {
		t.Errorf("iat %d is not now", iat)
	}
	if life := claims["exp"].(float64) - claims["iat"].(float64); life != apt.DefaultTTL.Seconds() {
		t.Errorf("exp - iat = %v; want the default %v", life, apt.DefaultTTL)
	}
	second, err := apt.Generate(guid, key, "user_xyz123", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, again := parse(t, second, jose.ES256, key.Public()); again["jti"] == claims["jti"] {
		t.Error("two APTs share a jti")
	}
}

func TestGenerateWrongVerifier(t *testing.T) {
	token, err := apt.Generate(guid, rsaKey(t, 2048), "u", 0)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(&rsaKey(t, 2048).PublicKey); err == nil {
		t.Fatal("verified with another key")
	}
}

func TestGenerateErrors(t *testing.T) {
	p256 := ecKey(t, elliptic.P256())
	tests := []struct {
		name        string
		guid        string
		key         crypto.Signer
		arbitraryID string
		ttl         time.Duration
		want        error
	}{
		{"1024-bit RSA", guid, rsaKey(t, 1024), "u", 0, apt.ErrUnsupportedKey},
		{"1024-bit RSA behind an opaque signer", guid, hsm{rsaKey(t, 1024)}, "u", 0, apt.ErrUnsupportedKey},
		{"P-384", guid, ecKey(t, elliptic.P384()), "u", 0, apt.ErrUnsupportedKey},
		{"no key", guid, nil, "u", 0, apt.ErrUnsupportedKey},
		{"unknown key type", guid, hsm{fakeSigner{}}, "u", 0, apt.ErrUnsupportedKey},
		{"empty arbitrary_id", guid, p256, "", 0, apt.ErrInvalidInput},
		{"256-character arbitrary_id", guid, p256, strings.Repeat("a", 256), 0, apt.ErrInvalidInput},
		{"300-character arbitrary_id", guid, p256, strings.Repeat("a", 300), 0, apt.ErrInvalidInput},
		{"arbitrary_id not UTF-8", guid, p256, "user\xff", 0, apt.ErrInvalidInput},
		{"empty environment", "", p256, "u", 0, apt.ErrInvalidInput},
		{"negative ttl", guid, p256, "u", -time.Second, apt.ErrInvalidInput},
		{"ttl under a second", guid, p256, "u", 999 * time.Millisecond, apt.ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, err := apt.Generate(tc.guid, tc.key, tc.arbitraryID, tc.ttl)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v; want %v", err, tc.want)
			}
			if token != "" {
				t.Errorf("token %q with an error", token)
			}
		})
	}
}

func TestGenerateArbitraryIDLimits(t *testing.T) {
	key := edKey(t)
	for _, id := range []string{"x", strings.Repeat("a", 255), strings.Repeat("é", 255)} {
		token, err := apt.Generate(guid, key, id, 0)
		if err != nil {
			t.Fatalf("%d characters: %v", len([]rune(id)), err)
		}
		if _, claims := parse(t, token, jose.EdDSA, key.Public()); claims["arbitrary_id"] != id {
			t.Errorf("arbitrary_id %q; want %q", claims["arbitrary_id"], id)
		}
	}
}

// fakeSigner has a public key of no supported type.
type fakeSigner struct{}

func (fakeSigner) Public() crypto.PublicKey { return "not a key" }
func (fakeSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("fake")
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParsePrivateKey(t *testing.T) {
	rk := rsaKey(t, 2048)
	ek := ecKey(t, elliptic.P256())
	ed := edKey(t)
	pkcs8 := func(k any) []byte { return pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(k))(t)) }
	sec1 := pemBlock("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(ek))(t))
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	tests := []struct {
		name string
		data []byte
		key  crypto.Signer // nil: an error
	}{
		{"PKCS#8 RSA", pkcs8(rk), rk},
		{"PKCS#8 P-256", pkcs8(ek), ek},
		{"PKCS#8 Ed25519", pkcs8(ed), ed},
		{"SEC1", sec1, ek},
		{"SEC1 after EC PARAMETERS (openssl ecparam -genkey)", append(ecParams, sec1...), ek},
		{"PKCS#1", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), rk},
		{"public key", pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&rk.PublicKey))(t)), nil},
		{"encrypted", pemBlock("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), nil},
		{"certificate", pemBlock("CERTIFICATE", []byte{1, 2, 3}), nil},
		{"damaged", pemBlock("PRIVATE KEY", []byte{1, 2, 3}), nil},
		{"not PEM", []byte("hello"), nil},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apt.ParsePrivateKey(tc.data)
			// The server's config package must accept exactly the same files.
			_, cfgErr := config.ParsePrivateKeyPEM(tc.data)
			if (err == nil) != (cfgErr == nil) {
				t.Errorf("apt: %v; config: %v", err, cfgErr)
			}
			if tc.key == nil {
				if err == nil || !strings.HasPrefix(err.Error(), "apt: ") {
					t.Fatalf("err %v; want an apt: error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if eq, ok := got.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !eq.Equal(tc.key) {
				t.Fatalf("parsed %T is not the key", got)
			}
		})
	}
}

func TestLoadPrivateKey(t *testing.T) {
	dir := t.TempDir()
	key, err := config.GenerateKey(config.AlgRS256)
	if err != nil {
		t.Fatal(err)
	}
	data, err := config.EncodePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "env.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := apt.LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	token, err := apt.Generate(guid, got, "user_xyz123", 0)
	if err != nil {
		t.Fatal(err)
	}
	parse(t, token, jose.RS256, key.Public())

	if _, err := apt.LoadPrivateKey(filepath.Join(dir, "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v; want ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := apt.LoadPrivateKey(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v; want an error naming the file", err)
	}
}
