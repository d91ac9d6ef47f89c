package accounts

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// The fields a [Problem] names: the wire names every surface uses.
const (
	FieldUsername             = "username"
	FieldEmail                = "email"
	FieldPassword             = "password"
	FieldPasswordConfirmation = "password_confirmation"
	FieldFirstName            = "first_name"
	FieldLastName             = "last_name"
	FieldRole                 = "role"
	FieldArbitraryID          = "arbitrary_id"
	FieldEnvironmentGUID      = "environment_guid"
)

// fieldOrder is the order of the fields in a ValidationError.
var fieldOrder = []string{
	FieldUsername, FieldEmail, FieldPassword, FieldPasswordConfirmation,
	FieldFirstName, FieldLastName, FieldRole, FieldArbitraryID, FieldEnvironmentGUID,
}

// The codes of a [Problem]: stable machine words a surface can translate
// into its own wording.
const (
	CodeBlank    = "blank"     // required here, and empty
	CodeInvalid  = "invalid"   // not valid UTF-8, control characters, not an e-mail address, surrounding white space
	CodeTooLong  = "too_long"  // more characters than the field holds
	CodeTooShort = "too_short" // a password shorter than the realm's password_min_length
	CodeWeak     = "weak"      // a common or easily guessed password
	CodeMismatch = "mismatch"  // differs from the value it must equal
	CodeTaken    = "taken"     // another user has it (see TakenProblem)
)

// Problem is one thing wrong with a user's fields. Message is a sentence a
// person can act on; Field and Code are for programs.
type Problem struct {
	Field   string // one of the Field constants
	Code    string // one of the Code constants
	Message string
}

// ValidationError lists every problem of a user's fields at once, in the
// order of the fields. errors.Is(err, ErrInvalidUser) holds for it, and
// errors.Is(err, ErrWeakPassword) too when one of the problems is the
// password's.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems' messages.
func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return "accounts: invalid user: " + strings.Join(msgs, "; ")
}

// Is makes the error match ErrInvalidUser, and ErrWeakPassword when a
// problem is the password's.
func (e *ValidationError) Is(target error) bool {
	switch target {
	case ErrInvalidUser:
		return true
	case ErrWeakPassword:
		return slices.ContainsFunc(e.Problems, func(p Problem) bool { return p.Field == FieldPassword })
	}
	return false
}

// TakenProblem is the Problem of a taken username, e-mail or arbitrary_id
// (ErrUsernameTaken, ErrEmailTaken, ErrArbitraryIDTaken, also wrapped), for
// a surface that reports it among the others; ok is false for any other
// error.
func TakenProblem(err error) (p Problem, ok bool) {
	switch {
	case errors.Is(err, ErrUsernameTaken):
		return Problem{FieldUsername, CodeTaken, "username is already taken"}, true
	case errors.Is(err, ErrEmailTaken):
		return Problem{FieldEmail, CodeTaken, "email is already taken"}, true
	case errors.Is(err, ErrArbitraryIDTaken):
		return Problem{FieldArbitraryID, CodeTaken, "arbitrary_id is already taken in this environment"}, true
	}
	return Problem{}, false
}

// problems collects Problems, at most one per field and rule.
type problems []Problem

func (ps *problems) add(field, code, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) addIf(p *Problem) {
	if p != nil {
		*ps = append(*ps, *p)
	}
}

func (ps problems) has(field string) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Field == field })
}

// err is nil without problems, else a *ValidationError with them in field
// order (stable: rules of one field keep the order they were found in).
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	sorted := slices.Clone(ps)
	slices.SortStableFunc(sorted, func(a, b Problem) int {
		return cmp.Compare(slices.Index(fieldOrder, a.Field), slices.Index(fieldOrder, b.Field))
	})
	return &ValidationError{Problems: sorted}
}

// invalid is the error of a value that is no field of a user (no realm, an
// unknown status).
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidUser, fmt.Sprintf(format, args...))
}

