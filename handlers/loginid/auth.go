package loginid

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/core"
)

// authResponse is LoginID's AuthenticationResponse, the answer of a login
// or a registration.
type authResponse struct {
	JWT             string        `json:"jwt"`
	IsAuthenticated bool          `json:"is_authenticated"`
	User            authUser      `json:"user"`
	Client          authClient    `json:"client"`
	Credential      credentialRef `json:"credential"`
}

type authUser struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	NamespaceID string `json:"namespace_id"` // the realm
}

type authClient struct {
	ID   string `json:"id"`
	Type string `json:"type"` // always "native"
}

type credentialRef struct {
	UUID string `json:"uuid"`
	Type string `json:"type"` // "password" or "fido2"
	Name string `json:"name"`
}

// issuingClient is the client the user token is issued as: the API
// credential's. An access-token caller must name the credential in the
// body's client_id. On failure it has answered.
func (h *handler) issuingClient(c *gin.Context, a *actor) (*core.Client, bool) {
	if a.cred == nil {
		badParameter(c, "Name the API credential in the body's client_id: the user's token is issued as its client.")
		return nil, false
	}
	cl := h.core.Client(a.cred.Client)
	if cl == nil {
		h.fail(c, errors.New("loginid: the API credential's client is not declared"))
		return nil, false
	}
	return cl, true
}

// prepareToken signs the user's token as client, with LoginID's udata
// claim (the username), before any transaction; on failure it has
// answered.
func (h *handler) prepareToken(c *gin.Context, client *core.Client, userID, username string) (core.Pending, bool) {
	udata := username
	pending, err := h.core.Prepare(c.Request.Context(), core.IssueRequest{Client: client, UserID: userID, Realm: client.Realm,
		Username: username, UData: &udata})
	if err != nil {
		h.fail(c, err)
		return nil, false
	}
	return pending, true
}

func newAuthResponse(a *actor, u *accounts.User, cred *accounts.Credential, jwt string) authResponse {
	return authResponse{
		JWT:             jwt,
		IsAuthenticated: true,
		User:            authUser{ID: u.ID, Username: u.Username, NamespaceID: u.Realm},
		Client:          authClient{ID: a.clientID, Type: "native"},
		Credential:      credentialRef{UUID: cred.UUID, Type: cred.Type, Name: cred.Name},
	}
}

// registerPassword serves POST /register/password: {username, password,
// password_confirmation?} → a new user with that password, and its token.
// The user is validated, the password hashed and the token signed first;
// one transaction then uses up the nonce, inserts the user and stores the
// token.
func (h *handler) registerPassword(c *gin.Context, cl *caller) {
	b, a, ok := h.begin(c, cl)
	if !ok {
		return
	}
	switch {
	case b.Username == "":
		badParameter(c, "username is required.")
		return
	case b.Password == "":
		badParameter(c, "password is required.")
		return
	case cl.namesOther(b.Username, "") || (cl.token != nil && cl.token.UserID != ""):
		forbidden(c, errOtherUser)
		return
	}
	client, ok := h.issuingClient(c, a)
	if !ok {
		return
	}
	prepared, ok := h.prepareUser(c, a, accounts.NewUser{Username: b.Username, Email: b.Email, Password: b.Password,
		PasswordConfirmation: b.PasswordConfirmation})
	if !ok {
		return
	}
	pending, ok := h.prepareToken(c, client, prepared.ID(), b.Username)
	if !ok {
		return
	}
	var user *accounts.User
	var cred *accounts.Credential
	var issued *core.Issued
	if !h.commit(c, cl, "register the user", func(ctx context.Context) error {
		var err error
		if user, err = h.users.Insert(ctx, prepared); err != nil {
			return err
		}
		if cred, err = h.passwordCredential(ctx, user); err != nil {
			return err
		}
		issued, err = pending.Save(ctx)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, newAuthResponse(a, user, cred, issued.AccessToken))
}

// authenticatePassword serves POST /authenticate/password: {username,
// password} → the user's token, through the one password check (lockout
// included; an unknown user, a wrong password, a deactivated user and a
// locked login get one answer). The token is signed after the check, then
// one transaction uses up the nonce and stores it.
func (h *handler) authenticatePassword(c *gin.Context, cl *caller) {
	b, a, ok := h.begin(c, cl)
	if !ok {
		return
	}
	switch {
	case b.Username == "" || b.Password == "":
		badParameter(c, "username and password are required.")
		return
	case cl.namesOther(b.Username, ""):
		forbidden(c, errOtherUser)
		return
	}
	client, ok := h.issuingClient(c, a)
	if !ok {
		return
	}
	user, err := h.core.VerifyPassword(c.Request.Context(), a.realm.ID, b.Username, b.Password)
	switch {
	case errors.Is(err, accounts.ErrInvalidCredentials):
		unauthorized(c, "The username or password is incorrect.")
		return
	case err != nil:
		h.fail(c, dbError("check the password", err))
		return
	case cl.userMismatch(user):
		forbidden(c, errOtherUser)
		return
	}
	pending, ok := h.prepareToken(c, client, user.ID, user.Username)
	if !ok {
		return
	}
	var issued *core.Issued
	var cred *accounts.Credential
	if !h.commit(c, cl, "store the token", func(ctx context.Context) error {
		var err error
		if cred, err = h.passwordCredential(ctx, user); err != nil {
			return err
		}
		issued, err = pending.Save(ctx)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, newAuthResponse(a, user, cred, issued.AccessToken))
}

// passwordCredential returns the user's password credential, writing it
// first if it is not yet (in ctx's transaction).
func (h *handler) passwordCredential(ctx context.Context, u *accounts.User) (*accounts.Credential, error) {
	if err := h.users.EnsurePasswordCredential(ctx, u.Realm, u.ID); err != nil {
		return nil, err
	}
	return h.users.Credential(ctx, u.Realm, accounts.PasswordCredentialUUID(u.ID))
}
