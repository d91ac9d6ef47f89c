package legacy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/handlers/surface"
)

// The request bodies, as JSON or as a form (the same names). A pointer is
// a field that may be left out, as opposed to given empty. role is read
// only to be refused: it is an administrator's to set.
type (
	signupBody struct {
		Client    string  `json:"client" form:"client"`
		Email     string  `json:"email" form:"email"`
		Password  string  `json:"password" form:"password"`
		FirstName string  `json:"first_name" form:"first_name"`
		LastName  string  `json:"last_name" form:"last_name"`
		Role      *string `json:"role" form:"role"`
	}
	loginBody struct {
		Client   string `json:"client" form:"client"`
		Email    string `json:"email" form:"email"`
		Password string `json:"password" form:"password"`
	}
	refreshBody struct {
		Client  string `json:"client" form:"client"`
		Key     string `json:"key" form:"key"`
		Refresh string `json:"refresh" form:"refresh"`
	}
	clientBody struct {
		Client string `json:"client" form:"client"`
	}
	updateBody struct {
		Client    string  `json:"client" form:"client"`
		Email     *string `json:"email" form:"email"`
		FirstName *string `json:"first_name" form:"first_name"`
		LastName  *string `json:"last_name" form:"last_name"`
		Password  *string `json:"password" form:"password"`
		Role      *string `json:"role" form:"role"`
	}
)

// tokenAnswer is a login's answer: role (not on a refresh), key (the
// grant), token, refresh and expires (the access token's expiry, RFC 3339
// in UTC).
type tokenAnswer struct {
	Role    string `json:"role,omitempty"`
	Key     string `json:"key"`
	Token   string `json:"token"`
	Refresh string `json:"refresh"`
	Expires string `json:"expires"`
}

// writeTokens answers a login, a sign-up (with role) or a refresh (role "").
func writeTokens(c *gin.Context, status int, role, key, token, refresh string, expires time.Time) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(status, tokenAnswer{Role: role, Key: key, Token: token, Refresh: refresh, Expires: expires.UTC().Format(time.RFC3339)})
}

// userObject is the user as PATCH /users answers it.
type userObject struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"role"`
}

func newUserObject(u *accounts.User) userObject {
	return userObject{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Role: u.Role}
}

// sniffLength is how much of a body without a declared JSON type is looked
// at to tell JSON from a form.
const sniffLength = 512

// bind decodes the body into v, JSON or form. Clients of that era often
// sent JSON without a Content-Type, or as text/plain: such a body is read
// as JSON when it starts with "{", else as a form. On failure it has
// answered 400 (413 for a body over the cap).
func bind(c *gin.Context, v any) bool {
	sniffJSON(c.Request)
	err := surface.Bind(c, v)
	if err == nil {
		return true
	}
	status, msg := http.StatusBadRequest, "The request body is not valid."
	var be *surface.BodyError
	if errors.As(err, &be) {
		status, msg = be.Status(), be.Message
	}
	writeError(c, status, "invalid_request", msg)
	return false
}

// sniffJSON marks a body without a Content-Type, or with text/plain, as
// JSON when its first non-space byte is "{". It reads at most sniffLength
// bytes ahead and puts them back.
func sniffJSON(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/plain" {
			return
		}
	}
	br := bufio.NewReaderSize(r.Body, sniffLength)
	head, _ := br.Peek(sniffLength) // fewer bytes at the end of the body; an error shows again on reading
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		r.Header.Set("Content-Type", "application/json")
	}
}

// field is a required field's name and value.
type field struct{ name, value string }

// missingFields names the required fields that are missing or blank, as a
// sentence, or returns "".
func missingFields(fields ...field) string {
	var names []string
	for _, f := range fields {
		if strings.TrimSpace(f.value) == "" {
			names = append(names, f.name)
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return "The " + names[0] + " field is required."
	}
	return "The " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " fields are required."
}
