// Package accounts keeps the users of each realm and checks their
// passwords.
//
// One [Service] per process holds the password policy ([Service.SetPolicy],
// called at start and on every config reload) and the bound on argon2id
// computations. Users are created, read, listed, updated, activated,
// deactivated and deleted through it; every login path — the password
// grant, LoginID, legacy — calls the one password check,
// [Service.VerifyPassword] (or [Service.VerifyPasswordByEmail], the same
// check matching the e-mail):
//
//   - Lockout first: each attempt reserves a failure slot for (realm,
//     normalised login) in the database, whether or not the user exists, with
//     one conditional statement; once the realm's lockout.max_failures slots
//     are taken within lockout.window, attempts are refused without hashing
//     and neither count nor extend the lock, which ends a window after the
//     failure that set it. A successful login frees the slots. (A realm
//     with max_failures 0 has no lockout; the config loader refuses it, so
//     only code can make one.)
//   - Then one argon2id computation, always: against the user's hash, or
//     against a dummy hash of the current parameters when the user is unknown
//     or has no password, so that unknown user, wrong password and
//     deactivated user take the same time and give the same error,
//     [ErrInvalidCredentials]. A user's hash of older, cheaper parameters
//     would answer a wrong password faster than the dummy: such a failed
//     check is padded, after its hash slot is given back, to a running
//     estimate of one computation with the current parameters (seeded when
//     SetPolicy makes the dummy hash, then averaged over every
//     current-parameter hash, check and re-hash the Service performs). A
//     hash of costlier parameters is not padded: it is slower than the
//     dummy, and nothing makes an unknown user slower.
//   - At most passwords.max_concurrent_hashes computations run at once in
//     the process; a caller beyond that waits up to passwords.queue_timeout,
//     then gets [ErrBusy] (the HTTP layer answers 503 with Retry-After).
//   - Hashes are PHC strings, so old parameters keep verifying; a successful
//     login with a hash of other parameters re-hashes the password.
//   - Client secrets go through [Service.VerifySecret]: a sha256 hash is
//     compared at once, an argon2id one under the same bound as passwords.
//
// Usernames and e-mails are unique within a realm case-insensitively after
// Unicode NFC normalisation ([Normalize]); the normalised forms are computed
// here and kept in their own uniquely indexed columns. Passwords are
// NFC-normalised before hashing, must be at least the realm's
// password_min_length characters, and are refused when they are among the
// most common passwords (zxcvbn's list and score, see [CheckPassword]).
//
// Validation reports every problem at once: a [*ValidationError] lists them
// as [Problem]s (wire field name, stable code, message), in field order, and
// matches ErrInvalidUser (and ErrWeakPassword when the password is among
// them). [Service.Validate] runs the checks without a database. In a realm
// with username_is_email the username is an e-mail address and equals the
// user's e-mail (a blank one takes the other's value), so no username can
// be another user's e-mail and capture their login: the password check
// there matches the login against both.
//
// Every method runs in the storage transaction that its context carries,
// if any — but a password is never hashed inside one: hashing takes tens of
// milliseconds, and a transaction would hold its locks (on SQLite, the one
// write lock) all that time. [Service.Prepare], [Service.Update] and
// [Service.SetPassword] refuse such a context with [ErrHashInTransaction];
// to create a user with a password inside a transaction, Prepare it before
// and [Service.Insert] it inside. Call VerifyPassword outside a transaction
// too.
//
// Signup tokens ([Service.CreateSignupToken]) hold what a person typed while
// a signup flow completes other steps: validated with every problem at
// once, the password hashed on arrival, kept until the realm's
// signup_token_ttl. [Service.ConvertSignupToken] turns one into a user
// exactly once: one transaction consumes the token and its siblings (same
// username) under their row locks and inserts the user with the stored
// hash, so a second conversion, a sibling's, or a username taken meanwhile
// changes nothing.
package accounts
