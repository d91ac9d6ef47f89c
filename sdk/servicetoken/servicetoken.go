package servicetoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// NonceLength is the length of the nonce Sign generates, as LoginID's SDKs do.
const NonceLength = 16

var (
	// ErrUnsupportedKey is wrapped when the key is not a P-256 key.
	ErrUnsupportedKey = errors.New("servicetoken: the key must be a P-256 (ES256) private key")
	// ErrInvalidInput is wrapped for an empty credential id or no scope, or
	// both a username and a user id.
	ErrInvalidInput = errors.New("servicetoken: invalid input")
)

// Options are a token's optional parts.
type Options struct {
	// Username or UserID names the user the request acts on (one at most).
	Username, UserID string
	// Nonce is the token's single-use value; a random one of NonceLength
	// alphanumerics when empty.
	Nonce string
	// Now returns the current time (iat); time.Now when nil.
	Now func() time.Time
	// PayloadHash, when not empty, is sent as the claim payload_hash: it
	// binds a tx.create token to one transaction payload, as LoginID's
	// SDKs' generateTxAuthToken does. Compute it with [PayloadHash]; the
	// server refuses a POST /tx (or /tx/init) whose tx_payload hashes to
	// anything else.
	PayloadHash string
}

// PayloadHash is the payload_hash of a transaction payload: the unpadded
// base64url of its SHA-256 (of the payload's bytes, as sent in
// tx_payload).
func PayloadHash(payload string) string {
	sum := sha256.Sum256([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// claims is the payload, in the SDKs' order.
type claims struct {
	ClientID string `json:"client_id"`
	Type     string `json:"type"`
	Nonce    string `json:"nonce"`
	IssuedAt int64  `json:"iat"`
	Username string `json:"username,omitempty"`
	UserID   string `json:"user_id,omitempty"`
	// PayloadHash comes last, as in the SDKs' tx.create tokens.
	PayloadHash string `json:"payload_hash,omitempty"`
}

// Sign returns a service token of the API credential credentialID, signed
// with its private key (an *ecdsa.PrivateKey on P-256, or any crypto.Signer
// with such a public key), for the given scopes (sent space-separated as
// "type").
func Sign(credentialID string, key crypto.Signer, scopes []string, opts Options) (string, error) {
	if credentialID == "" || len(scopes) == 0 {
		return "", fmt.Errorf("%w: a credential id and at least one scope are required", ErrInvalidInput)
	}
	if opts.Username != "" && opts.UserID != "" {
		return "", fmt.Errorf("%w: name the user by username or by user id, not both", ErrInvalidInput)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return "", ErrUnsupportedKey
	}
	signingKey := any(key)
	if _, ok := key.(*ecdsa.PrivateKey); !ok {
		signingKey = cryptosigner.Opaque(key)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: signingKey}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("servicetoken: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	nonce := opts.Nonce
	if nonce == "" {
		nonce = randomNonce()
	}
	payload, err := json.Marshal(claims{ClientID: credentialID, Type: strings.Join(scopes, " "), Nonce: nonce,
		IssuedAt: now().Unix(), Username: opts.Username, UserID: opts.UserID, PayloadHash: opts.PayloadHash})
	if err != nil {
		return "", fmt.Errorf("servicetoken: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("servicetoken: sign: %w", err)
	}
	return jws.CompactSerialize()
}

const alphanumerics = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomNonce returns NonceLength alphanumerics from crypto/rand, without
// modulo bias.
func randomNonce() string {
	out := make([]byte, 0, NonceLength)
	var b [32]byte
	for len(out) < NonceLength {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
		for _, c := range b {
			if c < 248 && len(out) < NonceLength {
				out = append(out, alphanumerics[c%62])
			}
		}
	}
	return string(out)
}
