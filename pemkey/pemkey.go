// Package pemkey parses PEM-encoded keys in the forms Latchkey accepts:
// private keys as PKCS#8, SEC1 or PKCS#1, public keys as SPKI or PKCS#1. It
// depends on the standard library only, so that both the server's config
// and the account providers' sdk/apt use the one parser.
package pemkey

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePrivate parses the first private key in data: PKCS#8
// ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
// "EC PARAMETERS" blocks, as openssl ecparam writes them, are skipped.
func ParsePrivate(data []byte) (crypto.Signer, error) {
	block, err := firstKeyBlock(data)
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the private key is encrypted; decrypt it first (openssl pkey -in FILE -out FILE)")
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("found a %s where a private key is needed", block.Type)
	default:
		return nil, fmt.Errorf("found a %q PEM block; want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse the %s block: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("the %s block holds a %T, which cannot sign", block.Type, key)
	}
	return signer, nil
}

// ParsePublic parses the first public key in data: SPKI ("PUBLIC
// KEY") or PKCS#1 ("RSA PUBLIC KEY").
func ParsePublic(data []byte) (crypto.PublicKey, error) {
	block, err := firstKeyBlock(data)
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("found a %s where a public key is needed; give only the public key (openssl pkey -in FILE -pubout)", block.Type)
	default:
		return nil, fmt.Errorf("found a %q PEM block; want PUBLIC KEY or RSA PUBLIC KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse the %s block: %w", block.Type, err)
	}
	return key, nil
}

// firstKeyBlock returns the first PEM block of data that is not EC
// PARAMETERS.
func firstKeyBlock(data []byte) (*pem.Block, error) {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, errors.New(`no PEM block found (want "-----BEGIN … KEY-----" lines; a pem on one line needs \n escapes)`)
		}
		if block.Type != "EC PARAMETERS" {
			return block, nil
		}
		data = rest
	}
}
