package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// Signup tokens hold what a person typed while signing up — username,
// e-mail, names and the password, hashed on arrival — while the signup's
// other steps (a payment, say) are completed; then the token is converted
// into a user, discarded, or left to expire after the realm's
// signup_token_ttl (the storage purge deletes it then). Several tokens may
// exist for one username; converting one voids the others.

// CredentialPassword is the credential_type of a signup token that carries
// a password (the only kind there is).
const CredentialPassword = "password"

// SignupTokenPrefix starts every signup token id; 22 random base62
// characters follow.
const SignupTokenPrefix = "utk_"

// signupTokenIDLength is the length of a signup token id.
const signupTokenIDLength = len(SignupTokenPrefix) + 22

// DefaultSignupTokenTTL is a signup token's lifetime in a realm that sets
// none (the config loader always sets one; code may not).
const DefaultSignupTokenTTL = 24 * time.Hour

// ErrSignupTokenNotFound: no live signup token with this id in the realm —
// unknown, of another realm, expired, discarded, converted, or voided by
// the conversion of a sibling. The cases are not told apart.
var ErrSignupTokenNotFound = errors.New("accounts: no such signup token (unknown, expired, discarded or already converted)")

// SignupToken is a signup token as it is shown. It never carries the
// password or its hash.
type SignupToken struct {
	ID                  string // SignupTokenPrefix + 22 random base62 characters
	Realm               string
	Username, Email     string // as given (trimmed); in a username_is_email realm both are the e-mail
	FirstName, LastName string // "" when not given
	CredentialType      string // CredentialPassword
	CreatedAt           time.Time
	ExpiresAt           time.Time
}

// NewSignupToken is what CreateSignupToken needs: a username, an e-mail
// (unless the realm uses e-mails as usernames: then either, or both equal)
// and a password are required; names are optional. White space around the
// username, e-mail and names is trimmed.
type NewSignupToken struct {
	Username, Email     string
	FirstName, LastName string
	// Password is the plain password, checked against the realm's policy and
	// hashed; it is never stored or returned.
	Password string
	// PasswordConfirmation, when not nil, must equal Password.
	PasswordConfirmation *string
}

func fromSignupRow(t *storage.SignupToken) *SignupToken {
	return &SignupToken{
		ID:             t.ID,
		Realm:          t.Realm,
		Username:       t.Username,
		Email:          t.Email,
		FirstName:      t.FirstName,
		LastName:       t.LastName,
		CredentialType: t.CredentialType,
		CreatedAt:      t.CreatedAt,
		ExpiresAt:      t.ExpiresAt,
	}
}

// IsSignupTokenID reports whether id has the form of a signup token id:
// SignupTokenPrefix and 22 base62 characters. Others are not looked up.
func IsSignupTokenID(id string) bool {
	if len(id) != signupTokenIDLength || !strings.HasPrefix(id, SignupTokenPrefix) {
		return false
	}
	for i := len(SignupTokenPrefix); i < len(id); i++ {
		if strings.IndexByte(base62, id[i]) < 0 {
			return false
		}
	}
	return true
}

// newSignupTokenID returns SignupTokenPrefix and 22 random base62
// characters (131 bits from crypto/rand).
func newSignupTokenID() string { return SignupTokenPrefix + randomBase62(22) }

// ValidateSignupToken checks a new signup token's fields in realm without
// touching the database: every problem at once, as a *ValidationError
// (ErrInvalidUser; ErrWeakPassword when the password is among them), or
// ErrInvalidUser without a realm. Blank required fields are CodeBlank
// problems of their field; the other rules are those of a new user with a
// password ([Service.Validate]), the realm's password policy included. A
// taken username or e-mail is not checked here (CreateSignupToken does).
func (s *Service) ValidateSignupToken(realm *config.Realm, in NewSignupToken) error {
	_, _, err := validateSignup(realm, in)
	return err
}

