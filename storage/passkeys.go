package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Passkeys: the WebAuthn part of a fido2 credential, in passkeys under the
// uuid of its credentials row. The credential row carries what a person
// sees (name, status, dates); the passkey row what the relying party
// checks an assertion with.

// Widths of passkeys' columns: bytes for the byte columns, characters for
// the text ones.
const (
	maxCredentialIDLen  = 1023 // WebAuthn's limit on a credential id
	maxPublicKeyLen     = 65535
	aaguidLen           = 16
	maxTransportsLen    = 255 // the transports joined with commas
	maxAttestationLen   = 64
	transportsSeparator = ","
)

// ErrCounterNotIncreased is returned by RecordPasskeyUse when an
// assertion's signature counter is not above the stored one: the
// authenticator may have been cloned, and its credential is now
// CredentialInactive.
var ErrCounterNotIncreased = errors.New("storage: the passkey's signature counter did not increase")

// Passkey is the WebAuthn part of a fido2 credential (the credentials row
// of the same UUID).
type Passkey struct {
	UUID, Realm, UserID string
	CredentialID        []byte // the authenticator's raw credential id, unique in a realm
	PublicKey           []byte // COSE_Key bytes
	SignCount           uint32
	Transports          []string // as the authenticator reported them ("usb", "internal", …)
	BackupEligible      bool
	BackupState         bool
	UserVerified        bool
	AAGUID              []byte // 16 bytes, or none
	AttestationType     string
	AttestationFormat   string
	LastUsedAt          time.Time // zero when never used
	// Name, CreatedAt and UpdatedAt are its credential's, read beside it
	// (CreatePasskey takes them from the credential).
	Name                 string
	CreatedAt, UpdatedAt time.Time
}

// checkPasskeyFields refuses, before any query, what passkeys' columns
// cannot hold, and returns the transports as stored.
func checkPasskeyFields(op string, p *Passkey) (string, error) {
	switch {
	case len(p.CredentialID) == 0 || len(p.CredentialID) > maxCredentialIDLen:
		return "", fmt.Errorf("%w: %s: credential_id must be 1 to %d bytes, got %d", ErrInvalidInput, op, maxCredentialIDLen, len(p.CredentialID))
	case len(p.PublicKey) == 0 || len(p.PublicKey) > maxPublicKeyLen:
		return "", fmt.Errorf("%w: %s: public_key must be 1 to %d bytes, got %d", ErrInvalidInput, op, maxPublicKeyLen, len(p.PublicKey))
	case len(p.AAGUID) != 0 && len(p.AAGUID) != aaguidLen:
		return "", fmt.Errorf("%w: %s: aaguid must be %d bytes or none, got %d", ErrInvalidInput, op, aaguidLen, len(p.AAGUID))
	}
	for _, tr := range p.Transports {
		if tr == "" || strings.Contains(tr, transportsSeparator) {
			return "", fmt.Errorf("%w: %s: transport %q is empty or has a comma", ErrInvalidInput, op, tr)
		}
	}
	transports := strings.Join(p.Transports, transportsSeparator)
	if err := checkColumns(op, []column{
		{"transports", transports, maxTransportsLen, false},
		{"attestation_type", p.AttestationType, maxAttestationLen, false},
		{"attestation_format", p.AttestationFormat, maxAttestationLen, false},
	}...); err != nil {
		return "", err
	}
	return transports, nil
}

// nonNil is b, or an empty slice for nil: database/sql binds a nil []byte
// as NULL, and the byte columns are NOT NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// CreatePasskey inserts c, a credential of Type CredentialFIDO2 with the
// same UUID, Realm and UserID as p, and p, in one transaction (the one in
// ctx, if any). A credential id already in the realm, or a uuid taken, is
// ErrAlreadyExists, and neither row is written; fields the columns cannot
// hold, or c and p that do not match, are ErrInvalidInput.
func (s *Store) CreatePasskey(ctx context.Context, c *Credential, p *Passkey) error {
	const op = "create passkey"
	if c == nil || p == nil {
		return fmt.Errorf("%w: %s: a credential and a passkey are required", ErrInvalidInput, op)
	}
	if c.Type != CredentialFIDO2 {
		return fmt.Errorf("%w: %s: the credential's type must be %q", ErrInvalidInput, op, CredentialFIDO2)
	}
	if err := checkCredentialFields(op, c); err != nil {
		return err
	}
	if p.UUID != c.UUID || p.Realm != c.Realm || p.UserID != c.UserID {
		return fmt.Errorf("%w: %s: the passkey's uuid, realm and user_id must be its credential's", ErrInvalidInput, op)
	}
	transports, err := checkPasskeyFields(op, p)
	if err != nil {
		return err
	}
	p.Name, p.CreatedAt, p.UpdatedAt = c.Name, c.CreatedAt, c.UpdatedAt
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.CreateCredential(ctx, c); err != nil {
			return err
		}
		return mapErr(op, s.db(ctx).Exec("INSERT INTO passkeys (uuid, realm, user_id, credential_id, public_key, sign_count, transports, "+
			"backup_eligible, backup_state, user_verified, aaguid, attestation_type, attestation_format, last_used_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			p.UUID, p.Realm, p.UserID, p.CredentialID, p.PublicKey, p.SignCount, transports,
			p.BackupEligible, p.BackupState, p.UserVerified, nonNil(p.AAGUID), p.AttestationType, p.AttestationFormat, dbTime(p.LastUsedAt)).Error)
	})
}

