package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Column widths of signup_tokens, in characters.
const (
	maxSignupIDLen       = 64
	maxCredentialTypeLen = 32
)

// SignupToken is a row of signup_tokens: what a person typed while signing
// up, with the password already hashed, kept until it is converted into a
// user, discarded or expires. The caller (package accounts) validates and
// normalises; the store only refuses what its columns cannot hold. Tokens
// never change once written. Several tokens of a realm may share a
// username: they are siblings, of which at most one becomes a user.
type SignupToken struct {
	ID    string
	Realm string
	// Username and Email are as given; UsernameNorm (required) and EmailNorm
	// (empty is NULL) are the normalised forms users are unique by.
	Username, UsernameNorm string
	Email, EmailNorm       string
	FirstName, LastName    string
	CredentialType         string // "password"
	PasswordHash           string // a PHC string; required
	CreatedAt, ExpiresAt   time.Time
}

// signupSelect reads every column of signup_tokens, in the order of
// scanSignupToken.
const signupSelect = "SELECT id, realm, username, username_norm, email, email_norm, first_name, last_name, " +
	"credential_type, password_hash, created_at, expires_at FROM signup_tokens WHERE "

// checkSignupFields refuses, before any query, what the columns cannot hold.
func checkSignupFields(op string, t *SignupToken) error {
	if err := checkColumns(op, []column{
		{"id", t.ID, maxSignupIDLen, true},
		{"realm", t.Realm, maxUserTextLen, true},
		{"username", t.Username, maxUserTextLen, true},
		{"username_norm", t.UsernameNorm, maxUserTextLen, true},
		{"email", t.Email, maxUserTextLen, false},
		{"email_norm", t.EmailNorm, maxUserTextLen, false},
		{"first_name", t.FirstName, maxUserTextLen, false},
		{"last_name", t.LastName, maxUserTextLen, false},
		{"credential_type", t.CredentialType, maxCredentialTypeLen, true},
		{"password_hash", t.PasswordHash, maxPasswordHash, true},
	}...); err != nil {
		return err
	}
	if t.CreatedAt.IsZero() || t.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: %s: created_at and expires_at are required", ErrInvalidInput, op)
	}
	return nil
}

// CreateSignupToken inserts t. An id already taken gives ErrAlreadyExists;
// values the columns cannot hold are ErrInvalidInput, before any query.
func (s *Store) CreateSignupToken(ctx context.Context, t *SignupToken) error {
	const op = "create signup token"
	if err := checkSignupFields(op, t); err != nil {
		return err
	}
	err := s.db(ctx).Exec("INSERT INTO signup_tokens (id, realm, username, username_norm, email, email_norm, "+
		"first_name, last_name, credential_type, password_hash, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
		t.ID, t.Realm, t.Username, t.UsernameNorm, t.Email, nullIfEmpty(t.EmailNorm), t.FirstName, t.LastName,
		t.CredentialType, t.PasswordHash, clampTime(t.CreatedAt), clampTime(t.ExpiresAt)).Error
	return mapErr(op, err)
}

// GetSignupToken returns the signup token id of realm if it has not expired
// at now, or ErrNotFound (also for another realm's token, and for an id
// longer than the column, without a query).
func (s *Store) GetSignupToken(ctx context.Context, realm, id string, now time.Time) (*SignupToken, error) {
	if utf8.RuneCountInString(id) > maxSignupIDLen {
		return nil, ErrNotFound
	}
	return takeSignupToken(s.reader(ctx), "get signup token", "realm = ? AND id = ? AND expires_at > ?", realm, id, clampTime(now))
}

// takeSignupToken returns the one signup token matching where (a constant
// of this package) on db, or ErrNotFound.
func takeSignupToken(db *gorm.DB, op, where string, args ...any) (*SignupToken, error) {
	var t SignupToken
	var emailNorm *string
	err := scanOne(db.Raw(signupSelect+where, args...), &t.ID, &t.Realm, &t.Username, &t.UsernameNorm, &t.Email, &emailNorm,
		&t.FirstName, &t.LastName, &t.CredentialType, &t.PasswordHash, &t.CreatedAt, &t.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, mapErr(op, err)
	}
	t.EmailNorm = emptyIfNull(emailNorm)
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return &t, nil
}

// DeleteSignupToken deletes the signup token id of realm if it has not
// expired at now (one DELETE); no such live token — unknown, another
// realm's, expired, already deleted or converted — is ErrNotFound.
func (s *Store) DeleteSignupToken(ctx context.Context, realm, id string, now time.Time) error {
	const op = "delete signup token"
	if utf8.RuneCountInString(id) > maxSignupIDLen {
		return ErrNotFound
	}
	res := s.db(ctx).Exec("DELETE FROM signup_tokens WHERE realm = ? AND id = ? AND expires_at > ?", realm, id, clampTime(now))
	if res.Error != nil {
		return mapErr(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// ConsumeSignupToken takes the signup token id of realm, unexpired at now,
// for conversion into a user: it deletes the token and every sibling (the
// realm's other tokens of the same username, expired or not) and returns
// the token and how many siblings were voided. It runs in ctx's
// transaction — the one that then inserts the user, so that a failed
// insert brings them all back — or in its own.
//
// Exactly once: of concurrent consumptions of one token, or of siblings,
// one gets the token and the others ErrNotFound, also across replicas on
// MySQL. The token's row is read first (rows never change, so a plain read
// is enough to learn its username); then the token and its siblings are
// locked in one statement, in the order of the (realm, username_norm)
// index (SELECT … FOR UPDATE on MySQL; SQLite's IMMEDIATE transaction holds
// the write lock already), so two conversions of one username queue on the
// first row rather than deadlock; the token must be among the locked rows
// (a conversion that committed meanwhile deleted it), and they are deleted
// by id. No such live token is ErrNotFound.
func (s *Store) ConsumeSignupToken(ctx context.Context, realm, id string, now time.Time) (tok *SignupToken, voided int, err error) {
	const op = "consume signup token"
	if utf8.RuneCountInString(id) > maxSignupIDLen {
		return nil, 0, ErrNotFound
	}
	err = s.InTx(ctx, func(ctx context.Context) error {
		t, err := takeSignupToken(s.db(ctx), op, "realm = ? AND id = ? AND expires_at > ?", realm, id, clampTime(now))
		if err != nil {
			return err
		}
		lock := "SELECT id FROM signup_tokens WHERE realm = ? AND username_norm = ? ORDER BY id"
		if s.driver == DriverMySQL {
			lock += " FOR UPDATE"
		}
		var ids []string
		if err := s.db(ctx).Raw(lock, realm, t.UsernameNorm).Scan(&ids).Error; err != nil {
			return mapErr(op, err)
		}
		if !slices.Contains(ids, id) {
			return ErrNotFound // converted, discarded or voided since the read
		}
		res := s.db(ctx).Exec("DELETE FROM signup_tokens WHERE id IN ?", ids)
		if res.Error != nil {
			return mapErr(op, res.Error)
		}
		if res.RowsAffected != int64(len(ids)) {
			return fmt.Errorf("storage: %s: deleted %d of %d locked rows", op, res.RowsAffected, len(ids))
		}
		tok, voided = t, len(ids)-1
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return tok, voided, nil
}
