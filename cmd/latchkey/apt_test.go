package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
)

// writeKey writes key to dir/name as a PKCS#8 PEM file and returns its path.
func writeKey(t *testing.T, dir, name string, key crypto.Signer) string {
	t.Helper()
	data, err := config.EncodePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, data)
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// verifyAPT checks that out is one line holding a compact JWS that verifies
// with pub under alg, and returns its header JSON and claims.
func verifyAPT(t *testing.T, out string, alg jose.SignatureAlgorithm, pub crypto.PublicKey) (string, map[string]any) {
	t.Helper()
	token, ok := strings.CutSuffix(out, "\n")
	if !ok || strings.ContainsAny(token, "\n ") {
		t.Fatalf("stdout %q is not one line", out)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("parse %q: %v", token, err)
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
	return string(header), claims
}

// TestAptDevDefaults runs the --help example: the development credentials'
// environment key mints an APT that the generated config's environment
// public key verifies.
func TestAptDevDefaults(t *testing.T) {
	dir := t.TempDir()
	snap, _, err := config.LoadDev(dir, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := config.ReadDevCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	guid := creds["DEMO_ENVIRONMENT_GUID"]
	env := snap.Environment(guid)
	if env == nil || len(env.PublicKeys) != 1 {
		t.Fatalf("environment %q: %+v", guid, env)
	}
	before := time.Now().Unix()
	code, out, stderr := runCLI(t, "", "apt", "--environment", guid, "--key", creds["DEMO_ENVIRONMENT_KEY"], "--arbitrary-id", "user_xyz123")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	header, claims := verifyAPT(t, out, jose.RS256, env.PublicKeys[0].Key)
	if header != `{"alg":"RS256"}` {
		t.Errorf("header %s; want the SDK's {\"alg\":\"RS256\"}", header)
	}
	iat, _ := claims["iat"].(float64)
	if int64(iat) < before || int64(iat) > time.Now().Unix() {
		t.Errorf("iat %v is not now", claims["iat"])
	}
	jti, _ := claims["jti"].(string)
	want := map[string]any{"exp": iat + 60, "iat": iat, "environment_guid": guid, "arbitrary_id": "user_xyz123", "jti": jti}
	if !reflect.DeepEqual(claims, want) || len(jti) != 22 {
		t.Errorf("claims %v; want %v with a 22-character jti", claims, want)
	}
	if time.Duration(claims["exp"].(float64)-iat)*time.Second > env.MaxAPTTTL {
		t.Errorf("the default ttl exceeds the development max_apt_ttl %v", env.MaxAPTTTL)
	}
}

func TestAptFlags(t *testing.T) {
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := config.GenerateKey(config.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := writeFile(t, dir, "sec1.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}))
	tests := []struct {
		name   string
		key    string
		pub    crypto.PublicKey
		alg    jose.SignatureAlgorithm
		flags  []string
		header string
		extra  map[string]any
		life   float64
	}{
		{"ES256 SEC1 with kid and ttl", sec1, ec.Public(), jose.ES256, []string{"--kid", "env-1", "--ttl", "10s"},
			`{"alg":"ES256","kid":"env-1"}`, nil, 10},
		{"EdDSA with audience", writeKey(t, dir, "ed.pem", ed), ed.Public(), jose.EdDSA,
			[]string{"--audience", "http://127.0.0.1:8080", "--ttl", "2m"}, `{"alg":"EdDSA"}`,
			map[string]any{"aud": "http://127.0.0.1:8080"}, 120},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"apt", "--environment", "env-guid", "--key", tc.key, "--arbitrary-id", "a b/ü"}, tc.flags...)
			code, out, stderr := runCLI(t, "", args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			header, claims := verifyAPT(t, out, tc.alg, tc.pub)
			if header != tc.header {
				t.Errorf("header %s; want %s", header, tc.header)
			}
			iat, _ := claims["iat"].(float64)
			want := map[string]any{"exp": iat + tc.life, "iat": iat, "environment_guid": "env-guid", "arbitrary_id": "a b/ü", "jti": claims["jti"]}
			for k, v := range tc.extra {
				want[k] = v
			}
			if !reflect.DeepEqual(claims, want) {
				t.Errorf("claims %v; want %v", claims, want)
			}
		})
	}
}

func TestAptUsageErrors(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := config.GenerateKey(config.AlgRS256)
	if err != nil {
		t.Fatal(err)
	}
	good := writeKey(t, dir, "good.pem", rsaKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := config.EncodePublicKeyPEM(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"small":  writeFile(t, dir, "small.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})),
		"p384":   writeKey(t, dir, "p384.pem", p384),
		"public": writeFile(t, dir, "public.pem", pubPEM),
		"text":   writeFile(t, dir, "text.pem", []byte("not a key\n")),
	}
	base := func(extra ...string) []string {
		return append([]string{"apt", "--environment", "env-guid", "--key", good, "--arbitrary-id", "user_xyz123"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want string // in the one-line message
	}{
		{"no flags", []string{"apt"}, "missing --environment, --key, --arbitrary-id"},
		{"no --environment", []string{"apt", "--key", good, "--arbitrary-id", "u"}, "missing --environment"},
		{"no --key", []string{"apt", "--environment", "e", "--arbitrary-id", "u"}, "missing --key"},
		{"no --arbitrary-id", []string{"apt", "--environment", "e", "--key", good}, "missing --arbitrary-id"},
		{"ttl without a unit", base("--ttl", "60"), `missing unit`},
		{"ttl zero", base("--ttl", "0s"), "--ttl 0s: want one second or more"},
		{"ttl negative", base("--ttl", "-5s"), "--ttl -5s"},
		{"ttl under a second", base("--ttl", "500ms"), "--ttl 500ms"},
		{"ttl with a fraction of a second", base("--ttl", "1500ms"), "--ttl 1.5s: want whole seconds, like 1s"},
		{"key file missing", base("--key", filepath.Join(dir, "missing.pem")), "cannot read the private key: no such file or directory"},
		{"key file a directory", base("--key", dir), "cannot read the private key"},
		{"key file not PEM", base("--key", files["text"]), "no PEM block found"},
		{"public key given", base("--key", files["public"]), "found a PUBLIC KEY where a private key is needed"},
		{"1024-bit RSA", base("--key", files["small"]), "RSA key of 1024 bits; RS256 needs at least 2048"},
		{"P-384", base("--key", files["p384"]), "ES256 needs P-256"},
		{"300-character arbitrary_id", base("--arbitrary-id", strings.Repeat("a", 300)), "arbitrary_id must be 1 to 255 characters"},
		{"positional argument", base("extra"), "accepts 0 arg(s)"},
		{"unknown flag", base("--expiry", "10"), "unknown flag: --expiry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, "", tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d; want %d (stderr %q)", code, exitUsage, stderr)
			}
			if out != "" {
				t.Errorf("stdout %q; want nothing", out)
			}
			if !strings.HasPrefix(stderr, "latchkey: ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q; want one line with %q", stderr, tc.want)
			}
		})
	}
}

func TestAptHelp(t *testing.T) {
	code, out, _ := runCLI(t, "", "apt", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Examples:", ". data/dev-credentials.txt",
		`latchkey apt --environment "$DEMO_ENVIRONMENT_GUID" --key "$DEMO_ENVIRONMENT_KEY" --arbitrary-id user_xyz123`,
		"--ttl duration", "--kid string"} {
		if !strings.Contains(out, want) {
			t.Errorf("apt --help lacks %q:\n%s", want, out)
		}
	}
}
