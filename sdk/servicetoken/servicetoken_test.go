package servicetoken

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
)

func TestSignRefusesWhatTheServerWould(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		run    func() error
		target error
	}{
		{"P-384 key", func() error { _, err := Sign("c", p384, []string{"s"}, Options{}); return err }, ErrUnsupportedKey},
		{"Ed25519 key", func() error { _, err := Sign("c", ed, []string{"s"}, Options{}); return err }, ErrUnsupportedKey},
		{"no credential", func() error { _, err := Sign("", p256, []string{"s"}, Options{}); return err }, ErrInvalidInput},
		{"no scope", func() error { _, err := Sign("c", p256, nil, Options{}); return err }, ErrInvalidInput},
		{"username and user id", func() error {
			_, err := Sign("c", p256, []string{"s"}, Options{Username: "a", UserID: "usr_1"})
			return err
		}, ErrInvalidInput},
	} {
		if err := tc.run(); !errors.Is(err, tc.target) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.target)
		}
	}
}

func TestNonces(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n := randomNonce()
		if len(n) != NonceLength || seen[n] {
			t.Fatalf("nonce %q (seen before: %v)", n, seen[n])
		}
		for _, c := range n {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				t.Fatalf("nonce %q is not alphanumeric", n)
			}
		}
		seen[n] = true
	}
}
