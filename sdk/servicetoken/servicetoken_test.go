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

// PayloadHash is what LoginID's Node SDK computes:
// base64EncodeUrl(createHash("sha256").update(payload).digest("base64")),
// the unpadded base64url SHA-256 of the payload's UTF-8 bytes.
func TestPayloadHash(t *testing.T) {
	for payload, want := range map[string]string{
		"":                   "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
		"Pay 10 EUR to Bob":  "Qn5Uch33ZQqXM5udyPjspZDHzLTF1Ut9nfvJkVJypzU",
		"Zahle 10 € an Jörg": "197LS_fSH3kJS8WYmF64AYdTq7bX9KMFUntaEwApCIY",
	} {
		if got := PayloadHash(payload); got != want || len(got) != 43 {
			t.Errorf("PayloadHash(%q) = %q, want %q", payload, got, want)
		}
	}
}
