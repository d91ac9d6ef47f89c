package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// Transaction confirmation: a text the person confirms with a passkey. The
// ceremony's challenge is b64url(SHA-256(payload + nonce + server_nonce)),
// server_nonce random per ceremony, so the signature covers the text; a
// transaction is confirmed once.

// Transaction limits.
const (
	// TxTypeText is the one transaction type: a text shown to the person.
	TxTypeText = "text"
	// MaxTxPayload is the longest payload, in bytes.
	MaxTxPayload = 4096
	// MaxTxNonce is the longest caller nonce, in bytes.
	MaxTxNonce = 255
	// TransactionTTL is how long a transaction may wait for confirmation.
	TransactionTTL = 5 * time.Minute
)

// Errors of transactions.
var (
	// ErrInvalidTransaction: a field of a new transaction is not
	// acceptable; the wrapping message says which.
	ErrInvalidTransaction = errors.New("accounts: invalid transaction")
	// ErrTransactionNotFound: no pending transaction with this id for the
	// user (or it expired).
	ErrTransactionNotFound = errors.New("accounts: no such transaction")
	// ErrNoPasskeys: the user has no active passkey to confirm with.
	ErrNoPasskeys = errors.New("accounts: the user has no passkey")
)

// Transaction is a transaction to confirm.
type Transaction struct {
	ID, Realm, UserID, Username string
	Type, Payload, Nonce        string
	Status                      string // storage.TxPending or storage.TxCompleted
	CreatedAt, ExpiresAt        time.Time
}

