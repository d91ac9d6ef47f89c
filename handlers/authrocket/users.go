package authrocket

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
)

// convertBody is the body of POST /v1/users that converts a signup token:
// {"user": {"user_token": "utk_…"}}.
type convertBody struct {
	User *struct {
		UserToken string `json:"user_token"`
		RealmID   string `json:"realm_id"`
	} `json:"user"`
}

// userObject is the user a conversion creates, in AuthRocket's field
// names: state "active" or "inactive", user_type "human", created_at in
// seconds since 1970 (a number, with milliseconds).
type userObject struct {
	ID        string      `json:"id"`
	Object    string      `json:"object"`
	RealmID   string      `json:"realm_id"`
	Username  string      `json:"username"`
	Email     *string     `json:"email"`
	FirstName *string     `json:"first_name"`
	LastName  *string     `json:"last_name"`
	State     string      `json:"state"`
	UserType  string      `json:"user_type"`
	CreatedAt jsonSeconds `json:"created_at"`
}

// jsonSeconds is a time as a JSON number of seconds since 1970, with
// milliseconds.
type jsonSeconds int64 // milliseconds

func (s jsonSeconds) MarshalJSON() ([]byte, error) {
	ms := int64(s)
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	return fmt.Appendf(nil, "%s%d.%03d", sign, ms/1000, ms%1000), nil
}

func newUserObject(u *accounts.User) userObject {
	state := "active"
	if u.Status != accounts.StatusActive {
		state = "inactive"
	}
	return userObject{
		ID: u.ID, Object: "user", RealmID: u.Realm, Username: u.Username,
		Email: nullIfEmpty(u.Email), FirstName: nullIfEmpty(u.FirstName), LastName: nullIfEmpty(u.LastName),
		State: state, UserType: "human", CreatedAt: jsonSeconds(u.CreatedAt.UnixMilli()),
	}
}

// convert serves POST /v1/users with a user_token: the signup token becomes
// a user, exactly once (201); an unknown, expired, discarded, converted or
// voided token is 404; a username or e-mail taken since the token was made
// is 409, and the token stays.
func (h *handler) convert(c *gin.Context) {
	realm, ok := h.authorize(c, permWrite)
	if !ok {
		return
	}
	var body convertBody
	if !bindJSON(c, &body) {
		return
	}
	if body.User == nil {
		writeErrors(c, http.StatusBadRequest, `The body must be a JSON object {"user": {"user_token": "utk_…"}}.`)
		return
	}
	if !checkRealmID(c, realm, body.User.RealmID) {
		return
	}
	id := strings.TrimSpace(body.User.UserToken)
	if id == "" {
		writeErrors(c, http.StatusUnprocessableEntity, "User token can't be blank (users are created here from signup tokens only)")
		return
	}
	u, err := h.signups.ConvertSignupToken(c.Request.Context(), realm, id)
	if msgs, invalid := messages(realm, err); invalid {
		writeErrors(c, http.StatusUnprocessableEntity, msgs...)
		return
	}
	switch {
	case errors.Is(err, accounts.ErrSignupTokenNotFound):
		writeErrors(c, http.StatusNotFound, msgTokenNotFound)
	case errors.Is(err, accounts.ErrUsernameTaken), errors.Is(err, accounts.ErrEmailTaken):
		p, _ := accounts.TakenProblem(err)
		writeErrors(c, http.StatusConflict, problemMessage(realm, p))
	case err != nil:
		h.fail(c, err)
	default:
		c.JSON(http.StatusCreated, newUserObject(u))
	}
}