// passkeySelect reads a passkey (p) with its credential (c) beside it.
const passkeySelect = "SELECT p.uuid, p.realm, p.user_id, p.credential_id, p.public_key, p.sign_count, p.transports, " +
	"p.backup_eligible, p.backup_state, p.user_verified, p.aaguid, p.attestation_type, p.attestation_format, p.last_used_at, c.status, " +
	"c.name, c.created_at, c.updated_at " +
	"FROM passkeys p JOIN credentials c ON c.uuid = p.uuid AND c.realm = p.realm WHERE "

// scanPasskey scans a row of passkeySelect; it returns the credential's
// status beside the passkey.
func scanPasskey(sc interface{ Scan(...any) error }) (*Passkey, string, error) {
	var p Passkey
	var transports, status string
	var lastUsed sql.NullTime
	if err := sc.Scan(&p.UUID, &p.Realm, &p.UserID, &p.CredentialID, &p.PublicKey, &p.SignCount, &transports,
		&p.BackupEligible, &p.BackupState, &p.UserVerified, &p.AAGUID, &p.AttestationType, &p.AttestationFormat, &lastUsed, &status,
		&p.Name, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, "", err
	}
	if transports != "" {
		p.Transports = strings.Split(transports, transportsSeparator)
	}
	if lastUsed.Valid {
		p.LastUsedAt = lastUsed.Time.UTC()
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, status, nil
}

// PasskeysOfUser returns the passkeys of user userID of realm whose
// credential is active, oldest credential first (none for an unknown
// user).
func (s *Store) PasskeysOfUser(ctx context.Context, realm, userID string) ([]*Passkey, error) {
	const op = "passkeys of user"
	rows, err := s.reader(ctx).Raw(passkeySelect+"p.realm = ? AND p.user_id = ? AND c.status = ? ORDER BY c.created_at, p.uuid",
		realm, userID, CredentialActive).Rows()
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []*Passkey
	for rows.Next() {
		p, _, err := scanPasskey(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// PasskeyByCredentialID returns the passkey of the raw credential id
// credentialID in realm, whatever its credential's status, and that status
// (CredentialActive, CredentialRevoked, CredentialInactive); ErrNotFound
// when there is none.
func (s *Store) PasskeyByCredentialID(ctx context.Context, realm string, credentialID []byte) (*Passkey, string, error) {
	const op = "passkey by credential id"
	if len(credentialID) == 0 || len(credentialID) > maxCredentialIDLen || !fitsKey(realm, maxUserTextLen) {
		return nil, "", ErrNotFound
	}
	rows, err := s.reader(ctx).Raw(passkeySelect+"p.realm = ? AND p.credential_id = ?", realm, credentialID).Rows()
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, "", mapErr(op, err)
		}
		return nil, "", ErrNotFound
	}
	p, status, err := scanPasskey(rows)
	if err != nil {
		return nil, "", mapErr(op, err)
	}
	return p, status, mapErr(op, rows.Close())
}

// RecordPasskeyUse stores a verified assertion of the passkey uuid of
// realm: its signature counter signCount, its backup state and now as its
// last use. It is one conditional UPDATE, which succeeds only while the
// credential is active and the counter increases (signCount above the
// stored one, or both 0: an authenticator without a counter); of
// concurrent uses with one counter value, one succeeds. The credential's
// updated_at is not touched.
//
// When the UPDATE changes nothing: a passkey that is missing, or whose
// credential is not active, is ErrNotFound; a counter that did not
// increase makes the credential CredentialInactive (with updated_at now)
// and returns ErrCounterNotIncreased. Call it outside any transaction:
// the inactive mark is a statement of its own, committed at once, which an
// enclosing transaction rolled back on the error would undo.
func (s *Store) RecordPasskeyUse(ctx context.Context, realm, uuid string, signCount uint32, backupState bool, now time.Time) error {
	const op = "record passkey use"
	if !fitsKey(uuid, maxCredentialUUIDLen) || !fitsKey(realm, maxUserTextLen) {
		return ErrNotFound
	}
	increased, args := "sign_count < ?", []any{signCount}
	if signCount == 0 {
		increased, args = "sign_count = 0", nil
	}
	res := s.db(ctx).Exec("UPDATE passkeys SET sign_count = ?, backup_state = ?, last_used_at = ? "+
		"WHERE realm = ? AND uuid = ? AND "+increased+
		" AND EXISTS (SELECT 1 FROM credentials c WHERE c.uuid = passkeys.uuid AND c.realm = passkeys.realm AND c.status = ?)",
		append(append([]any{signCount, backupState, clampTime(now), realm, uuid}, args...), CredentialActive)...)
	if res.Error != nil {
		return mapErr(op, res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	var status string
	var stored uint32
	err := scanOne(s.db(ctx).Raw("SELECT c.status, p.sign_count FROM passkeys p JOIN credentials c ON c.uuid = p.uuid AND c.realm = p.realm "+
		"WHERE p.realm = ? AND p.uuid = ?", realm, uuid), &status, &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return mapErr(op, err)
	case status != CredentialActive:
		return ErrNotFound
	case signCount == 0 && stored == 0:
		// Matched but unchanged (a repeated use at the same instant):
		// MySQL counts changed rows, not matched ones.
		return nil
	}
	if err := s.db(ctx).Exec("UPDATE credentials SET status = ?, updated_at = ? WHERE realm = ? AND uuid = ? AND status = ?",
		CredentialInactive, clampTime(now), realm, uuid, CredentialActive).Error; err != nil {
		return mapErr(op, err)
	}
	return ErrCounterNotIncreased
}
