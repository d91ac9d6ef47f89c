package apt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// DefaultTTL is the lifetime of an APT when none is given, as in the Ruby
// SDK. The server refuses an APT whose exp - iat exceeds the environment's
// max_apt_ttl (60s in the development defaults).
const DefaultTTL = 60 * time.Second

// MaxArbitraryIDLength is the longest arbitrary_id, in characters.
const MaxArbitraryIDLength = 255

// MinRSABits is the smallest RSA modulus accepted for RS256.
const MinRSABits = 2048

var (
	// ErrUnsupportedKey is wrapped when the private key cannot sign an APT:
	// it is neither RSA of MinRSABits or more, nor P-256, nor Ed25519.
	ErrUnsupportedKey = errors.New("apt: unsupported key")
	// ErrInvalidInput is wrapped when an argument is out of range: an empty
	// environment GUID, an arbitrary_id that is empty, too long or not
	// UTF-8, or a TTL under one second.
	ErrInvalidInput = errors.New("apt: invalid input")
)

// Generate returns an APT for the user arbitraryID of the environment
// environmentGUID, signed with privateKey and valid for ttl (DefaultTTL when
// 0). It is (&Generator{EnvironmentGUID: environmentGUID, Key: privateKey,
// TTL: ttl}).Generate(arbitraryID).
func Generate(environmentGUID string, privateKey crypto.Signer, arbitraryID string, ttl time.Duration) (string, error) {
	g := Generator{EnvironmentGUID: environmentGUID, Key: privateKey, TTL: ttl}
	return g.Generate(arbitraryID)
}

// Generator mints APTs for one environment. Its fields are read, never
// written, by Generate, so one Generator may be used by many goroutines once
// set up.
type Generator struct {
	// EnvironmentGUID is the environment, sent as environment_guid.
	EnvironmentGUID string
	// Key is the environment's private key: *rsa.PrivateKey (at least
	// MinRSABits), *ecdsa.PrivateKey on P-256, ed25519.PrivateKey, or any
	// crypto.Signer with one of those public keys (an HSM or a KMS key).
	Key crypto.Signer
	// KeyID, when set, is sent as the header's kid; it must then name one of
	// the environment's public keys in the server's config. Without it the
	// server tries each key of the environment whose alg matches.
	KeyID string
	// TTL is the APT's lifetime, exp - iat, in whole seconds (a fraction of a
	// second is dropped); DefaultTTL when 0. It must be at least one second.
	TTL time.Duration
	// Audience, when set, is sent as aud: the server's issuer or its token
	// URL. The Ruby SDK sends none, and the server accepts that.
	Audience string
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// claims is the APT payload, in the Ruby SDK's order (exp, iat, …).
type claims struct {
	Expiry          int64  `json:"exp"`
	IssuedAt        int64  `json:"iat"`
	EnvironmentGUID string `json:"environment_guid"`
	ArbitraryID     string `json:"arbitrary_id"`
	ID              string `json:"jti"`
	Audience        string `json:"aud,omitempty"`
}

// Generate returns a new APT, a compact JWS, for the user arbitraryID (1 to
// MaxArbitraryIDLength characters of UTF-8). Each call sets a new random
// jti.
func (g *Generator) Generate(arbitraryID string) (string, error) {
	if g.EnvironmentGUID == "" || !utf8.ValidString(g.EnvironmentGUID) {
		return "", fmt.Errorf("%w: the environment GUID is empty or not UTF-8", ErrInvalidInput)
	}
	if n := utf8.RuneCountInString(arbitraryID); n == 0 || n > MaxArbitraryIDLength || !utf8.ValidString(arbitraryID) {
		return "", fmt.Errorf("%w: arbitrary_id must be 1 to %d characters of UTF-8 (got %d bytes)", ErrInvalidInput, MaxArbitraryIDLength, len(arbitraryID))
	}
	ttl := g.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second {
		return "", fmt.Errorf("%w: ttl %v is under one second", ErrInvalidInput, ttl)
	}
	alg, key, err := signingKey(g.Key)
	if err != nil {
		return "", err
	}
	var opts jose.SignerOptions
	if g.KeyID != "" {
		opts.WithHeader(jose.HeaderKey("kid"), g.KeyID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, &opts)
	if err != nil {
		return "", fmt.Errorf("apt: %w", err)
	}

	jti, err := randomID()
	if err != nil {
		return "", err
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	iat := now().Unix()
	payload, err := json.Marshal(claims{
		Expiry:          iat + int64(ttl/time.Second),
		IssuedAt:        iat,
		EnvironmentGUID: g.EnvironmentGUID,
		ArbitraryID:     arbitraryID,
		ID:              jti,
		Audience:        g.Audience,
	})
	if err != nil {
		return "", fmt.Errorf("apt: encode claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("apt: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// signingKey picks the algorithm for key from its public half and returns
// the key in the form go-jose signs with: the key itself when it is one of
// the standard library's types, else an opaque signer around it.
func signingKey(key crypto.Signer) (jose.SignatureAlgorithm, any, error) {
	if key == nil {
		return "", nil, fmt.Errorf("%w: no private key", ErrUnsupportedKey)
	}
	var alg jose.SignatureAlgorithm
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return "", nil, fmt.Errorf("%w: RSA key of %d bits; RS256 needs at least %d", ErrUnsupportedKey, bits, MinRSABits)
		}
		alg = jose.RS256
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", nil, fmt.Errorf("%w: EC key on %s; ES256 needs P-256", ErrUnsupportedKey, pub.Curve.Params().Name)
		}
		alg = jose.ES256
	case ed25519.PublicKey:
		alg = jose.EdDSA
	default:
		return "", nil, fmt.Errorf("%w: a %T key (want RSA of at least %d bits, P-256 or Ed25519)", ErrUnsupportedKey, pub, MinRSABits)
	}
	switch key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return alg, key, nil
	}
	return alg, cryptosigner.Opaque(key), nil
}

// randomID returns 128 random bits, base64url without padding (22
// characters).
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("apt: jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
