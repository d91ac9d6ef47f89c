package accounts

import (
	"context"
	"time"
)

// Test-only access for package accounts_test.

// SetHashHook makes f run at the start of every argon2id computation (hash,
// verify and re-hash), inside the bound. Set it before any use of s.
func SetHashHook(s *Service, f func()) { s.onHash = f }

// HoldHashSlot takes one slot of the bound on hashes, as a long hash would,
// until release is called.
func HoldHashSlot(ctx context.Context, s *Service) (release func(), err error) {
	if err := s.hashes.acquire(ctx, time.Minute); err != nil {
		return nil, err
	}
	return s.hashes.release, nil
}

// DummyHash is the hash the password check verifies against when there is
// no user's hash.
func DummyHash(s *Service) string { return s.policy.Load().dummyHash }

// StoredHash is the password hash stored for the user.
func StoredHash(ctx context.Context, s *Service, realmID, userID string) (string, error) {
	u, err := s.store.GetUser(ctx, realmID, userID)
	if err != nil {
		return "", err
	}
	return u.PasswordHash, nil
}

// SetSleeper replaces the sleep that pads a check against a hash of other
// parameters. Set it before any use of s.
func SetSleeper(s *Service, f func(ctx context.Context, d time.Duration)) { s.sleep = f }

// HashCost is the current estimate of one argon2id computation with the
// current parameters.
func HashCost(s *Service) time.Duration { return time.Duration(s.policy.Load().cost.Load()) }

// SetHashCost sets that estimate (until the next computation updates it).
func SetHashCost(s *Service, d time.Duration) { s.policy.Load().cost.Store(int64(d)) }

// TryHashSlot takes a slot of the bound on hashes if one is free at once.
func TryHashSlot(s *Service) (release func(), ok bool) {
	if err := s.hashes.acquire(context.Background(), 0); err != nil {
		return nil, false
	}
	return s.hashes.release, true
}
