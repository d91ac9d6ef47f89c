package apt

import (
	"crypto"
	"fmt"
	"os"

	"github.com/latchkey/latchkey/pemkey"
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
// APT is generated. It is the server's own parser (package pemkey, which
// depends on the standard library only).
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	key, err := pemkey.ParsePrivate(data)
	if err != nil {
		return nil, fmt.Errorf("apt: %w", err)
	}
	return key, nil
}