// textProblem refuses invalid UTF-8, control characters and more than max
// characters.
func textProblem(field, s string, max int) *Problem {
	switch {
	case !utf8.ValidString(s):
		return &Problem{field, CodeInvalid, field + " is not valid UTF-8"}
	case utf8.RuneCountInString(s) > max:
		return &Problem{field, CodeTooLong, fmt.Sprintf("%s must be at most %d characters", field, max)}
	case strings.ContainsFunc(s, unicode.IsControl):
		return &Problem{field, CodeInvalid, field + " must not contain control characters"}
	}
	return nil
}

// emailProblem wants valid text with one "@", something on both sides and
// no white space. field is the field that must hold an e-mail address: the
// email, or the username of a realm with username_is_email.
func emailProblem(field, email string) *Problem {
	if p := textProblem(field, email, MaxTextLength); p != nil {
		return p
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || strings.ContainsFunc(email, unicode.IsSpace) {
		if field == FieldUsername {
			return &Problem{field, CodeInvalid, fmt.Sprintf("username %q must be an e-mail address (name@example.com) in a realm that uses e-mail addresses as usernames", email)}
		}
		return &Problem{field, CodeInvalid, fmt.Sprintf("%s %q does not look like an e-mail address (name@example.com)", field, email)}
	}
	return nil
}

// normProblem refuses a name whose normalised form outgrows its column.
func normProblem(field, normalised string) *Problem {
	if utf8.RuneCountInString(normalised) > MaxTextLength {
		return &Problem{field, CodeTooLong, fmt.Sprintf("%s must be at most %d characters once lower-cased", field, MaxTextLength)}
	}
	return nil
}

// candidate is a user's fields as they are to be stored: all of them on
// create, the stored ones merged with the changes on update.
type candidate struct {
	in NewUser
	// setPassword: in.Password is to become the password ("" is then a
	// blank password, not none).
	setPassword bool
	// keepsPassword: the user has a password already (an update that does
	// not change it), so still needs a name to log in with.
	keepsPassword bool
	// checked reports whether a field's own rules apply: every field on
	// create, the changed ones on update (a value stored before a rule
	// existed does not block a change of another field). Rules between
	// fields always apply.
	checked func(field string) bool
}

// validateUser checks c in realm and returns the row to store (without id,
// hash or times) and the NFC-normalised password to hash; the error is a
// *ValidationError with every problem found, or ErrInvalidUser without a
// realm. It touches no database.
//
// In a realm with username_is_email the username must be an e-mail
// address, and username and email are one value: given both, they must be
// equal after Normalize; given one, the other takes its value. Since both
// unique keys then hold the same value, no user's username can equal
// another user's e-mail, and a login matched against both finds one user.
func validateUser(realm *config.Realm, c candidate) (*storage.User, string, error) {
	if realm == nil {
		return nil, "", invalid("no realm")
	}
	checked := c.checked
	if checked == nil {
		checked = func(string) bool { return true }
	}
	in := c.in
	u := &storage.User{
		Realm:           realm.ID,
		Username:        strings.TrimSpace(in.Username),
		Email:           strings.TrimSpace(in.Email),
		ArbitraryID:     in.ArbitraryID,
		EnvironmentGUID: in.EnvironmentGUID,
		FirstName:       strings.TrimSpace(in.FirstName),
		LastName:        strings.TrimSpace(in.LastName),
		Role:            strings.TrimSpace(in.Role),
		Status:          StatusActive,
	}
	if u.Role == "" {
		u.Role = DefaultRole
	}
	var ps problems

	// Username and e-mail. In a username_is_email realm, a blank one takes
	// the other's value, which is then checked once, under the field given.
	usernameCopied, emailCopied := false, false
	if realm.UsernameIsEmail {
		switch {
		case u.Username == "" && u.Email != "":
			u.Username, usernameCopied = u.Email, true
		case u.Email == "" && u.Username != "":
			u.Email, emailCopied = u.Username, true
		}
	}
	if u.Username != "" {
		u.UsernameNorm = Normalize(u.Username)
		if checked(FieldUsername) && !usernameCopied {
			if realm.UsernameIsEmail {
				ps.addIf(emailProblem(FieldUsername, u.Username))
			} else {
				ps.addIf(textProblem(FieldUsername, u.Username, MaxTextLength))
			}
			if !ps.has(FieldUsername) {
				ps.addIf(normProblem(FieldUsername, u.UsernameNorm))
			}
		}
	}
	if u.Email != "" {
		u.EmailNorm = Normalize(u.Email)
		if checked(FieldEmail) && !emailCopied {
			ps.addIf(emailProblem(FieldEmail, u.Email))
			if !ps.has(FieldEmail) {
				ps.addIf(normProblem(FieldEmail, u.EmailNorm))
			}
		}
	}
	if realm.UsernameIsEmail && (checked(FieldUsername) || checked(FieldEmail)) &&
		!ps.has(FieldUsername) && !ps.has(FieldEmail) && u.UsernameNorm != u.EmailNorm {
		ps.add(FieldEmail, CodeMismatch, "email must be the same as the username in a realm that uses e-mail addresses as usernames")
	}

	// The Work API's ids. They are compared byte for byte, but MySQL
	// ignores trailing spaces (PAD SPACE): surrounding white space is
	// refused so that both backends agree.
	if checked(FieldArbitraryID) || checked(FieldEnvironmentGUID) {
		switch {
		case u.ArbitraryID != "" && u.EnvironmentGUID == "":
			ps.add(FieldEnvironmentGUID, CodeBlank, "arbitrary_id and environment_guid go together: give both or neither")
		case u.ArbitraryID == "" && u.EnvironmentGUID != "":
			ps.add(FieldArbitraryID, CodeBlank, "arbitrary_id and environment_guid go together: give both or neither")
		}
		for _, f := range []struct{ field, value string }{{FieldArbitraryID, u.ArbitraryID}, {FieldEnvironmentGUID, u.EnvironmentGUID}} {
			if p := textProblem(f.field, f.value, MaxTextLength); p != nil {
				ps.addIf(p)
			} else if strings.TrimSpace(f.value) != f.value {
				ps.add(f.field, CodeInvalid, "%s must not begin or end with white space", f.field)
			}
		}
	}

	// Names and role.
	for _, f := range []struct {
		field, value string
		max          int
	}{{FieldFirstName, u.FirstName, MaxTextLength}, {FieldLastName, u.LastName, MaxTextLength}, {FieldRole, u.Role, MaxRoleLength}} {
		if checked(f.field) {
			ps.addIf(textProblem(f.field, f.value, f.max))
		}
	}

	// Rules between fields.
	checkPassword := c.setPassword || in.Password != ""
	switch {
	case u.Username == "" && u.Email == "" && u.ArbitraryID == "":
		ps.add(FieldUsername, CodeBlank, "a user needs a username, an email or an arbitrary_id")
	case (checkPassword || c.keepsPassword) && u.Username == "" && u.Email == "":
		ps.add(FieldUsername, CodeBlank, "a user with a password needs a username or an email to log in with")
	}

	// The password, against the realm's policy and the user's own names.
	var pw string
	if checkPassword {
		var p *Problem
		if c.setPassword && in.Password == "" {
			p = &Problem{FieldPassword, CodeBlank, "password must not be empty"}
		} else {
			pw, p = passwordProblem(realm, in.Password, u.Username, u.Email, u.FirstName, u.LastName)
		}
		ps.addIf(p)
	}
	if in.PasswordConfirmation != nil && norm.NFC.String(*in.PasswordConfirmation) != norm.NFC.String(in.Password) {
		ps.add(FieldPasswordConfirmation, CodeMismatch, "password_confirmation does not match the password")
	}
	if err := ps.err(); err != nil {
		return nil, "", err
	}
	return u, pw, nil
}

// Validate checks a new user's fields in realm — every rule of Create and
// the password policy of [CheckPassword] when in.Password is set — without
// touching the database, so that a surface can refuse a request before it
// stores anything. It returns nil, a *ValidationError with every problem at
// once, or ErrInvalidUser when realm is nil. Uniqueness is not checked: a
// taken username or e-mail shows only when the user is stored.
func (s *Service) Validate(realm *config.Realm, in NewUser) error {
	_, _, err := validateUser(realm, candidate{in: in})
	return err
}
