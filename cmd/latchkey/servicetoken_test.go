package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/sdk/servicetoken"
)

func TestServiceToken(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyFile := writeKey(t, dir, "cred.pem", key)
	pemText, _ := config.EncodePrivateKeyPEM(key)
	oneLine := writeFile(t, dir, "cred-one-line.txt", []byte(strings.ReplaceAll(strings.TrimSpace(string(pemText)), "\n", `\n`)+"\n"))
	for _, file := range []string{keyFile, oneLine} {
		code, out, errOut := runCLI(t, "", "service-token", "--credential", "cred_demo", "--key", file,
			"--scope", "users.retrieve", "--scope", "users.create", "--username", "sally")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", file, code, errOut)
		}
		header, claims := verifyAPT(t, out, jose.ES256, &key.PublicKey)
		if header != `{"alg":"ES256","typ":"JWT"}` {
			t.Errorf("header %s", header)
		}
		nonce, _ := claims["nonce"].(string)
		if claims["client_id"] != "cred_demo" || claims["type"] != "users.retrieve users.create" || claims["username"] != "sally" ||
			len(nonce) != 16 || claims["iat"] == nil || claims["exp"] != nil {
			t.Errorf("claims %v", claims)
		}
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	badKey := writeKey(t, dir, "p384.pem", p384)
	for name, args := range map[string][]string{
		"no scope":               {"service-token", "--credential", "c", "--key", keyFile},
		"no credential":          {"service-token", "--key", keyFile, "--scope", "s"},
		"P-384 key":              {"service-token", "--credential", "c", "--key", badKey, "--scope", "s"},
		"missing key file":       {"service-token", "--credential", "c", "--key", dir + "/nope.pem", "--scope", "s"},
		"username and user id":   {"service-token", "--credential", "c", "--key", keyFile, "--scope", "s", "--username", "a", "--user-id", "usr_1"},
		"an argument not a flag": {"service-token", "extra", "--credential", "c", "--key", keyFile, "--scope", "s"},
	} {
		code, out, errOut := runCLI(t, "", args...)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || errOut == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 and one line on stderr", name, code, out, errOut)
		}
	}
}

// --payload-hash-of binds a tx.create token to a payload: payload_hash is
// the SHA-256 of the file's exact bytes (a trailing newline included), or
// of stdin with "-"; a payload the server would refuse is a usage error.
func TestServiceTokenPayloadHash(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyFile := writeKey(t, dir, "cred.pem", key)
	const payload = "Pay 10 EUR to Bob"
	const want = "Qn5Uch33ZQqXM5udyPjspZDHzLTF1Ut9nfvJkVJypzU" // b64url(SHA-256(payload)), as LoginID's SDKs compute it
	exact := writeFile(t, dir, "tx.txt", []byte(payload))
	echoed := writeFile(t, dir, "tx-echo.txt", []byte(payload+"\n"))
	for name, tc := range map[string]struct {
		file, stdin, want string
	}{
		"a file":                    {exact, "", want},
		"stdin":                     {"-", payload, want},
		"a trailing newline counts": {echoed, "", servicetoken.PayloadHash(payload + "\n")},
	} {
		code, out, errOut := runCLI(t, tc.stdin, "service-token", "--credential", "cred_demo", "--key", keyFile, "--scope", "tx.create",
			"--username", "sally", "--payload-hash-of", tc.file)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, errOut)
		}
		_, claims := verifyAPT(t, out, jose.ES256, &key.PublicKey)
		if claims["payload_hash"] != tc.want || claims["type"] != "tx.create" || claims["username"] != "sally" {
			t.Errorf("%s: claims %v, want payload_hash %s", name, claims, tc.want)
		}
	}
	if tc := servicetoken.PayloadHash(payload + "\n"); tc == want {
		t.Fatal("the newline must change the hash")
	}
	// Without the flag there is no payload_hash.
	_, out, _ := runCLI(t, "", "service-token", "--credential", "cred_demo", "--key", keyFile, "--scope", "tx.create")
	if _, claims := verifyAPT(t, out, jose.ES256, &key.PublicKey); claims["payload_hash"] != nil {
		t.Errorf("payload_hash without --payload-hash-of: %v", claims)
	}
	for name, tc := range map[string]struct{ file, stdin string }{
		"missing file":             {dir + "/nope.txt", ""},
		"empty file":               {writeFile(t, dir, "empty.txt", nil), ""},
		"empty stdin":              {"-", ""},
		"over 4096 bytes":          {writeFile(t, dir, "big.txt", []byte(strings.Repeat("x", 4097))), ""},
		"over 4096 bytes on stdin": {"-", strings.Repeat("x", 5000)},
		"not UTF-8":                {writeFile(t, dir, "latin1.txt", []byte("Zahle 10 \xa4")), ""},
	} {
		code, out, errOut := runCLI(t, tc.stdin, "service-token", "--credential", "c", "--key", keyFile, "--scope", "tx.create", "--payload-hash-of", tc.file)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "--payload-hash-of") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 and one line naming the flag", name, code, out, errOut)
		}
	}
	// 4096 bytes exactly is fine.
	if code, _, errOut := runCLI(t, "", "service-token", "--credential", "c", "--key", keyFile, "--scope", "tx.create",
		"--payload-hash-of", writeFile(t, dir, "max.txt", []byte(strings.Repeat("é", 2048)))); code != 0 {
		t.Errorf("a 4096-byte payload: exit %d: %s", code, errOut)
	}
	code, out, _ := runCLI(t, "", "service-token", "--help")
	if code != 0 || !strings.Contains(out, "--payload-hash-of FILE") || !strings.Contains(out, "printf '%s'") || !strings.Contains(out, `"-" reads the payload from stdin`) {
		t.Errorf("--help does not teach --payload-hash-of: %s", out)
	}
}
