package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// One-time codes: short-lived codes that a backend generates for one of
// its users and one purpose, shows or sends to the person, and authorizes
// when the person types it back. Drawn from crypto/rand; stored only as a
// SHA-256 bound to the realm, the user, the purpose and the code's type;
// single-use; CodeLifetime; at most CodeMaxAttempts attempts between a
// user's live codes of a purpose, counted atomically across replicas.

// Code types, the form of the code.
const (
	CodeShort  = "short"  // 6 decimal digits
	CodeLong   = "long"   // 16 characters of Crockford's base32 (no I, L, O, U)
	CodePhrase = "phrase" // 4 words of a list of common words
)

// Code purposes.
const (
	// PurposeTemporaryAuthentication: authorizing the code logs the user
	// in once (the caller issues a token).
	PurposeTemporaryAuthentication = "temporary_authentication"
	// PurposeAddCredential: authorizing the code lets the person add a
	// credential (a passkey) to the user.
	PurposeAddCredential = "add_credential"
)

// Limits of one-time codes.
const (
	CodeLifetime    = 5 * time.Minute
	CodeMaxAttempts = 5
)

// Errors of the code operations.
var (
	// ErrInvalidCode: an unknown code type or purpose, or a code that is
	// not of its type's form; the wrapping message says which.
	ErrInvalidCode = errors.New("accounts: invalid code request")
	// ErrCodeRefused: the code is wrong, expired, used, invalidated or out
	// of attempts. One answer for all.
	ErrCodeRefused = errors.New("accounts: the code is not valid")
	// ErrCodeNotAuthorized: the add_credential code is right but not yet
	// authorized (POST /codes/{type}/authorize, or authorize at generation).
	ErrCodeNotAuthorized = errors.New("accounts: the code is not authorized yet")
)

// Code is a generated one-time code: the code itself is shown once, here,
// and never stored.
type Code struct {
	Code       string
	ExpiresAt  time.Time
	Authorized bool
}

// CodeTypes and CodePurposes are the accepted values.
var (
	CodeTypes    = []string{CodeShort, CodeLong, CodePhrase}
	CodePurposes = []string{PurposeTemporaryAuthentication, PurposeAddCredential}
)

// CheckCodeRequest refuses an unknown code type or purpose (ErrInvalidCode
// with the accepted values).
func CheckCodeRequest(codeType, purpose string) error {
	if !slices.Contains(CodeTypes, codeType) {
		return fmt.Errorf("%w: the code type must be short, long or phrase", ErrInvalidCode)
	}
	if !slices.Contains(CodePurposes, purpose) {
		return fmt.Errorf("%w: the purpose must be temporary_authentication or add_credential", ErrInvalidCode)
	}
	return nil
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newCode draws a code of codeType from crypto/rand, uniformly.
func newCode(codeType string) string {
	pick := func(n int) int {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(n))) // crypto/rand never fails (Go ≥ 1.24)
		return int(v.Int64())
	}
	var b strings.Builder
	switch codeType {
	case CodeShort:
		for range 6 {
			b.WriteByte(byte('0' + pick(10)))
		}
	case CodeLong:
		for range 16 {
			b.WriteByte(crockford[pick(len(crockford))])
		}
	case CodePhrase:
		for i := range 4 {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(codeWords[pick(len(codeWords))])
		}
	}
	return b.String()
}

// normalizeCode brings a typed code to its stored form: digits without
// spaces; base32 upper-cased without spaces or hyphens, with Crockford's
// look-alikes (O→0, I and L→1); words lower-cased, separated by one space.
func normalizeCode(codeType, code string) (string, bool) {
	switch codeType {
	case CodeShort:
		c := strings.Join(strings.Fields(code), "")
		if len(c) != 6 || strings.ContainsFunc(c, func(r rune) bool { return r < '0' || r > '9' }) {
			return "", false
		}
		return c, true
	case CodeLong:
		c := strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(code))
		c = strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(c)
		if len(c) != 16 || strings.ContainsFunc(c, func(r rune) bool { return !strings.ContainsRune(crockford, r) }) {
			return "", false
		}
		return c, true
	case CodePhrase:
		words := strings.Fields(strings.ToLower(strings.ReplaceAll(code, "-", " ")))
		if len(words) != 4 || len(code) > 64 {
			return "", false
		}
		return strings.Join(words, " "), true
	}
	return "", false
}

