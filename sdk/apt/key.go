package apt

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// LoadPrivateKey reads the environment's private key from a PEM file, as
// written by "latchkey keys generate" or openssl; see ParsePrivateKey.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apt: read private key: %w", err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return key, nil
}

// ParsePrivateKey parses the first private key in PEM data: PKCS#8
// ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
// "EC PARAMETERS" blocks, as openssl ecparam writes them, are skipped.
// Whether the key can sign an APT (its type and size) is checked when the
// APT is generated.
//
// The server's config package accepts the same forms; this copy keeps the
// package free of the server's dependencies.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	var block *pem.Block
	for {
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New(`apt: no PEM block found (want "-----BEGIN PRIVATE KEY-----" and "-----END PRIVATE KEY-----" lines)`)
		}
		if block.Type != "EC PARAMETERS" {
			break
		}
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("apt: the private key is encrypted; decrypt it first (openssl pkey -in FILE -out FILE)")
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("apt: found a %s where the private key is needed", block.Type)
	default:
		return nil, fmt.Errorf("apt: found a %q PEM block; want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("apt: cannot parse the %s block: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("apt: the %s block holds a %T, which cannot sign", block.Type, key)
	}
	return signer, nil
}