// validateSignup returns the user row the token describes (without id,
// hash or times) and the normalised password to hash, or the problems.
func validateSignup(realm *config.Realm, in NewSignupToken) (*storage.User, string, error) {
	if realm == nil {
		return nil, "", invalid("no realm")
	}
	u, pw, err := validateUser(realm, candidate{in: NewUser{
		Username: in.Username, Email: in.Email, FirstName: in.FirstName, LastName: in.LastName,
		Password: in.Password, PasswordConfirmation: in.PasswordConfirmation,
	}})
	var ps problems
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		for _, p := range ve.Problems {
			// The user rule "a username or an e-mail" is replaced by the
			// signup token's own: each required field on its own.
			if p.Code != CodeBlank {
				ps = append(ps, p)
			}
		}
	} else if err != nil {
		return nil, "", err
	}
	username, email := strings.TrimSpace(in.Username), strings.TrimSpace(in.Email)
	if realm.UsernameIsEmail && username == "" {
		username = email // the e-mail is the username
	}
	if username == "" {
		ps.add(FieldUsername, CodeBlank, "username can't be blank")
	}
	if email == "" && !realm.UsernameIsEmail {
		ps.add(FieldEmail, CodeBlank, "email can't be blank")
	}
	if in.Password == "" {
		ps.add(FieldPassword, CodeBlank, "password can't be blank")
	}
	if err := ps.err(); err != nil {
		return nil, "", err
	}
	return u, pw, nil
}