func transactionFromStorage(t *storage.PasskeyTx) *Transaction {
	return &Transaction{ID: t.ID, Realm: t.Realm, UserID: t.UserID, Username: t.Username, Type: t.Type, Payload: t.Payload,
		Nonce: t.Nonce, Status: t.Status, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

// TxHash is b64url(SHA-256(payload)): the payload_hash a tx.create
// service token binds its payload with. (The confirmation JWT's tx_hash is
// the ceremony's challenge, over the payload and both nonces.)
func TxHash(payload string) string {
	sum := sha256.Sum256([]byte(payload))
	return b64(sum[:])
}

// CheckTransaction refuses a transaction type, payload or nonce that is
// not acceptable (ErrInvalidTransaction, wrapped with the reason).
func CheckTransaction(txType, payload, nonce string) error {
	switch {
	case txType != TxTypeText:
		return fmt.Errorf("%w: tx_type must be %q", ErrInvalidTransaction, TxTypeText)
	case payload == "":
		return fmt.Errorf("%w: tx_payload is required", ErrInvalidTransaction)
	case len(payload) > MaxTxPayload:
		return fmt.Errorf("%w: tx_payload is longer than %d bytes", ErrInvalidTransaction, MaxTxPayload)
	case !utf8.ValidString(payload) || !utf8.ValidString(nonce):
		return fmt.Errorf("%w: tx_payload and nonce must be UTF-8 text", ErrInvalidTransaction)
	case len(nonce) > MaxTxNonce:
		return fmt.Errorf("%w: nonce is longer than %d bytes", ErrInvalidTransaction, MaxTxNonce)
	}
	return nil
}

// CreateTransaction records a pending transaction of user u, to be
// confirmed within TransactionTTL (in ctx's transaction, if any).
func (p *Passkeys) CreateTransaction(ctx context.Context, u *User, txType, payload, nonce string) (*Transaction, error) {
	if err := CheckTransaction(txType, payload, nonce); err != nil {
		return nil, err
	}
	now := p.svc.now().UTC().Truncate(time.Microsecond)
	t := &storage.PasskeyTx{ID: newCredentialUUID(), Realm: u.Realm, UserID: u.ID, Username: u.Username, Type: txType,
		Payload: payload, Nonce: nonce, Status: storage.TxPending, CreatedAt: now, ExpiresAt: now.Add(TransactionTTL)}
	if err := p.svc.store.CreatePasskeyTx(ctx, t); err != nil {
		return nil, fmt.Errorf("%w: store the transaction: %w", ErrUnavailable, err)
	}
	return transactionFromStorage(t), nil
}

// Transaction returns the pending transaction id of user userID of realm,
// or ErrTransactionNotFound (also when it is another user's, confirmed or
// expired).
func (p *Passkeys) Transaction(ctx context.Context, realmID, userID, id string) (*Transaction, error) {
	t, err := p.svc.store.GetPasskeyTx(ctx, realmID, id, p.svc.now().UTC())
	switch {
	case errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidInput):
		return nil, ErrTransactionNotFound
	case err != nil:
		return nil, fmt.Errorf("%w: read the transaction: %w", ErrUnavailable, err)
	case t.UserID != userID || t.Status != storage.TxPending:
		return nil, ErrTransactionNotFound
	}
	return transactionFromStorage(t), nil
}

// TxOptions are a started confirmation.
type TxOptions struct {
	TxID    string
	Options protocol.PublicKeyCredentialRequestOptions
}

// BeginTransaction starts confirming t, a pending transaction of user u:
// a fresh server nonce, the challenge over the payload, and u's passkeys
// (ErrNoPasskeys when there are none).
func (p *Passkeys) BeginTransaction(ctx context.Context, realm *config.Realm, u *User, t *Transaction) (*TxOptions, error) {
	creds, err := p.passkeysOf(ctx, realm.ID, u.ID)
	if err != nil {
		return nil, err
	}
	if len(creds) == 0 {
		return nil, ErrNoPasskeys
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("accounts: server nonce: %w", err)
	}
	serverNonce := b64(nonce)
	challenge := sha256.Sum256([]byte(t.Payload + t.Nonce + serverNonce))
	c := &storage.Ceremony{Realm: realm.ID, Purpose: CeremonyTx, UserID: u.ID, Username: u.Username}
	a, err := p.beginAssertion(ctx, c, allowList(creds), ceremonyData{TxID: t.ID, ServerNonce: serverNonce}, webauthn.WithChallenge(challenge[:]))
	if err != nil {
		return nil, err
	}
	return &TxOptions{TxID: t.ID, Options: a.Options}, nil
}

// ConfirmedTransaction is a transaction confirmed with a passkey.
type ConfirmedTransaction struct {
	Transaction *Transaction
	Login       *PasskeyLogin
}

// FinishTransaction verifies the assertion of transaction txID
// (VerifyTransaction) and confirms the transaction (ConsumeTransaction)
// in a transaction of its own. It must run outside a transaction.
func (p *Passkeys) FinishTransaction(ctx context.Context, realm *config.Realm, txID string, in AssertionFinish) (*ConfirmedTransaction, error) {
	ct, err := p.VerifyTransaction(ctx, realm, txID, in)
	if err != nil {
		return nil, err
	}
	if err := p.svc.store.InTx(ctx, func(ctx context.Context) error { return p.ConsumeTransaction(ctx, ct) }); err != nil {
		return nil, err
	}
	return ct, nil
}

// VerifyTransaction verifies the assertion of transaction txID as
// [Passkeys.VerifyLogin] does and reads the transaction, pending and
// unexpired; it writes nothing when the assertion verifies. It must run
// outside a transaction.
func (p *Passkeys) VerifyTransaction(ctx context.Context, realm *config.Realm, txID string, in AssertionFinish) (*ConfirmedTransaction, error) {
	in.Purpose = CeremonyTx
	login, err := p.VerifyLogin(ctx, realm, in)
	if err != nil {
		return nil, err
	}
	if login.TxID != txID {
		p.burn(ctx, login.ceremonyID, false)
		return nil, refused(reasonBinding, nil)
	}
	t, err := p.svc.store.GetPasskeyTx(ctx, realm.ID, txID, p.svc.now().UTC())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, refused("The transaction is unknown or expired.", err)
	case err != nil:
		return nil, fmt.Errorf("%w: read the transaction: %w", ErrUnavailable, err)
	case t.Status != storage.TxPending:
		return nil, refused("The transaction is already confirmed.", nil)
	}
	return &ConfirmedTransaction{Transaction: transactionFromStorage(t), Login: login}, nil
}

// ConsumeTransaction confirms a verified transaction in ctx's transaction
// (if any): the ceremony is used up and the transaction completed, once
// across replicas; a second confirmation is a *PasskeyError (the caller's
// transaction then rolls back).
func (p *Passkeys) ConsumeTransaction(ctx context.Context, ct *ConfirmedTransaction) error {
	if err := p.Consume(ctx, ct.Login); err != nil {
		return err
	}
	switch err := p.svc.store.CompletePasskeyTx(ctx, ct.Transaction.Realm, ct.Transaction.ID, p.svc.now().UTC()); {
	case errors.Is(err, storage.ErrAlreadyUsed):
		return refused("The transaction is already confirmed.", err)
	case errors.Is(err, storage.ErrNotFound):
		return refused("The transaction is unknown or expired.", err)
	case err != nil:
		return fmt.Errorf("%w: confirm the transaction: %w", ErrUnavailable, err)
	}
	ct.Transaction.Status = storage.TxCompleted
	return nil
}
