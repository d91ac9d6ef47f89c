package config

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// testKeys is key material generated once per test run (RSA generation is
// slow) and written by writeKeys into each test's own directory.
type testKeys struct {
	signing    crypto.Signer // ES256
	env        crypto.Signer // RS256, 2048 bits
	cred       crypto.Signer // ES256
	rsa1024    crypto.Signer
	files      map[string][]byte // file name → PEM
	signingPEM string
	envPubPEM  string
}

var sharedKeys = sync.OnceValues(func() (*testKeys, error) {
	k := &testKeys{files: map[string][]byte{}}
	var err error
	if k.signing, err = GenerateKey(AlgES256); err != nil {
		return nil, err
	}
	if k.env, err = GenerateKey(AlgRS256); err != nil {
		return nil, err
	}
	if k.cred, err = GenerateKey(AlgES256); err != nil {
		return nil, err
	}
	if k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		return nil, err
	}
	for name, key := range map[string]crypto.Signer{"signing.pem": k.signing, "env.pem": k.env} {
		if k.files[name], err = EncodePrivateKeyPEM(key); err != nil {
			return nil, err
		}
	}
	for name, key := range map[string]crypto.Signer{"env.pub.pem": k.env, "cred.pub.pem": k.cred, "client.pub.pem": k.cred, "rsa1024.pub.pem": k.rsa1024} {
		if k.files[name], err = EncodePublicKeyPEM(key.Public()); err != nil {
			return nil, err
		}
	}
	k.signingPEM = string(k.files["signing.pem"])
	k.envPubPEM = string(k.files["env.pub.pem"])
	return k, nil
})

// keys returns the shared test keys.
func keys(t *testing.T) *testKeys {
	t.Helper()
	k, err := sharedKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyDir writes the test keys into dir/sub and returns dir.
func keyDir(t *testing.T, sub string) string {
	t.Helper()
	k := keys(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range k.files {
		if err := os.WriteFile(filepath.Join(dir, sub, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// env returns a lookup function over m.
func env(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}
