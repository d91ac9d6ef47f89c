package accounts

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/secrethash"
)

// VerifySecret reports whether secret matches hash, the stored hash of a
// client secret (or an API key) as package secrethash makes them. A
// "sha256:" hash — Latchkey's own 256-bit secrets — is compared at once, in
// constant time. An argon2id PHC hash — a short human-chosen secret — is
// verified under the same bound as password hashes: beyond
// max_concurrent_hashes it waits up to queue_timeout, then gives ErrBusy
// (or ctx's error when ctx ends first). A malformed or unknown hash is an
// error, before any hashing; a wrong secret is false and no error.
func (s *Service) VerifySecret(ctx context.Context, hash, secret string) (bool, error) {
	if !secrethash.IsSlow(hash) {
		return secrethash.Verify(hash, secret) // sha256, or ErrUnknownScheme
	}
	if err := secrethash.Check(hash); err != nil {
		return false, fmt.Errorf("accounts: secret hash: %w", err)
	}
	pol := s.policy.Load()
	if err := s.hashes.acquire(ctx, pol.queueTimeout); err != nil {
		return false, err
	}
	defer s.hashes.release()
	if s.onHash != nil {
		s.onHash()
	}
	return secrethash.Verify(hash, secret)
}
