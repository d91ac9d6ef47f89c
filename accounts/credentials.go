package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey/storage"
)

// Credentials: the ways a user logs in, each with a uuid, a name and a
// status, as LoginID shows them. A user's password is one: its uuid is
// derived from the user's id (PasswordCredentialUUID), and its row is
// written the first time it is shown (EnsurePasswordCredential), so users
// made anywhere — another surface, the command line — have theirs too.

// Credential types (CredentialPassword is the signup tokens' too) and
// statuses.
const (
	CredentialFIDO2   = storage.CredentialFIDO2
	CredentialActive  = storage.CredentialActive
	CredentialRevoked = storage.CredentialRevoked
)

// PasswordCredentialName is the name a password credential starts with.
const PasswordCredentialName = "Password"

// Errors of the credential operations.
var (
	// ErrCredentialNotFound: no credential with this uuid in the realm.
	ErrCredentialNotFound = errors.New("accounts: no such credential")
	// ErrLastCredential: the credential is its user's last active one; a
	// user keeps at least one way to log in.
	ErrLastCredential = errors.New("accounts: the user's last active credential cannot be revoked")
	// ErrInvalidCredentialName: the name is empty, too long or not text.
	ErrInvalidCredentialName = errors.New("accounts: invalid credential name")
)

// Credential is one way a user logs in. It never carries a secret.
type Credential struct {
	UUID, UserID         string
	Type                 string // CredentialPassword or CredentialFIDO2
	Name                 string
	Status               string // CredentialActive or CredentialRevoked
	CreatedAt, UpdatedAt time.Time
}

func credentialFromStorage(c *storage.Credential) *Credential {
	return &Credential{UUID: c.UUID, UserID: c.UserID, Type: c.Type, Name: c.Name, Status: c.Status, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// PasswordCredentialUUID is the uuid of user userID's password credential:
// a SHA-256 of the user id shaped as an RFC 9562 version 8 UUID, the same
// on every replica.
func PasswordCredentialUUID(userID string) string {
	sum := sha256.Sum256([]byte("latchkey password credential\x00" + userID))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// EnsurePasswordCredential writes the password credential of user userID
// of realmID if the user has a password and it is not written yet (one
// statement, in ctx's transaction if any); otherwise it does nothing.
func (s *Service) EnsurePasswordCredential(ctx context.Context, realmID, userID string) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	err := s.store.EnsurePasswordCredential(ctx, &storage.Credential{UUID: PasswordCredentialUUID(userID), Realm: realmID, UserID: userID,
		Type: CredentialPassword, Name: PasswordCredentialName, Status: CredentialActive, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	return nil
}

// Credentials returns the credentials of user userID of realmID, oldest
// first, writing the password's first (EnsurePasswordCredential), in one
// transaction (the one in ctx, if any).
func (s *Service) Credentials(ctx context.Context, realmID, userID string) ([]*Credential, error) {
	var out []*Credential
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.EnsurePasswordCredential(ctx, realmID, userID); err != nil {
			return err
		}
		rows, err := s.store.ListCredentials(ctx, realmID, userID)
		if err != nil {
			return fmt.Errorf("accounts: %w", err)
		}
		for _, c := range rows {
			out = append(out, credentialFromStorage(c))
		}
		return nil
	})
	return out, err
}

// Credential returns the credential uuid of realmID, or ErrCredentialNotFound.
func (s *Service) Credential(ctx context.Context, realmID, uuid string) (*Credential, error) {
	c, err := s.store.GetCredential(ctx, realmID, uuid)
	if err != nil {
		return nil, mapCredentialErr(err)
	}
	return credentialFromStorage(c), nil
}

// CheckCredentialName returns name trimmed, or ErrInvalidCredentialName
// with a reason: 1 to MaxTextLength characters of text.
func CheckCredentialName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", fmt.Errorf("%w: the name is blank", ErrInvalidCredentialName)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: the name is not valid UTF-8", ErrInvalidCredentialName)
	case utf8.RuneCountInString(name) > MaxTextLength:
		return "", fmt.Errorf("%w: the name must be at most %d characters", ErrInvalidCredentialName, MaxTextLength)
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", fmt.Errorf("%w: the name must not contain control characters", ErrInvalidCredentialName)
	}
	return name, nil
}

// RenameCredential renames the credential uuid of realmID (the name is
// checked by CheckCredentialName) and returns it.
func (s *Service) RenameCredential(ctx context.Context, realmID, uuid, name string) (*Credential, error) {
	name, err := CheckCredentialName(name)
	if err != nil {
		return nil, err
	}
	c, err := s.store.RenameCredential(ctx, realmID, uuid, name, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return nil, mapCredentialErr(err)
	}
	return credentialFromStorage(c), nil
}

// RevokeCredential revokes the credential uuid of realmID and returns it:
// a revoked password stops working. The user's last active credential is
// ErrLastCredential; a revoked one is returned as it is.
func (s *Service) RevokeCredential(ctx context.Context, realmID, uuid string) (*Credential, error) {
	c, err := s.store.RevokeCredential(ctx, realmID, uuid, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return nil, mapCredentialErr(err)
	}
	return credentialFromStorage(c), nil
}

func mapCredentialErr(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return ErrCredentialNotFound
	case errors.Is(err, storage.ErrLastCredential):
		return ErrLastCredential
	case errors.Is(err, storage.ErrInvalidInput):
		return fmt.Errorf("%w: %w", ErrInvalidCredentialName, err)
	}
	return fmt.Errorf("accounts: %w", err)
}
