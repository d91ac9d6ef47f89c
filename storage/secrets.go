package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
)

// MaxInstanceSecret is the longest instance secret, in bytes.
const MaxInstanceSecret = 64

// InstanceSecret returns the database's secret called name, size random
// bytes made the first time any replica asks (a racing replica's insert is
// ignored, and every caller reads the one stored): a key that every
// replica shares and that no config change or key rotation alters, such
// as the one of passkey decoys. size must be the same for every caller of
// a name.
func (s *Store) InstanceSecret(ctx context.Context, name string, size int) ([]byte, error) {
	const op = "instance secret"
	if !fitsKey(name, 64) || size < 16 || size > MaxInstanceSecret {
		return nil, fmt.Errorf("%w: %s: a name of 1 to 64 characters and a size of 16 to %d bytes", ErrInvalidInput, op, MaxInstanceSecret)
	}
	value := make([]byte, size)
	if _, err := rand.Read(value); err != nil {
		return nil, fmt.Errorf("storage: %s: %w", op, err)
	}
	insert := "INSERT INTO instance_secrets (name, value, created_at) VALUES (?,?,?) ON CONFLICT (name) DO NOTHING"
	if s.driver == DriverMySQL {
		insert = "INSERT INTO instance_secrets (name, value, created_at) VALUES (?,?,?) ON DUPLICATE KEY UPDATE name = name"
	}
	if err := s.db(ctx).Exec(insert, name, value, clampTime(s.now())).Error; err != nil {
		return nil, mapErr(op, err)
	}
	var stored []byte
	err := scanOne(s.db(ctx).Raw("SELECT value FROM instance_secrets WHERE name = ?", name), &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("storage: %s %q: not stored", op, name)
	case err != nil:
		return nil, mapErr(op, err)
	case len(stored) != size:
		return nil, fmt.Errorf("%w: %s %q is %d bytes, asked for %d", ErrInvalidInput, op, name, len(stored), size)
	}
	return stored, nil
}
