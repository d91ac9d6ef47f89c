package loginid

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/handlers/surface"
)

// Transaction confirmation: the backend creates a text transaction for a
// user (POST /tx, scope tx.create), the person confirms it with a passkey
// (POST /tx/init, then /tx/complete), and the backend gets back an ES256
// JWT that names the transaction's hash, which LoginID's SDKs'
// verifyTransaction checks against the payload.

// txJWTLifetime is how long a confirmation's JWT is valid.
const txJWTLifetime = 5 * time.Minute

// txBody is the body of POST /tx and /tx/init.
type txBody struct {
	body
	TxID      string `json:"tx_id" form:"tx_id"`
	TxType    string `json:"tx_type" form:"tx_type"`
	TxPayload string `json:"tx_payload" form:"tx_payload"`
	Nonce     string `json:"nonce" form:"nonce"`
}

// txCompleteBody is the body of POST /tx/complete, flat as LoginID's web
// SDK sends it.
type txCompleteBody struct {
	ClientID   string `json:"client_id" form:"client_id"`
	TxID       string `json:"tx_id" form:"tx_id"`
	Username   string `json:"username" form:"username"`
	Challenge  string `json:"challenge" form:"challenge"`
	KeyHandle  string `json:"key_handle" form:"key_handle"`
	ClientData string `json:"client_data" form:"client_data"`
	AuthData   string `json:"auth_data" form:"auth_data"`
	SignData   string `json:"sign_data" form:"sign_data"`
	UserHandle string `json:"user_handle" form:"user_handle"`
}

// beginTx reads a /tx route's body into b, resolves the actor and checks
// that its realm has passkeys; on failure it has answered.
func (h *handler) beginTx(c *gin.Context, cl *caller, b any, clientID func() string) (*actor, passkeyOps, bool) {
	if err := surface.Bind(c, b); err != nil {
		bodyError(c, err)
		return nil, nil, false
	}
	a, ok := h.actor(c, cl, clientID())
	if !ok {
		return nil, nil, false
	}
	pk, ok := h.passkeysFor(c, a)
	return a, pk, ok
}

// checkNewTx refuses a transaction's type, payload or nonce, and a payload
// other than the one the service token's payload_hash names (403
// operation_not_allowed: the token does not authorize this payload, as a
// token for another user does not authorize that user). On failure it has
// answered.
func checkNewTx(c *gin.Context, cl *caller, b *txBody) bool {
	if err := accounts.CheckTransaction(b.TxType, b.TxPayload, b.Nonce); err != nil {
		badParameter(c, "The transaction is not valid: "+reasonOfTx(err)+".")
		return false
	}
	if cl.token != nil && cl.token.PayloadHash != "" && !equal(accounts.TxHash(b.TxPayload), cl.token.PayloadHash) {
		forbidden(c, "The service token's payload_hash is not the SHA-256 of this tx_payload; sign the token for the payload sent.")
		return false
	}
	return true
}

// reasonOfTx is an ErrInvalidTransaction's reason.
func reasonOfTx(err error) string {
	msg, prefix := err.Error(), accounts.ErrInvalidTransaction.Error()+": "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return msg
}

// activeUser reads the user a transaction is created for; on failure it
// has answered.
func (h *handler) activeUser(c *gin.Context, cl *caller, a *actor, username string) (*accounts.User, bool) {
	if !checkName(c, "username", username) {
		return nil, false
	}
	u, ok := h.lookup(c, cl, a, username, "")
	if !ok {
		return nil, false
	}
	if u.Status != accounts.StatusActive {
		writeError(c, http.StatusBadRequest, codeUserNotActivated, "The user is deactivated.")
		return nil, false
	}
	return u, true
}

