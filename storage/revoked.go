package storage

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// RevokeTokenSignature records that the token whose signature is signature
// is revoked, until expiresAt (the token's own expiry, after which the
// purge drops the record). It is for tokens that have no row of their own —
// client_credentials JWT access tokens — whose revocation must be seen by
// every replica at once. Revoking a token twice is not an error.
func (s *Store) RevokeTokenSignature(ctx context.Context, signature string, expiresAt time.Time) error {
	const op = "revoke token signature"
	if err := checkSignature(op, signature); err != nil {
		return err
	}
	insert := "INSERT INTO revoked_tokens (signature, expires_at) VALUES (?,?) ON CONFLICT (signature) DO NOTHING"
	if s.driver == DriverMySQL {
		insert = "INSERT INTO revoked_tokens (signature, expires_at) VALUES (?,?) ON DUPLICATE KEY UPDATE signature = signature"
	}
	return mapErr(op, s.db(ctx).Exec(insert, signature, clampTime(expiresAt)).Error)
}

// TokenRevoked reports whether RevokeTokenSignature recorded signature: one
// primary-key read, on the transaction in ctx or the read pool.
func (s *Store) TokenRevoked(ctx context.Context, signature string) (bool, error) {
	const op = "read token revocation"
	if err := checkSignature(op, signature); err != nil {
		return false, err
	}
	var one int
	err := scanOne(s.reader(ctx).Raw("SELECT 1 FROM revoked_tokens WHERE signature = ?", signature), &one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, mapErr(op, err)
	}
	return true, nil
}
