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
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/pemkey"
)

// MinRSABits is the smallest RSA modulus accepted for RS256.
const MinRSABits = 2048

// GenerateKey returns a new private key for alg: a P-256 key for ES256, a
// 2048-bit RSA key for RS256, an Ed25519 key for EdDSA.
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		return rsa.GenerateKey(rand.Reader, MinRSABits)
	case AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	default:
		return nil, fmt.Errorf("config: unknown alg %q (want ES256, RS256 or EdDSA)", alg)
	}
}

// Thumbprint returns the RFC 7638 JWK thumbprint of a public key (SHA-256,
// base64url without padding). A private key is thumbprinted by its public
// half.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	if s, ok := pub.(crypto.Signer); ok {
		pub = s.Public()
	}
	sum, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("config: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// EncodePrivateKeyPEM encodes a private key as a PKCS#8 "PRIVATE KEY" PEM block.
func EncodePrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("config: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKeyPEM encodes a public key as an SPKI "PUBLIC KEY" PEM block.
func EncodePublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("config: encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM parses the first private key in data: PKCS#8
// ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY");
// "EC PARAMETERS" blocks are skipped.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) { return pemkey.ParsePrivate(data) }

// ParsePublicKeyPEM parses the first public key in data: SPKI ("PUBLIC
// KEY") or PKCS#1 ("RSA PUBLIC KEY").
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) { return pemkey.ParsePublic(data) }

// CheckKeyAlg reports whether pub is the kind of key alg needs: RSA of at
// least MinRSABits for RS256, P-256 for ES256, Ed25519 for EdDSA.
func CheckKeyAlg(alg string, pub crypto.PublicKey) error {
	ok := false
	need := ""
	switch alg {
	case AlgRS256:
		k, isRSA := pub.(*rsa.PublicKey)
		ok = isRSA && k.N.BitLen() >= MinRSABits
		need = fmt.Sprintf("an RSA key of at least %d bits", MinRSABits)
	case AlgES256:
		k, isEC := pub.(*ecdsa.PublicKey)
		ok = isEC && k.Curve == elliptic.P256()
		need = "a P-256 EC key"
	case AlgEdDSA:
		_, ok = pub.(ed25519.PublicKey)
		need = "an Ed25519 key"
	default:
		return fmt.Errorf("unknown alg %q (want ES256, RS256 or EdDSA)", alg)
	}
	if !ok {
		return fmt.Errorf("%s needs %s, but the key is %s", alg, need, describeKey(pub))
	}
	return nil
}

// describeKey names a key's type and size for a message.
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d-bit", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("a %T", pub)
	}
}

// JOSEAlgorithm maps a configured alg (ES256, RS256, EdDSA) to go-jose's
// name; any other value, "none" and every HMAC algorithm included, is an
// error.
func JOSEAlgorithm(alg string) (jose.SignatureAlgorithm, error) {
	switch alg {
	case AlgES256:
		return jose.ES256, nil
	case AlgRS256:
		return jose.RS256, nil
	case AlgEdDSA:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("config: algorithm %q is not one of ES256, RS256, EdDSA", alg)
}
