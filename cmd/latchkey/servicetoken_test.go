package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/config"
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