// codeHash binds a normalised code to where it may be used.
func codeHash(realmID, userID, purpose, codeType, code string) string {
	sum := sha256.Sum256([]byte("latchkey one-time code\x00" + realmID + "\x00" + userID + "\x00" + purpose + "\x00" + codeType + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

// PreparedCode is a new one-time code, drawn and hashed by PrepareCode
// before any transaction begins, for InsertCode.
type PreparedCode struct {
	code Code
	row  storage.OneTimeCode
}

// PrepareCode draws a one-time code of codeType for user userID of realmID
// and purpose, authorized at once when authorized, and hashes it; it
// touches no database. An unknown type or purpose is ErrInvalidCode.
func (s *Service) PrepareCode(realmID, userID, codeType, purpose string, authorized bool) (*PreparedCode, error) {
	if err := CheckCodeRequest(codeType, purpose); err != nil {
		return nil, err
	}
	code := newCode(codeType)
	now := s.now().UTC().Truncate(time.Second)
	p := &PreparedCode{row: storage.OneTimeCode{ID: "otc_" + randomBase62(22), Realm: realmID, UserID: userID, Purpose: purpose,
		CodeHash: codeHash(realmID, userID, purpose, codeType, code), Authorized: authorized, CreatedAt: now, ExpiresAt: now.Add(CodeLifetime)}}
	p.code = Code{Code: code, ExpiresAt: p.row.ExpiresAt, Authorized: authorized}
	return p, nil
}

// InsertCode stores a prepared code's hash (in ctx's transaction, if any)
// and returns the code, to be shown once.
func (s *Service) InsertCode(ctx context.Context, p *PreparedCode) (*Code, error) {
	row := p.row
	if err := s.store.CreateOneTimeCode(ctx, &row); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	c := p.code
	return &c, nil
}

// PresentedCode is a code as a person typed it, checked for its form and
// hashed before any transaction begins.
type PresentedCode struct {
	realmID, userID, purpose, hash string
}

// PresentCode checks code's form for codeType and prepares it for
// UseCode; a code not of its type's form is ErrCodeRefused, like a wrong
// one (an unknown type or purpose is ErrInvalidCode).
func PresentCode(realmID, userID, codeType, purpose, code string) (*PresentedCode, error) {
	if err := CheckCodeRequest(codeType, purpose); err != nil {
		return nil, err
	}
	norm, ok := normalizeCode(codeType, code)
	if !ok {
		return nil, ErrCodeRefused
	}
	return &PresentedCode{realmID: realmID, userID: userID, purpose: purpose, hash: codeHash(realmID, userID, purpose, codeType, norm)}, nil
}

// UseCode authorizes a presented code, in ctx's transaction if any: a
// temporary_authentication code is used up (deleted), an add_credential
// code marked authorized. The attempt counts against every live code of the
// user and purpose, even when it fails: a wrong, expired, used or
// exhausted code is ErrCodeRefused — and the failed attempt is written, so
// the caller must commit its transaction when UseCode returns
// ErrCodeRefused.
func (s *Service) UseCode(ctx context.Context, p *PresentedCode) error {
	use := storage.CodeAuthorize
	if p.purpose == PurposeTemporaryAuthentication {
		use = storage.CodeConsume
	}
	return s.useCode(ctx, p, use)
}

// RedeemCode uses up an add_credential code that was authorized before
// (by UseCode, or at its generation), in ctx's transaction if any: the
// code a new authenticator presents to be added. A code not authorized
// yet is ErrCodeNotAuthorized and stays; a wrong, expired, used or
// exhausted one is ErrCodeRefused. Attempts count as in UseCode, so the
// caller commits its transaction on either error.
func (s *Service) RedeemCode(ctx context.Context, p *PresentedCode) error {
	if p.purpose != PurposeAddCredential {
		return fmt.Errorf("%w: only add_credential codes are redeemed", ErrInvalidCode)
	}
	return s.useCode(ctx, p, storage.CodeRedeemAuthorized)
}

func (s *Service) useCode(ctx context.Context, p *PresentedCode, use storage.CodeUse) error {
	_, err := s.store.UseOneTimeCode(ctx, p.realmID, p.userID, p.purpose, p.hash, s.now(), CodeMaxAttempts, use)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrCodeMismatch):
		return ErrCodeRefused
	case errors.Is(err, storage.ErrCodeNotAuthorized):
		return ErrCodeNotAuthorized
	case err != nil:
		return fmt.Errorf("accounts: %w", err)
	}
	return nil
}

// InvalidateCodes deletes the codes of user userID of realmID — of
// purpose, or of every purpose when purpose is "".
func (s *Service) InvalidateCodes(ctx context.Context, realmID, userID, purpose string) error {
	if purpose != "" && !slices.Contains(CodePurposes, purpose) {
		return fmt.Errorf("%w: the purpose must be temporary_authentication or add_credential", ErrInvalidCode)
	}
	if _, err := s.store.DeleteOneTimeCodes(ctx, realmID, userID, purpose); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	return nil
}
