package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RevokeTokenID records that the token whose id hashes to idHash (the hex
// SHA-256 of its jti) is revoked, until expiresAt (the token's own expiry,
// after which the purge drops the record). It is for tokens that have no
// row of their own — client_credentials JWT access tokens — whose
// revocation must be seen by every replica at once. They are keyed by
// their id, not by the hash of the whole token, because a JWT has other
// encodings that verify as well (an ECDSA signature (r, n−s), unused
// base64url bits): every one of them is the same revoked token. Revoking a
// token twice is not an error.
func (s *Store) RevokeTokenID(ctx context.Context, idHash string, expiresAt time.Time) error {
	const op = "revoke token id"
	if err := checkIDHash(op, idHash); err != nil {
		return err
	}
	insert := "INSERT INTO revoked_tokens (id_hash, expires_at) VALUES (?,?) ON CONFLICT (id_hash) DO NOTHING"
	if s.driver == DriverMySQL {
		insert = "INSERT INTO revoked_tokens (id_hash, expires_at) VALUES (?,?) ON DUPLICATE KEY UPDATE id_hash = id_hash"
	}
	return mapErr(op, s.db(ctx).Exec(insert, idHash, clampTime(expiresAt)).Error)
}

// TokenRevoked reports whether RevokeTokenID recorded idHash: one
// primary-key read, on the transaction in ctx or the read pool.
func (s *Store) TokenRevoked(ctx context.Context, idHash string) (bool, error) {
	const op = "read token revocation"
	if err := checkIDHash(op, idHash); err != nil {
		return false, err
	}
	var one int
	err := scanOne(s.reader(ctx).Raw("SELECT 1 FROM revoked_tokens WHERE id_hash = ?", idHash), &one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, mapErr(op, err)
	}
	return true, nil
}

// checkIDHash refuses what cannot be a SHA-256 in hex of the column's width.
func checkIDHash(op, idHash string) error {
	if idHash == "" || len(idHash) > maxSignatureLen {
		return fmt.Errorf("%w: %s: id hash must be 1 to %d bytes, got %d", ErrInvalidInput, op, maxSignatureLen, len(idHash))
	}
	return nil
}