// CreateSignupToken validates in (every problem at once, a taken username
// or e-mail among them: a *ValidationError), hashes the password with the
// bound on hashes (ErrBusy when it stays full for the queue timeout) and
// stores a new signup token of realm that lives the realm's
// signup_token_ttl. The uniqueness checks are reads before the hash; the
// conversion checks again, atomically. ctx must not carry a transaction
// (ErrHashInTransaction): the hash takes tens of milliseconds.
func (s *Service) CreateSignupToken(ctx context.Context, realm *config.Realm, in NewSignupToken) (*SignupToken, error) {
	if s.store.InTransaction(ctx) {
		return nil, ErrHashInTransaction
	}
	u, pw, err := validateSignup(realm, in)
	ve, invalidFields := errors.AsType[*ValidationError](err)
	if err != nil && !invalidFields {
		return nil, err
	}
	var ps problems
	if invalidFields {
		ps = ve.Problems
	}
	taken, err := s.signupTaken(ctx, realm, in, ps)
	if err != nil {
		return nil, err
	}
	ps = append(ps, taken...)
	if err := ps.err(); err != nil {
		return nil, err
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	ttl := realm.SignupTokenTTL
	if ttl <= 0 {
		ttl = DefaultSignupTokenTTL
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	row := &storage.SignupToken{
		ID:             newSignupTokenID(),
		Realm:          realm.ID,
		Username:       u.Username,
		UsernameNorm:   u.UsernameNorm,
		Email:          u.Email,
		EmailNorm:      u.EmailNorm,
		FirstName:      u.FirstName,
		LastName:       u.LastName,
		CredentialType: CredentialPassword,
		PasswordHash:   hash,
		CreatedAt:      now,
		ExpiresAt:      now.Add(ttl),
	}
	if err := s.store.CreateSignupToken(ctx, row); err != nil {
		return nil, mapStoreErr(err)
	}
	return fromSignupRow(row), nil
}

// signupTaken returns the taken problems of in's username and e-mail among
// realm's users, for the fields without other problems in ps. In a
// username_is_email realm the username (the e-mail) is matched against
// both, and reported once, as the username's.
func (s *Service) signupTaken(ctx context.Context, realm *config.Realm, in NewSignupToken, ps problems) (problems, error) {
	username, email := strings.TrimSpace(in.Username), strings.TrimSpace(in.Email)
	if realm.UsernameIsEmail && username == "" {
		username = email
	}
	var out problems
	check := func(field, value string, byUsername, byEmail bool, taken error) error {
		if value == "" || ps.has(field) {
			return nil
		}
		_, err := s.store.FindUserByLogin(ctx, realm.ID, Normalize(value), byUsername, byEmail)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return nil
		case err != nil:
			return mapStoreErr(err)
		}
		p, _ := TakenProblem(taken)
		out = append(out, p)
		return nil
	}
	if err := check(FieldUsername, username, true, realm.UsernameIsEmail, ErrUsernameTaken); err != nil {
		return nil, err
	}
	if !realm.UsernameIsEmail {
		if err := check(FieldEmail, email, false, true, ErrEmailTaken); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetSignupToken returns the live signup token id of realmID, or
// ErrSignupTokenNotFound (also for an id not of the signup token form,
// without a query).
func (s *Service) GetSignupToken(ctx context.Context, realmID, id string) (*SignupToken, error) {
	if !IsSignupTokenID(id) {
		return nil, ErrSignupTokenNotFound
	}
	row, err := s.store.GetSignupToken(ctx, realmID, id, s.now())
	if err != nil {
		return nil, mapSignupErr(err)
	}
	return fromSignupRow(row), nil
}

// DiscardSignupToken deletes the live signup token id of realmID; its
// siblings stay. No such token is ErrSignupTokenNotFound.
func (s *Service) DiscardSignupToken(ctx context.Context, realmID, id string) error {
	if !IsSignupTokenID(id) {
		return ErrSignupTokenNotFound
	}
	return mapSignupErr(s.store.DeleteSignupToken(ctx, realmID, id, s.now()))
}

// ConvertSignupToken turns the live signup token id of realm into an active
// user with the token's fields and its stored password hash — no hash is
// computed — in one transaction (the one ctx carries, if any) that consumes
// the token, voids its siblings (the realm's other signup tokens of the
// same username) and inserts the user. Exactly once: of concurrent
// conversions of one token or of siblings, on any number of replicas, one
// succeeds and the others get ErrSignupTokenNotFound.
//
// Errors, after which nothing has changed: ErrSignupTokenNotFound;
// ErrUsernameTaken or ErrEmailTaken when a user took the name since the
// token was made (the token stays); a *ValidationError when the token's
// fields no longer pass the realm's rules (its username_is_email setting
// changed, say). A deadlock or lock timeout on MySQL is retried once.
func (s *Service) ConvertSignupToken(ctx context.Context, realm *config.Realm, id string) (*User, error) {
	if realm == nil {
		return nil, invalid("no realm")
	}
	if !IsSignupTokenID(id) {
		return nil, ErrSignupTokenNotFound
	}
	userID := newUserID()
	var user *User
	convert := func() error {
		return s.store.InTx(ctx, func(ctx context.Context) error {
			now := s.now().UTC().Truncate(time.Microsecond)
			tok, _, err := s.store.ConsumeSignupToken(ctx, realm.ID, id, now)
			if err != nil {
				return err
			}
			// The fields were valid when the token was made; the realm's
			// rules may have changed since. The password is not checked
			// again: only its hash is here, and the user chose it under
			// the rules of the day.
			u, _, err := validateUser(realm, candidate{keepsPassword: true, in: NewUser{
				Username: tok.Username, Email: tok.Email, FirstName: tok.FirstName, LastName: tok.LastName,
			}})
			if err != nil {
				return err
			}
			u.ID, u.PasswordHash = userID, tok.PasswordHash
			u.CreatedAt, u.UpdatedAt = now, now
			if err := s.store.CreateUser(ctx, u); err != nil {
				return err
			}
			user = fromStorage(u)
			return nil
		})
	}
	err := convert()
	if err != nil && storage.IsRetryable(err) && !s.store.InTransaction(ctx) {
		err = convert()
	}
	if _, ok := errors.AsType[*ValidationError](err); ok {
		return nil, err
	}
	if err != nil {
		return nil, mapSignupErr(err)
	}
	return user, nil
}

// mapSignupErr is mapStoreErr for signup tokens: no row is
// ErrSignupTokenNotFound.
func mapSignupErr(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrSignupTokenNotFound
	}
	return mapStoreErr(err)
}
