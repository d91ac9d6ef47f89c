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
	"golang.org/x/crypto/argon2"

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
}

// policy is one SetPolicy's worth of settings, swapped whole.
type policy struct {
	params       argon2id.Params
	queueTimeout time.Duration
	// dummyHash is a hash of the current parameters that no password
	// matches: the password check verifies against it when there is no
	// user's hash, so that it costs the same.
	dummyHash string
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
	s := &Service{store: store, now: opts.Now, log: opts.Logger, hashes: newLimiter(1)}
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
	next := &policy{params: params, queueTimeout: p.QueueTimeout, dummyHash: dummyHash(params)}
	if cur := s.policy.Load(); cur != nil && cur.params == params {
		next.dummyHash = cur.dummyHash
	}
	s.policy.Store(next)
	s.hashes.setMax(p.MaxConcurrentHashes)
}

// dummyHash returns a PHC string of params with a random salt and a random
// key: verifying any password against it costs one argon2id computation
// with params and fails (but for a 2^-256 chance). No hashing is needed to
// make it.
func dummyHash(p argon2id.Params) string {
	salt := make([]byte, p.SaltLength)
	key := make([]byte, p.KeyLength)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go ≥ 1.24)
	_, _ = rand.Read(key)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
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
	return newHash(password, &params)
}

func newHash(password string, p *argon2id.Params) (string, error) {
	h, err := argon2id.CreateHash(password, p)
	if err != nil {
		return "", fmt.Errorf("accounts: hash password: %w", err)
	}
	return h, nil
}

// compare verifies password against hash within the bound on concurrent
// hashes, and reports whether it matches and whether the hash's parameters
// differ from the current ones (it should be re-hashed). A malformed hash is
// an error.
func (s *Service) compare(ctx context.Context, password, hash string) (match, stale bool, err error) {
	pol := s.policy.Load()
	if err := s.hashes.acquire(ctx, pol.queueTimeout); err != nil {
		return false, false, err
	}
	defer s.hashes.release()
	if s.onHash != nil {
		s.onHash()
	}
	match, params, err := argon2id.CheckHash(password, hash)
	if err != nil {
		return false, false, fmt.Errorf("accounts: stored password hash: %w", err)
	}
	return match, *params != pol.params, nil
}
