package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// Errors. Test with errors.Is: validation errors are wrapped with a message
// a person can act on.
var (
	// ErrInvalidCredentials is the one answer of the password check to an
	// unknown user, a wrong password, a deactivated user and a locked login.
	ErrInvalidCredentials = errors.New("accounts: invalid login or password")
	// ErrBusy: the hashing queue stayed full for passwords.queue_timeout.
	// The caller answers 503 with Retry-After.
	ErrBusy = errors.New("accounts: too many password checks at once, try again shortly")
	// ErrUnavailable: the database did not answer (the cause is wrapped).
	// The caller answers 503 with Retry-After, never "no such user".
	ErrUnavailable = errors.New("accounts: the user store is unavailable")
	// ErrNotFound: no such user in the realm.
	ErrNotFound = errors.New("accounts: no such user")
	// ErrUserDeactivated: the user exists but is deactivated.
	ErrUserDeactivated = errors.New("accounts: user is deactivated")
	// ErrUsernameTaken: another user of the realm has this username (compared
	// case-insensitively after NFC normalisation).
	ErrUsernameTaken = errors.New("accounts: username is taken")
	// ErrEmailTaken: another user of the realm has this e-mail (compared
	// case-insensitively after NFC normalisation).
	ErrEmailTaken = errors.New("accounts: email is taken")
	// ErrArbitraryIDTaken: another user of the environment has this
	// arbitrary_id (compared byte for byte).
	ErrArbitraryIDTaken = errors.New("accounts: arbitrary_id is taken in this environment")
	// ErrInvalidUser: a field of a user is not acceptable; the wrapping
	// message says which and why.
	ErrInvalidUser = errors.New("accounts: invalid user")
	// ErrWeakPassword: the password is too short for the realm, too long, or
	// among the most common passwords; the wrapping message says which.
	ErrWeakPassword = errors.New("accounts: password not accepted")
	// ErrHashInTransaction: a password was to be hashed with a context
	// that carries a storage transaction. Hashing takes tens of
	// milliseconds, which a transaction must not hold its locks for (on
	// SQLite, the one write lock): hash first ([Service.Prepare]), then
	// store in the transaction ([Service.Insert]). It is a programming
	// error, not the user's.
	ErrHashInTransaction = errors.New("accounts: a password is never hashed inside a storage transaction; prepare the user before the transaction begins")
)

// Options tune a [Service]. The zero value is ready to use.
type Options struct {
	// Now is the clock for created/updated times and lockout windows; nil
	// means time.Now.
	Now func() time.Time
	// Logger receives re-hashes (info) and failures that do not reach the
	// caller (warn); nil discards. Passwords and hashes are never logged.
	Logger *slog.Logger
}

// Service manages users and checks passwords. Make one per process with
// [New] and keep it across config reloads: it holds the bound on concurrent
// hashes. It is safe for concurrent use.
type Service struct {
	store  *storage.Store
	now    func() time.Time
	log    *slog.Logger
	policy atomic.Pointer[policy]
	hashes *limiter

	// onHash, when set (tests only, before any use), is called at the start
	// of every argon2id computation, inside the bound.
	onHash func()
	// sleep waits d or until ctx ends: the padding of a check against a
	// hash of other parameters (see verify). Tests replace it.
	sleep func(ctx context.Context, d time.Duration)
}

// policy is one SetPolicy's worth of settings, swapped whole.
type policy struct {
	params       argon2id.Params
	queueTimeout time.Duration
	// dummyHash is a hash of the current parameters that no password
	// matches: the password check verifies against it when there is no
	// user's hash, so that it costs the same.
	dummyHash string
	// cost is a running estimate, in nanoseconds, of one argon2id
	// computation with params on this machine: seeded by making dummyHash,
	// then updated by every computation with params the service performs
	// (hashes, checks against the dummy or a current hash, re-hashes). A
	// check against a hash of other, cheaper parameters is padded to it.
	cost atomic.Int64
}

// observe adds one computation with p.params that took d to p.cost: an
// exponentially weighted moving average (weight 1/8), so that a change of
// the machine's load shows within a few logins. Concurrent updates may
// lose one another's sample, which an estimate can afford.
func (p *policy) observe(d time.Duration) {
	if d <= 0 {
		return
	}
	old := p.cost.Load()
	if old <= 0 {
		p.cost.Store(int64(d))
		return
	}
	p.cost.Store(old + (int64(d)-old)/8)
}

// DefaultPasswords are the settings a Service has until SetPolicy: the
// config file's defaults (SPEC §2).
var DefaultPasswords = config.Passwords{
	Argon2id:            config.Argon2Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1},
	MaxConcurrentHashes: 4,
	QueueTimeout:        2 * time.Second,
}

// Length of the salt and of the key in new argon2id hashes, in bytes.
const (
	saltLength = 16
	keyLength  = 32
)

