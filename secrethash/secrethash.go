// Package secrethash hashes and verifies the secrets that clients and API
// keys present: long random secrets as "sha256:<hex>" (their entropy protects
// them, so a fast hash is enough), short human-chosen ones as argon2id PHC
// strings. Verification picks the scheme by the hash's prefix and compares in
// constant time.
package secrethash

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/alexedwards/argon2id"
)

// MinFastLength is the shortest secret that is hashed with SHA-256 rather
// than argon2id.
const MinFastLength = 32

const sha256Prefix = "sha256:"

// ErrUnknownScheme is returned for a hash that is neither sha256 nor argon2id.
var ErrUnknownScheme = errors.New("secrethash: unknown hash scheme (want sha256:<hex> or $argon2id$…)")

// argonParams are the parameters for argon2id hashes of short secrets.
var argonParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Hash returns the string to store for secret: sha256:<hex> for a secret of
// MinFastLength characters or more, an argon2id PHC string otherwise.
func Hash(secret string) (string, error) {
	if len(secret) >= MinFastLength {
		sum := sha256.Sum256([]byte(secret))
		return sha256Prefix + hex.EncodeToString(sum[:]), nil
	}
	h, err := argon2id.CreateHash(secret, argonParams)
	if err != nil {
		return "", fmt.Errorf("secrethash: argon2id: %w", err)
	}
	return h, nil
}

// Verify reports whether secret matches hash. It returns an error only for a
// malformed hash, never for a wrong secret.
func Verify(hash, secret string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, sha256Prefix):
		want, err := hex.DecodeString(hash[len(sha256Prefix):])
		if err != nil || len(want) != sha256.Size {
			return false, fmt.Errorf("secrethash: sha256 hash must be 64 hex characters")
		}
		got := sha256.Sum256([]byte(secret))
		return subtle.ConstantTimeCompare(got[:], want) == 1, nil
	case strings.HasPrefix(hash, "$argon2id$"):
		ok, err := argon2id.ComparePasswordAndHash(secret, hash)
		if err != nil {
			return false, fmt.Errorf("secrethash: %w", err)
		}
		return ok, nil
	default:
		return false, ErrUnknownScheme
	}
}

// Check validates the form of a stored hash without a secret to compare.
func Check(hash string) error {
	switch {
	case strings.HasPrefix(hash, sha256Prefix):
		b, err := hex.DecodeString(hash[len(sha256Prefix):])
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("sha256 hash must be sha256: followed by 64 hex characters")
		}
		return nil
	case strings.HasPrefix(hash, "$argon2id$"):
		if _, _, _, err := argon2id.DecodeHash(hash); err != nil {
			return fmt.Errorf("invalid argon2id hash: %v", err)
		}
		return nil
	default:
		return ErrUnknownScheme
	}
}

// IsSlow reports whether verifying against hash costs a slow hash.
func IsSlow(hash string) bool { return strings.HasPrefix(hash, "$argon2id$") }

// Generate returns a new 256-bit secret: "lk_" and 43 base64url characters.
func Generate() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("secrethash: crypto/rand failed: " + err.Error())
	}
	return "lk_" + base64.RawURLEncoding.EncodeToString(b[:])
}
