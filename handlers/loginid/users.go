package loginid

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/handlers/surface"
)

// body is every field the user routes read; each route uses its own.
type body struct {
	ClientID             string  `json:"client_id" form:"client_id"`
	Username             string  `json:"username" form:"username"`
	UserID               string  `json:"user_id" form:"user_id"`
	Email                string  `json:"email" form:"email"`
	Password             string  `json:"password" form:"password"`
	PasswordConfirmation *string `json:"password_confirmation" form:"password_confirmation"`
}

// userObject is LoginID's user.
type userObject struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

func newUserObject(u *accounts.User) userObject {
	return userObject{ID: u.ID, Username: u.Username, Email: u.Email, Status: u.Status, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339)}
}

// begin reads the body and resolves the actor; on failure it has answered.
func (h *handler) begin(c *gin.Context, cl *caller) (*body, *actor, bool) {
	return bindActor(h, c, cl, func(b *body) string { return b.ClientID })
}

// bindActor reads a route's body into a T and resolves the actor from the
// body's client id (clientID reads it); on failure it has answered.
func bindActor[T any](h *handler, c *gin.Context, cl *caller, clientID func(*T) string) (*T, *actor, bool) {
	var b T
	if err := surface.Bind(c, &b); err != nil {
		bodyError(c, err)
		return nil, nil, false
	}
	a, ok := h.actor(c, cl, clientID(&b))
	if !ok {
		return nil, nil, false
	}
	return &b, a, true
}

// commit runs fn in one transaction after using up the caller's nonce, and
// answers a replay or a failure; ok reports that fn's effect committed.
// The errors of accounts that fn may return are answered as the user's.
func (h *handler) commit(c *gin.Context, cl *caller, op string, fn func(ctx context.Context) error) bool {
	err := h.core.Atomically(c.Request.Context(), func(ctx context.Context) error {
		if err := h.consume(ctx, cl); err != nil {
			return err
		}
		return fn(ctx)
	})
	var pe *accounts.PasskeyError
	switch {
	case err == nil:
		return true
	case errors.Is(err, errReplayed):
		replayed(c)
	case errors.Is(err, accounts.ErrNotFound):
		userNotFound(c)
	case errors.Is(err, accounts.ErrUsernameTaken), errors.Is(err, accounts.ErrEmailTaken):
		taken(c, err)
	case errors.Is(err, accounts.ErrInvalidUser):
		badParameter(c, validationMessage(err))
	case errors.Is(err, accounts.ErrCredentialNotFound):
		credentialNotFound(c)
	case errors.Is(err, accounts.ErrLastCredential):
		writeError(c, http.StatusBadRequest, codeLastCredential, "This is the user's last active credential: add another before revoking it.")
	case errors.Is(err, accounts.ErrInvalidCredentialName):
		badParameter(c, "The credential's new name is not valid: "+reasonOf(err)+".")
	case errors.Is(err, errDeactivated):
		writeError(c, http.StatusBadRequest, codeUserNotActivated, "The user is deactivated.")
	case errors.As(err, &pe):
		badParameter(c, pe.Reason) // a passkey registered already, found when inserting
	case errors.Is(err, accounts.ErrTransactionNotFound):
		txNotFound(c)
	case errors.Is(err, accounts.ErrNoPasskeys):
		writeError(c, http.StatusNotFound, codeCredentialNotFound, "The user has no active passkey to confirm the transaction with; add one first.")
	case errors.Is(err, accounts.ErrInvalidTransaction):
		badParameter(c, "The transaction is not valid: "+reasonOfTx(err)+".")
	default:
		h.fail(c, dbError(op, err))
	}
	return false
}

func userNotFound(c *gin.Context) {
	writeError(c, http.StatusNotFound, codeUserNotFound, "No such user.")
}

func taken(c *gin.Context, err error) {
	p, _ := accounts.TakenProblem(err)
	writeError(c, http.StatusConflict, codeUserExists, "The user cannot be created: "+p.Message+".")
}

// prepareUser validates and hashes a new user outside any transaction; on
// failure it has answered.
func (h *handler) prepareUser(c *gin.Context, a *actor, in accounts.NewUser) (*accounts.PreparedUser, bool) {
	p, err := h.users.Prepare(c.Request.Context(), a.realm, in)
	switch {
	case errors.Is(err, accounts.ErrInvalidUser):
		badParameter(c, validationMessage(err))
	case err != nil:
		h.fail(c, err)
	default:
		return p, true
	}
	return nil, false
}

// createUser serves POST /manage/users: {username, email?, password?} →
// the new user. The user is validated and its password hashed first; then
// one transaction uses up the nonce and inserts the user.
func (h *handler) createUser(c *gin.Context, cl *caller) {
	b, a, ok := h.begin(c, cl)
	if !ok {
		return
	}
	if cl.namesOther(b.Username, "") || (cl.token != nil && cl.token.UserID != "") {
		forbidden(c, errOtherUser)
		return
	}
	prepared, ok := h.prepareUser(c, a, accounts.NewUser{Username: b.Username, Email: b.Email, Password: b.Password})
	if !ok {
		return
	}
	var user *accounts.User
	if !h.commit(c, cl, "create the user", func(ctx context.Context) error {
		var err error
		user, err = h.users.Insert(ctx, prepared)
		return err
	}) {
		return
	}
	c.JSON(http.StatusOK, newUserObject(user))
}

