package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// VerifyPassword is the password check of the password grant and LoginID
// (SPEC §3 "One password check"): login is matched against usernames, and
// also against e-mails when realm.UsernameIsEmail. It returns the user, or
// ErrInvalidCredentials for an unknown login, a wrong password, a
// deactivated user and a locked login alike; ErrBusy when the bound on
// hashes stayed full for the queue timeout; another error only when the
// database fails. See the package documentation for lockout and timing.
func (s *Service) VerifyPassword(ctx context.Context, realm *config.Realm, login, password string) (*User, error) {
	if realm == nil {
		return nil, invalid("no realm")
	}
	return s.verify(ctx, realm, login, password, true, realm.UsernameIsEmail)
}

// VerifyPasswordByEmail is the same check for the logins that name the user
// by e-mail (the legacy surface): login is matched against e-mails only.
func (s *Service) VerifyPasswordByEmail(ctx context.Context, realm *config.Realm, email, password string) (*User, error) {
	if realm == nil {
		return nil, invalid("no realm")
	}
	return s.verify(ctx, realm, email, password, false, true)
}

// verify is the one password check behind both entry points.
func (s *Service) verify(ctx context.Context, realm *config.Realm, login, password string, byUsername, byEmail bool) (*User, error) {
	key := Normalize(login)
	// Nothing that can match any user: answered at once, which tells
	// nothing about any user.
	if key == "" || utf8.RuneCountInString(key) > MaxTextLength ||
		password == "" || !utf8.ValidString(password) || utf8.RuneCountInString(password) > MaxPasswordLength {
		return nil, ErrInvalidCredentials
	}

	// 1. Lockout: take a failure slot before anything else, whether or not
	// the user exists. A locked login is refused here, without hashing.
	lockout := realm.Lockout.MaxFailures > 0 && realm.Lockout.Window > 0
	if lockout {
		ok, err := s.store.ReserveLoginAttempt(ctx, realm.ID, key, realm.Lockout.MaxFailures, realm.Lockout.Window, s.now())
		if err != nil {
			return nil, fmt.Errorf("accounts: lockout: %w", err)
		}
		if !ok {
			s.log.DebugContext(ctx, "accounts: login refused: locked out", "realm", realm.ID)
			return nil, ErrInvalidCredentials
		}
	}
	// release gives the slot back when the password was never evaluated.
	release := func(cause error) error {
		if !lockout {
			return cause
		}
		if err := s.store.ReleaseLoginAttempt(context.WithoutCancel(ctx), realm.ID, key); err != nil {
			s.log.WarnContext(ctx, "accounts: giving back a lockout slot failed", "realm", realm.ID, "error", err)
		}
		return cause
	}

	// 2. The user, if any.
	var user *storage.User
	u, err := s.store.FindUserByLogin(ctx, realm.ID, key, byUsername, byEmail)
	switch {
	case err == nil:
		user = u
	case !errors.Is(err, storage.ErrNotFound):
		return nil, release(fmt.Errorf("accounts: find user: %w", err))
	}

	// 3. One argon2id computation whatever happened above: against the
	// user's hash, else against a dummy one of the current parameters.
	// A hash of other parameters than the current ones is padded to the
	// time of a current one on failure.
	pol := s.policy.Load()
	hash := pol.dummyHash
	if user != nil && user.PasswordHash != "" {
		hash = user.PasswordHash
	}
	match, stale, took, err := s.compare(ctx, pol, norm.NFC.String(password), hash)
	if err != nil {
		if !errors.Is(err, ErrBusy) && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "accounts: password check failed", "realm", realm.ID, "error", err)
		}
		return nil, release(err)
	}
	if !match || user == nil || user.PasswordHash == "" || user.Status != StatusActive {
		if stale {
			s.pad(ctx, pol, took)
		}
		return nil, ErrInvalidCredentials // the slot stays taken: a failure
	}

	// 4. Success: free the slots, and re-hash a hash of old parameters.
	if lockout {
		if err := s.store.ClearLoginAttempts(ctx, realm.ID, key); err != nil {
			s.log.WarnContext(ctx, "accounts: freeing lockout slots after a login failed", "realm", realm.ID, "error", err)
		}
	}
	if stale {
		s.rehash(ctx, user, norm.NFC.String(password))
	}
	return fromStorage(user), nil
}

// rehash stores a hash of the current parameters for a user who just logged
// in with a hash of other ones. It is best effort: it takes a hashing slot
// only if one is free at once, and replaces the hash only if it is still
// the one that was verified (a password set meanwhile wins). A failure is
// logged; the next login tries again.
func (s *Service) rehash(ctx context.Context, user *storage.User, password string) {
	pol := s.policy.Load()
	if err := s.hashes.acquire(ctx, 0); err != nil {
		return
	}
	if s.onHash != nil {
		s.onHash()
	}
	params := pol.params
	began := time.Now()
	h, err := newHash(password, &params)
	pol.observe(time.Since(began))
	s.hashes.release()
	if err != nil {
		s.log.WarnContext(ctx, "accounts: re-hashing a password failed", "user", user.ID, "error", err)
		return
	}
	ok, err := s.store.ReplacePasswordHash(ctx, user.ID, user.PasswordHash, h)
	switch {
	case err != nil:
		s.log.WarnContext(ctx, "accounts: storing a re-hashed password failed", "user", user.ID, "error", err)
	case ok:
		s.log.InfoContext(ctx, "accounts: re-hashed a password with the current argon2id parameters", "user", user.ID,
			"memory_kib", params.Memory, "iterations", params.Iterations, "parallelism", params.Parallelism)
	}
}
