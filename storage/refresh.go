package storage

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
)

// RefreshTokenUsedAt reports when the refresh token stored under signature
// was rotated: the zero time when it never was (unused, or revoked without
// being used), fosite.ErrNotFound when there is no such token.
func (s *Store) RefreshTokenUsedAt(ctx context.Context, signature string) (time.Time, error) {
	var usedAt sql.NullTime
	err := scanOne(s.reader(ctx).Raw("SELECT used_at FROM refresh_tokens WHERE signature = ?", signature), &usedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, mapErr("refresh token used_at", gorm.ErrRecordNotFound)
	}
	if err != nil {
		return time.Time{}, mapErr("refresh token used_at", err)
	}
	if !usedAt.Valid {
		return time.Time{}, nil
	}
	return usedAt.Time.UTC(), nil
}

// LockRefreshToken takes the row lock of the refresh token stored under
// signature for the rest of the transaction in ctx, so that concurrent
// requests about one token run one after the other. On MySQL it is SELECT …
// FOR UPDATE; on SQLite the transaction already holds the database's write
// lock (it began IMMEDIATE), so there is nothing more to take. It must run in
// a transaction.
func (s *Store) LockRefreshToken(ctx context.Context, signature string) error {
	if s.txFrom(ctx) == nil {
		return ErrNoTransaction
	}
	if s.driver != DriverMySQL {
		return nil
	}
	var sig string
	err := scanOne(s.db(ctx).Raw("SELECT signature FROM refresh_tokens WHERE signature = ? FOR UPDATE", signature), &sig)
	if errors.Is(err, sql.ErrNoRows) {
		return mapErr("lock refresh token", gorm.ErrRecordNotFound)
	}
	return mapErr("lock refresh token", err)
}

// RevokeLiveRefreshTokens ends the live (active) refresh tokens of the grant
// requestID and the access tokens issued with them, and reports how many
// refresh tokens it ended: a refresh within the grace period replaces the
// pair issued before it, so that a grant never has two live refresh tokens.
// Older access tokens of the grant stay valid until their exp. Zero means
// the grant has no live refresh token (it was revoked).
func (s *Store) RevokeLiveRefreshTokens(ctx context.Context, requestID string) (int64, error) {
	const op = "revoke live refresh tokens"
	var n int64
	err := s.InTx(ctx, func(ctx context.Context) error {
		err := s.db(ctx).Exec("DELETE FROM access_tokens WHERE signature IN "+
			"(SELECT access_signature FROM refresh_tokens WHERE request_id = ? AND active = ?)", requestID, true).Error
		if err != nil {
			return mapErr(op, err)
		}
		res := s.db(ctx).Exec("UPDATE refresh_tokens SET active = ? WHERE request_id = ? AND active = ?", false, requestID, true)
		n = res.RowsAffected
		return mapErr(op, res.Error)
	})
	return n, err
}

// RevokeGrant ends every token of the grant requestID in one transaction:
// refresh tokens are deactivated (kept for reuse detection until they
// expire), access tokens deleted.
func (s *Store) RevokeGrant(ctx context.Context, requestID string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.RevokeRefreshToken(ctx, requestID); err != nil {
			return err
		}
		return s.RevokeAccessToken(ctx, requestID)
	})
}
