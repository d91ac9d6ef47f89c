package authrocket

import (
	"errors"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
)

// AuthRocket words validation errors as Rails does: the field's name, then
// what is wrong ("Username can't be blank", "Password confirmation doesn't
// match Password", "Username has already been taken"). messages words
// accounts' problems so, in their order (the order of the fields).

// fieldNames are the fields as a sentence names them.
var fieldNames = map[string]string{
	accounts.FieldUsername:             "Username",
	accounts.FieldEmail:                "Email",
	accounts.FieldPassword:             "Password",
	accounts.FieldPasswordConfirmation: "Password confirmation",
	accounts.FieldFirstName:            "First name",
	accounts.FieldLastName:             "Last name",
}

// problemMessage words one problem in realm.
func problemMessage(realm *config.Realm, p accounts.Problem) string {
	name, known := fieldNames[p.Field]
	if !known {
		name = p.Field
	}
	switch p.Code {
	case accounts.CodeBlank:
		return name + " can't be blank"
	case accounts.CodeTaken:
		return name + " has already been taken"
	case accounts.CodeTooShort:
		minLen := 1
		if realm != nil {
			minLen = max(realm.PasswordMinLength, 1)
		}
		return fmt.Sprintf("%s is too short (minimum is %d characters)", name, minLen)
	case accounts.CodeTooLong:
		maxLen := accounts.MaxTextLength
		if p.Field == accounts.FieldPassword {
			maxLen = accounts.MaxPasswordLength
		}
		return fmt.Sprintf("%s is too long (maximum is %d characters)", name, maxLen)
	case accounts.CodeWeak:
		return name + " is too common or too easy to guess"
	case accounts.CodeInvalid:
		if p.Field == accounts.FieldUsername && realm != nil && realm.UsernameIsEmail {
			return name + " must be an email address"
		}
		return name + " is invalid"
	case accounts.CodeMismatch:
		switch p.Field {
		case accounts.FieldPasswordConfirmation:
			return name + " doesn't match Password"
		case accounts.FieldEmail:
			return name + " doesn't match Username"
		}
	}
	return capitalize(p.Message) // a rule this surface does not know yet
}

// messages words the problems of a *ValidationError, each message once;
// ok is false for any other error.
func messages(realm *config.Realm, err error) (out []string, ok bool) {
	ve, ok := errors.AsType[*accounts.ValidationError](err)
	if !ok {
		return nil, false
	}
	for _, p := range ve.Problems {
		if m := problemMessage(realm, p); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, true
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