// lookup reads the user the request names by username or user_id (exactly
// one), checking the token's user binding before and after; on failure it
// has answered.
func (h *handler) lookup(c *gin.Context, cl *caller, a *actor, username, userID string) (*accounts.User, bool) {
	return h.lookupOr(c, cl, a, username, userID, userNotFound)
}

// lookupOr is lookup answering an unknown user with notFound.
func (h *handler) lookupOr(c *gin.Context, cl *caller, a *actor, username, userID string, notFound func(*gin.Context)) (*accounts.User, bool) {
	switch {
	case username == "" && userID == "":
		badParameter(c, "Name the user by username or by user_id.")
		return nil, false
	case username != "" && userID != "":
		badParameter(c, "Name the user by username or by user_id, not both.")
		return nil, false
	case cl.namesOther(username, userID):
		forbidden(c, errOtherUser)
		return nil, false
	}
	var u *accounts.User
	var err error
	if userID != "" {
		u, err = h.users.Get(c.Request.Context(), a.realm.ID, userID)
	} else {
		u, err = h.users.GetByUsername(c.Request.Context(), a.realm.ID, username)
	}
	switch {
	case errors.Is(err, accounts.ErrNotFound), errors.Is(err, accounts.ErrInvalidUser):
		notFound(c)
	case err != nil:
		h.fail(c, dbError("read the user", err))
	case cl.userMismatch(u):
		forbidden(c, errOtherUser)
	default:
		return u, true
	}
	return nil, false
}

// retrieveUser serves POST /manage/users/retrieve: {username} or
// {user_id} → the user. Nothing is written but the nonce, used up once the
// user is found.
func (h *handler) retrieveUser(c *gin.Context, cl *caller) {
	b, a, ok := h.begin(c, cl)
	if !ok {
		return
	}
	u, ok := h.lookup(c, cl, a, b.Username, b.UserID)
	if !ok {
		return
	}
	switch err := h.consume(c.Request.Context(), cl); {
	case errors.Is(err, errReplayed):
		replayed(c)
	case err != nil:
		h.fail(c, err)
	default:
		c.JSON(http.StatusOK, newUserObject(u))
	}
}

// deleteUserByBody serves POST /manage/users/delete: {username} or
// {user_id}.
func (h *handler) deleteUserByBody(c *gin.Context, cl *caller) {
	b, a, ok := h.begin(c, cl)
	if ok {
		h.deleteUser(c, cl, a, b.Username, b.UserID)
	}
}

// deleteUserByPath serves DELETE /manage/users/{user_id}.
func (h *handler) deleteUserByPath(c *gin.Context, cl *caller) {
	_, a, ok := h.begin(c, cl)
	if ok {
		h.deleteUser(c, cl, a, "", c.Param("user_id"))
	}
}

// deleteUser deletes the user with their tokens, and uses up the nonce, in
// one transaction; 204.
func (h *handler) deleteUser(c *gin.Context, cl *caller, a *actor, username, userID string) {
	u, ok := h.lookup(c, cl, a, username, userID)
	if !ok {
		return
	}
	if h.commit(c, cl, "delete the user", func(ctx context.Context) error {
		return h.users.Delete(ctx, a.realm.ID, u.ID) // with their tokens, credentials and codes
	}) {
		c.Status(http.StatusNoContent)
	}
}

// activateUser serves PUT /manage/users/{user_id}/activate.
func (h *handler) activateUser(c *gin.Context, cl *caller) {
	h.setStatus(c, cl, accounts.StatusActive)
}

// deactivateUser serves PUT /manage/users/{user_id}/deactivate: the user
// can no longer log in, and their tokens are revoked in the same
// transaction.
func (h *handler) deactivateUser(c *gin.Context, cl *caller) {
	h.setStatus(c, cl, accounts.StatusDeactivated)
}

func (h *handler) setStatus(c *gin.Context, cl *caller, status string) {
	_, a, ok := h.begin(c, cl)
	if !ok {
		return
	}
	u, ok := h.lookup(c, cl, a, "", c.Param("user_id"))
	if !ok {
		return
	}
	switch {
	case status == accounts.StatusActive && u.Status != accounts.StatusDeactivated:
		writeError(c, http.StatusBadRequest, codeUserNotDeactivated, "The user is not deactivated.")
		return
	case status == accounts.StatusDeactivated && u.Status != accounts.StatusActive:
		writeError(c, http.StatusBadRequest, codeUserNotActivated, "The user is not active.")
		return
	}
	if h.commit(c, cl, "set the user's status", func(ctx context.Context) error {
		return h.users.SetStatus(ctx, a.realm.ID, u.ID, status)
	}) {
		u.Status = status
		c.JSON(http.StatusOK, newUserObject(u))
	}
}
