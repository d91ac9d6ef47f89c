package storage

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Column widths of one_time_codes, in characters.
const (
	maxCodeIDLen      = 64
	maxCodePurposeLen = 32
	codeHashLen       = 64 // hex SHA-256
)

// ErrCodeMismatch is returned by UseOneTimeCode when the user has live
// codes of the purpose but none is the one presented; the failed attempt
// has been counted.
var ErrCodeMismatch = errors.New("storage: the code does not match")

// OneTimeCode is a row of one_time_codes. CodeHash is the caller's hex
// SHA-256 of the code (with whatever it binds the code to); the code
// itself is never stored.
type OneTimeCode struct {
	ID, Realm, UserID, Purpose string
	CodeHash                   string
	Authorized                 bool
	Attempts                   int
	CreatedAt, ExpiresAt       time.Time
}

// CreateOneTimeCode inserts c; an id already taken is ErrAlreadyExists.
func (s *Store) CreateOneTimeCode(ctx context.Context, c *OneTimeCode) error {
	const op = "create one-time code"
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"id", c.ID, maxCodeIDLen}, {"realm", c.Realm, maxUserTextLen}, {"user_id", c.UserID, maxUserIDLen},
		{"purpose", c.Purpose, maxCodePurposeLen}, {"code_hash", c.CodeHash, codeHashLen},
	} {
		if f.value == "" || !utf8.ValidString(f.value) || utf8.RuneCountInString(f.value) > f.max {
			return fmt.Errorf("%w: %s: %s must be 1 to %d characters of UTF-8", ErrInvalidInput, op, f.name, f.max)
		}
	}
	if c.CreatedAt.IsZero() || c.ExpiresAt.IsZero() || c.Attempts < 0 {
		return fmt.Errorf("%w: %s: created_at and expires_at are required, attempts not negative", ErrInvalidInput, op)
	}
	err := s.db(ctx).Exec("INSERT INTO one_time_codes (id, realm, user_id, purpose, code_hash, authorized, attempts, created_at, expires_at) "+
		"VALUES (?,?,?,?,?,?,?,?,?)", c.ID, c.Realm, c.UserID, c.Purpose, c.CodeHash, c.Authorized, c.Attempts,
		clampTime(c.CreatedAt), clampTime(c.ExpiresAt)).Error
	return mapErr(op, err)
}

// CodeUse is what UseOneTimeCode does with the code that matches.
type CodeUse int

// Uses of a matching code.
const (
	// CodeAuthorize marks it authorized (and keeps it).
	CodeAuthorize CodeUse = iota
	// CodeConsume deletes it.
	CodeConsume
	// CodeRedeemAuthorized deletes it if it is authorized; a matching code
	// not yet authorized is ErrCodeNotAuthorized and stays (the attempt is
	// counted).
	CodeRedeemAuthorized
)

// ErrCodeNotAuthorized: the code matches but is not authorized yet.
var ErrCodeNotAuthorized = errors.New("storage: the one-time code is not authorized")

// UseOneTimeCode checks a presented code of user userID of realm for
// purpose, in one transaction (the one in ctx, if any): every live code of
// the user and purpose — unexpired at now, with fewer than maxAttempts
// attempts — is locked and its attempts counted up by one; then the one
// whose hash is codeHash, if any, is used as use says, and returned as it
// was read (Authorized before this use). No live code is ErrNotFound; live
// codes none of which matches is ErrCodeMismatch, with the attempt counted
// (the transaction commits; likewise for ErrCodeNotAuthorized). Concurrent
// attempts serialise on the rows, so no code is tried more than
// maxAttempts times, across replicas too.
func (s *Store) UseOneTimeCode(ctx context.Context, realm, userID, purpose, codeHash string, now time.Time, maxAttempts int, use CodeUse) (*OneTimeCode, error) {
	const op = "use one-time code"
	var out *OneTimeCode
	mismatch, notAuthorized := false, false
	err := s.InTx(ctx, func(ctx context.Context) error {
		q := "SELECT id, code_hash, authorized, attempts, created_at, expires_at FROM one_time_codes " +
			"WHERE realm = ? AND user_id = ? AND purpose = ? AND expires_at > ? AND attempts < ? ORDER BY id"
		if s.driver == DriverMySQL {
			q += " FOR UPDATE"
		}
		rows, err := s.db(ctx).Raw(q, realm, userID, purpose, clampTime(now), maxAttempts).Rows()
		if err != nil {
			return mapErr(op, err)
		}
		var live []*OneTimeCode
		for rows.Next() {
			c := &OneTimeCode{Realm: realm, UserID: userID, Purpose: purpose}
			if err := rows.Scan(&c.ID, &c.CodeHash, &c.Authorized, &c.Attempts, &c.CreatedAt, &c.ExpiresAt); err != nil {
				rows.Close()
				return mapErr(op, err)
			}
			live = append(live, c)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return mapErr(op, err)
		}
		rows.Close()
		if len(live) == 0 {
			return ErrNotFound
		}
		ids := make([]string, len(live))
		for i, c := range live {
			ids[i] = c.ID
			if subtle.ConstantTimeCompare([]byte(c.CodeHash), []byte(codeHash)) == 1 && out == nil {
				out = c
			}
		}
		if err := s.db(ctx).Exec("UPDATE one_time_codes SET attempts = attempts + 1 WHERE id IN ?", ids).Error; err != nil {
			return mapErr(op, err)
		}
		switch {
		case out == nil:
			mismatch = true
			return nil
		case use == CodeRedeemAuthorized && !out.Authorized:
			notAuthorized = true
			return nil
		case use == CodeConsume || use == CodeRedeemAuthorized:
			err = s.db(ctx).Exec("DELETE FROM one_time_codes WHERE id = ?", out.ID).Error
		default:
			err = s.db(ctx).Exec("UPDATE one_time_codes SET authorized = ? WHERE id = ?", true, out.ID).Error
		}
		out.Attempts++
		out.CreatedAt, out.ExpiresAt = out.CreatedAt.UTC(), out.ExpiresAt.UTC()
		return mapErr(op, err)
	})
	switch {
	case err != nil:
		return nil, err
	case mismatch:
		return nil, ErrCodeMismatch
	case notAuthorized:
		return nil, ErrCodeNotAuthorized
	}
	return out, nil
}

// DeleteOneTimeCodes deletes the codes of user userID of realm — of
// purpose, or of every purpose when purpose is "" — and returns how many.
func (s *Store) DeleteOneTimeCodes(ctx context.Context, realm, userID, purpose string) (int64, error) {
	q, args := "DELETE FROM one_time_codes WHERE realm = ? AND user_id = ?", []any{realm, userID}
	if purpose != "" {
		q, args = q+" AND purpose = ?", append(args, purpose)
	}
	res := s.db(ctx).Exec(q, args...)
	if res.Error != nil {
		return 0, mapErr("delete one-time codes", res.Error)
	}
	return res.RowsAffected, nil
}
