package loginid

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
)

// credentialObject is LoginID's credential. It never carries a secret.
type credentialObject struct {
	UUID      string `json:"uuid"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func newCredentialObject(c *accounts.Credential) credentialObject {
	return credentialObject{UUID: c.UUID, Type: c.Type, Status: c.Status, Name: c.Name,
		CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: c.UpdatedAt.UTC().Format(time.RFC3339)}
}

type credentialList struct {
	UserID      string             `json:"user_id"`
	Credentials []credentialObject `json:"credentials"`
}

type credentialAnswer struct {
	UserID     string           `json:"user_id"`
	Credential credentialObject `json:"credential"`
}

// credentialBody is the body of rename and revoke: {"credential": {"uuid",
// "name"?}}, with the user optionally named too.
type credentialBody struct {
	body
	Credential struct {
		UUID string `json:"uuid"`
		Name string `json:"name"`
	} `json:"credential"`
}

func credentialNotFound(c *gin.Context) {
	writeError(c, http.StatusNotFound, codeCredentialNotFound, "No such credential.")
}

// listCredentials serves GET /credentials?username=… (or user_id) and POST
// /credentials/list {username | user_id}: the user's credentials. The
// user's password credential is written the first time it is listed, in
// the transaction that uses up the nonce.
func (h *handler) listCredentials(c *gin.Context, cl *caller) {
	b, a, ok := h.begin(c, cl)
	if !ok {
		return
	}
	if c.Request.Method == http.MethodGet {
		b.Username, b.UserID = c.Query("username"), c.Query("user_id")
	}
	u, ok := h.lookup(c, cl, a, b.Username, b.UserID)
	if !ok {
		return
	}
	var list []*accounts.Credential
	if !h.commit(c, cl, "list the credentials", func(ctx context.Context) error {
		var err error
		list, err = h.users.Credentials(ctx, a.realm.ID, u.ID)
		return err
	}) {
		return
	}
	out := credentialList{UserID: u.ID, Credentials: make([]credentialObject, 0, len(list))}
	for _, cr := range list {
		out.Credentials = append(out.Credentials, newCredentialObject(cr))
	}
	c.JSON(http.StatusOK, out)
}

// credentialOf reads the body of rename or revoke and the credential it
// names, with its user — who must be the token's, and the body's when it
// names one; on failure it has answered.
func (h *handler) credentialOf(c *gin.Context, cl *caller) (*credentialBody, *actor, *accounts.Credential, bool) {
	b, a, ok := bindActor(h, c, cl, func(b *credentialBody) string { return b.ClientID })
	if !ok {
		return nil, nil, nil, false
	}
	if b.Credential.UUID == "" {
		badParameter(c, `Name the credential as {"credential": {"uuid": "…"}}.`)
		return nil, nil, nil, false
	}
	ctx := c.Request.Context()
	cred, err := h.users.Credential(ctx, a.realm.ID, b.Credential.UUID)
	switch {
	case errors.Is(err, accounts.ErrCredentialNotFound):
		credentialNotFound(c)
		return nil, nil, nil, false
	case err != nil:
		h.fail(c, dbError("read the credential", err))
		return nil, nil, nil, false
	}
	u, err := h.users.Get(ctx, a.realm.ID, cred.UserID)
	switch {
	case errors.Is(err, accounts.ErrNotFound):
		credentialNotFound(c)
		return nil, nil, nil, false
	case err != nil:
		h.fail(c, dbError("read the user", err))
		return nil, nil, nil, false
	case cl.userMismatch(u):
		forbidden(c, errOtherUser)
		return nil, nil, nil, false
	case (b.UserID != "" && !equal(b.UserID, u.ID)) ||
		(b.Username != "" && (u.Username == "" || !equal(accounts.Normalize(b.Username), accounts.Normalize(u.Username)))):
		credentialNotFound(c) // the user named has no such credential
		return nil, nil, nil, false
	}
	return b, a, cred, true
}

// renameCredential serves POST /credentials/rename {"credential": {"uuid",
// "name"}}.
func (h *handler) renameCredential(c *gin.Context, cl *caller) {
	b, a, cred, ok := h.credentialOf(c, cl)
	if !ok {
		return
	}
	if _, err := accounts.CheckCredentialName(b.Credential.Name); err != nil {
		badParameter(c, "The credential's new name is not valid: "+reasonOf(err)+".")
		return
	}
	var renamed *accounts.Credential
	if !h.commit(c, cl, "rename the credential", func(ctx context.Context) error {
		var err error
		renamed, err = h.users.RenameCredential(ctx, a.realm.ID, cred.UUID, b.Credential.Name)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, credentialAnswer{UserID: renamed.UserID, Credential: newCredentialObject(renamed)})
}

// revokeCredential serves POST /credentials/revoke {"credential": {"uuid"}}:
// the credential stops working (a revoked password no longer logs in); the
// user's last active credential cannot be revoked (400).
func (h *handler) revokeCredential(c *gin.Context, cl *caller) {
	_, a, cred, ok := h.credentialOf(c, cl)
	if !ok {
		return
	}
	var revoked *accounts.Credential
	if !h.commit(c, cl, "revoke the credential", func(ctx context.Context) error {
		var err error
		revoked, err = h.users.RevokeCredential(ctx, a.realm.ID, cred.UUID)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, credentialAnswer{UserID: revoked.UserID, Credential: newCredentialObject(revoked)})
}

// reasonOf is an accounts error's reason after its sentinel's text.
func reasonOf(err error) string {
	msg := err.Error()
	for _, sentinel := range []error{accounts.ErrInvalidCredentialName, accounts.ErrInvalidCode} {
		if p := sentinel.Error() + ": "; len(msg) > len(p) && msg[:len(p)] == p {
			return msg[len(p):]
		}
	}
	return msg
}
