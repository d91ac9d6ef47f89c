package accounts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// User statuses.
const (
	StatusActive      = "active"
	StatusDeactivated = "deactivated"
)

// DefaultRole is the role of a user created without one.
const DefaultRole = "user"

// Limits of user fields, in characters.
const (
	MaxTextLength = 255 // username, email, names, arbitrary_id, environment_guid
	MaxRoleLength = 64
)

// User is a user of a realm. It never carries the password hash.
type User struct {
	ID              string // "usr_" + 22 random base62 characters
	Realm           string
	Username, Email string // as given (trimmed); each may be empty
	// ArbitraryID is the Work API's id of the user, unique within
	// EnvironmentGUID, case-sensitive; both are empty for other users.
	ArbitraryID     string
	EnvironmentGUID string
	FirstName       string
	LastName        string
	Role            string // DefaultRole unless given
	Status          string // StatusActive or StatusDeactivated
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func fromStorage(u *storage.User) *User {
	return &User{
		ID:              u.ID,
		Realm:           u.Realm,
		Username:        u.Username,
		Email:           u.Email,
		ArbitraryID:     u.ArbitraryID,
		EnvironmentGUID: u.EnvironmentGUID,
		FirstName:       u.FirstName,
		LastName:        u.LastName,
		Role:            u.Role,
		Status:          u.Status,
		CreatedAt:       u.CreatedAt,
		UpdatedAt:       u.UpdatedAt,
	}
}

// NewUser is what Create needs. Username, Email, names and Role are
// trimmed of surrounding white space; ArbitraryID and EnvironmentGUID are
// taken as they are. A user needs a username, an e-mail or an arbitrary_id;
// a password needs a username or an e-mail to log in with. In a realm with
// username_is_email, the username is an e-mail address and the two are
// one: give either, or both equal.
type NewUser struct {
	Username, Email string
	// Password is the plain password, hashed here; "" means none (Work API
	// users log in with an APT, not a password).
	Password string
	// PasswordConfirmation, when not nil, must equal Password (a form's
	// second entry of it).
	PasswordConfirmation *string
	FirstName, LastName  string
	Role                 string // "" means DefaultRole
	ArbitraryID          string // with EnvironmentGUID, or neither
	EnvironmentGUID      string
}

// Normalize returns the form of a username, e-mail or login name that is
// compared: trimmed, NFC-normalised and lower-cased (and NFC again, since
// lower-casing can un-normalise). "Sally", "sally" and " SALLY " are one
// name, and so are a precomposed "é" and "e" with a combining accent.
func Normalize(s string) string {
	return norm.NFC.String(strings.ToLower(norm.NFC.String(strings.TrimSpace(s))))
}

// PreparedUser is a new user validated, its password hashed and its id
// assigned by [Service.Prepare], ready for [Service.Insert]. Insert it once.
type PreparedUser struct {
	row storage.User
}

// ID is the usr_ id the user will have.
func (p *PreparedUser) ID() string { return p.row.ID }

// Prepare does everything of Create that needs no database: it validates in
// (a *ValidationError with every problem, the password policy's included:
// ErrInvalidUser, and ErrWeakPassword when the password is refused), hashes
// the password with the bound on hashes (ErrBusy when it stays full for the
// queue timeout) and assigns the new user's id. ctx must not carry a
// transaction when in has a password (ErrHashInTransaction): hash first,
// then open the transaction that calls Insert.
func (s *Service) Prepare(ctx context.Context, realm *config.Realm, in NewUser) (*PreparedUser, error) {
	u, pw, err := validateUser(realm, candidate{in: in})
	if err != nil {
		return nil, err
	}
	if in.Password != "" {
		if u.PasswordHash, err = s.hash(ctx, pw); err != nil {
			return nil, err
		}
	}
	u.ID = newUserID()
	return &PreparedUser{row: *u}, nil
}

// Insert stores a prepared user, in the transaction ctx carries if any,
// with the current time as created and updated time. A taken username,
// email or arbitrary_id is ErrUsernameTaken, ErrEmailTaken or
// ErrArbitraryIDTaken.
func (s *Service) Insert(ctx context.Context, p *PreparedUser) (*User, error) {
	if p == nil || p.row.ID == "" {
		return nil, invalid("no prepared user")
	}
	u := p.row
	now := s.now().UTC().Truncate(time.Microsecond)
	u.CreatedAt, u.UpdatedAt = now, now
	if err := s.store.CreateUser(ctx, &u); err != nil {
		return nil, mapStoreErr(err)
	}
	return fromStorage(&u), nil
}

// Create adds a user to realm: Prepare, then Insert. A user with a password
// must be created outside a transaction (ErrHashInTransaction); one without
// runs in the transaction ctx carries, if any.
func (s *Service) Create(ctx context.Context, realm *config.Realm, in NewUser) (*User, error) {
	p, err := s.Prepare(ctx, realm, in)
	if err != nil {
		return nil, err
	}
	return s.Insert(ctx, p)
}

// mapStoreErr turns storage's sentinels into ours.
func mapStoreErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, storage.ErrUsernameExists):
		return ErrUsernameTaken
	case errors.Is(err, storage.ErrEmailExists):
		return ErrEmailTaken
	case errors.Is(err, storage.ErrArbitraryIDExists):
		return ErrArbitraryIDTaken
	case errors.Is(err, storage.ErrInvalidInput):
		return fmt.Errorf("%w: %w", ErrInvalidUser, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Get returns the user userID of realmID, or ErrNotFound (also for a user of
// another realm).
func (s *Service) Get(ctx context.Context, realmID, userID string) (*User, error) {
	u, err := s.store.GetUser(ctx, realmID, userID)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return fromStorage(u), nil
}

// GetByUsername returns the user of realmID with this username (compared
// as [Normalize] does), or ErrNotFound.
func (s *Service) GetByUsername(ctx context.Context, realmID, username string) (*User, error) {
	u, err := s.store.FindUserByLogin(ctx, realmID, Normalize(username), true, false)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return fromStorage(u), nil
}

// GetByArbitraryID returns the Work API user of environment guid (in
// realmID) with this arbitrary_id, case-sensitively, or ErrNotFound.
func (s *Service) GetByArbitraryID(ctx context.Context, realmID, guid, arbitraryID string) (*User, error) {
	u, err := s.store.FindUserByArbitraryID(ctx, realmID, guid, arbitraryID)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return fromStorage(u), nil
}

// ActiveID returns the id of the user of realmID with id userID, or — when
// arbitraryID is set — of environment guid's user with that arbitrary_id,
// if the user exists and is active; else ErrNotFound or
// ErrUserDeactivated. It is the cheap check of the token paths.
func (s *Service) ActiveID(ctx context.Context, realmID, userID, guid, arbitraryID string) (string, error) {
	id, status, err := s.store.UserStatus(ctx, realmID, userID, guid, arbitraryID)
	if err != nil {
		return "", mapStoreErr(err)
	}
	if status != StatusActive {
		return "", ErrUserDeactivated
	}
	return id, nil
}

// GetByEmail returns the user of realmID with this e-mail (compared as
// [Normalize] does), or ErrNotFound.
func (s *Service) GetByEmail(ctx context.Context, realmID, email string) (*User, error) {
	u, err := s.store.FindUserByLogin(ctx, realmID, Normalize(email), false, true)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return fromStorage(u), nil
}

// List returns the users of realmID, oldest first.
func (s *Service) List(ctx context.Context, realmID string) ([]*User, error) {
	rows, err := s.store.ListUsers(ctx, realmID)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	out := make([]*User, len(rows))
	for i, u := range rows {
		out[i] = fromStorage(u)
	}
	return out, nil
}

// SetStatus activates (StatusActive) or deactivates (StatusDeactivated) the
// user userID of realmID. Deactivating revokes all the user's tokens in the
// same transaction (SPEC §3); a deactivated user can neither log in nor
// refresh. Setting the status a user already has is not an error.
func (s *Service) SetStatus(ctx context.Context, realmID, userID, status string) error {
	if status != StatusActive && status != StatusDeactivated {
		return invalid("status must be %q or %q, got %q", StatusActive, StatusDeactivated, status)
	}
	return mapStoreErr(s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.SetUserStatus(ctx, realmID, userID, status, s.now()); err != nil {
			return err
		}
		if status == StatusDeactivated {
			return s.store.RevokeSubject(ctx, userID)
		}
		return nil
	}))
}

// SetPassword replaces the password of the user userID of realm: checked
// against the realm's policy (a *ValidationError that is ErrWeakPassword),
// hashed (ErrBusy when the bound on hashes stays full), stored, and every
// grant of the user but keepRequestID ("" = all) revoked, in one
// transaction (SPEC §3). The user's lockout slots (by username and e-mail)
// are freed too, so a new password set by an admin also ends a lock. It is
// Update with only the password changed, and like it refuses a ctx that
// carries a transaction (ErrHashInTransaction).
func (s *Service) SetPassword(ctx context.Context, realm *config.Realm, userID, password, keepRequestID string) error {
	_, err := s.Update(ctx, realm, userID, Changes{Password: &password}, keepRequestID)
	return err
}

// newUserID returns "usr_" and 22 random base62 characters (131 bits).
func newUserID() string { return "usr_" + randomBase62(22) }

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters drawn uniformly from base62 (bytes of
// 248 and above are rejected, so there is no modulo bias).
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go ≥ 1.24)
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}