// createTx serves POST /tx {tx_type: "text", tx_payload, nonce?,
// username}: a pending transaction of the user, {id}. The nonce is used up
// in the transaction that stores it.
func (h *handler) createTx(c *gin.Context, cl *caller) {
	var b txBody
	a, pk, ok := h.beginTx(c, cl, &b, func() string { return b.ClientID })
	if !ok || !checkNewTx(c, cl, &b) {
		return
	}
	u, ok := h.activeUser(c, cl, a, b.Username)
	if !ok {
		return
	}
	var t *accounts.Transaction
	if !h.commit(c, cl, "create the transaction", func(ctx context.Context) error {
		var err error
		t, err = pk.CreateTransaction(ctx, u, b.TxType, b.TxPayload, b.Nonce)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": t.ID})
}

func txNotFound(c *gin.Context) {
	writeError(c, http.StatusNotFound, codeNotFound, "No pending transaction of this user has this tx_id; create one with POST /tx.")
}

// initTx serves POST /tx/init: {username, tx_id} starts confirming a
// transaction made with POST /tx, and needs no token (one sent is checked
// as the route's Optional guard does); {username, tx_type, tx_payload,
// nonce} creates the transaction and starts its confirmation in one
// request, which needs a token with tx.create. Either answers {tx_id,
// assertion_options}: a challenge of b64url(SHA-256(tx_payload + nonce +
// server_nonce)) and the user's passkeys.
func (h *handler) initTx(c *gin.Context, cl *caller) {
	var b txBody
	a, pk, ok := h.beginTx(c, cl, &b, func() string { return b.ClientID })
	if !ok {
		return
	}
	inline := b.TxPayload != "" || b.TxType != ""
	switch {
	case inline && b.TxID != "":
		badParameter(c, "Send tx_id of a transaction made with POST /tx, or tx_type and tx_payload to make one here, not both.")
		return
	case !inline && b.TxID == "":
		badParameter(c, "Send tx_id of a transaction made with POST /tx, or tx_type and tx_payload to make one here.")
		return
	case inline && cl.token == nil && cl.principal == nil:
		unauthorized(c, "A tx_payload makes a new transaction, which needs a service token with scope tx.create; or send the tx_id of one made with POST /tx.")
		return
	}
	var u *accounts.User
	if inline {
		if !checkNewTx(c, cl, &b) {
			return
		}
		if u, ok = h.activeUser(c, cl, a, b.Username); !ok {
			return
		}
	} else if u, ok = h.txUser(c, cl, a, b.Username); !ok {
		return
	}
	var opts *accounts.TxOptions
	if !h.commit(c, cl, "start the confirmation", func(ctx context.Context) error {
		var t *accounts.Transaction
		var err error
		if inline {
			t, err = pk.CreateTransaction(ctx, u, b.TxType, b.TxPayload, b.Nonce)
		} else {
			t, err = pk.Transaction(ctx, a.realm.ID, u.ID, b.TxID)
		}
		if err != nil {
			return err
		}
		if u.Status != accounts.StatusActive {
			return errDeactivated
		}
		opts, err = pk.BeginTransaction(ctx, a.realm, u, t)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"tx_id": opts.TxID, "assertion_options": newAssertionPayload(opts.Options)})
}

// errDeactivated carries a deactivated user out of a transaction.
var errDeactivated = errors.New("loginid: the user is deactivated")

// txUser reads the user of a tx_id: an unknown user gets the answer of an
// unknown transaction, so that a caller without a token learns nothing of
// who exists. On failure it has answered.
func (h *handler) txUser(c *gin.Context, cl *caller, a *actor, username string) (*accounts.User, bool) {
	if !checkName(c, "username", username) {
		return nil, false
	}
	return h.lookupOr(c, cl, a, username, "", txNotFound)
}

// completeTx serves POST /tx/complete {tx_id, username, challenge,
// key_handle, client_data, auth_data, sign_data}: the assertion is
// verified and the transaction marked confirmed, once across replicas (a
// second completion is 401); the answer is {jwt}, an ES256 JWT (header
// kid, its key at GET /certs) with iss, sub (the user), nid (the realm),
// aud (the passkey's credential uuid), username, action "tx", iat, exp
// (five minutes), tx_hash, nonce (the transaction's) and server_nonce.
// tx_hash is b64url(SHA-256(tx_payload + nonce + server_nonce)), the
// challenge the passkey signed — what LoginID's verifyTransaction(jwt,
// payload) recomputes from the payload and the JWT's two nonces.
func (h *handler) completeTx(c *gin.Context, cl *caller) {
	var b txCompleteBody
	a, pk, ok := h.beginTx(c, cl, &b, func() string { return b.ClientID })
	if !ok {
		return
	}
	if b.TxID == "" {
		badParameter(c, "tx_id is required: send the one /tx/init answered.")
		return
	}
	if !checkName(c, "username", b.Username) {
		return
	}
	in, ok := assertionFinish(c, accounts.CeremonyTx, b.Username, assertionAnswer{Challenge: b.Challenge, CredentialID: b.KeyHandle,
		ClientData: b.ClientData, AuthenticatorData: b.AuthData, Signature: b.SignData, UserHandle: b.UserHandle}, txField)
	if !ok {
		return
	}
	done, err := pk.VerifyTransaction(c.Request.Context(), a.realm, b.TxID, in)
	if err != nil {
		h.ceremonyFailed(c, err)
		return
	}
	t, login := done.Transaction, done.Login
	now := h.core.Now()
	jwt, err := h.core.SignJWT(config.AlgES256, map[string]any{
		"iss":          h.core.Snapshot().Issuer,
		"sub":          login.User.ID,
		"nid":          a.realm.ID,
		"aud":          login.Credential.UUID,
		"username":     login.User.Username,
		"action":       "tx",
		"iat":          now.Unix(),
		"exp":          now.Add(txJWTLifetime).Unix(),
		"tx_hash":      accounts.TxHash(t.Payload + t.Nonce + login.ServerNonce),
		"nonce":        t.Nonce,
		"server_nonce": login.ServerNonce,
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	// Signed first: a transaction is confirmed only with its JWT in hand.
	var refusal error
	if !h.commit(c, cl, "confirm the transaction", func(ctx context.Context) error {
		return keepRefusal(pk.ConsumeTransaction(ctx, done), &refusal)
	}) {
		return
	}
	if refusal != nil {
		h.ceremonyFailed(c, refusal)
		return
	}
	c.JSON(http.StatusOK, gin.H{"jwt": jwt})
}

// txField names /tx/complete's fields as the body does.
func txField(f string) string {
	switch f {
	case "credential_id":
		return "key_handle"
	case "client_data":
		return "client_data"
	case "authenticator_data":
		return "auth_data"
	case "signature":
		return "sign_data"
	}
	return f
}