// New returns a Service on store with [DefaultPasswords] in force.
func New(store *storage.Store, opts Options) *Service {
	s := &Service{store: store, now: opts.Now, log: opts.Logger, hashes: newLimiter(1), sleep: sleepCtx}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.SetPolicy(DefaultPasswords)
	return s
}

// SetPolicy puts the password settings of a config snapshot in force: new
// hashes use p.Argon2id, and the bound on concurrent hashes becomes
// p.MaxConcurrentHashes — hashes already running finish, and waiting callers
// are let in as the new bound allows. Call it at start and on every reload;
// it is safe while logins run. Values the config loader would refuse (zero
// parameters, a bound below 1, a negative timeout) are replaced by the
// defaults.
//
// New parameters cost one argon2id computation here, outside the bound:
// the dummy hash is made by hashing a random password, which also seeds the
// estimate of a hash's duration that pads checks against older hashes.
func (s *Service) SetPolicy(p config.Passwords) {
	d := DefaultPasswords
	params := argon2id.Params{
		Memory:      p.Argon2id.MemoryKiB,
		Iterations:  p.Argon2id.Iterations,
		Parallelism: p.Argon2id.Parallelism,
		SaltLength:  saltLength,
		KeyLength:   keyLength,
	}
	if params.Memory == 0 || params.Iterations == 0 || params.Parallelism == 0 {
		params.Memory, params.Iterations, params.Parallelism = d.Argon2id.MemoryKiB, d.Argon2id.Iterations, d.Argon2id.Parallelism
	}
	if p.MaxConcurrentHashes < 1 {
		p.MaxConcurrentHashes = d.MaxConcurrentHashes
	}
	if p.QueueTimeout < 0 {
		p.QueueTimeout = d.QueueTimeout
	}
	next := &policy{params: params, queueTimeout: p.QueueTimeout}
	if cur := s.policy.Load(); cur != nil && cur.params == params {
		next.dummyHash = cur.dummyHash
		next.cost.Store(cur.cost.Load())
	} else {
		began := time.Now()
		next.dummyHash = dummyHash(params)
		next.observe(time.Since(began))
	}
	s.policy.Store(next)
	s.hashes.setMax(p.MaxConcurrentHashes)
}

// dummyHash returns the hash with params of a random 256-bit password that
// is then forgotten: verifying any password against it costs one argon2id
// computation with params and fails (but for a 2^-256 chance).
func dummyHash(p argon2id.Params) string {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails (Go ≥ 1.24)
	// CreateHash fails only when reading the salt from crypto/rand does.
	h, _ := argon2id.CreateHash(base64.RawStdEncoding.EncodeToString(secret), &p)
	return h
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// hash makes a PHC argon2id hash of password with the current parameters,
// within the bound on concurrent hashes. It refuses a ctx that carries a
// transaction (ErrHashInTransaction).
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if s.store.InTransaction(ctx) {
		return "", ErrHashInTransaction
	}
	pol := s.policy.Load()
	if err := s.hashes.acquire(ctx, pol.queueTimeout); err != nil {
		return "", err
	}
	defer s.hashes.release()
	if s.onHash != nil {
		s.onHash()
	}
	params := pol.params
	began := time.Now()
	h, err := newHash(password, &params)
	pol.observe(time.Since(began))
	return h, err
}

func newHash(password string, p *argon2id.Params) (string, error) {
	h, err := argon2id.CreateHash(password, p)
	if err != nil {
		return "", fmt.Errorf("accounts: hash password: %w", err)
	}
	return h, nil
}

// compare verifies password against hash within the bound on concurrent
// hashes of pol, and reports whether it matches and — when the hash's
// parameters differ from pol's (it should be re-hashed) — how long the
// computation took, for the caller to pad. A malformed hash is an error.
func (s *Service) compare(ctx context.Context, pol *policy, password, hash string) (match, stale bool, took time.Duration, err error) {
	if err := s.hashes.acquire(ctx, pol.queueTimeout); err != nil {
		return false, false, 0, err
	}
	defer s.hashes.release()
	if s.onHash != nil {
		s.onHash()
	}
	began := time.Now()
	match, params, err := argon2id.CheckHash(password, hash)
	took = time.Since(began)
	if err != nil {
		return false, false, 0, fmt.Errorf("accounts: stored password hash: %w", err)
	}
	if *params == pol.params {
		pol.observe(took)
		return match, false, took, nil
	}
	return match, true, took, nil
}

// pad sleeps, outside the bound on hashes, for what a check that took took
// against a hash of other parameters fell short of one computation with
// pol's: so that a wrong password for a user whose hash is older and
// cheaper takes as long as one for an unknown user, whose check runs
// against the dummy hash of the current parameters. A check that took
// longer is not padded (an unknown user cannot be made slower to match).
func (s *Service) pad(ctx context.Context, pol *policy, took time.Duration) {
	if d := time.Duration(pol.cost.Load()) - took; d > 0 {
		s.sleep(ctx, d)
	}
}
