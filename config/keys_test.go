package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestGenerateKeyRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			key, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckKeyAlg(alg, key.Public()); err != nil {
				t.Fatalf("generated key does not fit its alg: %v", err)
			}
			privPEM, err := EncodePrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParsePrivateKeyPEM(privPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, key) {
				t.Fatal("private key changed in a PEM round trip")
			}
			pubPEM, err := EncodePublicKeyPEM(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKeyPEM(pubPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pub, key.Public()) {
				t.Fatal("public key changed in a PEM round trip")
			}

			tp1, err := Thumbprint(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			tp2, _ := Thumbprint(pub)
			tp3, _ := Thumbprint(key) // a private key is thumbprinted by its public half
			if tp1 != tp2 || tp1 != tp3 || len(tp1) != 43 {
				t.Fatalf("thumbprints %q, %q, %q: want one stable 43-character value", tp1, tp2, tp3)
			}
			other, _ := GenerateKey(alg)
			if tp4, _ := Thumbprint(other.Public()); tp4 == tp1 {
				t.Fatal("two keys share a thumbprint")
			}
		})
	}
	if _, err := GenerateKey("HS256"); err == nil {
		t.Fatal("GenerateKey(HS256) succeeded")
	}
}

// TestThumbprintRFC7638 checks the example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %q, want %q", got, want)
	}
}

func TestParseKeyFormats(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := keys(t)
	rsaKey := k.env.(*rsa.PrivateKey)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}})

	privTests := []struct {
		name string
		pem  []byte
		want crypto.Signer
	}{
		{"SEC1 EC PRIVATE KEY", pemBlock("EC PRIVATE KEY", sec1), ec},
		{"SEC1 after EC PARAMETERS (openssl ecparam)", append(ecParams, pemBlock("EC PRIVATE KEY", sec1)...), ec},
		{"PKCS#1 RSA PRIVATE KEY", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaKey},
	}
	for _, tc := range privTests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrivateKeyPEM(tc.pem)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Public(), tc.want.Public()) {
				t.Fatal("parsed a different key")
			}
		})
	}
	t.Run("PKCS#1 RSA PUBLIC KEY", func(t *testing.T) {
		got, err := ParsePublicKeyPEM(pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &rsaKey.PublicKey) {
			t.Fatal("parsed a different key")
		}
	})

	errTests := []struct {
		name    string
		private bool
		pem     []byte
		want    string // the message, or its beginning
	}{
		{"encrypted private key", true, pemBlock("ENCRYPTED PRIVATE KEY", []byte{1}), "the private key is encrypted; decrypt it first (openssl pkey -in FILE -out FILE)"},
		{"public key as private", true, pemBlock("PUBLIC KEY", []byte{1}), "found a PUBLIC KEY where a private key is needed"},
		{"certificate as public", false, pemBlock("CERTIFICATE", []byte{1}), `found a "CERTIFICATE" PEM block; want PUBLIC KEY or RSA PUBLIC KEY`},
		{"garbage DER", false, pemBlock("PUBLIC KEY", []byte{1, 2, 3}), "cannot parse the PUBLIC KEY block: "},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.private {
				_, err = ParsePrivateKeyPEM(tc.pem)
			} else {
				_, err = ParsePublicKeyPEM(tc.pem)
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q…", err, tc.want)
			}
		})
	}
}

func TestCheckKeyAlg(t *testing.T) {
	k := keys(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name, alg string
		key       crypto.PublicKey
		want      string
	}{
		{"ES256 with P-256", AlgES256, k.signing.Public(), ""},
		{"ES256 with P-384", AlgES256, p384.Public(), "ES256 needs a P-256 EC key, but the key is EC P-384"},
		{"ES256 with RSA", AlgES256, k.env.Public(), "ES256 needs a P-256 EC key, but the key is RSA 2048-bit"},
		{"RS256 with 2048 bits", AlgRS256, k.env.Public(), ""},
		{"RS256 with 1024 bits", AlgRS256, k.rsa1024.Public(), "RS256 needs an RSA key of at least 2048 bits, but the key is RSA 1024-bit"},
		{"EdDSA with Ed25519", AlgEdDSA, edPub, ""},
		{"EdDSA with EC", AlgEdDSA, k.signing.Public(), "EdDSA needs an Ed25519 key, but the key is EC P-256"},
		{"unknown alg", "none", edPub, `unknown alg "none" (want ES256, RS256 or EdDSA)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKeyAlg(tc.alg, tc.key)
			if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
				t.Fatalf("CheckKeyAlg = %v, want %q", err, tc.want)
			}
		})
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
