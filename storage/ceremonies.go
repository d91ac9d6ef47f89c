package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Widths of webauthn_ceremonies' columns: characters, and bytes for data.
const (
	maxCeremonyIDLen      = 64 // hex SHA-256
	maxCeremonyPurposeLen = 32
	maxCeremonyDataLen    = 64 << 10
)

// Ceremony is a started WebAuthn ceremony (a registration or a login),
// single-use: [Store.TakeCeremony] returns it once.
type Ceremony struct {
	ID string // hex SHA-256 of the challenge
	// UserID and Username are empty for a login that does not know its
	// user yet (a discoverable credential); CredentialUUID may be empty.
	Realm, UserID, Username, Purpose, CredentialUUID string
	Data                                             []byte // up to 64 KiB
	ExpiresAt                                        time.Time
}

// CreateCeremony inserts c; an id already taken is ErrAlreadyExists,
// fields the columns cannot hold ErrInvalidInput.
func (s *Store) CreateCeremony(ctx context.Context, c *Ceremony) error {
	const op = "create ceremony"
	if err := checkColumns(op, []column{
		{"id", c.ID, maxCeremonyIDLen, true},
		{"realm", c.Realm, maxUserTextLen, true},
		{"user_id", c.UserID, maxUserIDLen, false},
		{"username", c.Username, maxUserTextLen, false},
		{"purpose", c.Purpose, maxCeremonyPurposeLen, true},
		{"credential_uuid", c.CredentialUUID, maxCredentialUUIDLen, false},
	}...); err != nil {
		return err
	}
	if len(c.Data) > maxCeremonyDataLen {
		return fmt.Errorf("%w: %s: data longer than %d bytes", ErrInvalidInput, op, maxCeremonyDataLen)
	}
	if c.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: %s: expires_at is required", ErrInvalidInput, op)
	}
	return mapErr(op, s.db(ctx).Exec("INSERT INTO webauthn_ceremonies (id, realm, user_id, username, purpose, credential_uuid, data, expires_at) "+
		"VALUES (?,?,?,?,?,?,?,?)", c.ID, c.Realm, c.UserID, c.Username, c.Purpose, c.CredentialUUID, nonNil(c.Data), clampTime(c.ExpiresAt)).Error)
}

// TakeCeremony returns ceremony id and deletes it: among concurrent takers
// on any number of replicas exactly one gets it, the others ErrNotFound; an
// expired one (ExpiresAt <= now) is ErrNotFound (and deleted). It is
// PeekCeremony then DeleteCeremony, whose RowsAffected is the arbiter.
func (s *Store) TakeCeremony(ctx context.Context, id string, now time.Time) (*Ceremony, error) {
	c, err := s.PeekCeremony(ctx, id, now)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			_ = s.DeleteCeremony(ctx, id) // an expired one goes too
		}
		return nil, err
	}
	if err := s.DeleteCeremony(ctx, id); err != nil {
		return nil, err
	}
	return c, nil
}

// PeekCeremony returns ceremony id without using it up; an expired one
// (ExpiresAt <= now) is ErrNotFound. A caller that verifies first and
// uses the ceremony up later, in the transaction that stores the result,
// calls DeleteCeremony there.
func (s *Store) PeekCeremony(ctx context.Context, id string, now time.Time) (*Ceremony, error) {
	const op = "peek ceremony"
	if !fitsKey(id, maxCeremonyIDLen) {
		return nil, ErrNotFound
	}
	var c Ceremony
	err := scanOne(s.reader(ctx).Raw("SELECT id, realm, user_id, username, purpose, credential_uuid, data, expires_at "+
		"FROM webauthn_ceremonies WHERE id = ?", id),
		&c.ID, &c.Realm, &c.UserID, &c.Username, &c.Purpose, &c.CredentialUUID, &c.Data, &c.ExpiresAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNotFound
	case err != nil:
		return nil, mapErr(op, err)
	}
	c.ExpiresAt = c.ExpiresAt.UTC()
	if !c.ExpiresAt.After(clampTime(now)) {
		return nil, ErrNotFound
	}
	return &c, nil
}

// DeleteCeremony uses ceremony id up (in ctx's transaction, if any): of
// concurrent deletes on any number of replicas exactly one succeeds, the
// others (and the delete of an unknown id) are ErrNotFound.
func (s *Store) DeleteCeremony(ctx context.Context, id string) error {
	const op = "delete ceremony"
	if !fitsKey(id, maxCeremonyIDLen) {
		return ErrNotFound
	}
	res := s.db(ctx).Exec("DELETE FROM webauthn_ceremonies WHERE id = ?", id)
	switch {
	case res.Error != nil:
		return mapErr(op, res.Error)
	case res.RowsAffected != 1:
		return ErrNotFound
	}
	return nil
}
